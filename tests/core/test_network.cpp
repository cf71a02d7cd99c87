#include <gtest/gtest.h>

#include <cmath>

#include "core/network.hpp"
#include "layer_check.hpp"
#include "layers/concatenation.hpp"
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

// A channel concatenation that the network can know only by the capability it declares: it
// is not a ConcatenationLayer. Counts its forward runs.
class ChannelStack : public Layer {
public:
    explicit ChannelStack(std::string name) : Layer(name), concatenation_(name) {}
    std::string type() const override { return "ChannelStack"; }
    std::size_t input_count() const override { return 0; }
    bool concatenates_channels() const override { return true; }
    Dims build(const std::vector<Dims>& inputs) override { return concatenation_.build(inputs); }
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override {
        ++forward_runs;
        concatenation_.forward(ctx, src, dst, mode);
    }
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override {
        concatenation_.backward(ctx, src, dst, diff_dst, diff_src);
    }

    int forward_runs = 0;

private:
    ConcatenationLayer concatenation_;
};

const Network::Node& node_named(const Network& net, const std::string& name) {
    for (const auto& node : net.nodes())
        if (node.name == name) return node;
    throw InvalidArgument("no node " + name);
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
    check(
        x.data(), analytic_x, in.count(), [] {}, "input");
    for (Parameter* p : net.parameters()) {
        const std::vector<float> analytic(p->grad(), p->grad() + p->size());
        check(
            p->value(), analytic, p->size(), [p] { p->mark_changed(); }, p->name());
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
    const Tensor r1 = random_tensor(Dims{1, 13, 32, 30}, 3),
                 r2 = random_tensor(Dims{1, 2, 16, 15}, 4);
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

TEST(Network, InferenceLetsTheInputsOfADeclaredChannelConcatenationWriteItsOutput) {
    Context ctx;
    Network net;
    net.add_input("x", 1);
    net.add<ConvolutionLayer>({"x"}, "stem", conv(16, 3, Activation::relu()));
    // 3x3 convolutions over 16 channels, as the U-Net's: blocked outputs at inference.
    net.add<ConvolutionLayer>({"stem"}, "a", conv(16, 3, Activation::relu()));
    net.add<ConvolutionLayer>({"stem"}, "b", conv(32, 3, Activation::linear()));
    auto& stack = net.add<ChannelStack>({"a", "b"}, "stack");
    net.add<ConvolutionLayer>({"stack"}, "out", conv(3, 3, Activation::linear()));
    const Dims in{1, 1, 12, 20};
    net.build({in});
    net.initialize(7);
    const Tensor x = random_tensor(in, 8);
    Tensor reference;  // the first inference run on these dims runs every layer, then plans
    ctx.to_plain(net.forward(ctx, x, Mode::inference), reference);
    for (const char* input : {"a", "b"}) {
        const auto& node = node_named(net, input);
        if (node.output.desc() != blocked_desc(node.dims))
            GTEST_SKIP() << "oneDNN lays out convolution outputs as "
                         << layout_name(node.output.desc())
                         << " on this CPU, not in 16-channel blocks: nothing to write in place";
    }
    EXPECT_TRUE(node_named(net, "stack").elided);
    const int runs = stack.forward_runs;
    Tensor again;
    ctx.to_plain(net.forward(ctx, x, Mode::inference), again);
    EXPECT_EQ(stack.forward_runs, runs) << "the concatenation ran although its inputs fill it";
    ASSERT_EQ(again.dims(), reference.dims());
    for (std::int64_t i = 0; i < again.dims().count(); ++i)
        ASSERT_EQ(again.data()[i], reference.data()[i]) << "at " << i;
}

}  // namespace
