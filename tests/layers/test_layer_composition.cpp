// The layers of this folder wired into one network (a U-Net level with a residual sum): the
// layouts one layer's primitive chooses must be accepted by the next, forward and backward.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/network.hpp"
#include "layer_check.hpp"
#include "layers/activation_layer.hpp"
#include "layers/add.hpp"
#include "layers/concatenation.hpp"
#include "layers/convolution.hpp"
#include "layers/max_pooling.hpp"
#include "layers/upsampling.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

ConvolutionConfig conv(std::int64_t filters, std::int64_t kernel, Activation act) {
    ConvolutionConfig c;
    c.filters = filters;
    c.kernel = kernel;
    c.activation = act;
    return c;
}

// Parameters exist once the network is built for an input shape; initialize only then.
Network unet_level(const Dims& input) {
    Network net;
    net.add_input("x", 3);
    net.add<ConvolutionLayer>({"x"}, "enc", conv(17, 3, Activation::tanh()));
    MaxPoolingConfig pool;
    pool.padding = Padding::same;
    net.add<MaxPoolingLayer>({"enc"}, "pool", pool);
    net.add<ConvolutionLayer>({"pool"}, "mid", conv(32, 3, Activation::linear()));
    net.add<ActivationLayer>({"mid"}, "leaky", Activation::leaky_relu(0.3f));
    UpsamplingConfig up;
    up.interpolation = Interpolation::bilinear;
    net.add<UpsamplingLayer>({"leaky"}, "up", up);
    net.add<ConcatenationLayer>({"enc", "up"}, "cat");
    net.add<ConvolutionLayer>({"cat"}, "dec", conv(17, 1, Activation::linear()));
    net.add<AddLayer>({"dec", "enc"}, "res");
    net.add<ActivationLayer>({"res"}, "out", Activation::sigmoid());
    net.build({input});
    net.initialize(5);
    return net;
}

TEST(LayerComposition, NetworkForwardMatchesLayersRunOnPlainTensors) {
    const Dims in{2, 3, 10, 14};
    Network net = unet_level(in);
    Context ctx;
    const Tensor x = random_tensor(in, 1);
    const Tensor y = net.forward(ctx, x, Mode::inference);

    // The same layers, one at a time, every tensor converted to plain in between.
    std::vector<Tensor> outputs(net.nodes().size());
    outputs[0] = x;
    for (std::size_t i = 1; i < net.nodes().size(); ++i) {
        const auto& node = net.nodes()[i];
        std::vector<const Tensor*> src;
        for (auto k : node.inputs) src.push_back(&outputs[k]);
        Tensor raw;
        node.layer->forward(ctx, src, raw, Mode::inference);
        ctx.to_plain(raw, outputs[i]);
    }
    const Tensor& want = outputs.back();
    ASSERT_EQ(y.dims(), want.dims());
    const auto [lo, hi] = std::minmax_element(y.data(), y.data() + y.dims().count());
    EXPECT_GT(*hi - *lo, 0.1f) << "a near-constant output proves nothing";
    EXPECT_TRUE(near_all(std::vector<float>(y.data(), y.data() + y.dims().count()),
                         std::vector<double>(want.data(), want.data() + want.dims().count()),
                         1e-5));
}

TEST(LayerComposition, NetworkBackwardMatchesFiniteDifferences) {
    const Dims in{2, 3, 6, 10};
    Network net = unet_level(in);
    Context ctx;
    Tensor x = random_tensor(in, 2);
    const Tensor y0 = net.forward(ctx, x, Mode::training);
    const Tensor r = random_tensor(y0.dims(), 3);
    auto loss = [&] {
        const Tensor& y = net.forward(ctx, x, Mode::training);
        double l = 0;
        for (std::int64_t i = 0; i < y.dims().count(); ++i) l += double(y.data()[i]) * r.data()[i];
        return l;
    };
    loss();
    const Tensor grad_x = net.backward(ctx, r, /*input_gradients=*/true).at(0);
    ASSERT_EQ(grad_x.dims(), in);

    const double epsilon = 1e-3;
    auto check = [&](float* values, const float* analytic, std::size_t count, Parameter* param,
                     const std::string& what) {
        double diff2 = 0, sum2 = 0;
        for (std::size_t i = 0; i < count; i += count / 25 + 1) {
            const float saved = values[i];
            auto loss_at = [&](float v) {
                values[i] = v;
                if (param) param->mark_changed();
                return loss();
            };
            const double numeric =
                (loss_at(saved + float(epsilon)) - loss_at(saved - float(epsilon))) / (2 * epsilon);
            loss_at(saved);
            diff2 += (analytic[i] - numeric) * (analytic[i] - numeric);
            sum2 += (analytic[i] + numeric) * (analytic[i] + numeric);
        }
        ASSERT_GT(sum2, 0.0) << what;
        EXPECT_LT(std::sqrt(diff2 / sum2), 1e-2) << what;
    };
    check(x.data(), grad_x.data(), static_cast<std::size_t>(in.count()), nullptr, "input");
    for (Parameter* p : net.parameters()) {
        const std::vector<float> analytic(p->grad(), p->grad() + p->size());
        check(p->value(), analytic.data(), analytic.size(), p, p->name() + " " + p->shape_string());
    }
}

}  // namespace
