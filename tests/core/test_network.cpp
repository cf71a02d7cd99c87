#include <gtest/gtest.h>

#include <cmath>

#include "core/network.hpp"
#include "layer_check.hpp"
#include "layers/convolution.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

ConvolutionConfig conv(std::int64_t filters, std::int64_t kernel, Activation act,
                       std::int64_t stride = 1) {
    ConvolutionConfig c;
    c.filters = filters;
    c.kernel = kernel;
    c.stride = stride;
    c.activation = act;
    return c;
}

// input -> a -> b (output 1); a -> c (output 2): a's gradient sums two consumers.
Network two_headed_network() {
    Network net;
    net.add_input("x", 3);
    net.add<ConvolutionLayer>({"x"}, "a", conv(17, 3, Activation::tanh()));
    net.add<ConvolutionLayer>({"a"}, "b", conv(13, 3, Activation::linear()));
    net.add<ConvolutionLayer>({"a"}, "c", conv(2, 3, Activation::sigmoid(), 2));
    net.set_outputs({"b", "c"});
    return net;
}

double weighted_sum(const Tensor& t, const Tensor& r) {
    double s = 0;
    for (std::int64_t i = 0; i < t.dims().count(); ++i) s += double(t.data()[i]) * r.data()[i];
    return s;
}

TEST(Network, GradientsThroughABranchingGraphMatchFiniteDifferences) {
    Context ctx;
    Network net = two_headed_network();
    const Dims in{2, 3, 9, 7};
    const auto out = net.build({in});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0], (Dims{2, 13, 9, 7}));
    EXPECT_EQ(out[1], (Dims{2, 2, 5, 4}));
    net.initialize(3);
    Tensor x = random_tensor(in, 4);
    const Tensor r1 = random_tensor(out[0], 5), r2 = random_tensor(out[1], 6);

    auto loss = [&] {
        const auto& y = net.forward(ctx, {&x}, Mode::training);
        return weighted_sum(y[0], r1) + weighted_sum(y[1], r2);
    };
    loss();
    const auto& dx = net.backward(ctx, {&r1, &r2}, /*input_gradients=*/true);
    ASSERT_EQ(dx.size(), 1u);
    const std::vector<float> analytic_x(dx[0].data(), dx[0].data() + in.count());

    const double eps = 1e-2;
    auto check = [&](float* values, const std::vector<float>& analytic, std::size_t count,
                     const std::function<void()>& changed, const std::string& label) {
        double d2 = 0, s2 = 0;
        std::mt19937 gen(1);
        for (int k = 0; k < 30; ++k) {
            const std::size_t i = gen() % count;
            const float saved = values[i];
            values[i] = saved + float(eps);
            changed();
            const double plus = loss();
            values[i] = saved - float(eps);
            changed();
            const double minus = loss();
            values[i] = saved;
            changed();
            const double numeric = (plus - minus) / (2 * eps);
            d2 += (analytic[i] - numeric) * (analytic[i] - numeric);
            s2 += (analytic[i] + numeric) * (analytic[i] + numeric);
        }
        ASSERT_GT(s2, 0) << label;
        EXPECT_LT(std::sqrt(d2 / s2), 1e-2) << label;
    };
    check(x.data(), analytic_x, in.count(), [] {}, "input");
    for (Parameter* p : net.parameters()) {
        const std::vector<float> analytic(p->grad(), p->grad() + p->size());
        check(p->value(), analytic, p->size(), [p] { p->mark_changed(); }, p->name());
    }
}

TEST(Network, InferenceAndTrainingForwardAgree) {
    Context ctx;
    Network net = two_headed_network();
    const Dims in{2, 3, 12, 11};
    net.build({in});
    net.initialize(9);
    const Tensor x = random_tensor(in, 1);
    const auto inference = net.forward(ctx, {&x}, Mode::inference);
    std::vector<std::vector<float>> first;
    for (const auto& t : inference) first.emplace_back(t.data(), t.data() + t.dims().count());
    const auto& training = net.forward(ctx, {&x}, Mode::training);
    for (std::size_t k = 0; k < training.size(); ++k) {
        std::vector<double> want(first[k].begin(), first[k].end());
        std::vector<float> got(training[k].data(), training[k].data() + training[k].dims().count());
        EXPECT_TRUE(near_all(got, want, 1e-5, true)) << "output " << k;
    }
}

TEST(Network, SecondRunOnTheSameShapesCreatesNoPrimitive) {
    Context ctx;
    Network net = two_headed_network();
    const Dims in{1, 3, 32, 30};
    net.build({in});
    net.initialize(1);
    const Tensor x = random_tensor(in, 2);
    net.forward(ctx, {&x}, Mode::inference);
    net.forward(ctx, {&x}, Mode::training);
    const Tensor r1 = random_tensor(Dims{1, 13, 32, 30}, 3), r2 = random_tensor(Dims{1, 2, 16, 15}, 4);
    net.backward(ctx, {&r1, &r2});
    const auto misses = ctx.cache().misses();
    const auto hits = ctx.cache().hits();
    net.forward(ctx, {&x}, Mode::inference);
    net.forward(ctx, {&x}, Mode::training);
    net.backward(ctx, {&r1, &r2});
    EXPECT_EQ(ctx.cache().misses(), misses);
    EXPECT_GT(ctx.cache().hits(), hits);
}

TEST(Network, BuildErrorsNameTheLayerAndDims) {
    Network net;
    net.add_input("x", 1);
    net.add<ConvolutionLayer>({"x"}, "first", conv(4, 3, Activation::relu()));
    net.add<ConvolutionLayer>({"first"}, "shrink", conv(4, 5, Activation::relu()));
    dynamic_cast<ConvolutionLayer&>(net.layer("shrink"));
    try {
        net.build({Dims{1, 2, 16, 16}});
        FAIL() << "accepted 2 channels for a 1-channel input";
    } catch (const ShapeError& e) {
        EXPECT_NE(std::string(e.what()).find("[1, 2, 16, 16]"), std::string::npos) << e.what();
    }
    Network valid;
    valid.add_input("x", 1);
    ConvolutionConfig c = conv(4, 5, Activation::relu());
    c.padding = Padding::valid;
    valid.add<ConvolutionLayer>({"x"}, "valid5", c);
    try {
        valid.build({Dims{1, 1, 3, 16}});
        FAIL() << "a 5x5 valid convolution accepted a 3-row input";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("valid5"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 1, 3, 16]"), std::string::npos) << msg;
    }
    EXPECT_THROW(net.add<ConvolutionLayer>({"missing"}, "z", conv(1, 1, Activation::relu())),
                 InvalidArgument);
    EXPECT_THROW(net.add<ConvolutionLayer>({"x"}, "first", conv(1, 1, Activation::relu())),
                 InvalidArgument);
}

}  // namespace
