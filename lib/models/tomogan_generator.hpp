#pragma once
// The TomoGAN generator (the Keras `unet` of lzhengchun/TomoGAN, published as TomoGAN.h5 and
// TomoGAN-toy.h5): a U-Net whose skips are concatenated [skip, upsampled] as Keras does.
//
//   1x1 'valid' conv 8 (ReLU) -> box(32)                                  skip 0
//   for level l = 1 .. levels-1: max-pool 2x2 'same' -> box(32 * 2^l)     skip l
//   max-pool -> 3x3 conv 32 * 2^(levels-1) (ReLU)                         bottleneck
//   for level l = levels-1 .. 0: upsample x2 -> concat[skip l, up] -> box(32 * 2^max(l-1, 0))
//   1x1 'valid' conv 16 (ReLU) -> 1x1 'valid' conv output_channels (linear)
//
// box(n) is two 3x3 'same' ReLU convolutions of n filters. With levels = 3 the decoder boxes
// have 64, 32, 32 filters: the published model. Height and width must be multiples of
// 2^levels (Model::apply pads by reflection to get there).

#include <cstdint>

#include "core/network.hpp"

namespace tomodenoise {

/// How the U-Net decoder doubles the size of its feature maps.
enum class UnetUpsampling {
    nearest,   ///< UpSampling2D, nearest neighbour (TomoGAN.h5)
    bilinear,  ///< UpSampling2D, bilinear with half-pixel centres (TomoGAN-toy.h5)
    /// Conv2DTranspose 2x2, stride 2, 'same', as many filters as it has input channels and no
    /// activation: a learned version of the linear upsamplings above.
    transposed,
};

struct TomoGanGeneratorConfig {
    /// Input channels: 1, or an odd number of adjacent slices whose middle one is denoised.
    std::int64_t depth = 1;
    /// Pooling levels; the published model has 3.
    std::int64_t levels = 3;
    UnetUpsampling upsampling = UnetUpsampling::nearest;
    /// Channels of the last (linear) convolution: 1 for denoising, classes for segmentation.
    std::int64_t output_channels = 1;
    /// The output is the input plus the last convolution's (a Keras Add layer "add"): the
    /// network learns the correction, so that it starts near the identity. Needs depth 1 and
    /// output_channels 1 (the sum needs one shape).
    bool residual = false;
    /// Seed of the initial weights (Glorot uniform kernels, zero biases, as Keras).
    std::uint32_t seed = 1;
};

/// The generator: input "input_1", layers named and ordered as Keras creates them ("conv2d",
/// "max_pooling2d", "up_sampling2d" or "conv2d_transpose", "concatenate", ...), parameters
/// allocated and initialized. Throws InvalidArgument naming the option for a depth, level
/// count or output channel count below 1, or more than 10 levels.
Network build_tomogan_generator(const TomoGanGeneratorConfig& config = {});

}  // namespace tomodenoise
