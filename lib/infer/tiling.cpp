#include "infer/tiling.hpp"

#include <algorithm>
#include <string>

#include "core/reflect_padding.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

std::int64_t round_up(std::int64_t v, std::int64_t multiple) {
    return (v + multiple - 1) / multiple * multiple;
}

// Along one axis: window origins and the output span each writes.
struct Span {
    std::int64_t origin, begin, end;
};

// The window side along one axis for a tile of at most `tile`: the fewest windows that cover
// `size`, made as small as covering it allows, so that no window computes more than needed.
// The first and last windows write up to the image's edges, the others their centres.
std::int64_t window_side(std::int64_t size, std::int64_t padded, std::int64_t tile,
                         std::int64_t halo, std::int64_t multiple) {
    if (tile >= padded) return padded;
    const std::int64_t windows =
        std::max<std::int64_t>(1, (size - 2 * halo + (tile - 2 * halo) - 1) / (tile - 2 * halo));
    const std::int64_t needed = (size + 2 * (windows - 1) * halo + windows - 1) / windows;
    return std::min(padded, round_up(needed, multiple));
}

std::vector<Span> plan_axis(std::int64_t size, std::int64_t padded, std::int64_t window,
                            std::int64_t halo) {
    if (window >= padded) return {{0, 0, size}};
    // A window writes its centre, `halo` in from both of its sides, except at the padded
    // image's edges, where it stops at the edge (whole-image inference's network sees the same
    // zero padding there) and writes up to it.
    std::vector<Span> spans;
    for (std::int64_t begin = 0; begin < size;) {
        const std::int64_t origin = std::clamp(begin - halo, std::int64_t(0), padded - window);
        const std::int64_t end =
            origin + window == padded ? size : std::min(size, origin + window - halo);
        spans.push_back({origin, begin, end});
        begin = end;
    }
    return spans;
}

}  // namespace

std::int64_t minimum_tile_size(std::int64_t multiple, const ReceptiveField& field) {
    return 2 * round_up(field.radius(), multiple) + multiple;
}

TilePlan plan_tiles(std::int64_t height, std::int64_t width, std::int64_t tile,
                    std::int64_t multiple, const ReceptiveField& field) {
    if (height < 1 || width < 1 || multiple < 1)
        throw ShapeError("cannot tile an image of " + std::to_string(height) + "x" +
                         std::to_string(width) + " for a network of size multiple " +
                         std::to_string(multiple));
    const std::int64_t minimum = minimum_tile_size(multiple, field);
    if (tile < 0 || (tile > 0 && tile < minimum))
        throw InvalidArgument("tile size " + std::to_string(tile) + " is below the minimum " +
                              std::to_string(minimum) +
                              " for this network (receptive-field "
                              "radius " +
                              std::to_string(field.radius()) + ", size multiple " +
                              std::to_string(multiple) + "); use at least " +
                              std::to_string(minimum) + ", or 0 for whole images");
    TilePlan plan;
    plan.height = height;
    plan.width = width;
    plan.padded_height = round_up(height, multiple);
    plan.padded_width = round_up(width, multiple);
    const std::int64_t halo = round_up(field.radius(), multiple);
    const std::int64_t largest =
        tile == 0 ? std::max(plan.padded_height, plan.padded_width) : tile / multiple * multiple;
    plan.window_height = window_side(height, plan.padded_height, largest, halo, multiple);
    plan.window_width = window_side(width, plan.padded_width, largest, halo, multiple);
    const auto rows = plan_axis(height, plan.padded_height, plan.window_height, halo);
    const auto cols = plan_axis(width, plan.padded_width, plan.window_width, halo);
    for (const Span& r : rows)
        for (const Span& c : cols)
            plan.tiles.push_back({r.origin, c.origin, r.begin, r.end, c.begin, c.end});
    return plan;
}

std::int64_t activation_bytes(Network& network, const Dims& dims) {
    network.build({dims});
    std::int64_t values = 0;
    for (const auto& node : network.nodes()) values += node.dims.count();
    return values * std::int64_t(sizeof(float));
}

void pad_image(const TilePlan& plan, const float* image, std::int64_t channels, float* padded) {
    Tensor view = Tensor::view(padded, Dims{1, channels, plan.padded_height, plan.padded_width});
    reflect_pad(image, Dims{1, channels, plan.height, plan.width}, view);
}

void extract_window(const TilePlan& plan, const TilePlan::Tile& tile, const float* padded,
                    std::int64_t channels, float* window) {
    for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t y = 0; y < plan.window_height; ++y)
            std::copy_n(padded + (c * plan.padded_height + tile.y + y) * plan.padded_width + tile.x,
                        plan.window_width,
                        window + (c * plan.window_height + y) * plan.window_width);
}

void stitch_window(const TilePlan& plan, const TilePlan::Tile& tile, const float* window_output,
                   std::int64_t channels, float* image) {
    for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t y = tile.top; y < tile.bottom; ++y)
            std::copy_n(window_output + (c * plan.window_height + y - tile.y) * plan.window_width +
                            (tile.left - tile.x),
                        tile.right - tile.left,
                        image + (c * plan.height + y) * plan.width + tile.left);
}

void forward_tiled(const TilePlan& plan, const float* padded, std::int64_t channels,
                   std::int64_t output_channels, const WindowNetwork& network,
                   std::vector<float>& window, std::vector<float>& window_output, float* output) {
    const std::int64_t area = plan.window_height * plan.window_width;
    window.resize(std::size_t(channels * area));
    window_output.resize(std::size_t(output_channels * area));
    const Dims dims{1, channels, plan.window_height, plan.window_width};
    for (const TilePlan::Tile& tile : plan.tiles) {
        extract_window(plan, tile, padded, channels, window.data());
        network(window.data(), dims, window_output.data());
        stitch_window(plan, tile, window_output.data(), output_channels, output);
    }
}

}  // namespace tomodenoise
