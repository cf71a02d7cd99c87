#include "layers/max_pooling.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

MaxPoolingLayer::MaxPoolingLayer(std::string name, MaxPoolingConfig config)
    : Layer(std::move(name)), config_(config) {
    if (config_.pool < 1 || config_.stride < 1)
        throw InvalidArgument(what() + ": pool size and stride must be positive (got " +
                              std::to_string(config_.pool) + ", " + std::to_string(config_.stride) +
                              ")");
}

MaxPoolingLayer::Geometry MaxPoolingLayer::geometry(const Dims& src) const {
    const auto ph = spatial_padding(src.h, config_.pool, config_.stride, config_.padding);
    const auto pw = spatial_padding(src.w, config_.pool, config_.stride, config_.padding);
    return {{src.n, src.c, ph.out, pw.out},
            {config_.stride, config_.stride},
            {config_.pool, config_.pool},
            {ph.before, pw.before},
            {ph.after, pw.after}};
}

Dims MaxPoolingLayer::build(const std::vector<Dims>& inputs) {
    expect_inputs(inputs, 1);
    const Dims& in = inputs[0];
    const auto g = geometry(in);
    if (g.dst[2] < 1 || g.dst[3] < 1)
        throw ShapeError(what() + ": input " + in.to_string() + " is smaller than the " +
                         std::to_string(config_.pool) + "x" + std::to_string(config_.pool) +
                         " pool with 'valid' padding");
    return Dims{in.n, in.c, g.dst[2], g.dst[3]};
}

const CachedPrimitive<dnnl::pooling_forward>& MaxPoolingLayer::forward_primitive(
    Context& ctx, const dnnl::memory::desc& src, Mode mode) {
    const auto g = geometry(dims_of(src));
    const auto prop = mode == Mode::training ? dnnl::prop_kind::forward_training
                                             : dnnl::prop_kind::forward_inference;
    return ctx.cache().get<dnnl::pooling_forward>(
        CacheKey("maxpool_fwd") << int(prop) << src << g.strides << g.kernel << g.pad_before
                                << g.pad_after,
        what() + " forward on input " + dims_of(src).to_string(), [&] {
            return dnnl::pooling_forward::primitive_desc(
                {prop, dnnl::algorithm::pooling_max, src, any_desc(g.dst, src.data_type()),
                 g.strides, g.kernel, g.pad_before, g.pad_after},
                cpu_engine());
        });
}

void MaxPoolingLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                              Mode mode) {
    const Tensor& x = *src.at(0);
    auto& pool = forward_primitive(ctx, x.desc(), mode);
    dst.reshape(pool.pd.dst_desc());
    std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, x.memory()},
                                                  {DNNL_ARG_DST, dst.memory()}};
    if (mode == Mode::training) {
        const auto ws_md = pool.pd.workspace_desc();
        if (!workspace_ || workspace_.get_desc() != ws_md)
            workspace_ = dnnl::memory(ws_md, cpu_engine());
        workspace_src_ = x.desc();
        args[DNNL_ARG_WORKSPACE] = workspace_;
    }
    pool.primitive.execute(ctx.stream(), args);
}

void MaxPoolingLayer::backward(Context& ctx, const std::vector<const Tensor*>& src,
                               const Tensor& /*dst*/, const Tensor& diff_dst,
                               const std::vector<Tensor*>& diff_src) {
    if (diff_src.empty() || !diff_src[0]) return;
    const Tensor& x = *src.at(0);
    const std::string where = what() + " backward on input " + x.dims().to_string();
    if (!workspace_ || workspace_src_ != x.desc())
        throw InvalidArgument(where + " needs a training-mode forward on that input first");
    auto& fwd = forward_primitive(ctx, x.desc(), Mode::training);
    const auto g = geometry(x.dims());
    auto& bwd = ctx.cache().get<dnnl::pooling_backward>(
        CacheKey("maxpool_bwd") << x.desc() << fwd.pd.dst_desc() << g.strides << g.kernel
                                << g.pad_before << g.pad_after,
        where, [&] {
            return dnnl::pooling_backward::primitive_desc(
                {dnnl::algorithm::pooling_max, x.desc(), fwd.pd.dst_desc(), g.strides, g.kernel,
                 g.pad_before, g.pad_after},
                cpu_engine(), fwd.pd);
        });
    const Tensor& dd = ctx.as_layout(diff_dst, bwd.pd.diff_dst_desc(), diff_dst_reordered_);
    diff_src[0]->reshape(bwd.pd.diff_src_desc());
    bwd.primitive.execute(ctx.stream(), {{DNNL_ARG_DIFF_DST, dd.memory()},
                                         {DNNL_ARG_WORKSPACE, workspace_},
                                         {DNNL_ARG_DIFF_SRC, diff_src[0]->memory()}});
}

}  // namespace tomodenoise
