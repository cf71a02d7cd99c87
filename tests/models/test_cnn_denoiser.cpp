// The plain CNN denoiser builder against the tutorial's published model (dn-mdl-toy.h5) and
// the fixture computed from it by an independent implementation.

#include <gtest/gtest.h>

#include <string>

#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "model_checks.hpp"
#include "models/cnn_denoiser.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

// Parameters of 3x3 convolutions through channels in -> widths... -> out, with biases.
std::int64_t expected_parameter_count(std::int64_t in, const std::vector<std::int64_t>& widths,
                                      std::int64_t out) {
    std::int64_t count = 0;
    for (auto w : widths) {
        count += (9 * in + 1) * w;
        in = w;
    }
    return count + (9 * in + 1) * out;
}

TEST(CnnDenoiser, DefaultsAreTheTutorialModel) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "models/keras/dn-mdl-toy.h5");
    Network built = build_cnn_denoiser();
    expect_keras_architecture(built, path.string());
    Network published = load_network(path.string());
    expect_same_parameter_shapes(built, published);
    EXPECT_EQ(built.parameter_count(), published.parameter_count());
    EXPECT_EQ(built.parameter_count(), expected_parameter_count(1, {8, 16, 8, 4}, 1));
}

TEST(CnnDenoiser, WithThePublishedWeightsItComputesWhatTheFileDoes) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "models/keras/dn-mdl-toy.h5");
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, "fixtures/keras_reference_256.h5");
    Network published = load_network(path.string());
    Network built = build_cnn_denoiser();
    copy_parameters(published, built);

    const Tensor x = random_tensor(Dims{2, 1, 37, 53}, 11, 0.f, 1.f);
    const auto want = run(published, x);
    EXPECT_TRUE(varies(want));
    EXPECT_EQ(run(built, x), want);

    const auto file = hdf5::File::open_read(fixture.string());
    auto input = hdf5::read_float_dataset(file, "/input_0_1");
    const auto reference = hdf5::read_float_dataset(file, "/output/dn-mdl-toy");
    const Tensor view = Tensor::view(input.values.data(), Dims{1, 1, 256, 256});
    EXPECT_TRUE(within_fraction_of_range(run(built, view), reference.values, 1e-4));
}

TEST(CnnDenoiser, WidthsAndChannelsAreConfigurable) {
    CnnDenoiserConfig config;
    config.input_channels = 3;
    config.widths = {5, 7};
    config.output_channels = 2;
    Network net = build_cnn_denoiser(config);
    std::vector<std::string> names;
    for (const auto& node : net.nodes()) names.push_back(node.name);
    EXPECT_EQ(names, (std::vector<std::string>{"input_1", "conv2d", "conv2d_1", "conv2d_2"}));
    EXPECT_EQ(keras_layer_config(net.layer("conv2d")).at("activation"), "relu");
    EXPECT_EQ(keras_layer_config(net.layer("conv2d_1")).at("activation"), "relu");
    EXPECT_EQ(keras_layer_config(net.layer("conv2d_2")).at("activation"), "linear");
    EXPECT_EQ(net.parameter_count(), expected_parameter_count(3, {5, 7}, 2));
    EXPECT_EQ(net.build({Dims{2, 3, 9, 14}}).at(0), (Dims{2, 2, 9, 14}));
}

TEST(CnnDenoiser, NoHiddenLayersIsOneLinearConvolution) {
    CnnDenoiserConfig config;
    config.widths = {};
    Network net = build_cnn_denoiser(config);
    ASSERT_EQ(net.nodes().size(), 2u);
    EXPECT_EQ(net.parameter_count(), 10);
}

TEST(CnnDenoiser, BadOptionsAreNamed) {
    CnnDenoiserConfig config;
    config.widths = {8, 0};
    try {
        build_cnn_denoiser(config);
        FAIL() << "built a layer of 0 filters";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("widths[1]"), std::string::npos) << e.what();
    }
    config = {};
    config.input_channels = 0;
    EXPECT_THROW(build_cnn_denoiser(config), InvalidArgument);
}

TEST(CnnDenoiser, TheSeedDecidesTheInitialWeights) {
    CnnDenoiserConfig config;
    Network a = build_cnn_denoiser(config), b = build_cnn_denoiser(config);
    config.seed = 2;
    Network c = build_cnn_denoiser(config);
    const auto ka = a.parameters().at(0), kb = b.parameters().at(0), kc = c.parameters().at(0);
    EXPECT_TRUE(std::equal(ka->value(), ka->value() + ka->size(), kb->value()));
    EXPECT_FALSE(std::equal(ka->value(), ka->value() + ka->size(), kc->value()));
}

TEST(CnnDenoiser, ExportsInKerasLayout) {
    Network net = build_cnn_denoiser();
    expect_export_round_trip(net, random_tensor(Dims{1, 1, 19, 24}, 3, 0.f, 1.f));
}

}  // namespace
