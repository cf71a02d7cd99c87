#include <gtest/gtest.h>

#include "core/context.hpp"
#include "keras/keras_layers.hpp"
#include "layer_check.hpp"
#include "layers/add.hpp"
#include "relayout.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

using tag = dnnl::memory::format_tag;

struct AddCase {
    Dims dims;
    std::vector<tag> layouts;  // one per input
};

const AddCase cases[] = {
    {{2, 1, 17, 13}, {tag::nchw, tag::nchw}},
    {{2, 3, 9, 11}, {tag::nhwc, tag::nchw}},
    {{2, 13, 7, 5}, {tag::nChw16c, tag::nChw16c, tag::nChw16c}},
    {{2, 17, 5, 9}, {tag::nChw16c, tag::nchw, tag::nChw8c}},
    {{2, 32, 5, 3}, {tag::nChw16c, tag::nhwc}},
};

TEST(Add, ForwardMatchesNaiveSumForMixedLayouts) {
    Context ctx;
    for (const auto& p : cases) {
        std::vector<Tensor> inputs;
        std::vector<double> want(static_cast<std::size_t>(p.dims.count()), 0.0);
        for (std::size_t k = 0; k < p.layouts.size(); ++k) {
            const Tensor plain = random_tensor(p.dims, 10 + std::uint32_t(k));
            for (std::size_t i = 0; i < want.size(); ++i) want[i] += plain.data()[i];
            inputs.push_back(relayout(ctx, plain, p.layouts[k]));
        }
        std::vector<const Tensor*> src;
        for (const auto& t : inputs) src.push_back(&t);
        for (auto mode : {Mode::inference, Mode::training}) {
            AddLayer add("add");
            EXPECT_EQ(add.build(std::vector<Dims>(inputs.size(), p.dims)), p.dims);
            Tensor dst;
            add.forward(ctx, src, dst, mode);
            EXPECT_EQ(dst.dims(), p.dims);
            EXPECT_TRUE(near_all(plain_values(ctx, dst), want, 1e-6))
                << p.dims.to_string() << " as " << layout_name(dst.desc());
            if (p.layouts[0] == p.layouts[1]) {
                EXPECT_EQ(layout_name(dst.desc()), layout_name(inputs[0].desc()));
            }
        }
    }
}

TEST(Add, BackwardCopiesGradientToEachInputInItsLayout) {
    Context ctx;
    for (const auto& p : cases) {
        std::vector<Tensor> inputs;
        for (std::size_t k = 0; k < p.layouts.size(); ++k)
            inputs.push_back(relayout(ctx, random_tensor(p.dims, 20), p.layouts[k]));
        std::vector<const Tensor*> src;
        for (const auto& t : inputs) src.push_back(&t);
        AddLayer add("add");
        add.build(std::vector<Dims>(inputs.size(), p.dims));
        Tensor dst;
        add.forward(ctx, src, dst, Mode::training);
        const Tensor diff_plain = random_tensor(p.dims, 21);
        const std::vector<double> want(diff_plain.data(), diff_plain.data() + p.dims.count());
        for (auto diff_layout : {tag::nchw, tag::nChw16c, tag::nhwc}) {
            const Tensor diff = relayout(ctx, diff_plain, diff_layout);
            std::vector<Tensor> grads(inputs.size());
            std::vector<Tensor*> diff_src;
            for (auto& g : grads) diff_src.push_back(&g);
            diff_src[0] = nullptr;  // an input that wants no gradient is skipped
            add.backward(ctx, src, dst, diff, diff_src);
            EXPECT_TRUE(grads[0].empty());
            for (std::size_t k = 1; k < inputs.size(); ++k) {
                EXPECT_EQ(grads[k].desc(), inputs[k].desc()) << "input " << k;
                EXPECT_TRUE(near_all(plain_values(ctx, grads[k]), want, 0.0))
                    << "input " << k << ", diff_dst " << layout_name(diff.desc());
            }
        }
    }
}

TEST(Add, BackwardMatchesFiniteDifferences) {
    Context ctx;
    AddLayer add("add");
    const Dims dims{2, 13, 5, 3};
    check_layer_gradients(ctx, add,
                          {random_tensor(dims, 1), random_tensor(dims, 2), random_tensor(dims, 3)});
}

TEST(Add, RejectsMismatchedInputsNamingLayerAndDims) {
    AddLayer add("res_add3");
    try {
        add.build({Dims{1, 32, 16, 16}, Dims{1, 32, 16, 17}});
        FAIL() << "no error for different widths";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("res_add3"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 32, 16, 16]"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 32, 16, 17]"), std::string::npos) << msg;
    }
    EXPECT_THROW(add.build({Dims{1, 3, 8, 8}, Dims{1, 4, 8, 8}}), ShapeError);
    EXPECT_THROW(add.build({Dims{1, 3, 8, 8}}), ShapeError);
}

TEST(Add, KerasConfigAndRepeatedRunsCreateNoPrimitive) {
    AddLayer add("add_1");
    EXPECT_EQ(add.type(), "Add");
    EXPECT_EQ(add.input_count(), 0u);
    EXPECT_EQ(keras_layer_config(add), nlohmann::json::parse(R"({
        "name": "add_1", "trainable": true, "dtype": "float32"})"));

    Context ctx;
    const Dims dims{1, 17, 6, 5};
    const Tensor a = relayout(ctx, random_tensor(dims, 1), tag::nChw16c);
    const Tensor b = random_tensor(dims, 2);
    add.build({dims, dims});
    Tensor dst, ga, gb;
    add.forward(ctx, {&a, &b}, dst, Mode::training);
    add.backward(ctx, {&a, &b}, dst, b, {&ga, &gb});
    const auto misses = ctx.cache().misses();
    add.forward(ctx, {&a, &b}, dst, Mode::training);
    add.backward(ctx, {&a, &b}, dst, b, {&ga, &gb});
    EXPECT_EQ(ctx.cache().misses(), misses);
}

}  // namespace
