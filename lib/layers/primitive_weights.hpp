#pragma once
// A parameter's value in the layout a primitive chose for its weights (often blocked), kept
// between calls and reordered again only when the value or the wanted layout changed.

#include <cstdint>
#include <string>

#include "core/context.hpp"
#include "core/parameter.hpp"
#include "core/tensor.hpp"

namespace tomodenoise {

/// The descriptor a primitive takes for a bias of `count` values: empty (no bias) unless `used`.
dnnl::memory::desc bias_desc(std::int64_t count, bool used);

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

/// Runs a layer's backward-weights primitive. The kernel's gradient goes straight into the
/// parameter's plain gradient when the primitive chose the plain layout, otherwise into a
/// scratch in the chosen layout that is then reordered into it.
class WeightGradient {
public:
    /// Runs `primitive`, which wants the kernel gradient laid out as `chosen`, on `src` and
    /// `diff_dst`: the kernel's gradient lands in `grad` (plain, with the primitive's dims),
    /// the bias's in `bias` when there is one. `what` names the layer and dims in errors.
    void compute(Context& ctx, const dnnl::primitive& primitive, const dnnl::memory::desc& chosen,
                 const dnnl::memory& src, const dnnl::memory& diff_dst, const dnnl::memory& grad,
                 Parameter* bias, const std::string& what);

private:
    Tensor scratch_;
};

}  // namespace tomodenoise
