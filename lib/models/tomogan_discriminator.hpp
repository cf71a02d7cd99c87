#pragma once
// The TomoGAN discriminator: 3x3 'same' ReLU convolutions of 64, 64 (stride 2), 128,
// 128 (stride 2), 128 and 4 (stride 2) filters, Flatten, Dense 64 (ReLU) and Dense 1 (linear):
// one logit per image, for the logits form of the GAN loss or a Wasserstein critic. Its Dense
// layer fixes the patch size at build time.

#include <cstdint>

#include "core/network.hpp"

namespace tomodenoise {

struct TomoGanDiscriminatorConfig {
    std::int64_t input_channels = 1;
    /// Size of the patches it judges; TomoGAN trains on 256x256.
    std::int64_t height = 256, width = 256;
    /// Seed of the initial weights (Glorot uniform kernels, zero biases, as Keras).
    std::uint32_t seed = 1;
};

/// The discriminator: input "input_1" declared height x width, layers "conv2d" ..
/// "conv2d_5", "flatten", "dense", "dense_1", with parameters allocated for that size and
/// initialized. Other sizes throw ShapeError at the Dense layer. Throws InvalidArgument naming
/// the option for sizes or channels below 1.
Network build_tomogan_discriminator(const TomoGanDiscriminatorConfig& config = {});

}  // namespace tomodenoise
