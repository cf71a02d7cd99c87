#pragma once
// Inference on images of any size: reflect-pad to the network's size multiple, run, crop back.

#include <cstdint>

#include "core/context.hpp"
#include "core/network.hpp"

namespace tomodenoise {

/// How much `network`'s deepest feature map is downsampled: the multiple its input height and
/// width are padded to. Measured by building the network for one 256x256 image per input,
/// which replaces its last build; compute it once per network and keep it.
std::int64_t downsampling_factor(Network& network);

/// Runs `network` in inference mode on the plain images `input` (dims `src`), padded by
/// reflection to multiples of `multiple` in `padded` (reused across calls; untouched when no
/// padding is needed), and writes the top-left (h, w) window of every output image, of
/// `output_channels` channels, to `output` (src.n x output_channels x h x w values). Throws
/// ShapeError, writing nothing, when the network's output does not have those images and
/// channels or is smaller than the padded input.
void forward_padded(Context& ctx, Network& network, const float* input, const Dims& src,
                    std::int64_t output_channels, std::int64_t multiple, Tensor& padded,
                    float* output);

}  // namespace tomodenoise
