#pragma once
// The plain CNN denoiser of the TomoGAN tutorial (its `cnn4dn_mdl`, published as
// dn-mdl-toy.h5): 3x3 'same' convolutions with ReLU, then a linear 3x3 convolution to the
// output channels. No pooling, so it applies to any image size without padding.

#include <cstdint>
#include <vector>

#include "core/network.hpp"

namespace tomodenoise {

struct CnnDenoiserConfig {
    std::int64_t input_channels = 1;
    /// Filters of the hidden 3x3 ReLU convolutions, in order; the tutorial's 8, 16, 8, 4.
    std::vector<std::int64_t> widths{8, 16, 8, 4};
    std::int64_t output_channels = 1;
    /// Seed of the initial weights (Glorot uniform kernels, zero biases, as Keras).
    std::uint32_t seed = 1;
};

/// The network: input "input_1", layers "conv2d", "conv2d_1", ... as Keras names them, with
/// parameters allocated and initialized. Throws InvalidArgument naming the option for channel
/// counts or widths below 1.
Network build_cnn_denoiser(const CnnDenoiserConfig& config = {});

}  // namespace tomodenoise
