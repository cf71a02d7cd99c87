#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "core/context.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/max_pooling.hpp"
#include "relayout.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

using tag = dnnl::memory::format_tag;

MaxPoolingConfig pooling(std::int64_t pool, std::int64_t stride, Padding padding) {
    MaxPoolingConfig c;
    c.pool = pool;
    c.stride = stride;
    c.padding = padding;
    return c;
}

// Naive max pooling with TensorFlow's padding: cells outside the input are skipped.
std::vector<double> reference_max_pooling(const Tensor& x, const MaxPoolingConfig& cfg) {
    const Dims in = x.dims();
    const auto ph = spatial_padding(in.h, cfg.pool, cfg.stride, cfg.padding);
    const auto pw = spatial_padding(in.w, cfg.pool, cfg.stride, cfg.padding);
    std::vector<double> out;
    for (std::int64_t n = 0; n < in.n; ++n)
        for (std::int64_t c = 0; c < in.c; ++c)
            for (std::int64_t y = 0; y < ph.out; ++y)
                for (std::int64_t xo = 0; xo < pw.out; ++xo) {
                    double m = -std::numeric_limits<double>::infinity();
                    for (std::int64_t ky = 0; ky < cfg.pool; ++ky)
                        for (std::int64_t kx = 0; kx < cfg.pool; ++kx) {
                            const std::int64_t iy = y * cfg.stride + ky - ph.before;
                            const std::int64_t ix = xo * cfg.stride + kx - pw.before;
                            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                            m = std::max(m, double(x.at(n, c, iy, ix)));
                        }
                    out.push_back(m);
                }
    return out;
}

// Distinct values `spacing` apart in random order: every window has one clear winner that no
// finite-difference step smaller than spacing / 2 can change.
Tensor distinct_tensor(const Dims& dims, std::uint32_t seed, float spacing = 0.01f) {
    Tensor t(dims);
    std::vector<std::int64_t> order(static_cast<std::size_t>(dims.count()));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    for (std::size_t i = 0; i < order.size(); ++i)
        t.data()[i] = (float(order[i]) - float(order.size()) / 2) * spacing;
    return t;
}

struct PoolCase {
    Dims input;
    MaxPoolingConfig config;
};

const PoolCase forward_cases[] = {
    {{2, 1, 17, 13}, pooling(2, 2, Padding::same)},
    {{2, 3, 17, 13}, pooling(2, 2, Padding::valid)},
    {{2, 13, 16, 15}, pooling(2, 2, Padding::same)},
    {{2, 17, 9, 11}, pooling(3, 2, Padding::same)},
    {{2, 17, 9, 11}, pooling(3, 1, Padding::valid)},
    {{2, 3, 7, 5}, pooling(2, 1, Padding::same)},
    {{2, 13, 11, 9}, pooling(3, 3, Padding::same)},
};

TEST(MaxPooling, ForwardMatchesNaiveReferenceInEveryLayoutAndMode) {
    Context ctx;
    for (const auto& p : forward_cases) {
        const Tensor plain = random_tensor(p.input, 4);
        const auto want = reference_max_pooling(plain, p.config);
        for (auto layout : {tag::nchw, tag::nhwc, tag::nChw16c}) {
            const Tensor x = relayout(ctx, plain, layout);
            for (auto mode : {Mode::inference, Mode::training}) {
                MaxPoolingLayer pool("pool", p.config);
                const Dims out = pool.build({p.input});
                Tensor dst;
                pool.forward(ctx, {&x}, dst, mode);
                EXPECT_EQ(dst.dims(), out);
                EXPECT_TRUE(near_all(plain_values(ctx, dst), want, 0.0))
                    << p.input.to_string() << " pool " << p.config.pool << " stride "
                    << p.config.stride << " in " << layout_name(x.desc());
            }
        }
    }
}

TEST(MaxPooling, SamePaddingRoundsUpAndPaddedCellsNeverWin) {
    // All inputs negative: a padded cell counted as 0 would win every edge window.
    Context ctx;
    const Dims in{2, 3, 7, 9};
    MaxPoolingLayer pool("pool", pooling(2, 2, Padding::same));
    EXPECT_EQ(pool.build({in}), (Dims{2, 3, 4, 5}));
    const Tensor x = random_tensor(in, 6, -2.f, -0.5f);
    Tensor dst;
    pool.forward(ctx, {&x}, dst, Mode::inference);
    const auto got = plain_values(ctx, dst);
    for (float v : got) EXPECT_LT(v, -0.49f);
    // The last row and column of windows hold only the input's last row / column.
    Tensor plain;
    ctx.to_plain(dst, plain);
    for (std::int64_t c = 0; c < in.c; ++c) EXPECT_EQ(plain.at(1, c, 3, 4), x.at(1, c, 6, 8));
    EXPECT_TRUE(near_all(got, reference_max_pooling(x, pool.config()), 0.0));

    MaxPoolingLayer valid("pool_valid", pooling(2, 2, Padding::valid));
    EXPECT_EQ(valid.build({in}), (Dims{2, 3, 3, 4}));
}

TEST(MaxPooling, BackwardMatchesFiniteDifferences) {
    for (const auto& p : {PoolCase{{2, 3, 7, 9}, pooling(2, 2, Padding::same)},
                          PoolCase{{2, 13, 6, 5}, pooling(2, 2, Padding::valid)},
                          PoolCase{{2, 17, 5, 7}, pooling(3, 2, Padding::same)},
                          PoolCase{{2, 1, 7, 6}, pooling(3, 1, Padding::valid)}}) {
        Context ctx;
        MaxPoolingLayer pool("pool", p.config);
        GradientCheckOptions opt;
        opt.epsilon = 1e-3;  // well under half the 0.01 spacing of distinct_tensor
        check_layer_gradients(ctx, pool, {distinct_tensor(p.input, 3)}, opt);
    }
}

TEST(MaxPooling, BackwardRoutesGradientToEachWinnerInAnyLayout) {
    Context ctx;
    const Dims in{2, 17, 9, 7};
    const MaxPoolingConfig cfg = pooling(3, 2, Padding::same);  // overlapping windows
    const Tensor plain = distinct_tensor(in, 12);
    const auto ph = spatial_padding(in.h, cfg.pool, cfg.stride, cfg.padding);
    const auto pw = spatial_padding(in.w, cfg.pool, cfg.stride, cfg.padding);
    const Dims out{in.n, in.c, ph.out, pw.out};
    const Tensor diff_plain = random_tensor(out, 13);
    // Naive backward: each output's gradient adds to the input cell that won its window.
    std::vector<double> want(static_cast<std::size_t>(in.count()), 0.0);
    for (std::int64_t n = 0; n < in.n; ++n)
        for (std::int64_t c = 0; c < in.c; ++c)
            for (std::int64_t y = 0; y < ph.out; ++y)
                for (std::int64_t xo = 0; xo < pw.out; ++xo) {
                    std::int64_t best = -1;
                    for (std::int64_t ky = 0; ky < cfg.pool; ++ky)
                        for (std::int64_t kx = 0; kx < cfg.pool; ++kx) {
                            const std::int64_t iy = y * cfg.stride + ky - ph.before;
                            const std::int64_t ix = xo * cfg.stride + kx - pw.before;
                            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                            const std::int64_t i = ((n * in.c + c) * in.h + iy) * in.w + ix;
                            if (best < 0 || plain.data()[i] > plain.data()[best]) best = i;
                        }
                    want[best] += diff_plain.at(n, c, y, xo);
                }
    for (auto src_layout : {tag::nchw, tag::nChw16c, tag::nhwc}) {
        const Tensor x = relayout(ctx, plain, src_layout);
        MaxPoolingLayer pool("pool", cfg);
        pool.build({in});
        Tensor dst;
        pool.forward(ctx, {&x}, dst, Mode::training);
        for (auto diff_layout : {tag::nchw, tag::nChw8c, tag::nhwc}) {
            const Tensor diff = relayout(ctx, diff_plain, diff_layout);
            Tensor diff_src;
            pool.backward(ctx, {&x}, dst, diff, {&diff_src});
            EXPECT_EQ(diff_src.dims(), in);
            EXPECT_TRUE(near_all(plain_values(ctx, diff_src), want, 1e-6, true))
                << "src " << layout_name(x.desc()) << ", diff_dst " << layout_name(diff.desc());
        }
    }
}

TEST(MaxPooling, BackwardWithoutTrainingForwardIsRefused) {
    Context ctx;
    const Dims in{1, 3, 8, 8};
    MaxPoolingLayer pool("enc_pool2", pooling(2, 2, Padding::same));
    pool.build({in});
    const Tensor x = random_tensor(in, 1);
    Tensor dst, diff_src;
    pool.forward(ctx, {&x}, dst, Mode::inference);
    try {
        pool.backward(ctx, {&x}, dst, dst, {&diff_src});
        FAIL() << "backward ran without a workspace";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("enc_pool2"), std::string::npos) << e.what();
    }
}

TEST(MaxPooling, RejectsTooSmallInputNamingLayerAndDims) {
    MaxPoolingLayer pool("enc_pool4", pooling(3, 2, Padding::valid));
    try {
        pool.build({Dims{1, 8, 2, 9}});
        FAIL() << "no error for a 2-row input";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("enc_pool4"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 8, 2, 9]"), std::string::npos) << msg;
    }
    EXPECT_THROW(MaxPoolingLayer("zero", pooling(0, 2, Padding::same)), InvalidArgument);
}

TEST(MaxPooling, KerasConfig) {
    MaxPoolingLayer pool("max_pooling2d", pooling(2, 2, Padding::same));
    EXPECT_EQ(pool.type(), "MaxPooling2D");
    EXPECT_EQ(keras_layer_config(pool), nlohmann::json::parse(R"({
        "name": "max_pooling2d", "trainable": true, "dtype": "float32",
        "pool_size": [2, 2], "padding": "same", "strides": [2, 2],
        "data_format": "channels_last"})"));
    EXPECT_EQ(keras_layer_config(MaxPoolingLayer("p")).at("padding"), "valid");
}

}  // namespace
