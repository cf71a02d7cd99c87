#include "layers/upsampling.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

SpatialFootprint UpsamplingLayer::spatial_footprint() const {
    const double f = double(config_.factor);
    if (config_.interpolation == Interpolation::nearest) return {1 / f, -(f - 1) / f, 0, true};
    const double centre = 0.5 / f - 0.5;
    return {1 / f, centre - 1, centre + 1, true};
}

UpsamplingLayer::UpsamplingLayer(std::string name, UpsamplingConfig config)
    : Layer(std::move(name)), config_(config) {}

Dims UpsamplingLayer::build(const std::vector<Dims>& inputs) {
    expect_inputs(inputs, 1);
    const Dims& in = inputs[0];
    if (config_.factor < 1)
        throw ShapeError(what() + ": upsampling factor " + std::to_string(config_.factor) +
                         " cannot scale input " + in.to_string() + " (it must be >= 1)");
    return Dims{in.n, in.c, in.h * config_.factor, in.w * config_.factor};
}

dnnl::algorithm UpsamplingLayer::algorithm() const {
    // oneDNN's linear resampling uses half-pixel centres and clamps at the borders, as TF2.
    return config_.interpolation == Interpolation::bilinear ? dnnl::algorithm::resampling_linear
                                                            : dnnl::algorithm::resampling_nearest;
}

const CachedPrimitive<dnnl::resampling_forward>& UpsamplingLayer::forward_primitive(
    Context& ctx, const dnnl::memory::desc& src, Mode mode) {
    const Dims in = dims_of(src);
    const Dims out = build({in});
    const auto prop = mode == Mode::training ? dnnl::prop_kind::forward_training
                                             : dnnl::prop_kind::forward_inference;
    return ctx.cache().get<dnnl::resampling_forward>(
        CacheKey("resampling_fwd") << int(prop) << int(algorithm()) << src << config_.factor,
        what() + " forward on input " + in.to_string(), [&] {
            const float f = float(config_.factor);
            return dnnl::resampling_forward::primitive_desc(
                {prop, algorithm(), {f, f}, src, any_desc(out.to_dnnl(), src.data_type())},
                cpu_engine());
        });
}

void UpsamplingLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                              Mode mode) {
    const Tensor& x = *src.at(0);
    auto& up = forward_primitive(ctx, x.desc(), mode);
    dst.reshape(up.pd.dst_desc());
    up.primitive.execute(ctx.stream(), {{DNNL_ARG_SRC, x.memory()}, {DNNL_ARG_DST, dst.memory()}});
}

void UpsamplingLayer::backward(Context& ctx, const std::vector<const Tensor*>& src,
                               const Tensor& /*dst*/, const Tensor& diff_dst,
                               const std::vector<Tensor*>& diff_src) {
    if (diff_src.empty() || !diff_src[0]) return;
    const Tensor& x = *src.at(0);
    auto& fwd = forward_primitive(ctx, x.desc(), Mode::training);
    auto& bwd = ctx.cache().get<dnnl::resampling_backward>(
        CacheKey("resampling_bwd")
            << int(algorithm()) << x.desc() << fwd.pd.dst_desc() << config_.factor,
        what() + " backward on input " + x.dims().to_string(), [&] {
            const float f = float(config_.factor);
            return dnnl::resampling_backward::primitive_desc(
                {algorithm(), {f, f}, x.desc(), fwd.pd.dst_desc()}, cpu_engine(), fwd.pd);
        });
    const Tensor& dd = ctx.as_layout(diff_dst, bwd.pd.diff_dst_desc(), diff_dst_reordered_);
    diff_src[0]->reshape(bwd.pd.diff_src_desc());
    bwd.primitive.execute(ctx.stream(), {{DNNL_ARG_DIFF_DST, dd.memory()},
                                         {DNNL_ARG_DIFF_SRC, diff_src[0]->memory()}});
}

}  // namespace tomodenoise
