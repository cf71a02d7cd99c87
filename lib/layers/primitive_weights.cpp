#include "layers/primitive_weights.hpp"

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

const dnnl::memory& WeightGradient::target(const dnnl::memory::desc& chosen,
                                           const dnnl::memory& grad) {
    direct_ = chosen == grad.get_desc();
    if (direct_) return grad;
    scratch_.reshape(chosen);
    return scratch_.memory();
}

void WeightGradient::finish(Context& ctx, const dnnl::memory& grad, const std::string& what) {
    if (!direct_) ctx.reorder(scratch_.memory(), grad, what);
}

}  // namespace tomodenoise
