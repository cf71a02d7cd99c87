#pragma once
// Tensors in blocked layouts, so layer tests feed inputs and gradients the way a network does
// (whatever layout the previous layer's primitive chose), not only plain NCHW.

#include <oneapi/dnnl/dnnl.hpp>

#include "core/context.hpp"
#include "core/tensor.hpp"

namespace tomodenoise::testing {

/// A copy of `src` laid out as `tag` (e.g. nChw16c, nhwc).
inline Tensor relayout(Context& ctx, const Tensor& src, dnnl::memory::format_tag tag) {
    Tensor out(dnnl::memory::desc(src.dims().to_dnnl(), dnnl::memory::data_type::f32, tag));
    ctx.reorder(src, out);
    return out;
}

}  // namespace tomodenoise::testing
