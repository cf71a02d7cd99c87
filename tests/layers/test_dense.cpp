#include <gtest/gtest.h>

#include "core/context.hpp"
#include "core/network.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/dense.hpp"
#include "layers/flatten.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

using tag = dnnl::memory::format_tag;

// out[n, u] = act(b[u] + sum_i x[n, i] k[u, i]) in double precision.
std::vector<double> reference_dense(const std::vector<float>& x, std::int64_t batch,
                                    DenseLayer& dense) {
    const auto& cfg = dense.config();
    const std::int64_t in = dense.input_features();
    const float* k = dense.kernel().value();
    std::vector<double> out(static_cast<std::size_t>(batch * cfg.units));
    for (std::int64_t n = 0; n < batch; ++n)
        for (std::int64_t u = 0; u < cfg.units; ++u) {
            double acc = cfg.use_bias ? dense.bias().value()[u] : 0.0;
            for (std::int64_t i = 0; i < in; ++i) acc += double(x[n * in + i]) * k[u * in + i];
            out[n * cfg.units + u] = reference_activation(cfg.activation, acc);
        }
    return out;
}

DenseConfig dense_config(std::int64_t units, Activation activation, bool use_bias = true) {
    DenseConfig c;
    c.units = units;
    c.activation = activation;
    c.use_bias = use_bias;
    return c;
}

void randomize_parameters(DenseLayer& dense, std::uint32_t seed) {
    std::mt19937 rng(seed);
    dense.initialize(rng);
    if (dense.config().use_bias) {
        auto v = random_values(dense.bias().size(), seed + 3, -0.5f, 0.5f);
        std::copy(v.begin(), v.end(), dense.bias().value());
        dense.bias().mark_changed();
    }
}

Tensor laid_out(Context& ctx, const Tensor& plain, tag layout) {
    Tensor t(dnnl::memory::desc(plain.dims().to_dnnl(), dnnl::memory::data_type::f32, layout));
    ctx.reorder(plain, t);
    return t;
}

struct DenseCase {
    std::int64_t batch, features;
    DenseConfig config;
};

TEST(Dense, MatchesNaiveReferenceInAnyInputLayout) {
    const DenseCase cases[] = {
        {2, 1, dense_config(5, Activation::linear())},
        {2, 3, dense_config(13, Activation::relu())},
        {2, 13, dense_config(17, Activation::tanh())},
        {2, 17, dense_config(1, Activation::sigmoid(), false)},
        {3, 150, dense_config(10, Activation::leaky_relu(0.1f))},
    };
    for (const auto& c : cases) {
        for (tag layout : {tag::nchw, tag::nChw16c}) {
            for (auto mode : {Mode::inference, Mode::training}) {
                Context ctx;
                DenseLayer dense("dense", c.config);
                const Dims in{c.batch, c.features, 1, 1};
                EXPECT_EQ(dense.build({in}), (Dims{c.batch, c.config.units, 1, 1}));
                randomize_parameters(dense, 11);
                const Tensor x = random_tensor(in, 5);
                const Tensor xl = laid_out(ctx, x, layout);
                Tensor dst;
                dense.forward(ctx, {&xl}, dst, mode);
                const std::vector<float> xs(x.data(), x.data() + in.count());
                EXPECT_TRUE(near_all(plain_values(ctx, dst), reference_dense(xs, c.batch, dense),
                                     2e-5, /*allow_mostly_zero=*/true))
                    << in.to_string() << " laid out as " << layout_name(xl.desc());
            }
        }
    }
}

TEST(Dense, MatchesFiniteDifferences) {
    const DenseCase cases[] = {
        {2, 13, dense_config(17, Activation::linear())},
        {2, 3, dense_config(5, Activation::tanh())},
        {2, 17, dense_config(3, Activation::sigmoid(), false)},
        {2, 1, dense_config(13, Activation::linear())},
    };
    for (const auto& c : cases) {
        Context ctx;
        DenseLayer dense("dense", c.config);
        const Dims in{c.batch, c.features, 1, 1};
        dense.build({in});
        randomize_parameters(dense, 3);
        check_layer_gradients(ctx, dense, {random_tensor(in, 9)});
    }
}

TEST(Dense, BackwardOfBlockedInputMatchesPlain) {
    Context ctx;
    DenseLayer dense("dense", dense_config(5, Activation::sigmoid()));
    const Dims in{2, 13, 1, 1};
    dense.build({in});
    randomize_parameters(dense, 2);
    const Tensor diff_dst = random_tensor({2, 5, 1, 1}, 3);
    auto gradients = [&](const Tensor& x) {
        Tensor dst, diff_src;
        dense.forward(ctx, {&x}, dst, Mode::training);
        dense.backward(ctx, {&x}, dst, diff_dst, {&diff_src});
        EXPECT_EQ(diff_src.desc(), x.desc());
        auto g = plain_values(ctx, diff_src);
        for (const Parameter* p : dense.parameters())
            g.insert(g.end(), p->grad(), p->grad() + p->size());
        return g;
    };
    const Tensor x = random_tensor(in, 4);
    const auto plain = gradients(x);
    const auto blocked = gradients(laid_out(ctx, x, tag::nChw16c));
    EXPECT_TRUE(near_all(blocked, std::vector<double>(plain.begin(), plain.end()), 1e-6));
}

TEST(Dense, ReluGradientAwayFromTheKink) {
    Context ctx;
    DenseLayer dense("dense_relu", dense_config(13, Activation::relu()));
    check_relu_gradients_away_from_kink(ctx, dense, Dims{2, 17, 1, 1});
}

TEST(Dense, AFrozenLayerGivesTheSameInputGradientAndLeavesItsParameters) {
    Context ctx;
    DenseLayer dense("dense", dense_config(5, Activation::relu()));
    dense.build({Dims{2, 13, 1, 1}});
    randomize_parameters(dense, 2);
    check_frozen_backward(ctx, dense, Dims{2, 13, 1, 1});
}

TEST(Dense, BackwardAcceptsDiffDstInAnotherLayout) {
    Context ctx;
    DenseLayer dense("dense", dense_config(17, Activation::tanh()));
    const Dims in{2, 13, 1, 1};
    dense.build({in});
    randomize_parameters(dense, 1);
    const Tensor x = random_tensor(in, 1);
    Tensor dst;
    dense.forward(ctx, {&x}, dst, Mode::training);
    const Tensor diff_dst = random_tensor(dst.dims(), 2);
    Tensor plain_grad, blocked_grad;
    dense.backward(ctx, {&x}, dst, diff_dst, {&plain_grad});
    const std::vector<float> kernel_grad(dense.kernel().grad(),
                                         dense.kernel().grad() + dense.kernel().size());
    dense.backward(ctx, {&x}, dst, laid_out(ctx, diff_dst, tag::nChw16c), {&blocked_grad});
    const auto a = plain_values(ctx, plain_grad), b = plain_values(ctx, blocked_grad);
    EXPECT_TRUE(near_all(b, std::vector<double>(a.begin(), a.end()), 1e-6));
    EXPECT_TRUE(near_all(
        std::vector<float>(dense.kernel().grad(), dense.kernel().grad() + dense.kernel().size()),
        std::vector<double>(kernel_grad.begin(), kernel_grad.end()), 1e-6));
}

TEST(Dense, AfterFlattenReadsChannelsLastFeatures) {
    // Keras's Dense after Flatten indexes its kernel by (h*W + w)*C + c; the pair must agree.
    Context ctx;
    Network net;
    net.add_input("x", 3);
    net.add<FlattenLayer>({"x"}, "flatten");
    auto& dense = net.add<DenseLayer>({"flatten"}, "dense", dense_config(7, Activation::linear()));
    const Dims in{2, 3, 5, 4};
    net.build({in});
    net.initialize(5);
    const Tensor x = random_tensor(in, 6);
    const Tensor& y = net.forward(ctx, x, Mode::inference);
    std::vector<float> channels_last;
    for (std::int64_t n = 0; n < in.n; ++n)
        for (std::int64_t h = 0; h < in.h; ++h)
            for (std::int64_t w = 0; w < in.w; ++w)
                for (std::int64_t c = 0; c < in.c; ++c) channels_last.push_back(x.at(n, c, h, w));
    EXPECT_TRUE(near_all(std::vector<float>(y.data(), y.data() + y.dims().count()),
                         reference_dense(channels_last, in.n, dense), 2e-5));
}

TEST(Dense, RejectsUnflattenedOrMismatchedInputNamingLayerAndDims) {
    DenseLayer dense("fc1", dense_config(8, Activation::relu()));
    try {
        dense.build({Dims{2, 3, 4, 5}});
        FAIL() << "no error for a 4x5 input";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("fc1"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[2, 3, 4, 5]"), std::string::npos) << msg;
        EXPECT_NE(msg.find("Flatten"), std::string::npos) << msg;
    }
    dense.build({Dims{2, 60, 1, 1}});
    try {
        dense.build({Dims{2, 61, 1, 1}});
        FAIL() << "no error for 61 features";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("fc1"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[2, 61, 1, 1]"), std::string::npos) << msg;
    }
    EXPECT_THROW(DenseLayer("fc0", dense_config(0, Activation::linear())), InvalidArgument);
}

TEST(Dense, ParametersAndKerasConfig) {
    DenseLayer dense("dense_2", dense_config(10, Activation::sigmoid()));
    dense.build({Dims{1, 6, 1, 1}});
    EXPECT_EQ(dense.kernel().shape(), (std::vector<std::int64_t>{10, 6}));
    EXPECT_EQ(dense.bias().shape(), (std::vector<std::int64_t>{10}));
    EXPECT_EQ(dense.parameters().size(), 2u);
    std::mt19937 rng(1);
    dense.initialize(rng);
    // Glorot uniform: U(-l, l) with l = sqrt(6 / (6 + 10)).
    const double limit = std::sqrt(6.0 / 16.0);
    const float* k = dense.kernel().value();
    EXPECT_TRUE(std::all_of(k, k + 60, [&](float v) { return std::abs(v) <= limit; }));
    EXPECT_TRUE(std::any_of(k, k + 60, [&](float v) { return std::abs(v) > limit / 2; }));
    EXPECT_EQ(dense.type(), "Dense");
    const auto cfg = keras_layer_config(dense);
    EXPECT_EQ(cfg.at("name"), "dense_2");
    EXPECT_EQ(cfg.at("units"), 10);
    EXPECT_EQ(cfg.at("activation"), "sigmoid");
    EXPECT_EQ(cfg.at("use_bias"), true);
    EXPECT_EQ(cfg.at("kernel_initializer").at("class_name"), "GlorotUniform");
}

TEST(Dense, SecondRunCreatesNoPrimitive) {
    Context ctx;
    DenseLayer dense("dense", dense_config(16, Activation::relu()));
    const Dims in{4, 32, 1, 1};
    dense.build({in});
    randomize_parameters(dense, 1);
    const Tensor x = random_tensor(in, 2);
    Tensor dst, diff_src;
    dense.forward(ctx, {&x}, dst, Mode::training);
    dense.backward(ctx, {&x}, dst, dst, {&diff_src});
    const auto misses = ctx.cache().misses();
    dense.forward(ctx, {&x}, dst, Mode::training);
    dense.backward(ctx, {&x}, dst, dst, {&diff_src});
    EXPECT_EQ(ctx.cache().misses(), misses);
}

}  // namespace
