// The TomoGAN discriminator builder: architecture from the design notes, parameter count in
// closed form, gradients of the whole network against central differences, Keras export.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <string>

#include "model_checks.hpp"
#include "models/tomogan_discriminator.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TomoGanDiscriminatorConfig sized(std::int64_t channels, std::int64_t height, std::int64_t width,
                                 DiscriminatorHead head = DiscriminatorHead::dense) {
    TomoGanDiscriminatorConfig config;
    config.input_channels = channels;
    config.height = height;
    config.width = width;
    config.head = head;
    return config;
}

// Convolutions 3x3 c->64, 64->64, 64->128, 128->128, 128->128, 128->4; three of them halve
// the size ('same', rounding up); Dense (H/8 * W/8 * 4) -> 64 and 64 -> 1.
std::int64_t expected_parameter_count(std::int64_t c, std::int64_t h, std::int64_t w) {
    const auto conv = [](std::int64_t in, std::int64_t out) { return (9 * in + 1) * out; };
    const auto eighth = [](std::int64_t v) { return (v + 7) / 8; };
    const std::int64_t features = eighth(h) * eighth(w) * 4;
    return conv(c, 64) + conv(64, 64) + conv(64, 128) + conv(128, 128) + conv(128, 128) +
           conv(128, 4) + (features + 1) * 64 + (64 + 1) * 1;
}

TEST(TomoGanDiscriminator, LayersFollowTheDesignNotes) {
    Network net = build_tomogan_discriminator();
    std::vector<std::string> names;
    for (const auto& node : net.nodes()) names.push_back(node.name);
    EXPECT_EQ(names,
              (std::vector<std::string>{"input_1", "conv2d", "conv2d_1", "conv2d_2", "conv2d_3",
                                        "conv2d_4", "conv2d_5", "flatten", "dense", "dense_1"}));
    const std::int64_t filters[] = {64, 64, 128, 128, 128, 4}, strides[] = {1, 2, 1, 2, 1, 2};
    for (int i = 0; i < 6; ++i) {
        const std::string name = i == 0 ? "conv2d" : "conv2d_" + std::to_string(i);
        const auto config = keras_layer_config(net.layer(name));
        EXPECT_EQ(net.layer(name).type(), "Conv2D");
        EXPECT_EQ(config.at("filters"), filters[i]) << name;
        EXPECT_EQ(config.at("strides"), nlohmann::json({strides[i], strides[i]})) << name;
        EXPECT_EQ(config.at("kernel_size"), nlohmann::json({3, 3})) << name;
        EXPECT_EQ(config.at("padding"), "same") << name;
        EXPECT_EQ(config.at("activation"), "relu") << name;
    }
    EXPECT_EQ(net.layer("flatten").type(), "Flatten");
    EXPECT_EQ(keras_layer_config(net.layer("dense")).at("units"), 64);
    EXPECT_EQ(keras_layer_config(net.layer("dense")).at("activation"), "relu");
    EXPECT_EQ(keras_layer_config(net.layer("dense_1")).at("units"), 1);
    EXPECT_EQ(keras_layer_config(net.layer("dense_1")).at("activation"), "linear");
}

TEST(TomoGanDiscriminator, OneLogitPerImageAndTheParameterCountInClosedForm) {
    for (auto [c, h, w] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{1, 256, 256},
                           {3, 40, 24},
                           {1, 37, 21}}) {
        Network net = build_tomogan_discriminator(sized(c, h, w));
        EXPECT_EQ(net.parameter_count(), expected_parameter_count(c, h, w)) << h << "x" << w;
        EXPECT_EQ(net.build({Dims{2, c, h, w}}).at(0), (Dims{2, 1, 1, 1})) << h << "x" << w;
    }
    // By hand: convolutions 411204, Dense 4097 * 64 + 65.
    EXPECT_EQ(expected_parameter_count(1, 256, 256), 673477);
    Network net = build_tomogan_discriminator(sized(1, 37, 21));
    const auto y = run(net, random_tensor(Dims{3, 1, 37, 21}, 8));
    ASSERT_EQ(y.size(), 3u);
    EXPECT_TRUE(varies(y));
}

TEST(TomoGanDiscriminator, OtherSizesAreRefusedAtTheDenseLayer) {
    Network net = build_tomogan_discriminator(sized(1, 32, 32));
    try {
        net.build({Dims{1, 1, 64, 64}});
        FAIL() << "a 32x32 discriminator accepted 64x64 patches";
    } catch (const ShapeError& e) {
        EXPECT_NE(std::string(e.what()).find("dense"), std::string::npos) << e.what();
    }
}

// Along a random direction u through all entries of one parameter tensor (or the input), the
// directional derivative (L(p + e u) - L(p - e u)) / 2e must match <dL/dp, u>. Moving every
// entry at once makes the change of L large against float32 rounding, which probing entries
// one by one would drown in.
void expect_gradients_match_finite_differences(DiscriminatorHead head) {
    Network net = build_tomogan_discriminator(sized(1, 16, 16, head));
    // Biases as large as the activations keep most pre-activations away from the ReLU kinks,
    // where finite differences are meaningless.
    std::mt19937 gen(21);
    std::uniform_real_distribution<float> bias(-0.5f, 0.5f);
    for (Parameter* p : net.parameters())
        if (p->name() == "bias") {
            std::generate(p->value(), p->value() + p->size(), [&] { return bias(gen); });
            p->mark_changed();
        }
    Context ctx;
    Tensor x = random_tensor(Dims{2, 1, 16, 16}, 3);
    // One logit per image, or one per 8x8 block.
    const std::int64_t side = head == DiscriminatorHead::dense ? 1 : 2;
    const Tensor weights = random_tensor(Dims{2, 1, side, side}, 4);
    // L = sum of the logits weighted by `weights`, so dL/dlogits = weights.
    const auto loss = [&] {
        const Tensor& y = net.forward(ctx, x, Mode::training);
        double sum = 0;
        for (std::int64_t i = 0; i < weights.dims().count(); ++i)
            sum += double(y.data()[i]) * weights.data()[i];
        return sum;
    };
    loss();
    const Tensor& diff_x = net.backward(ctx, weights, true).at(0);
    const std::vector<float> input_grad(diff_x.data(), diff_x.data() + diff_x.dims().count());

    // Kinks crossed within epsilon and float32 rounding leave errors of about 1e-2; a gradient
    // routed wrongly is off by its own size.
    constexpr double epsilon = 1e-4, bound = 5e-2;
    constexpr int directions = 4;
    std::uniform_real_distribution<float> unit(-1.f, 1.f);
    const auto check = [&](float* values, std::size_t count, const std::vector<float>& analytic,
                           const std::function<void()>& changed, const std::string& label) {
        const std::vector<float> saved(values, values + count);
        double diff2 = 0, sum2 = 0;
        for (int d = 0; d < directions; ++d) {
            std::vector<float> u(count);
            std::generate(u.begin(), u.end(), [&] { return unit(gen); });
            const auto move = [&](double step) {
                for (std::size_t i = 0; i < count; ++i) values[i] = saved[i] + float(step * u[i]);
                changed();
                return loss();
            };
            const double numeric = (move(epsilon) - move(-epsilon)) / (2 * epsilon);
            double expected = 0;
            for (std::size_t i = 0; i < count; ++i) expected += double(analytic[i]) * u[i];
            diff2 += (expected - numeric) * (expected - numeric);
            sum2 += (expected + numeric) * (expected + numeric);
        }
        std::copy(saved.begin(), saved.end(), values);
        changed();
        EXPECT_GT(sum2, 0.0) << label << ": all gradients are zero";
        EXPECT_LT(std::sqrt(diff2 / sum2), bound) << label;
    };
    std::vector<std::vector<float>> analytic;
    const auto params = net.parameters();
    for (Parameter* p : params) analytic.emplace_back(p->grad(), p->grad() + p->size());
    for (std::size_t k = 0; k < params.size(); ++k) {
        Parameter* p = params[k];
        check(
            p->value(), static_cast<std::size_t>(p->size()), analytic[k],
            [p] { p->mark_changed(); }, "parameter " + std::to_string(k) + " " + p->name());
    }
    check(
        x.data(), static_cast<std::size_t>(x.dims().count()), input_grad, [] {}, "input");
}

TEST(TomoGanDiscriminator, GradientsMatchFiniteDifferences) {
    expect_gradients_match_finite_differences(DiscriminatorHead::dense);
}

TEST(TomoGanDiscriminator, PatchHeadGradientsMatchFiniteDifferences) {
    expect_gradients_match_finite_differences(DiscriminatorHead::patch);
}

// The same convolutions, each followed by a leaky ReLU layer, then a linear 3x3 convolution to
// one logit per 8x8 block ('same', rounding up), for any size.
TEST(TomoGanDiscriminator, PatchHeadJudgesEvery8x8BlockOfAnySize) {
    Network net = build_tomogan_discriminator(sized(1, 32, 32, DiscriminatorHead::patch));
    std::vector<std::string> names;
    for (const auto& node : net.nodes()) names.push_back(node.name);
    std::vector<std::string> expected = {"input_1"};
    for (int i = 0; i < 6; ++i) {
        expected.push_back(i == 0 ? "conv2d" : "conv2d_" + std::to_string(i));
        expected.push_back(i == 0 ? "leaky_re_lu" : "leaky_re_lu_" + std::to_string(i));
    }
    expected.push_back("conv2d_6");
    EXPECT_EQ(names, expected);
    for (int i = 0; i < 6; ++i) {
        const std::string conv = i == 0 ? "conv2d" : "conv2d_" + std::to_string(i);
        const std::string leaky = i == 0 ? "leaky_re_lu" : "leaky_re_lu_" + std::to_string(i);
        EXPECT_EQ(keras_layer_config(net.layer(conv)).at("activation"), "linear") << conv;
        EXPECT_EQ(net.layer(leaky).type(), "LeakyReLU");
        EXPECT_NEAR(keras_layer_config(net.layer(leaky)).at("alpha").get<double>(), 0.2, 1e-7);
    }
    const auto head = keras_layer_config(net.layer("conv2d_6"));
    EXPECT_EQ(head.at("filters"), 1);
    EXPECT_EQ(head.at("kernel_size"), nlohmann::json({3, 3}));
    EXPECT_EQ(head.at("activation"), "linear");
    // The dense head's convolutions, then (9 * 4 + 1) x 1: no parameter depends on the size.
    const std::int64_t dense_part = expected_parameter_count(1, 32, 32) - (4 * 16 + 1) * 64 - 65;
    EXPECT_EQ(net.parameter_count(), dense_part + 9 * 4 + 1);
    for (auto [h, w] : {std::pair<std::int64_t, std::int64_t>{32, 32}, {64, 40}, {37, 21}})
        EXPECT_EQ(net.build({Dims{2, 1, h, w}}).at(0), (Dims{2, 1, (h + 7) / 8, (w + 7) / 8}))
            << h << "x" << w;
    const auto y = run(net, random_tensor(Dims{1, 1, 37, 21}, 8));
    ASSERT_EQ(y.size(), 5u * 3u);
    EXPECT_TRUE(varies(y));
    expect_export_round_trip(net, random_tensor(Dims{2, 1, 24, 40}, 2));
}

TEST(TomoGanDiscriminator, ExportsInKerasLayoutWithItsPatchSize) {
    Network net = build_tomogan_discriminator(sized(1, 24, 16));
    expect_export_round_trip(net, random_tensor(Dims{3, 1, 24, 16}, 2));
    ScratchDir dir;
    save_network(dir.file("discriminator.h5"), net);
    const auto shape = keras_input_shape(dir.file("discriminator.h5"));
    EXPECT_EQ(shape.h, 24);
    EXPECT_EQ(shape.w, 16);
    EXPECT_EQ(shape.c, 1);
}

TEST(TomoGanDiscriminator, BadOptionsAreNamed) {
    try {
        build_tomogan_discriminator(sized(1, 0, 16));
        FAIL() << "built a discriminator for 0-pixel patches";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("height"), std::string::npos) << e.what();
    }
    EXPECT_THROW(build_tomogan_discriminator(sized(0, 16, 16)), InvalidArgument);
}

}  // namespace
