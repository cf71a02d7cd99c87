#pragma once
// A parameter's value in the layout a primitive chose for its weights (often blocked), kept
// between calls and reordered again only when the value or the wanted layout changed.

#include <cstdint>
#include <string>

#include "core/context.hpp"
#include "core/tensor.hpp"
#include "layers/parameter.hpp"

namespace tomodenoise {

class PrimitiveWeights {
public:
    /// `param`'s value laid out as `md`. `value_desc` describes the parameter's plain storage
    /// with md's dims (a dense kernel {O, I} is {O, I, 1, 1} to oneDNN); `what` names the
    /// layer and parameter in errors.
    const Tensor& laid_out(Context& ctx, const Parameter& param,
                           const dnnl::memory::desc& value_desc, const dnnl::memory::desc& md,
                           const std::string& what);

private:
    Tensor weights_;
    std::uint64_t version_ = 0;
};

/// Where a backward-weights primitive writes a parameter's gradient: straight into the plain
/// gradient when the primitive chose the plain layout, otherwise into a scratch in the chosen
/// layout that finish() reorders into the gradient.
class WeightGradient {
public:
    /// The memory to pass as DNNL_ARG_DIFF_WEIGHTS for a primitive that chose `chosen`;
    /// `grad` is the parameter's plain gradient (with the primitive's dims).
    const dnnl::memory& target(const dnnl::memory::desc& chosen, const dnnl::memory& grad);
    /// After the primitive ran: moves the scratch into `grad` when target() handed it out.
    void finish(Context& ctx, const dnnl::memory& grad, const std::string& what);

private:
    Tensor scratch_;
    bool direct_ = true;
};

}  // namespace tomodenoise
