#pragma once
// Element-wise activations as oneDNN eltwise algorithms. Training uses the *_use_dst_for_bwd
// variants, so the backward of a convolution with a fused activation needs only its output.

#include <oneapi/dnnl/dnnl.hpp>

#include <string>

#include "core/context.hpp"
#include "core/tensor.hpp"

namespace tomodenoise {

struct Activation {
    enum class Kind { linear, relu, leaky_relu, sigmoid, tanh };
    Kind kind = Kind::linear;
    float alpha = 0.f;  ///< negative slope of leaky_relu

    static Activation linear() { return {}; }
    static Activation relu() { return {Kind::relu, 0.f}; }
    static Activation leaky_relu(float alpha) { return {Kind::leaky_relu, alpha}; }
    static Activation sigmoid() { return {Kind::sigmoid, 0.f}; }
    static Activation tanh() { return {Kind::tanh, 0.f}; }

    bool is_linear() const { return kind == Kind::linear; }
    std::string name() const;  ///< "relu", "linear", ... (leaky_relu: "leaky_relu")
    /// Forward algorithm; with use_dst, the variant whose backward reads the output.
    dnnl::algorithm algorithm(bool use_dst) const;
    /// The alpha oneDNN's algorithm takes: the slope for (leaky) ReLU, 1 for linear (y = x).
    float eltwise_alpha() const { return kind == Kind::linear ? 1.f : alpha; }
    bool operator==(const Activation& o) const { return kind == o.kind && alpha == o.alpha; }
};

/// Attributes fusing `activation` into a forward primitive as an eltwise post-op (no post-op
/// when it is linear).
dnnl::primitive_attr fused_activation_attr(const Activation& activation);

/// The gradient before a fused activation from the gradient after it. `diff_dst` must be laid
/// out as `dst`, the forward's output, which the use_dst_for_bwd backward reads instead of the
/// input. Returns `diff_dst` itself for a linear activation, otherwise `diff_pre` (reshaped to
/// dst's layout) filled. `where` names the layer and dims in errors.
const Tensor& fused_activation_backward(Context& ctx, const Activation& activation,
                                        const Tensor& dst, const Tensor& diff_dst, Tensor& diff_pre,
                                        const std::string& where);

}  // namespace tomodenoise
