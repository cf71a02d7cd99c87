#include <gtest/gtest.h>

#include <cmath>

#include "core/context.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/activation_layer.hpp"
#include "relayout.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

using tag = dnnl::memory::format_tag;

const Activation all_activations[] = {
    Activation::relu(),    Activation::leaky_relu(0.3f), Activation::leaky_relu(0.05f),
    Activation::sigmoid(), Activation::tanh(),           Activation::linear()};

const Dims awkward_dims[] = {{2, 1, 17, 13}, {2, 3, 9, 11}, {2, 13, 7, 5}, {2, 17, 5, 9}};

// Values in +-[0.1, 2]: away from ReLU's kink by more than any finite-difference step.
Tensor signed_away_from_zero(const Dims& dims, std::uint32_t seed) {
    Tensor t = random_tensor(dims, seed, 0.1f, 2.f);
    const auto signs = random_values(static_cast<std::size_t>(dims.count()), seed + 1);
    for (std::int64_t i = 0; i < dims.count(); ++i)
        if (signs[i] < 0) t.data()[i] = -t.data()[i];
    return t;
}

TEST(ActivationLayer, ForwardMatchesNaiveReferenceInEveryLayoutAndMode) {
    Context ctx;
    for (const auto& act : all_activations) {
        for (const auto& dims : awkward_dims) {
            const Tensor plain = signed_away_from_zero(dims, 3);
            std::vector<double> want(plain.data(), plain.data() + dims.count());
            for (auto& v : want) v = reference_activation(act, v);
            for (auto layout : {tag::nchw, tag::nhwc, tag::nChw16c, tag::nChw8c}) {
                const Tensor x = relayout(ctx, plain, layout);
                for (auto mode : {Mode::inference, Mode::training}) {
                    ActivationLayer layer("act", act);
                    EXPECT_EQ(layer.build({dims}), dims);
                    Tensor dst;
                    layer.forward(ctx, {&x}, dst, mode);
                    EXPECT_EQ(dst.desc(), x.desc()) << "eltwise must keep the input's layout";
                    EXPECT_TRUE(near_all(plain_values(ctx, dst), want, 1e-6, true))
                        << act.name() << " alpha " << act.alpha << " on " << dims.to_string() << " "
                        << layout_name(x.desc());
                }
            }
        }
    }
}

TEST(ActivationLayer, BackwardMatchesFiniteDifferences) {
    for (const auto& act : all_activations) {
        for (const auto& dims : {Dims{2, 3, 5, 7}, Dims{2, 17, 3, 5}}) {
            Context ctx;
            ActivationLayer layer("act", act);
            GradientCheckOptions opt;
            opt.epsilon = 1e-3;
            opt.bound = 2e-3;
            check_layer_gradients(ctx, layer, {signed_away_from_zero(dims, 5)}, opt);
        }
    }
}

TEST(ActivationLayer, BackwardAcceptsGradientInAnyLayout) {
    Context ctx;
    const Dims dims{2, 13, 7, 9};
    for (const auto& act : all_activations) {
        ActivationLayer layer("act", act);
        layer.build({dims});
        const Tensor x = relayout(ctx, signed_away_from_zero(dims, 8), tag::nChw16c);
        Tensor dst;
        layer.forward(ctx, {&x}, dst, Mode::training);
        const Tensor diff_plain = random_tensor(dims, 9);
        // Naive gradient from the forward output: f'(x) via dst, as the use-dst backward does.
        const auto y = plain_values(ctx, dst);
        const auto xv = plain_values(ctx, x);
        std::vector<double> want(y.size());
        for (std::size_t i = 0; i < y.size(); ++i) {
            double d = 1;
            switch (act.kind) {
                case Activation::Kind::relu:
                    d = xv[i] > 0 ? 1 : 0;
                    break;
                case Activation::Kind::leaky_relu:
                    d = xv[i] > 0 ? 1 : act.alpha;
                    break;
                case Activation::Kind::sigmoid:
                    d = double(y[i]) * (1 - y[i]);
                    break;
                case Activation::Kind::tanh:
                    d = 1 - double(y[i]) * y[i];
                    break;
                case Activation::Kind::linear:
                    break;
            }
            want[i] = d * diff_plain.data()[i];
        }
        for (auto layout : {tag::nchw, tag::nhwc, tag::nChw16c}) {
            const Tensor diff = relayout(ctx, diff_plain, layout);
            Tensor diff_src;
            layer.backward(ctx, {&x}, dst, diff, {&diff_src});
            EXPECT_TRUE(near_all(plain_values(ctx, diff_src), want, 1e-6, true))
                << act.name() << " with diff_dst " << layout_name(diff.desc());
        }
    }
}

TEST(ActivationLayer, KerasConfigAndType) {
    ActivationLayer relu("act_1", Activation::relu());
    EXPECT_EQ(relu.type(), "Activation");
    EXPECT_EQ(keras_layer_config(relu), nlohmann::json::parse(
                                            R"({"name": "act_1", "trainable": true,
                                           "dtype": "float32", "activation": "relu"})"));
    ActivationLayer sigmoid("out", Activation::sigmoid());
    EXPECT_EQ(keras_layer_config(sigmoid).at("activation"), "sigmoid");

    ActivationLayer leaky("leaky_re_lu", Activation::leaky_relu(keras_leaky_relu_alpha));
    EXPECT_EQ(leaky.type(), "LeakyReLU");
    const auto cfg = keras_layer_config(leaky);
    EXPECT_EQ(cfg.at("name"), "leaky_re_lu");
    EXPECT_FALSE(cfg.contains("activation"));
    // Keras writes float(float32(0.3)).
    EXPECT_EQ(cfg.at("alpha").get<double>(), 0.30000001192092896);
}

TEST(ActivationLayer, RejectsWrongInputCountAndNegativeSlope) {
    ActivationLayer layer("dec_act3", Activation::relu());
    try {
        layer.build({Dims{1, 3, 8, 8}, Dims{1, 3, 8, 8}});
        FAIL() << "no error for two inputs";
    } catch (const ShapeError& e) {
        EXPECT_NE(std::string(e.what()).find("dec_act3"), std::string::npos) << e.what();
    }
    EXPECT_THROW(ActivationLayer("bad", Activation::leaky_relu(-0.1f)), InvalidArgument);
}

TEST(ActivationLayer, SecondRunCreatesNoPrimitive) {
    Context ctx;
    ActivationLayer layer("act", Activation::tanh());
    const Dims dims{1, 16, 12, 12};
    layer.build({dims});
    const Tensor x = random_tensor(dims, 1);
    Tensor dst, diff_src;
    layer.forward(ctx, {&x}, dst, Mode::training);
    layer.backward(ctx, {&x}, dst, x, {&diff_src});
    const auto misses = ctx.cache().misses();
    layer.forward(ctx, {&x}, dst, Mode::training);
    layer.backward(ctx, {&x}, dst, x, {&diff_src});
    EXPECT_EQ(ctx.cache().misses(), misses);
}

}  // namespace
