#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "core/padded_forward.hpp"
#include "infer/receptive_field.hpp"
#include "infer/tiling.hpp"
#include "keras/model_file.hpp"
#include "layers/dense.hpp"
#include "layers/flatten.hpp"
#include "models/cnn_denoiser.hpp"
#include "models/tomogan_generator.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using tomodenoise::testing::random_values;
using tomodenoise::testing::within_fraction_of_range;

namespace {

// The farthest output pixel (Chebyshev distance) that changes when one input pixel changes,
// over impulses at every offset modulo the downsampling factor: the receptive-field radius
// measured by brute force. Direct convolution, so that a change outside a pixel's windows
// cannot reach it through Winograd's rounding.
std::int64_t measured_radius(Network& net, std::int64_t size, std::int64_t multiple) {
    Context ctx;
    ctx.set_convolution_algorithm(ConvolutionAlgorithm::direct);
    const Dims dims{1, net.input_channels(), size, size};
    const std::vector<float> base = random_values(std::size_t(dims.count()), 7);
    Tensor padded;
    std::vector<float> reference(std::size_t(size * size)), changed(reference.size());
    forward_padded(ctx, net, base.data(), dims, 1, multiple, padded, reference.data());
    std::int64_t radius = 0;
    for (std::int64_t offset = 0; offset < multiple; ++offset) {
        const std::int64_t py = size / 2 + offset, px = size / 2 + offset;
        std::vector<float> input = base;
        for (std::int64_t c = 0; c < dims.c; ++c)
            input[std::size_t((c * size + py) * size + px)] += 50.f;
        forward_padded(ctx, net, input.data(), dims, 1, multiple, padded, changed.data());
        for (std::int64_t y = 0; y < size; ++y)
            for (std::int64_t x = 0; x < size; ++x)
                if (changed[std::size_t(y * size + x)] != reference[std::size_t(y * size + x)])
                    radius = std::max({radius, std::abs(y - py), std::abs(x - px)});
    }
    return radius;
}

Network unet(UnetUpsampling upsampling, std::int64_t depth = 1) {
    TomoGanGeneratorConfig config;
    config.upsampling = upsampling;
    config.depth = depth;
    return build_tomogan_generator(config);
}

TEST(ReceptiveField, OfThePlainCnnIsOnePixelPerConvolution) {
    Network cnn = build_cnn_denoiser();  // four hidden 3x3 convolutions and the output one
    const ReceptiveField field = receptive_field(cnn);
    EXPECT_EQ(field.before, 5);
    EXPECT_EQ(field.after, 5);
    EXPECT_EQ(measured_radius(cnn, 32, 1), field.radius());
}

TEST(ReceptiveField, OfTheUnetBoundsItsImpulseResponseTightly) {
    for (UnetUpsampling up :
         {UnetUpsampling::nearest, UnetUpsampling::bilinear, UnetUpsampling::transposed}) {
        Network net = unet(up);
        const std::int64_t multiple = downsampling_factor(net);
        const std::int64_t computed = receptive_field(net).radius();
        const std::int64_t measured = measured_radius(net, 4 * computed, multiple);
        SCOPED_TRACE("upsampling " + std::to_string(int(up)));
        // Sound: no change reaches beyond the computed radius; tight: within one pooling cell.
        EXPECT_LE(measured, computed);
        EXPECT_GT(measured, computed - multiple);
    }
}

TEST(ReceptiveField, RefusesALayerThatReadsEveryPixel) {
    Network net;
    net.add_input("input", 1, 8, 8);
    net.add<FlattenLayer>({"input"}, "flatten");
    DenseConfig dense;
    dense.units = 4;
    net.add<DenseLayer>({"flatten"}, "dense", dense);
    tomodenoise::testing::expect_error_naming<InvalidArgument>([&] { receptive_field(net); },
                                                               {"flatten", "tile"});
}

// Tiled inference against whole-image inference, both through the default (Winograd)
// convolutions, on an image that is not a multiple of the tile or of the network's factor.
void expect_tiles_match_whole_image(Network& net, std::int64_t height, std::int64_t width,
                                    const std::vector<std::int64_t>& above_minimum,
                                    const std::vector<std::int64_t>& extra_sizes = {}) {
    Context ctx;
    const std::int64_t channels = net.input_channels(), multiple = downsampling_factor(net);
    const ReceptiveField field = receptive_field(net);
    const std::vector<float> image =
        random_values(std::size_t(channels * height * width), 3, 0.f, 1.f);
    Tensor padded;
    std::vector<float> whole(std::size_t(height * width));
    forward_padded(ctx, net, image.data(), Dims{1, channels, height, width}, 1, multiple, padded,
                   whole.data());

    const std::int64_t minimum = minimum_tile_size(multiple, field);
    std::vector<std::int64_t> tiles;
    for (std::int64_t above : above_minimum) tiles.push_back(minimum + above);
    tiles.insert(tiles.end(), extra_sizes.begin(), extra_sizes.end());
    for (std::int64_t tile : tiles) {
        SCOPED_TRACE("tile " + std::to_string(tile));
        const TilePlan plan = plan_tiles(height, width, tile, multiple, field);
        if (tile > 0 && tile < height && tile < width) {
            EXPECT_GT(plan.tiles.size(), 1u);
        }
        std::vector<float> padded_image(
            std::size_t(channels * plan.padded_height * plan.padded_width));
        pad_image(plan, image.data(), channels, padded_image.data());
        std::vector<float> tiled(whole.size(), -1e9f), window, window_output;
        const WindowNetwork run = [&](const float* in, const Dims& dims, float* out) {
            forward_padded(ctx, net, in, dims, 1, multiple, padded, out);
        };
        forward_tiled(plan, padded_image.data(), channels, 1, run, window, window_output,
                      tiled.data());
        EXPECT_TRUE(within_fraction_of_range(tiled, whole, 1e-5));
    }
}

TEST(TiledForward, PlainCnnEqualsWholeImageForEveryTileSize) {
    Network cnn = build_cnn_denoiser();
    expect_tiles_match_whole_image(cnn, 97, 131, {0, 1, 2}, {17, 32, 64, 97, 130, 131, 200, 0});
}

TEST(TiledForward, UnetEqualsWholeImageForEveryTileSize) {
    Network net = unet(UnetUpsampling::nearest);
    const std::int64_t minimum = minimum_tile_size(downsampling_factor(net), receptive_field(net));
    // Two to four windows a side (a tile not a multiple of the factor is rounded down), and
    // one whole window.
    expect_tiles_match_whole_image(net, minimum + 37, 2 * minimum + 11, {0, 5, 24}, {0});
}

TEST(TiledForward, DepthUnetEqualsWholeImage) {
    Network net = unet(UnetUpsampling::transposed, 3);
    const std::int64_t minimum = minimum_tile_size(downsampling_factor(net), receptive_field(net));
    expect_tiles_match_whole_image(net, minimum + 5, minimum + 29, {0});
}

TEST(TiledForward, PublishedTomoGanModelsEqualWholeImage) {
    for (const char* file : {"TomoGAN.h5", "TomoGAN-toy.h5"}) {  // nearest and bilinear
        const auto dir = tomodenoise::testing::shared_dir();
        const auto path = dir / "models" / "keras" / file;
        if (dir.empty() || !std::filesystem::exists(path)) {
            std::cout << "[ SKIPPED  ] " << file << " absent\n";
            continue;
        }
        SCOPED_TRACE(file);
        Network net = load_network(path.string());
        const std::int64_t minimum =
            minimum_tile_size(downsampling_factor(net), receptive_field(net));
        expect_tiles_match_whole_image(net, minimum + 13, minimum + 21, {0});
    }
}

TEST(PlanTiles, RefusesATileBelowTheMinimumNamingIt) {
    Network cnn = build_cnn_denoiser();
    const ReceptiveField field = receptive_field(cnn);
    const std::int64_t minimum = minimum_tile_size(1, field);
    EXPECT_EQ(minimum, 11);
    tomodenoise::testing::expect_error_naming<InvalidArgument>(
        [&] { plan_tiles(100, 100, minimum - 1, 1, field); },
        {"tile size 10", "minimum 11", "radius 5"});
    EXPECT_THROW(plan_tiles(100, 100, -1, 1, field), InvalidArgument);
    EXPECT_NO_THROW(plan_tiles(100, 100, minimum, 1, field));
}

TEST(PlanTiles, WindowsAreAlignedAndCoverTheImageOnce) {
    const ReceptiveField field{21, 21};
    const std::int64_t multiple = 8, height = 301, width = 97;
    const TilePlan plan = plan_tiles(height, width, 100, multiple, field);
    EXPECT_EQ(plan.padded_height, 304);
    EXPECT_EQ(plan.padded_width, 104);
    // Six windows down (two would write their centres of 48 and the edge ones 72), two across,
    // each as small as covering the image allows.
    EXPECT_EQ(plan.window_height, 96);
    EXPECT_EQ(plan.window_width, 80);
    EXPECT_EQ(plan.tiles.size(), 12u);
    std::vector<int> covered(std::size_t(height * width), 0);
    for (const auto& t : plan.tiles) {
        EXPECT_EQ(t.y % multiple, 0);
        EXPECT_EQ(t.x % multiple, 0);
        EXPECT_LE(t.y + plan.window_height, plan.padded_height);
        EXPECT_LE(t.x + plan.window_width, plan.padded_width);
        // The written part keeps the halo from every window side inside the padded image.
        const bool top = t.y == 0, bottom = t.y + plan.window_height == plan.padded_height;
        const bool left = t.x == 0, right = t.x + plan.window_width == plan.padded_width;
        EXPECT_TRUE(top || t.top - t.y >= 24);
        EXPECT_TRUE(bottom || t.y + plan.window_height - t.bottom >= 24);
        EXPECT_TRUE(left || t.left - t.x >= 24);
        EXPECT_TRUE(right || t.x + plan.window_width - t.right >= 24);
        for (std::int64_t y = t.top; y < t.bottom; ++y)
            for (std::int64_t x = t.left; x < t.right; ++x) ++covered[std::size_t(y * width + x)];
    }
    for (int c : covered) ASSERT_EQ(c, 1);
}

}  // namespace
