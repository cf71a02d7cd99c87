#include "layers/primitive_weights.hpp"

#include <unordered_map>

#include "core/engine.hpp"

namespace tomodenoise {

const Tensor& PrimitiveWeights::laid_out(Context& ctx, const Parameter& param,
                                         const dnnl::memory::desc& value_desc,
                                         const dnnl::memory::desc& md, const std::string& what) {
    if (version_ == param.version() && weights_.desc() == md) return weights_;
    weights_.reshape(md);
    // oneDNN memory handles are non-const; the reorder only reads the value.
    const dnnl::memory value(value_desc, cpu_engine(), const_cast<float*>(param.value()));
    ctx.reorder(value, weights_.memory(), what);
    version_ = param.version();
    return weights_;
}

dnnl::memory::desc bias_desc(std::int64_t count, bool used) {
    if (!used) return dnnl::memory::desc();
    return dnnl::memory::desc({count}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::x);
}

void WeightGradient::compute(Context& ctx, const dnnl::primitive& primitive,
                             const dnnl::memory::desc& chosen, const dnnl::memory& src,
                             const dnnl::memory& diff_dst, const dnnl::memory& grad,
                             Parameter* bias, const std::string& what) {
    const bool direct = chosen == grad.get_desc();
    if (!direct) scratch_.reshape(chosen);
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, src},
        {DNNL_ARG_DIFF_DST, diff_dst},
        {DNNL_ARG_DIFF_WEIGHTS, direct ? grad : scratch_.memory()}};
    if (bias) args[DNNL_ARG_DIFF_BIAS] = bias->grad_memory();
    primitive.execute(ctx.stream(), args);
    if (!direct) ctx.reorder(scratch_.memory(), grad, what);
}

}  // namespace tomodenoise
