#include <gtest/gtest.h>

#include <algorithm>

#include "core/context.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/concatenation.hpp"
#include "relayout.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

using tag = dnnl::memory::format_tag;

// Naive channel concatenation of plain tensors.
std::vector<double> reference_concat(const std::vector<Tensor>& inputs) {
    const Dims first = inputs[0].dims();
    std::vector<double> out;
    for (std::int64_t n = 0; n < first.n; ++n)
        for (const auto& t : inputs)
            for (std::int64_t c = 0; c < t.dims().c; ++c)
                for (std::int64_t y = 0; y < first.h; ++y)
                    for (std::int64_t x = 0; x < first.w; ++x) out.push_back(t.at(n, c, y, x));
    return out;
}

std::vector<Tensor> plain_inputs(const std::vector<std::int64_t>& channels, std::int64_t h,
                                 std::int64_t w, std::uint32_t seed) {
    std::vector<Tensor> inputs;
    for (auto c : channels) inputs.push_back(random_tensor({2, c, h, w}, seed++));
    return inputs;
}

struct ConcatCase {
    std::vector<std::int64_t> channels;
    std::vector<tag> layouts;  // one per input
    std::int64_t h, w;
};

const ConcatCase cases[] = {
    {{1, 3}, {tag::nchw, tag::nchw}, 17, 13},
    {{13, 17}, {tag::nChw16c, tag::nChw16c}, 9, 11},
    {{16, 32}, {tag::nChw16c, tag::nChw16c}, 7, 5},
    // Whole 16-channel blocks throughout: the gradient is copied out image by image.
    {{32, 16, 48}, {tag::nChw16c, tag::nChw16c, tag::nChw16c}, 6, 9},
    {{17, 3}, {tag::nChw16c, tag::nchw}, 5, 9},
    {{32, 13}, {tag::nhwc, tag::nChw8c}, 11, 7},
    {{1, 13, 17}, {tag::nchw, tag::nhwc, tag::nChw16c}, 5, 7},
};

TEST(Concatenation, ForwardMatchesNaiveReferenceForMixedLayouts) {
    Context ctx;
    for (const auto& p : cases) {
        const auto plain = plain_inputs(p.channels, p.h, p.w, 3);
        std::vector<Tensor> inputs;
        std::vector<Dims> dims;
        for (std::size_t k = 0; k < plain.size(); ++k) {
            inputs.push_back(relayout(ctx, plain[k], p.layouts[k]));
            dims.push_back(plain[k].dims());
        }
        std::vector<const Tensor*> src;
        for (const auto& t : inputs) src.push_back(&t);
        const auto want = reference_concat(plain);
        for (auto mode : {Mode::inference, Mode::training}) {
            ConcatenationLayer cat("cat");
            const Dims out = cat.build(dims);
            Tensor dst;
            cat.forward(ctx, src, dst, mode);
            EXPECT_EQ(dst.dims(), out);
            EXPECT_TRUE(near_all(plain_values(ctx, dst), want, 0.0))
                << out.to_string() << " as " << layout_name(dst.desc());
            // Inputs sharing a layout give an output in it: the next layer needs no reorder.
            if (std::all_of(p.layouts.begin(), p.layouts.end(),
                            [&](tag t) { return t == p.layouts[0]; })) {
                EXPECT_EQ(layout_name(dst.desc()), layout_name(inputs[0].desc()));
            }
        }
    }
}

TEST(Concatenation, BackwardSplitsGradientIntoEachInputsLayout) {
    Context ctx;
    for (const auto& p : cases) {
        const auto plain = plain_inputs(p.channels, p.h, p.w, 5);
        std::vector<Tensor> inputs;
        std::vector<Dims> dims;
        for (std::size_t k = 0; k < plain.size(); ++k) {
            inputs.push_back(relayout(ctx, plain[k], p.layouts[k]));
            dims.push_back(plain[k].dims());
        }
        std::vector<const Tensor*> src;
        for (const auto& t : inputs) src.push_back(&t);
        ConcatenationLayer cat("cat");
        const Dims out = cat.build(dims);
        Tensor dst;
        cat.forward(ctx, src, dst, Mode::training);
        const Tensor diff_plain = random_tensor(out, 6);
        for (auto diff_layout : {tag::nchw, tag::nhwc, tag::nChw16c, tag::nChw8c}) {
            const Tensor diff = relayout(ctx, diff_plain, diff_layout);
            std::vector<Tensor> grads(inputs.size());
            std::vector<Tensor*> diff_src;
            for (auto& g : grads) diff_src.push_back(&g);
            cat.backward(ctx, src, dst, diff, diff_src);
            std::int64_t first = 0;
            for (std::size_t k = 0; k < inputs.size(); ++k) {
                const Dims d = dims[k];
                std::vector<double> want;
                for (std::int64_t n = 0; n < d.n; ++n)
                    for (std::int64_t c = 0; c < d.c; ++c)
                        for (std::int64_t y = 0; y < d.h; ++y)
                            for (std::int64_t x = 0; x < d.w; ++x)
                                want.push_back(diff_plain.at(n, first + c, y, x));
                first += d.c;
                EXPECT_EQ(grads[k].desc(), inputs[k].desc()) << "input " << k;
                EXPECT_TRUE(near_all(plain_values(ctx, grads[k]), want, 0.0))
                    << "input " << k << " of " << out.to_string() << ", diff_dst "
                    << layout_name(diff.desc());
            }
        }
    }
}

TEST(Concatenation, BackwardSkipsInputsWithoutGradientSlot) {
    Context ctx;
    const auto plain = plain_inputs({3, 13}, 5, 7, 1);
    ConcatenationLayer cat("cat");
    cat.build({plain[0].dims(), plain[1].dims()});
    Tensor dst;
    cat.forward(ctx, {&plain[0], &plain[1]}, dst, Mode::training);
    const Tensor diff = random_tensor(dst.dims(), 2);
    Tensor second;
    cat.backward(ctx, {&plain[0], &plain[1]}, dst, diff, {nullptr, &second});
    // The second input holds channels 3..15 of each batch item's 16.
    std::vector<double> want;
    const std::int64_t plane = 5 * 7;
    for (std::int64_t n = 0; n < 2; ++n)
        want.insert(want.end(), diff.data() + (n * 16 + 3) * plane,
                    diff.data() + (n + 1) * 16 * plane);
    EXPECT_TRUE(near_all(plain_values(ctx, second), want, 0.0));
}

TEST(Concatenation, BackwardMatchesFiniteDifferences) {
    Context ctx;
    ConcatenationLayer cat("cat");
    check_layer_gradients(ctx, cat, plain_inputs({3, 1, 13}, 5, 3, 9));
}

TEST(Concatenation, RejectsMismatchedInputsNamingLayerAndDims) {
    ConcatenationLayer cat("dec_concat2");
    try {
        cat.build({Dims{1, 32, 16, 16}, Dims{1, 64, 16, 15}});
        FAIL() << "no error for different widths";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("dec_concat2"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 32, 16, 16]"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 64, 16, 15]"), std::string::npos) << msg;
    }
    EXPECT_THROW(cat.build({Dims{1, 3, 8, 8}, Dims{2, 3, 8, 8}}), ShapeError);
    EXPECT_THROW(cat.build({Dims{1, 3, 8, 8}}), ShapeError);
    EXPECT_EQ(cat.build({Dims{1, 3, 8, 8}, Dims{1, 5, 8, 8}, Dims{1, 1, 8, 8}}),
              (Dims{1, 9, 8, 8}));
}

TEST(Concatenation, KerasConfigAndRepeatedRunsCreateNoPrimitive) {
    ConcatenationLayer cat("concatenate_1");
    EXPECT_EQ(cat.type(), "Concatenate");
    EXPECT_EQ(cat.input_count(), 0u);
    EXPECT_EQ(keras_layer_config(cat), nlohmann::json::parse(R"({
        "name": "concatenate_1", "trainable": true, "dtype": "float32", "axis": -1})"));

    Context ctx;
    const auto plain = plain_inputs({13, 17}, 6, 5, 4);
    const Tensor a = relayout(ctx, plain[0], tag::nChw16c);
    cat.build({plain[0].dims(), plain[1].dims()});
    Tensor dst, ga, gb;
    const Tensor diff = random_tensor(Dims{2, 30, 6, 5}, 2);
    cat.forward(ctx, {&a, &plain[1]}, dst, Mode::training);
    cat.backward(ctx, {&a, &plain[1]}, dst, diff, {&ga, &gb});
    const auto misses = ctx.cache().misses();
    cat.forward(ctx, {&a, &plain[1]}, dst, Mode::training);
    cat.backward(ctx, {&a, &plain[1]}, dst, diff, {&ga, &gb});
    EXPECT_EQ(ctx.cache().misses(), misses);
}

}  // namespace
