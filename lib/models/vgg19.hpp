#pragma once
// VGG19 without its classifier (Keras's `VGG19(include_top=False)`, up to block5_pool): the
// feature extractor of TomoGAN's perceptual loss. Five blocks of 3x3 'same' ReLU convolutions
// (64 x2, 128 x2, 256 x4, 512 x4, 512 x4), each followed by a 2x2 'valid' max pooling, named
// as Keras names them (block1_conv1 .. block5_conv4, block1_pool .. block5_pool). Its weights
// come from Keras's ImageNet file (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), which
// the user provides (load_vgg19_weights, keras/vgg19_weights.hpp); the network takes images
// prepared by vgg19_preprocess_gray.

#include <array>
#include <cstdint>
#include <string>

#include "core/network.hpp"
#include "core/tensor.hpp"

namespace tomodenoise {

struct Vgg19Config {
    /// Seed of the initial weights (Glorot uniform kernels, zero biases), for use without the
    /// ImageNet file.
    std::uint32_t seed = 1;
};

/// The feature extractor: input "input_1" of 3 channels (BGR, mean-subtracted), output
/// "block5_pool" with 512 channels at 1/32 of the input size (rounded down), parameters
/// allocated and initialized.
Network build_vgg19_features(const Vgg19Config& config = {});

/// ImageNet channel means subtracted by Keras's VGG preprocess_input, in BGR order.
inline constexpr std::array<float, 3> vgg19_bgr_mean = {103.939f, 116.779f, 123.68f};

/// Keras's VGG19 preprocess_input for gray images: `gray` (N, 1, H, W), plain, on the 0..255
/// scale of 8-bit images, is replicated to RGB, reordered to BGR and each channel has its
/// ImageNet mean subtracted. `bgr` becomes plain (N, 3, H, W). Throws ShapeError naming the
/// dims unless `gray` has one channel, InvalidArgument when it is not plain.
void vgg19_preprocess_gray(const Tensor& gray, Tensor& bgr);

/// The gradient of a loss with respect to the gray image from its gradient with respect to
/// vgg19_preprocess_gray's output: the sum over the three channels. `diff_bgr` plain
/// (N, 3, H, W); `diff_gray` becomes plain (N, 1, H, W).
void vgg19_preprocess_gray_backward(const Tensor& diff_bgr, Tensor& diff_gray);

}  // namespace tomodenoise
