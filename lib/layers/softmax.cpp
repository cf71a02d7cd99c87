#include "layers/softmax.hpp"

#include "core/engine.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

constexpr int channel_axis = 1;

}  // namespace

Dims SoftmaxLayer::build(const std::vector<Dims>& inputs) {
    expect_inputs(inputs, 1);
    const Dims& in = inputs[0];
    if (in.count() < 1) throw ShapeError(what() + ": empty input " + in.to_string());
    return in;
}

const CachedPrimitive<dnnl::softmax_forward>& SoftmaxLayer::forward_primitive(
    Context& ctx, const dnnl::memory::desc& md, Mode mode) {
    const auto prop = mode == Mode::training ? dnnl::prop_kind::forward_training
                                             : dnnl::prop_kind::forward_inference;
    return ctx.cache().get<dnnl::softmax_forward>(
        CacheKey("softmax_fwd") << int(prop) << md,
        what() + " forward on input " + dims_of(md).to_string() + " laid out as " + layout_name(md),
        [&] {
            return dnnl::softmax_forward::primitive_desc({prop, md, channel_axis}, cpu_engine());
        });
}

void SoftmaxLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                           Mode mode) {
    const Tensor& x = *src.at(0);
    auto& softmax = forward_primitive(ctx, x.desc(), mode);
    dst.reshape(softmax.pd.dst_desc());
    softmax.primitive.execute(ctx.stream(),
                              {{DNNL_ARG_SRC, x.memory()}, {DNNL_ARG_DST, dst.memory()}});
}

void SoftmaxLayer::backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                            const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) {
    if (diff_src.empty() || !diff_src[0]) return;
    const Tensor& x = *src.at(0);
    auto& fwd = forward_primitive(ctx, x.desc(), Mode::training);
    const auto& md = dst.desc();
    auto& bwd = ctx.cache().get<dnnl::softmax_backward>(
        CacheKey("softmax_bwd") << md,
        what() + " backward on input " + x.dims().to_string() + " laid out as " + layout_name(md),
        [&] {
            return dnnl::softmax_backward::primitive_desc({md, md, channel_axis}, cpu_engine(),
                                                          fwd.pd);
        });
    const Tensor& dd = ctx.as_layout(diff_dst, md, diff_dst_reordered_);
    diff_src[0]->reshape(md);
    bwd.primitive.execute(ctx.stream(), {{DNNL_ARG_DST, dst.memory()},
                                         {DNNL_ARG_DIFF_DST, dd.memory()},
                                         {DNNL_ARG_DIFF_SRC, diff_src[0]->memory()}});
}

}  // namespace tomodenoise
