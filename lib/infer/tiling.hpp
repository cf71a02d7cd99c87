#pragma once
// Tiled inference on one image: the image is reflect-padded to the network's downsampling
// factor exactly as whole-image inference pads it, cut into equal windows whose origins are
// multiples of that factor and whose halo is at least the receptive-field radius, and the
// centre of each window's output is stitched into the result. Every output pixel then sees the
// same inputs, the same zero padding at the padded image's edges and the same pooling grid as
// in whole-image inference, so the two agree up to floating-point rounding.

#include <cstdint>
#include <functional>
#include <vector>

#include "core/network.hpp"
#include "core/tensor.hpp"
#include "infer/receptive_field.hpp"

namespace tomodenoise {

/// The windows that cover one (height, width) image.
struct TilePlan {
    /// A network input window and the part of its output that goes to the result.
    struct Tile {
        std::int64_t y = 0, x = 0;  ///< the window's origin in the padded image
        /// The output rows top..bottom-1 and columns left..right-1 (image coordinates, inside
        /// the image) this window writes.
        std::int64_t top = 0, bottom = 0, left = 0, right = 0;
    };
    std::int64_t height = 0, width = 0;                ///< the image's
    std::int64_t padded_height = 0, padded_width = 0;  ///< rounded up to the factor
    std::int64_t window_height = 0, window_width = 0;  ///< every window's (network input)
    std::vector<Tile> tiles;                           ///< row-major
};

/// The smallest tile side plan_tiles accepts: a halo of the radius rounded up to `multiple`
/// on each side of a centre of `multiple` pixels.
std::int64_t minimum_tile_size(std::int64_t multiple, const ReceptiveField& field);

/// Windows of at most tile x tile pixels (rounded down to `multiple`) over an image of
/// height x width: along each axis the fewest that cover it, each as small as that allows
/// (all of one size, so the network is built once); tile 0, or a tile at least the padded image,
/// gives one window of the whole padded image. Throws InvalidArgument naming the tile, the minimum
/// and the radius for a tile below minimum_tile_size, and for a negative tile.
TilePlan plan_tiles(std::int64_t height, std::int64_t width, std::int64_t tile,
                    std::int64_t multiple, const ReceptiveField& field);

/// Copies window `tile` of the plain (channels, padded_height, padded_width) image `padded`
/// into `window` (channels x window_height x window_width values).
void extract_window(const TilePlan& plan, const TilePlan::Tile& tile, const float* padded,
                    std::int64_t channels, float* window);

/// Copies the part of a window's output (channels x window_height x window_width) that `tile`
/// writes into `image` (channels x height x width).
void stitch_window(const TilePlan& plan, const TilePlan::Tile& tile, const float* window_output,
                   std::int64_t channels, float* image);

/// Reflect-pads the plain (channels, height, width) image `image` to the plan's padded size
/// into `padded` (channels x padded_height x padded_width values), as whole-image inference
/// pads it.
void pad_image(const TilePlan& plan, const float* image, std::int64_t channels, float* padded);

/// The bytes of every layer output of `network` (what inference keeps) for an input of `dims`;
/// builds the network for them.
std::int64_t activation_bytes(Network& network, const Dims& dims);

/// Runs one network input window (dims {1, C, window_height, window_width}) into its output
/// (output channels x window_height x window_width values).
using WindowNetwork = std::function<void(const float* window, const Dims& dims, float* output)>;

/// Tiled inference of one image of `channels` x height x width into `output` (output_channels
/// x height x width), the windows in turn through `network`; `window` and `window_output` are
/// resized and reused. What tests compare to whole-image inference.
void forward_tiled(const TilePlan& plan, const float* padded, std::int64_t channels,
                   std::int64_t output_channels, const WindowNetwork& network,
                   std::vector<float>& window, std::vector<float>& window_output, float* output);

}  // namespace tomodenoise
