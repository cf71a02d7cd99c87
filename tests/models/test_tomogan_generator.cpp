// The TomoGAN generator builder against the published models (TomoGAN.h5: nearest
// upsampling; TomoGAN-toy.h5: bilinear), the fixture computed from them by an independent
// implementation, and at other depths and upsamplings.

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "api/model_impl.hpp"
#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "model_checks.hpp"
#include "models/tomogan_generator.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

struct Published {
    const char* model;
    UnetUpsampling upsampling;
};

class PublishedGenerator : public ::testing::TestWithParam<Published> {};

// Parameters of the published generator counted from the design notes' architecture:
// (k*k*in + 1) * out for each convolution, in order.
std::int64_t published_parameter_count() {
    const std::int64_t convolutions[][3] = {
        {1, 1, 8},     {3, 8, 32},    {3, 32, 32},  {3, 32, 64}, {3, 64, 64},  {3, 64, 128},
        {3, 128, 128}, {3, 128, 128}, {3, 256, 64}, {3, 64, 64}, {3, 128, 32}, {3, 32, 32},
        {3, 64, 32},   {3, 32, 32},   {1, 32, 16},  {1, 16, 1}};
    std::int64_t count = 0;
    for (const auto& c : convolutions) count += (c[0] * c[0] * c[1] + 1) * c[2];
    return count;
}

TEST_P(PublishedGenerator, HasThePublishedArchitecture) {
    const auto& p = GetParam();
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, std::string("models/keras/") + p.model + ".h5");
    TomoGanGeneratorConfig config;
    config.upsampling = p.upsampling;
    Network built = build_tomogan_generator(config);
    expect_keras_architecture(built, path.string());
    Network published = load_network(path.string());
    expect_same_parameter_shapes(built, published);
    EXPECT_EQ(built.parameter_count(), published.parameter_count());
    EXPECT_EQ(built.parameter_count(), published_parameter_count());
}

TEST_P(PublishedGenerator, WithThePublishedWeightsItComputesWhatTheFileDoes) {
    const auto& p = GetParam();
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, std::string("models/keras/") + p.model + ".h5");
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, "fixtures/keras_reference_256.h5");
    Network published = load_network(path.string());
    TomoGanGeneratorConfig config;
    config.upsampling = p.upsampling;
    Network built = build_tomogan_generator(config);
    copy_parameters(published, built);

    const Tensor x = random_tensor(Dims{2, 1, 24, 40}, 5, 0.f, 255.f);
    const auto want = run(published, x);
    EXPECT_TRUE(varies(want));
    EXPECT_EQ(run(built, x), want);

    const auto file = hdf5::File::open_read(fixture.string());
    auto input = hdf5::read_float_dataset(file, "/input_0_255");
    const auto reference = hdf5::read_float_dataset(file, std::string("/output/") + p.model);
    const Tensor view = Tensor::view(input.values.data(), Dims{1, 1, 256, 256});
    EXPECT_TRUE(within_fraction_of_range(run(built, view), reference.values, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(Models, PublishedGenerator,
                         ::testing::Values(Published{"TomoGAN", UnetUpsampling::nearest},
                                           Published{"TomoGAN-toy", UnetUpsampling::bilinear}),
                         [](const auto& info) {
                             return info.param.upsampling == UnetUpsampling::nearest ? "nearest"
                                                                                     : "bilinear";
                         });

std::int64_t count_of(const Network& net, const std::string& type) {
    std::int64_t n = 0;
    for (const auto& node : net.nodes())
        if (node.layer && node.layer->type() == type) ++n;
    return n;
}

TEST(TomoGanGenerator, LevelsSetThePoolingDepth) {
    for (std::int64_t levels : {1, 2, 4}) {
        TomoGanGeneratorConfig config;
        config.levels = levels;
        Network net = build_tomogan_generator(config);
        EXPECT_EQ(count_of(net, "MaxPooling2D"), levels);
        EXPECT_EQ(count_of(net, "UpSampling2D"), levels);
        EXPECT_EQ(count_of(net, "Concatenate"), levels);
        // 1x1 in, two per box (levels down, levels up), the bottleneck, two 1x1 out.
        EXPECT_EQ(count_of(net, "Conv2D"), 1 + 4 * levels + 1 + 2);
        const std::int64_t size = 3 << levels;
        EXPECT_EQ(net.build({Dims{2, 1, size, 2 * size}}).at(0), (Dims{2, 1, size, 2 * size}));
        std::int64_t smallest = size;
        for (const auto& node : net.nodes()) smallest = std::min(smallest, node.dims.h);
        EXPECT_EQ(smallest, 3) << levels << " levels";
        // The deepest box and the bottleneck have 32 * 2^(levels - 1) filters.
        const auto& bottleneck = net.layer("conv2d_" + std::to_string(2 * levels + 1));
        EXPECT_EQ(keras_layer_config(bottleneck).at("filters"), 32 << (levels - 1));
        EXPECT_EQ(keras_layer_config(bottleneck).at("kernel_size"), nlohmann::json({3, 3}));
    }
}

TEST(TomoGanGenerator, OtherLevelsApplyToAnySizeThroughReflectPadding) {
    for (std::int64_t levels : {2, 4}) {
        TomoGanGeneratorConfig config;
        config.levels = levels;
        Model model = make_model(build_tomogan_generator(config));
        EXPECT_EQ(model.size_multiple(), std::int64_t{1} << levels);
        const std::int64_t h = 1000, w = 750;
        const auto x = random_values(static_cast<std::size_t>(h * w), 9, 0.f, 255.f);
        std::vector<float> y(x.size(), std::nanf(""));
        model.apply(x.data(), 1, h, w, y.data());
        EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); }))
            << levels << " levels";
        EXPECT_TRUE(varies(y)) << levels << " levels";
    }
}

TEST(TomoGanGenerator, DepthIsTheInputChannels) {
    TomoGanGeneratorConfig config;
    config.depth = 3;
    Network net = build_tomogan_generator(config);
    EXPECT_EQ(net.input_channels(), 3);
    EXPECT_EQ(net.parameters().at(0)->shape(), (std::vector<std::int64_t>{8, 3, 1, 1}));
    EXPECT_EQ(net.build({Dims{1, 3, 16, 24}}).at(0), (Dims{1, 1, 16, 24}));
}

TEST(TomoGanGenerator, TransposedConvolutionUpsamplesWithItsInputChannels) {
    TomoGanGeneratorConfig config;
    config.upsampling = UnetUpsampling::transposed;
    Network net = build_tomogan_generator(config);
    EXPECT_EQ(count_of(net, "UpSampling2D"), 0);
    ASSERT_EQ(count_of(net, "Conv2DTranspose"), 3);
    // Bottleneck 128 channels, then the decoder boxes of 64 and 32.
    const std::pair<const char*, std::int64_t> expected[] = {
        {"conv2d_transpose", 128}, {"conv2d_transpose_1", 64}, {"conv2d_transpose_2", 32}};
    for (const auto& [name, channels] : expected) {
        const auto config_json = keras_layer_config(net.layer(name));
        EXPECT_EQ(config_json.at("filters"), channels) << name;
        EXPECT_EQ(config_json.at("kernel_size"), nlohmann::json({2, 2})) << name;
        EXPECT_EQ(config_json.at("strides"), nlohmann::json({2, 2})) << name;
        const auto& kernel = *net.layer(name).parameters().at(0);
        EXPECT_EQ(kernel.shape(), (std::vector<std::int64_t>{channels, channels, 2, 2})) << name;
    }
    for (std::size_t i = 0; i < net.nodes().size(); ++i)
        if (net.nodes()[i].name == "concatenate") {
            EXPECT_EQ(net.nodes()[net.nodes()[i].inputs.at(1)].name, "conv2d_transpose");
        }
    EXPECT_EQ(net.build({Dims{1, 1, 16, 24}}).at(0), (Dims{1, 1, 16, 24}));
    expect_export_round_trip(net, random_tensor(Dims{1, 1, 16, 24}, 4, 0.f, 1.f));
}

TEST(TomoGanGenerator, ExportsInKerasLayoutWithEveryUpsampling) {
    for (auto mode : {UnetUpsampling::nearest, UnetUpsampling::bilinear}) {
        TomoGanGeneratorConfig config;
        config.upsampling = mode;
        config.levels = 2;
        config.depth = 3;
        Network net = build_tomogan_generator(config);
        expect_export_round_trip(net, random_tensor(Dims{1, 3, 12, 20}, 6, 0.f, 1.f));
    }
}

TEST(TomoGanGenerator, BadOptionsAreNamed) {
    const auto message = [](const TomoGanGeneratorConfig& config) {
        try {
            build_tomogan_generator(config);
        } catch (const InvalidArgument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    TomoGanGeneratorConfig config;
    config.levels = 0;
    EXPECT_NE(message(config).find("levels"), std::string::npos) << message(config);
    config.levels = 11;
    EXPECT_NE(message(config).find("levels"), std::string::npos) << message(config);
    config = {};
    config.depth = 0;
    EXPECT_NE(message(config).find("depth"), std::string::npos) << message(config);
    config = {};
    config.output_channels = 0;
    EXPECT_NE(message(config).find("output_channels"), std::string::npos) << message(config);
    config = {};
    config.residual = true;
    config.depth = 3;
    EXPECT_NE(message(config).find("residual needs depth 1"), std::string::npos) << message(config);
}

TEST(TomoGanGenerator, ResidualExportsInKerasLayout) {
    TomoGanGeneratorConfig config;
    config.levels = 2;
    config.residual = true;
    Network net = build_tomogan_generator(config);
    expect_export_round_trip(net, random_tensor(Dims{1, 1, 12, 20}, 6, 0.f, 1.f));
}

}  // namespace
