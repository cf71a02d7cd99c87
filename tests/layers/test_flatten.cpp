#include <gtest/gtest.h>

#include "core/context.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/flatten.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

using tag = dnnl::memory::format_tag;

// Keras's channels_last flattening, straight from its definition.
std::vector<double> reference_flatten(const Tensor& x) {
    const Dims d = x.dims();
    std::vector<double> out(static_cast<std::size_t>(d.count()));
    for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t c = 0; c < d.c; ++c)
            for (std::int64_t h = 0; h < d.h; ++h)
                for (std::int64_t w = 0; w < d.w; ++w)
                    out[n * d.c * d.h * d.w + (h * d.w + w) * d.c + c] = x.at(n, c, h, w);
    return out;
}

Tensor laid_out(Context& ctx, const Tensor& plain, tag layout) {
    Tensor t(dnnl::memory::desc(plain.dims().to_dnnl(), dnnl::memory::data_type::f32, layout));
    ctx.reorder(plain, t);
    return t;
}

TEST(Flatten, MatchesKerasChannelsLastOrderInAnyInputLayout) {
    for (const Dims& in : {Dims{2, 1, 7, 5}, Dims{2, 3, 5, 9}, Dims{2, 13, 3, 7}, Dims{2, 17, 1, 1},
                           Dims{1, 17, 4, 3}}) {
        for (tag layout : {tag::nchw, tag::nhwc, tag::nChw16c, tag::nChw8c}) {
            for (auto mode : {Mode::inference, Mode::training}) {
                Context ctx;
                FlattenLayer flatten("flatten");
                const Dims out = flatten.build({in});
                EXPECT_EQ(out, (Dims{in.n, in.c * in.h * in.w, 1, 1}));
                const Tensor x = random_tensor(in, 3);
                const Tensor xl = laid_out(ctx, x, layout);
                Tensor dst;
                flatten.forward(ctx, {&xl}, dst, mode);
                EXPECT_EQ(dst.dims(), out);
                EXPECT_TRUE(dst.is_plain());
                EXPECT_TRUE(near_all(plain_values(ctx, dst), reference_flatten(x), 0.0))
                    << in.to_string() << " laid out as " << layout_name(xl.desc());
            }
        }
    }
}

TEST(Flatten, BackwardIsTheInversePermutation) {
    for (const Dims& in : {Dims{2, 3, 5, 9}, Dims{2, 17, 3, 2}}) {
        Context ctx;
        FlattenLayer flatten("flatten");
        const Dims out = flatten.build({in});
        const Tensor x = laid_out(ctx, random_tensor(in, 1), tag::nChw16c);
        Tensor dst;
        flatten.forward(ctx, {&x}, dst, Mode::training);
        // diff_dst in a blocked layout: backward must accept any.
        const Tensor diff_dst_plain = random_tensor(out, 2);
        const Tensor diff_dst = laid_out(ctx, diff_dst_plain, tag::nChw16c);
        Tensor diff_src;
        flatten.backward(ctx, {&x}, dst, diff_dst, {&diff_src});
        EXPECT_EQ(diff_src.desc(), x.desc());
        Tensor diff_src_plain;
        ctx.to_plain(diff_src, diff_src_plain);
        // Flattening the gradient must give back diff_dst exactly.
        const auto refolded = reference_flatten(diff_src_plain);
        EXPECT_TRUE(near_all(
            refolded,
            std::vector<double>(diff_dst_plain.data(), diff_dst_plain.data() + out.count()), 0.0));
    }
}

TEST(Flatten, MatchesFiniteDifferences) {
    Context ctx;
    FlattenLayer flatten("flatten");
    check_layer_gradients(ctx, flatten, {random_tensor({2, 13, 3, 5}, 4)});
}

TEST(Flatten, RejectsWrongInputsNamingLayerAndDims) {
    FlattenLayer flatten("head_flatten");
    try {
        flatten.build({Dims{1, 3, 4, 4}, Dims{1, 3, 4, 4}});
        FAIL() << "no error for two inputs";
    } catch (const ShapeError& e) {
        EXPECT_NE(std::string(e.what()).find("head_flatten"), std::string::npos) << e.what();
    }
    try {
        flatten.build({Dims{1, 0, 4, 4}});
        FAIL() << "no error for an empty input";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("head_flatten"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 0, 4, 4]"), std::string::npos) << msg;
    }
}

TEST(Flatten, KerasConfig) {
    FlattenLayer flatten("flatten_1");
    EXPECT_EQ(flatten.type(), "Flatten");
    const auto cfg = keras_layer_config(flatten);
    EXPECT_EQ(cfg.at("name"), "flatten_1");
    EXPECT_EQ(cfg.at("data_format"), "channels_last");
    EXPECT_EQ(cfg.at("dtype"), "float32");
}

}  // namespace
