#pragma once
// VGG19 without its classifier (Keras's `VGG19(include_top=False)`, up to block5_pool): the
// feature extractor of TomoGAN's perceptual loss. Five blocks of 3x3 'same' ReLU convolutions
// (64 x2, 128 x2, 256 x4, 512 x4, 512 x4), each followed by a 2x2 'valid' max pooling, named
// as Keras names them (block1_conv1 .. block5_conv4, block1_pool .. block5_pool). Its weights
// come from Keras's ImageNet file (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), which
// the user provides (load_vgg19_weights, keras/vgg19_weights.hpp); the network takes images
// prepared by vgg19_preprocess_gray (train/vgg19_preprocess.hpp, where the perceptual loss
// uses it).

#include <cstdint>
#include <string>

#include "core/network.hpp"
#include "core/tensor.hpp"
#include "train/vgg19_preprocess.hpp"

namespace tomodenoise {

struct Vgg19Config {
    /// Seed of the initial weights (Glorot uniform kernels, zero biases), for use without the
    /// ImageNet file.
    std::uint32_t seed = 1;
    /// Every block's filters divided by this (1..64, dividing 64): 1 is Keras's VGG19 (the
    /// ImageNet file's shapes); larger values give a narrow copy of the same structure, for
    /// tests that check gradients through it.
    std::int64_t filters_divisor = 1;
};

/// The feature extractor: input "input_1" of 3 channels (BGR, mean-subtracted), output
/// "block5_pool" with 512 / filters_divisor channels at 1/32 of the input size (rounded down),
/// parameters allocated and initialized. InvalidArgument naming filters_divisor when it is out of
/// range.
Network build_vgg19_features(const Vgg19Config& config = {});

}  // namespace tomodenoise
