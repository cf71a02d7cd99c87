#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>

#include "keras/keras_optimizer.hpp"
#include "layers/convolution.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "train/optimizer.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

// A small model's parameters: a kernel, a bias, and one kernel large enough for the
// optimizers' parallel path, with seeded values.
struct Model {
    std::vector<std::unique_ptr<Parameter>> storage;
    std::vector<NamedParameter> named;

    Model() {
        add("a/kernel", {4, 3, 3, 3}, 1);
        add("a/bias", {4}, 2);
        add("b/kernel", {128, 32, 3, 3}, 3);
    }
    void add(const std::string& name, std::vector<std::int64_t> shape, std::uint32_t seed) {
        storage.push_back(std::make_unique<Parameter>(name.substr(name.find('/') + 1), shape));
        Parameter& p = *storage.back();
        const auto v = random_values(p.size(), seed);
        std::copy(v.begin(), v.end(), p.value());
        named.push_back({name, &p});
    }
    // Gradients for step `t`, the same for every model: seeded, scaled by `scale`.
    void set_gradients(std::int64_t t, float scale = 1.f) {
        for (std::size_t i = 0; i < storage.size(); ++i) {
            Parameter& p = *storage[i];
            const auto g = random_values(p.size(), std::uint32_t(100 * t + i), -scale, scale);
            std::copy(g.begin(), g.end(), p.grad());
        }
    }
    std::vector<float> values(std::size_t i) const {
        const Parameter& p = *storage[i];
        return std::vector<float>(p.value(), p.value() + p.size());
    }
};

std::vector<double> to_double(const Parameter& p) {
    return std::vector<double>(p.value(), p.value() + p.size());
}

// ---- Adam ----

struct AdamCase {
    AdamConfig config;
    float gradient_scale;
};

class AdamSteps : public ::testing::TestWithParam<AdamCase> {};

TEST_P(AdamSteps, MatchDoubleReferenceOfKerasFormula) {
    const auto& c = GetParam();
    Model model;
    Adam adam(model.named, c.config);
    std::vector<std::vector<double>> w, m, v;
    for (const auto& np : model.named) {
        w.push_back(to_double(*np.parameter));
        m.emplace_back(np.parameter->size(), 0.0);
        v.emplace_back(np.parameter->size(), 0.0);
    }
    const double b1 = c.config.beta_1, b2 = c.config.beta_2;
    for (std::int64_t t = 1; t <= 5; ++t) {
        model.set_gradients(t, c.gradient_scale);
        const double lr_t =
            c.config.learning_rate * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
        for (std::size_t i = 0; i < model.named.size(); ++i) {
            const Parameter& p = *model.named[i].parameter;
            for (std::int64_t j = 0; j < p.size(); ++j) {
                const double g = p.grad()[j];
                m[i][j] = b1 * m[i][j] + (1 - b1) * g;
                v[i][j] = b2 * v[i][j] + (1 - b2) * g * g;
                w[i][j] -= lr_t * m[i][j] / (std::sqrt(v[i][j]) + c.config.epsilon);
            }
        }
        const auto versions_before = model.named[0].parameter->version();
        adam.step();
        EXPECT_EQ(adam.iterations(), t);
        EXPECT_EQ(model.named[0].parameter->version(), versions_before + 1);
        for (std::size_t i = 0; i < model.named.size(); ++i)
            ASSERT_TRUE(near_all(model.values(i), w[i], 2e-6))
                << model.named[i].name << " after step " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Optimizer, AdamSteps,
    ::testing::Values(AdamCase{AdamConfig{}, 1.f},
                      // Small gradients and a large epsilon make where epsilon enters visible.
                      AdamCase{AdamConfig{0.02, 0.8, 0.95, 1e-2}, 1e-2f}));

TEST(Adam, StepSizeIsEpsilonHatFormulaNotPaperFormula) {
    // One parameter, constant gradient g: after step 1, m = (1-b1) g, v = (1-b2) g^2, and
    // Keras moves by lr sqrt(1-b2)/(1-b1) * m / (sqrt(v) + eps) = lr g / (|g| + eps/sqrt(1-b2)).
    Parameter p("bias", {1});
    p.value()[0] = 0.f;
    p.grad()[0] = 1e-3f;
    Adam adam({{"x/bias", &p}}, AdamConfig{0.1, 0.9, 0.99, 1e-3});
    adam.step();
    const double keras = -0.1 * 1e-3 / (1e-3 + 1e-3 / std::sqrt(0.01));
    const double paper = -0.1 * 1e-3 / (1e-3 + 1e-3);  // epsilon after bias correction
    EXPECT_NEAR(p.value()[0], keras, 1e-6);
    EXPECT_GT(std::abs(p.value()[0] - paper), 1e-2);
}

TEST(Adam, RejectsOutOfRangeOptions) {
    Model model;
    expect_error_naming<InvalidArgument>(
        [&] {
            Adam(model.named, AdamConfig{0.0, 0.9, 0.999, 1e-7});
        },
        {"Adam", "learning_rate", "0"});
    expect_error_naming<InvalidArgument>(
        [&] {
            Adam(model.named, AdamConfig{1e-3, 1.0, 0.999, 1e-7});
        },
        {"Adam", "beta_1", "1", "[0, 1)"});
    expect_error_naming<InvalidArgument>(
        [&] {
            Adam(model.named, AdamConfig{1e-3, 0.9, -0.5, 1e-7});
        },
        {"Adam", "beta_2", "-0.5"});
    expect_error_naming<InvalidArgument>(
        [&] {
            Adam(model.named, AdamConfig{1e-3, 0.9, 0.999, 0.0});
        },
        {"Adam", "epsilon"});
    Adam adam(model.named);
    expect_error_naming<InvalidArgument>([&] { adam.set_learning_rate(-1); },
                                         {"Adam", "learning_rate", "-1"});
    auto duplicated = model.named;
    duplicated[1].name = duplicated[0].name;
    expect_error_naming<InvalidArgument>([&] { Adam{duplicated}; }, {"two parameters", "a/kernel"});
    auto null = model.named;
    null[2].parameter = nullptr;
    expect_error_naming<InvalidArgument>([&] { Adam{null}; }, {"parameter 2", "b/kernel", "null"});
}

TEST(Adam, KerasConfig) {
    Model model;
    Adam adam(model.named);
    adam.set_learning_rate(5e-4);
    const auto config = keras_optimizer_config(adam);
    EXPECT_EQ(adam.type(), "Adam");
    EXPECT_EQ(config.at("name"), "Adam");
    EXPECT_DOUBLE_EQ(config.at("learning_rate").get<double>(), 5e-4);
    EXPECT_DOUBLE_EQ(config.at("beta_1").get<double>(), 0.9);
    EXPECT_DOUBLE_EQ(config.at("beta_2").get<double>(), 0.999);
    EXPECT_DOUBLE_EQ(config.at("epsilon").get<double>(), 1e-7);
    EXPECT_EQ(config.at("amsgrad"), false);
}

// ---- SGD ----

class SgdSteps : public ::testing::TestWithParam<SgdConfig> {};

TEST_P(SgdSteps, MatchDoubleReferenceOfKerasFormula) {
    const SgdConfig& c = GetParam();
    Model model;
    Sgd sgd(model.named, c);
    std::vector<std::vector<double>> w, velocity;
    for (const auto& np : model.named) {
        w.push_back(to_double(*np.parameter));
        velocity.emplace_back(np.parameter->size(), 0.0);
    }
    for (std::int64_t t = 1; t <= 5; ++t) {
        model.set_gradients(t);
        for (std::size_t i = 0; i < model.named.size(); ++i) {
            const Parameter& p = *model.named[i].parameter;
            for (std::int64_t j = 0; j < p.size(); ++j) {
                const double g = p.grad()[j];
                velocity[i][j] = c.momentum * velocity[i][j] - c.learning_rate * g;
                w[i][j] +=
                    c.nesterov ? c.momentum * velocity[i][j] - c.learning_rate * g : velocity[i][j];
            }
        }
        sgd.step();
        for (std::size_t i = 0; i < model.named.size(); ++i)
            ASSERT_TRUE(near_all(model.values(i), w[i], 2e-6))
                << model.named[i].name << " after step " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(Optimizer, SgdSteps,
                         ::testing::Values(SgdConfig{0.05, 0.0, false}, SgdConfig{0.05, 0.9, false},
                                           SgdConfig{0.05, 0.9, true}));

TEST(Sgd, SlotsAndConfigFollowMomentum) {
    Model model;
    Sgd plain(model.named, SgdConfig{0.01, 0.0, false});
    EXPECT_EQ(plain.state().size(), 1u);  // "iter" only, as Keras keeps no slot
    Sgd momentum(model.named, SgdConfig{0.01, 0.5, true});
    const auto state = momentum.state();
    ASSERT_EQ(state.size(), 1 + model.named.size());
    EXPECT_EQ(state[1].name, "a/kernel/momentum");
    const auto config = keras_optimizer_config(momentum);
    EXPECT_EQ(config.at("name"), "SGD");
    EXPECT_DOUBLE_EQ(config.at("momentum").get<double>(), 0.5);
    EXPECT_EQ(config.at("nesterov"), true);
    expect_error_naming<InvalidArgument>(
        [&] {
            Sgd(model.named, SgdConfig{0.01, 1.0, false});
        },
        {"SGD", "momentum", "1"});
}

// ---- state ----

TEST(OptimizerState, NamesShapesAndOrderFollowKeras) {
    Model model;
    Adam adam(model.named);
    model.set_gradients(1);
    adam.step();
    adam.step();
    const auto state = adam.state();
    const std::vector<std::string> names = {"iter",       "a/kernel/m", "a/bias/m",  "b/kernel/m",
                                            "a/kernel/v", "a/bias/v",   "b/kernel/v"};
    ASSERT_EQ(state.size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(state[i].name, names[i]);
    EXPECT_TRUE(state[0].shape.empty());
    EXPECT_EQ(state[0].values, std::vector<float>{2.f});
    EXPECT_EQ(state[1].shape, (std::vector<std::int64_t>{4, 3, 3, 3}));
    EXPECT_EQ(state[5].shape, (std::vector<std::int64_t>{4}));
    // Two steps of the same gradient g: m = (1 - 0.9^2) g.
    const float g = model.named[1].parameter->grad()[2];
    EXPECT_NEAR(state[2].values[2], (1 - 0.81) * g, 1e-7);
}

// Optimizer A steps 3 times; B, fresh over a copy of A's parameters, loads A's state; both
// then take the same steps and must stay identical, while C, without the state, departs.
template <typename MakeOptimizer>
void expect_state_round_trip(const MakeOptimizer& make) {
    Model a_model, b_model, c_model;
    auto a = make(a_model.named);
    for (std::int64_t t = 1; t <= 3; ++t) {
        a_model.set_gradients(t);
        a->step();
    }
    for (std::size_t i = 0; i < a_model.storage.size(); ++i)
        for (Model* m : {&b_model, &c_model})
            std::copy(a_model.storage[i]->value(),
                      a_model.storage[i]->value() + a_model.storage[i]->size(),
                      m->storage[i]->value());
    auto b = make(b_model.named);
    auto c = make(c_model.named);
    b->load_state(a->state());
    EXPECT_EQ(b->iterations(), 3);
    for (std::int64_t t = 4; t <= 6; ++t) {
        for (Model* m : {&a_model, &b_model, &c_model}) m->set_gradients(t);
        a->step();
        b->step();
        c->step();
    }
    bool c_departs = false;
    for (std::size_t i = 0; i < a_model.storage.size(); ++i) {
        EXPECT_EQ(a_model.values(i), b_model.values(i)) << a_model.named[i].name;
        c_departs |= a_model.values(i) != c_model.values(i);
    }
    EXPECT_TRUE(c_departs) << "the state made no difference: the test proves nothing";
}

TEST(OptimizerState, AdamRoundTripContinuesIdentically) {
    expect_state_round_trip(
        [](const std::vector<NamedParameter>& p) { return std::make_unique<Adam>(p); });
}

TEST(OptimizerState, SgdMomentumRoundTripContinuesIdentically) {
    expect_state_round_trip([](const std::vector<NamedParameter>& p) {
        return std::make_unique<Sgd>(p, SgdConfig{0.01, 0.9, true});
    });
}

TEST(OptimizerState, LoadRejectsMismatchesAndLeavesStateUnchanged) {
    Model model;
    Adam source(model.named);
    model.set_gradients(1);
    source.step();
    const auto good = source.state();
    Adam target(model.named);
    target.step();
    target.step();
    const auto before = target.state();

    auto wrong_size = good;
    wrong_size[5].values.pop_back();
    expect_error_naming<FormatError>([&] { target.load_state(wrong_size); },
                                     {"Adam", "a/bias/v", "3 values", "'a/bias' (4)", "needs 4"});
    auto missing = good;
    missing.erase(missing.begin() + 3);
    expect_error_naming<FormatError>([&] { target.load_state(missing); },
                                     {"b/kernel/m", "missing"});
    auto extra = good;
    extra.push_back({"c/kernel/m", {2}, {0.f, 0.f}});
    expect_error_naming<FormatError>([&] { target.load_state(extra); }, {"c/kernel/m"});
    auto fractional = good;
    fractional[0].values[0] = 2.5f;
    expect_error_naming<FormatError>([&] { target.load_state(fractional); }, {"iter", "2.5"});
    Sgd sgd(model.named, SgdConfig{0.01, 0.9, false});
    expect_error_naming<FormatError>([&] { target.load_state(sgd.state()); },
                                     {"a/kernel/m", "missing"});

    EXPECT_EQ(target.iterations(), 2);
    const auto after = target.state();
    ASSERT_EQ(after.size(), before.size());
    for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].values, before[i].values);
}

// ---- convergence ----

// Minimizes sum a_i (p_i - c_i)^2 with its exact gradient; returns the largest |p_i - c_i|.
double minimize_quadratic(Optimizer& optimizer, Parameter& p, int steps) {
    const auto a = random_values(p.size(), 40, 0.5f, 2.f);
    const auto c = random_values(p.size(), 41, -2.f, 2.f);
    for (int s = 0; s < steps; ++s) {
        for (std::int64_t i = 0; i < p.size(); ++i) p.grad()[i] = 2 * a[i] * (p.value()[i] - c[i]);
        optimizer.step();
    }
    double worst = 0;
    for (std::int64_t i = 0; i < p.size(); ++i)
        worst = std::max(worst, std::abs(double(p.value()[i]) - c[i]));
    return worst;
}

TEST(Optimizer, AdamMinimizesQuadratic) {
    Parameter p("kernel", {6, 5});
    Adam adam({{"q/kernel", &p}}, AdamConfig{0.05, 0.9, 0.999, 1e-7});
    EXPECT_LT(minimize_quadratic(adam, p, 1500), 1e-3);
}

TEST(Optimizer, ReportsTheFirstStateArrayThatOverflowed) {
    // A finite gradient whose square overflows float: Adam's v becomes infinite while the
    // update (m / sqrt(v)) stays finite, so only the state shows the divergence.
    Parameter a("kernel", {3}), b("bias", {2});
    Adam adam({{"q/kernel", &a}, {"q/bias", &b}});
    adam.step();
    EXPECT_EQ(adam.first_non_finite_state(), "");
    b.grad()[1] = 1e30f;
    adam.step();
    EXPECT_TRUE(std::isfinite(b.value()[1]));
    EXPECT_EQ(adam.first_non_finite_state(), "q/bias/v");
}

TEST(Optimizer, SgdWithMomentumMinimizesQuadratic) {
    Parameter p("kernel", {6, 5});
    Sgd sgd({{"q/kernel", &p}}, SgdConfig{0.05, 0.9, true});
    EXPECT_LT(minimize_quadratic(sgd, p, 300), 1e-4);
}

// ---- naming ----

TEST(Optimizer, NamedParametersFollowNetworkOrder) {
    Network net;
    net.add_input("input", 1);
    net.add<ConvolutionLayer>({"input"}, "conv_a", ConvolutionConfig{4, 3, 1});
    net.add<ConvolutionLayer>({"conv_a"}, "conv_b", ConvolutionConfig{1, 3, 1});
    net.build({Dims{1, 1, 8, 8}});
    const auto named = named_parameters(net);
    const auto plain = net.parameters();
    ASSERT_EQ(named.size(), plain.size());
    const std::vector<std::string> names = {"conv_a/kernel", "conv_a/bias", "conv_b/kernel",
                                            "conv_b/bias"};
    ASSERT_EQ(named.size(), names.size());
    for (std::size_t i = 0; i < named.size(); ++i) {
        EXPECT_EQ(named[i].name, names[i]);
        EXPECT_EQ(named[i].parameter, plain[i]);
    }
}

}  // namespace
