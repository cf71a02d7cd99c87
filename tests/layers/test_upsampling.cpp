#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/context.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/upsampling.hpp"
#include "relayout.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

using tag = dnnl::memory::format_tag;

UpsamplingConfig upsampling(std::int64_t factor, Interpolation interpolation) {
    UpsamplingConfig c;
    c.factor = factor;
    c.interpolation = interpolation;
    return c;
}

// One output coordinate's two source cells and the weight of the second: nearest takes
// dst / factor; bilinear takes the half-pixel source coordinate clamped to [0, in - 1].
struct Taps {
    std::int64_t lo, hi;
    double w_hi;
};
Taps taps(std::int64_t dst, std::int64_t in, std::int64_t factor, Interpolation interpolation) {
    if (interpolation == Interpolation::nearest) return {dst / factor, dst / factor, 0.0};
    const double s = std::clamp((dst + 0.5) / double(factor) - 0.5, 0.0, double(in - 1));
    const auto lo = static_cast<std::int64_t>(std::floor(s));
    return {lo, std::min(lo + 1, in - 1), s - double(lo)};
}

// Visits every (output index, input index, weight) term of the upsampling as a linear map.
template <typename Term>
void for_each_term(const Dims& in, const UpsamplingConfig& cfg, Term&& term) {
    const std::int64_t f = cfg.factor, oh = in.h * f, ow = in.w * f;
    for (std::int64_t n = 0; n < in.n; ++n)
        for (std::int64_t c = 0; c < in.c; ++c)
            for (std::int64_t y = 0; y < oh; ++y)
                for (std::int64_t x = 0; x < ow; ++x) {
                    const Taps ty = taps(y, in.h, f, cfg.interpolation);
                    const Taps tx = taps(x, in.w, f, cfg.interpolation);
                    const std::int64_t out = ((n * in.c + c) * oh + y) * ow + x;
                    const std::int64_t plane = (n * in.c + c) * in.h;
                    term(out, (plane + ty.lo) * in.w + tx.lo, (1 - ty.w_hi) * (1 - tx.w_hi));
                    term(out, (plane + ty.lo) * in.w + tx.hi, (1 - ty.w_hi) * tx.w_hi);
                    term(out, (plane + ty.hi) * in.w + tx.lo, ty.w_hi * (1 - tx.w_hi));
                    term(out, (plane + ty.hi) * in.w + tx.hi, ty.w_hi * tx.w_hi);
                }
}

std::vector<double> reference_upsampling(const Tensor& x, const UpsamplingConfig& cfg) {
    const Dims in = x.dims();
    std::vector<double> out(static_cast<std::size_t>(in.count() * cfg.factor * cfg.factor));
    for_each_term(in, cfg,
                  [&](std::int64_t o, std::int64_t i, double w) { out[o] += w * x.data()[i]; });
    return out;
}

// The adjoint of the same map: each output gradient flows back to its source cells.
std::vector<double> reference_upsampling_backward(const Dims& in, const Tensor& diff_dst,
                                                  const UpsamplingConfig& cfg) {
    std::vector<double> diff(static_cast<std::size_t>(in.count()));
    for_each_term(in, cfg, [&](std::int64_t o, std::int64_t i, double w) {
        diff[i] += w * diff_dst.data()[o];
    });
    return diff;
}

struct UpCase {
    Dims input;
    UpsamplingConfig config;
};

const UpCase cases[] = {
    {{2, 1, 9, 7}, upsampling(2, Interpolation::nearest)},
    {{2, 1, 9, 7}, upsampling(2, Interpolation::bilinear)},
    {{2, 3, 5, 11}, upsampling(2, Interpolation::bilinear)},
    {{2, 13, 7, 5}, upsampling(3, Interpolation::bilinear)},
    {{2, 17, 5, 3}, upsampling(3, Interpolation::nearest)},
    {{2, 17, 6, 7}, upsampling(2, Interpolation::bilinear)},
    {{2, 3, 3, 5}, upsampling(4, Interpolation::bilinear)},
    {{2, 3, 4, 3}, upsampling(1, Interpolation::bilinear)},
};

TEST(Upsampling, HalfPixelBilinearMatchesTensorFlowClosedForm) {
    // tf.image.resize([0, 1], 4, 'bilinear') in TF2 gives [0, 0.25, 0.75, 1].
    Context ctx;
    Tensor x(Dims{1, 1, 1, 2});
    x.at(0, 0, 0, 1) = 1.f;
    UpsamplingLayer up("up", upsampling(2, Interpolation::bilinear));
    EXPECT_EQ(up.build({x.dims()}), (Dims{1, 1, 2, 4}));
    Tensor dst;
    up.forward(ctx, {&x}, dst, Mode::inference);
    const std::vector<double> want = {0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1};
    EXPECT_TRUE(near_all(plain_values(ctx, dst), want, 1e-7, true));
}

TEST(Upsampling, ForwardMatchesNaiveReferenceInEveryLayoutAndMode) {
    Context ctx;
    for (const auto& p : cases) {
        const Tensor plain = random_tensor(p.input, 2);
        const auto want = reference_upsampling(plain, p.config);
        for (auto layout : {tag::nchw, tag::nhwc, tag::nChw16c}) {
            const Tensor x = relayout(ctx, plain, layout);
            for (auto mode : {Mode::inference, Mode::training}) {
                UpsamplingLayer up("up", p.config);
                const Dims out = up.build({p.input});
                Tensor dst;
                up.forward(ctx, {&x}, dst, mode);
                EXPECT_EQ(dst.dims(), out);
                EXPECT_TRUE(near_all(plain_values(ctx, dst), want, 1e-6))
                    << p.input.to_string() << " x" << p.config.factor << " "
                    << keras_layer_config(up).at("interpolation") << " in "
                    << layout_name(x.desc());
            }
        }
    }
}

TEST(Upsampling, BackwardMatchesAdjointInAnyLayout) {
    Context ctx;
    for (const auto& p : cases) {
        UpsamplingLayer up("up", p.config);
        const Dims out = up.build({p.input});
        const Tensor diff_plain = random_tensor(out, 3);
        const auto want = reference_upsampling_backward(p.input, diff_plain, p.config);
        for (auto src_layout : {tag::nchw, tag::nChw16c}) {
            const Tensor x = relayout(ctx, random_tensor(p.input, 4), src_layout);
            Tensor dst;
            up.forward(ctx, {&x}, dst, Mode::training);
            for (auto diff_layout : {tag::nchw, tag::nhwc, tag::nChw8c}) {
                const Tensor diff = relayout(ctx, diff_plain, diff_layout);
                Tensor diff_src;
                up.backward(ctx, {&x}, dst, diff, {&diff_src});
                EXPECT_EQ(diff_src.dims(), p.input);
                EXPECT_TRUE(near_all(plain_values(ctx, diff_src), want, 1e-5))
                    << p.input.to_string() << " x" << p.config.factor << " src "
                    << layout_name(x.desc()) << ", diff_dst " << layout_name(diff.desc());
            }
        }
    }
}

TEST(Upsampling, BackwardMatchesFiniteDifferences) {
    for (const auto& p : {UpCase{{2, 3, 5, 7}, upsampling(2, Interpolation::bilinear)},
                          UpCase{{2, 13, 3, 4}, upsampling(3, Interpolation::nearest)},
                          UpCase{{2, 1, 5, 3}, upsampling(3, Interpolation::bilinear)}}) {
        Context ctx;
        UpsamplingLayer up("up", p.config);
        check_layer_gradients(ctx, up, {random_tensor(p.input, 8)});
    }
}

TEST(Upsampling, RejectsFactorZeroNamingLayerAndDims) {
    UpsamplingLayer up("dec_up1", upsampling(0, Interpolation::nearest));
    try {
        up.build({Dims{1, 32, 16, 16}});
        FAIL() << "no error for factor 0";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("dec_up1"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 32, 16, 16]"), std::string::npos) << msg;
    }
}

TEST(Upsampling, KerasConfig) {
    UpsamplingLayer up("up_sampling2d", upsampling(2, Interpolation::bilinear));
    EXPECT_EQ(up.type(), "UpSampling2D");
    EXPECT_EQ(keras_layer_config(up), nlohmann::json::parse(R"({
        "name": "up_sampling2d", "trainable": true, "dtype": "float32", "size": [2, 2],
        "data_format": "channels_last", "interpolation": "bilinear"})"));
    EXPECT_EQ(keras_layer_config(UpsamplingLayer("u")).at("interpolation"), "nearest");
}

}  // namespace
