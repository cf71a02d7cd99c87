#include <gtest/gtest.h>

#include <cmath>

#include "core/context.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/softmax.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

using tag = dnnl::memory::format_tag;

// Softmax over channels at every pixel, in double precision from its definition.
std::vector<double> reference_softmax(const Tensor& x) {
    const Dims d = x.dims();
    std::vector<double> out(static_cast<std::size_t>(d.count()));
    for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t h = 0; h < d.h; ++h)
            for (std::int64_t w = 0; w < d.w; ++w) {
                double sum = 0;
                for (std::int64_t c = 0; c < d.c; ++c) sum += std::exp(double(x.at(n, c, h, w)));
                for (std::int64_t c = 0; c < d.c; ++c)
                    out[((n * d.c + c) * d.h + h) * d.w + w] =
                        std::exp(double(x.at(n, c, h, w))) / sum;
            }
    return out;
}

Tensor laid_out(Context& ctx, const Tensor& plain, tag layout) {
    Tensor t(dnnl::memory::desc(plain.dims().to_dnnl(), dnnl::memory::data_type::f32, layout));
    ctx.reorder(plain, t);
    return t;
}

TEST(Softmax, MatchesNaiveReferenceInAnyInputLayout) {
    for (const Dims& in : {Dims{2, 1, 5, 3}, Dims{2, 3, 7, 9}, Dims{2, 13, 5, 3}, Dims{2, 17, 3, 7},
                           Dims{2, 10, 1, 1}}) {
        for (tag layout : {tag::nchw, tag::nhwc, tag::nChw16c}) {
            for (auto mode : {Mode::inference, Mode::training}) {
                Context ctx;
                SoftmaxLayer softmax("softmax");
                EXPECT_EQ(softmax.build({in}), in);
                // Wide logits, so some probabilities are tiny and some near one.
                const Tensor x = random_tensor(in, 8, -6.f, 6.f);
                const Tensor xl = laid_out(ctx, x, layout);
                Tensor dst;
                softmax.forward(ctx, {&xl}, dst, mode);
                EXPECT_EQ(dst.desc(), xl.desc());
                // Tolerance is absolute for probabilities below 1.
                EXPECT_TRUE(near_all(plain_values(ctx, dst), reference_softmax(x), 1e-6))
                    << in.to_string() << " laid out as " << layout_name(xl.desc());
            }
        }
    }
}

TEST(Softmax, MatchesFiniteDifferences) {
    for (const Dims& in : {Dims{2, 3, 5, 7}, Dims{2, 17, 3, 3}, Dims{2, 13, 1, 1}}) {
        Context ctx;
        SoftmaxLayer softmax("softmax");
        GradientCheckOptions opt;
        opt.epsilon = 1e-3;
        check_layer_gradients(ctx, softmax, {random_tensor(in, 5, -2.f, 2.f)}, opt);
    }
}

TEST(Softmax, BackwardAcceptsDiffDstInAnotherLayout) {
    Context ctx;
    SoftmaxLayer softmax("softmax");
    const Dims in{2, 13, 4, 5};
    softmax.build({in});
    const Tensor x = random_tensor(in, 1, -2.f, 2.f);
    Tensor dst;
    softmax.forward(ctx, {&x}, dst, Mode::training);
    const Tensor diff_dst = random_tensor(in, 2);
    Tensor plain_grad, blocked_grad;
    softmax.backward(ctx, {&x}, dst, diff_dst, {&plain_grad});
    softmax.backward(ctx, {&x}, dst, laid_out(ctx, diff_dst, tag::nChw16c), {&blocked_grad});
    const auto a = plain_values(ctx, plain_grad), b = plain_values(ctx, blocked_grad);
    EXPECT_TRUE(near_all(b, std::vector<double>(a.begin(), a.end()), 1e-6));
}

TEST(Softmax, RejectsWrongInputsNamingLayerAndDims) {
    SoftmaxLayer softmax("classes");
    try {
        softmax.build({Dims{2, 0, 3, 3}});
        FAIL() << "no error for an empty input";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("classes"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[2, 0, 3, 3]"), std::string::npos) << msg;
    }
    EXPECT_THROW(softmax.build({Dims{1, 3, 2, 2}, Dims{1, 3, 2, 2}}), ShapeError);
}

TEST(Softmax, SavesAsKerasActivation) {
    SoftmaxLayer softmax("activation_3");
    EXPECT_EQ(softmax.type(), "Activation");
    const auto cfg = keras_layer_config(softmax);
    EXPECT_EQ(cfg.at("name"), "activation_3");
    EXPECT_EQ(cfg.at("activation"), "softmax");
    EXPECT_EQ(cfg.at("trainable"), true);
}

}  // namespace
