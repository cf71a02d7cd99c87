#include "layers/activation.hpp"

#include "core/engine.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

std::string Activation::name() const {
    switch (kind) {
        case Kind::linear:
            return "linear";
        case Kind::relu:
            return "relu";
        case Kind::leaky_relu:
            return "leaky_relu";
        case Kind::sigmoid:
            return "sigmoid";
        case Kind::tanh:
            return "tanh";
    }
    return "linear";
}

dnnl::algorithm Activation::algorithm(bool use_dst) const {
    using a = dnnl::algorithm;
    switch (kind) {
        case Kind::linear:
            return a::eltwise_linear;
        case Kind::relu:
        case Kind::leaky_relu:
            return use_dst ? a::eltwise_relu_use_dst_for_bwd : a::eltwise_relu;
        case Kind::sigmoid:
            return use_dst ? a::eltwise_logistic_use_dst_for_bwd : a::eltwise_logistic;
        case Kind::tanh:
            return use_dst ? a::eltwise_tanh_use_dst_for_bwd : a::eltwise_tanh;
    }
    return a::eltwise_linear;
}

dnnl::primitive_attr fused_activation_attr(const Activation& activation) {
    dnnl::primitive_attr attr;
    if (activation.is_linear()) return attr;
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, activation.algorithm(false), activation.eltwise_alpha(), 0.f);
    attr.set_post_ops(ops);
    return attr;
}

const Tensor& fused_activation_backward(Context& ctx, const Activation& activation,
                                        const Tensor& dst, const Tensor& diff_dst, Tensor& diff_pre,
                                        const std::string& where) {
    if (activation.is_linear()) return diff_dst;
    const auto algo = activation.algorithm(true);
    const float alpha = activation.eltwise_alpha();
    auto& act = ctx.cache().get<dnnl::eltwise_backward>(
        CacheKey("eltwise_bwd") << int(algo) << alpha << dst.desc(), where, [&] {
            dnnl::eltwise_forward::primitive_desc hint(
                {dnnl::prop_kind::forward_training, algo, dst.desc(), alpha, 0.f}, cpu_engine());
            return dnnl::eltwise_backward::primitive_desc(
                {algo, dst.desc(), dst.desc(), alpha, 0.f}, cpu_engine(), hint);
        });
    diff_pre.reshape(dst.desc());
    act.primitive.execute(ctx.stream(), {{DNNL_ARG_DST, dst.memory()},
                                         {DNNL_ARG_DIFF_DST, diff_dst.memory()},
                                         {DNNL_ARG_DIFF_SRC, diff_pre.memory()}});
    return diff_pre;
}

}  // namespace tomodenoise
