#include <gtest/gtest.h>

#include "core/context.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/convolution_transpose.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

// Keras's output size and leading crop: 'same' gives in * s and crops floor((k - s) / 2) in
// front (TensorFlow's 'same' padding of the convolution it transposes), 'valid' crops nothing.
std::int64_t expected_size(std::int64_t in, const ConvolutionConfig& c) {
    return c.padding == Padding::same ? in * c.stride : (in - 1) * c.stride + c.kernel;
}
std::int64_t expected_crop(const ConvolutionConfig& c) {
    return c.padding == Padding::same ? (c.kernel - c.stride) / 2 : 0;
}

// The transpose as a scatter, in double precision:
// out[n, o, y*s + ky - pad, x*s + kx - pad] += in[n, i, y, x] * w[o, i, ky, kx].
std::vector<double> reference_transpose(const Tensor& x, ConvolutionTransposeLayer& layer) {
    const auto& cfg = layer.config();
    const Dims in = x.dims();
    const std::int64_t oh = expected_size(in.h, cfg), ow = expected_size(in.w, cfg);
    const std::int64_t pad = expected_crop(cfg), k = cfg.kernel, s = cfg.stride;
    const float* w = layer.kernel().value();
    std::vector<double> out(static_cast<std::size_t>(in.n * cfg.filters * oh * ow));
    auto at = [&](std::int64_t n, std::int64_t o, std::int64_t y, std::int64_t xo) -> double& {
        return out[((n * cfg.filters + o) * oh + y) * ow + xo];
    };
    for (std::int64_t n = 0; n < in.n; ++n)
        for (std::int64_t o = 0; o < cfg.filters; ++o)
            for (std::int64_t i = 0; i < in.c; ++i)
                for (std::int64_t y = 0; y < in.h; ++y)
                    for (std::int64_t xi = 0; xi < in.w; ++xi)
                        for (std::int64_t ky = 0; ky < k; ++ky)
                            for (std::int64_t kx = 0; kx < k; ++kx) {
                                const std::int64_t oy = y * s + ky - pad, ox = xi * s + kx - pad;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                                at(n, o, oy, ox) += double(x.at(n, i, y, xi)) *
                                                    w[((o * in.c + i) * k + ky) * k + kx];
                            }
    for (std::int64_t n = 0; n < in.n; ++n)
        for (std::int64_t o = 0; o < cfg.filters; ++o)
            for (std::int64_t y = 0; y < oh; ++y)
                for (std::int64_t xo = 0; xo < ow; ++xo) {
                    double& v = at(n, o, y, xo);
                    if (cfg.use_bias) v += layer.bias().value()[o];
                    v = reference_activation(cfg.activation, v);
                }
    return out;
}

ConvolutionConfig cfg(std::int64_t filters, std::int64_t kernel, std::int64_t stride,
                      Padding padding, Activation act, bool bias = true) {
    ConvolutionConfig c;
    c.filters = filters;
    c.kernel = kernel;
    c.stride = stride;
    c.padding = padding;
    c.activation = act;
    c.use_bias = bias;
    return c;
}

void randomize_parameters(ConvolutionTransposeLayer& layer, std::uint32_t seed) {
    std::mt19937 rng(seed);
    layer.initialize(rng);
    if (layer.config().use_bias) {
        auto v = random_values(layer.bias().size(), seed + 3, -0.5f, 0.5f);
        std::copy(v.begin(), v.end(), layer.bias().value());
        layer.bias().mark_changed();
    }
}

struct TransposeCase {
    Dims input;
    ConvolutionConfig config;
};

class ConvolutionTransposeForward : public ::testing::TestWithParam<TransposeCase> {};

TEST_P(ConvolutionTransposeForward, MatchesScatterReference) {
    const auto& p = GetParam();
    for (auto mode : {Mode::inference, Mode::training}) {
        Context ctx;
        ConvolutionTransposeLayer layer("deconv", p.config);
        const Dims out = layer.build({p.input});
        EXPECT_EQ(out, (Dims{p.input.n, p.config.filters, expected_size(p.input.h, p.config),
                             expected_size(p.input.w, p.config)}));
        randomize_parameters(layer, 11);
        const Tensor x = random_tensor(p.input, 5);
        Tensor dst;
        layer.forward(ctx, {&x}, dst, mode);
        EXPECT_EQ(dst.dims(), out);
        EXPECT_TRUE(near_all(plain_values(ctx, dst), reference_transpose(x, layer), 2e-5,
                             /*allow_mostly_zero=*/true))
            << p.input.to_string() << " laid out as " << layout_name(dst.desc());
    }
}

INSTANTIATE_TEST_SUITE_P(
    AwkwardShapes, ConvolutionTransposeForward,
    ::testing::Values(
        TransposeCase{{2, 3, 5, 7}, cfg(13, 3, 2, Padding::same, Activation::relu())},
        TransposeCase{{2, 17, 4, 3}, cfg(1, 2, 2, Padding::same, Activation::linear())},
        TransposeCase{{2, 1, 6, 5}, cfg(17, 4, 2, Padding::same, Activation::tanh())},
        TransposeCase{{2, 13, 3, 5}, cfg(3, 3, 1, Padding::same, Activation::sigmoid())},
        TransposeCase{{2, 3, 5, 4}, cfg(5, 3, 2, Padding::valid, Activation::leaky_relu(0.2f))},
        TransposeCase{{2, 3, 4, 5}, cfg(3, 5, 3, Padding::same, Activation::linear(), false)},
        TransposeCase{{2, 17, 3, 3}, cfg(16, 2, 2, Padding::valid, Activation::relu())},
        TransposeCase{{1, 32, 7, 6}, cfg(32, 3, 2, Padding::same, Activation::relu())}));

TEST(ConvolutionTransposeBackward, MatchesFiniteDifferences) {
    const TransposeCase cases[] = {
        {{2, 3, 4, 5}, cfg(13, 3, 2, Padding::same, Activation::linear())},
        {{2, 17, 3, 4}, cfg(3, 4, 2, Padding::same, Activation::tanh())},
        {{2, 13, 3, 3}, cfg(17, 3, 1, Padding::same, Activation::sigmoid(), false)},
        {{2, 1, 4, 3}, cfg(5, 3, 2, Padding::valid, Activation::linear())},
        {{2, 3, 3, 4}, cfg(1, 2, 2, Padding::same, Activation::linear())},
    };
    for (const auto& c : cases) {
        Context ctx;
        ConvolutionTransposeLayer layer("deconv", c.config);
        layer.build({c.input});
        randomize_parameters(layer, 3);
        check_layer_gradients(ctx, layer, {random_tensor(c.input, 9)});
    }
}

TEST(ConvolutionTransposeBackward, ReluGradientAwayFromTheKink) {
    Context ctx;
    ConvolutionTransposeLayer layer("deconv_relu",
                                    cfg(13, 3, 2, Padding::same, Activation::relu()));
    check_relu_gradients_away_from_kink(ctx, layer, Dims{2, 17, 4, 5});
}

TEST(ConvolutionTransposeBackward, AFrozenLayerGivesTheSameInputGradientAndLeavesItsParameters) {
    Context ctx;
    ConvolutionTransposeLayer layer("deconv", cfg(13, 3, 2, Padding::same, Activation::relu()));
    layer.build({Dims{2, 17, 4, 5}});
    randomize_parameters(layer, 3);
    check_frozen_backward(ctx, layer, Dims{2, 17, 4, 5});
}

TEST(ConvolutionTransposeBackward, AcceptsDiffDstInAnyLayout) {
    Context ctx;
    ConvolutionTransposeLayer layer("deconv", cfg(17, 3, 2, Padding::same, Activation::tanh()));
    const Dims in{2, 13, 5, 4};
    const Dims out = layer.build({in});
    randomize_parameters(layer, 1);
    const Tensor x = random_tensor(in, 1);
    Tensor dst;
    layer.forward(ctx, {&x}, dst, Mode::training);
    const Tensor diff_dst = random_tensor(out, 2);
    auto gradients = [&](const Tensor& dd) {
        Tensor diff_src;
        layer.backward(ctx, {&x}, dst, dd, {&diff_src});
        auto g = plain_values(ctx, diff_src);
        for (const Parameter* p : layer.parameters())
            g.insert(g.end(), p->grad(), p->grad() + p->size());
        return g;
    };
    const auto plain = gradients(diff_dst);
    for (auto layout : {dnnl::memory::format_tag::nhwc, dnnl::memory::format_tag::nChw16c,
                        dnnl::memory::format_tag::nChw8c}) {
        Tensor dd(dnnl::memory::desc(out.to_dnnl(), dnnl::memory::data_type::f32, layout));
        ctx.reorder(diff_dst, dd);
        EXPECT_TRUE(near_all(gradients(dd), std::vector<double>(plain.begin(), plain.end()), 1e-5))
            << layout_name(dd.desc());
    }
}

TEST(ConvolutionTranspose, RejectsMismatchedChannelsNamingLayerAndDims) {
    ConvolutionTransposeLayer layer("dec_up1", cfg(8, 3, 2, Padding::same, Activation::relu()));
    layer.build({Dims{1, 16, 8, 8}});
    try {
        layer.build({Dims{1, 12, 8, 8}});
        FAIL() << "no error for 12 channels";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("dec_up1"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 12, 8, 8]"), std::string::npos) << msg;
    }
    try {
        ConvolutionTransposeLayer("dec_up2", cfg(8, 1, 2, Padding::same, Activation::relu()));
        FAIL() << "no error for a kernel smaller than the stride";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("dec_up2"), std::string::npos) << e.what();
    }
}

TEST(ConvolutionTranspose, ParametersAndKerasConfig) {
    ConvolutionTransposeLayer layer("conv2d_transpose",
                                    cfg(6, 4, 2, Padding::valid, Activation::linear()));
    layer.build({Dims{1, 10, 3, 3}});
    EXPECT_EQ(layer.kernel().shape(), (std::vector<std::int64_t>{6, 10, 4, 4}));
    EXPECT_EQ(layer.bias().shape(), (std::vector<std::int64_t>{6}));
    std::mt19937 rng(2);
    layer.initialize(rng);
    // Glorot uniform with fans (6 + 10) * 16.
    const double limit = std::sqrt(6.0 / (16.0 * 16.0));
    const float* k = layer.kernel().value();
    const auto n = layer.kernel().size();
    EXPECT_TRUE(std::all_of(k, k + n, [&](float v) { return std::abs(v) <= limit; }));
    EXPECT_TRUE(std::any_of(k, k + n, [&](float v) { return std::abs(v) > limit / 2; }));
    EXPECT_EQ(layer.type(), "Conv2DTranspose");
    const auto c = keras_layer_config(layer);
    EXPECT_EQ(c.at("name"), "conv2d_transpose");
    EXPECT_EQ(c.at("filters"), 6);
    EXPECT_EQ(c.at("kernel_size"), nlohmann::json({4, 4}));
    EXPECT_EQ(c.at("strides"), nlohmann::json({2, 2}));
    EXPECT_EQ(c.at("padding"), "valid");
    EXPECT_TRUE(c.at("output_padding").is_null());
}

TEST(ConvolutionTranspose, SecondRunCreatesNoPrimitive) {
    Context ctx;
    ConvolutionTransposeLayer layer("deconv", cfg(16, 3, 2, Padding::same, Activation::relu()));
    const Dims in{1, 32, 9, 8};
    layer.build({in});
    randomize_parameters(layer, 1);
    const Tensor x = random_tensor(in, 2);
    Tensor dst, diff_src;
    layer.forward(ctx, {&x}, dst, Mode::training);
    layer.backward(ctx, {&x}, dst, dst, {&diff_src});
    const auto misses = ctx.cache().misses();
    layer.forward(ctx, {&x}, dst, Mode::training);
    layer.backward(ctx, {&x}, dst, dst, {&diff_src});
    EXPECT_EQ(ctx.cache().misses(), misses);
}

}  // namespace
