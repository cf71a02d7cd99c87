#pragma once
// The TomoGAN discriminator: 3x3 'same' ReLU convolutions of 64, 64 (stride 2), 128,
// 128 (stride 2), 128 and 4 (stride 2) filters, then its head: TomoGAN's Flatten, Dense 64
// (ReLU) and Dense 1 (linear), one logit per image, the Dense layer fixing the patch size at
// build time; or a patch head (PatchGAN, Isola et al. 2017), a 3x3 'same' linear convolution to
// one logit per 8x8 block, each judging a 45x45 window, for any size, the convolutions before
// it then with leaky ReLUs (slope 0.2) and He-normal initial weights. The logits feed the
// logits form of the GAN loss or a Wasserstein critic, averaged over all of them. What the
// network is fed (the images, or for the patch kind their high-pass residuals) is the GAN
// objective's choice (train/gan.hpp).

#include <cstdint>

#include "core/network.hpp"

namespace tomodenoise {

/// What turns the convolutions' features into logits.
enum class DiscriminatorHead {
    dense,  ///< TomoGAN's: Flatten, Dense 64 (ReLU), Dense 1: one logit per image
    /// Leaky ReLU convolutions, then a 3x3 convolution to 1 channel: one logit per 8x8 block
    /// (H/8 x W/8, rounded up).
    patch,
};

struct TomoGanDiscriminatorConfig {
    std::int64_t input_channels = 1;
    /// Size of the patches it judges; TomoGAN trains on 256x256.
    std::int64_t height = 256, width = 256;
    /// Seed of the initial weights (kernels Glorot uniform as Keras's default, He normal for
    /// the patch head's leaky ReLU convolutions; zero biases).
    std::uint32_t seed = 1;
    DiscriminatorHead head = DiscriminatorHead::dense;
};

/// The discriminator: input "input_1", layers "conv2d" .. "conv2d_5", then "flatten",
/// "dense", "dense_1" (dense head; the input declared height x width, other sizes throw
/// ShapeError at the Dense layer) or, each convolution followed by "leaky_re_lu" ..
/// "leaky_re_lu_5", "conv2d_6" (patch head; the input of any size), with
/// parameters allocated for height x width and initialized. Throws InvalidArgument naming the
/// option for sizes or channels below 1.
Network build_tomogan_discriminator(const TomoGanDiscriminatorConfig& config = {});

}  // namespace tomodenoise
