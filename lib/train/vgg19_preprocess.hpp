#pragma once
// Keras's VGG19 preprocess_input for the gray images of the perceptual loss, and its gradient:
// the input side of the VGG19 feature extractor (models/vgg19.hpp), kept with training, which
// runs it inside the GAN's generator loss.

#include <array>

#include "core/tensor.hpp"

namespace tomodenoise {

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
