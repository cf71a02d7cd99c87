#include "layers/activation_layer.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

ActivationLayer::ActivationLayer(std::string name, Activation activation)
    : Layer(std::move(name)), activation_(activation) {
    if (activation_.kind == Activation::Kind::leaky_relu && !(activation_.alpha >= 0.f))
        throw InvalidArgument(what() + ": the negative slope alpha must be >= 0, got " +
                              std::to_string(activation_.alpha));
}

std::string ActivationLayer::type() const {
    return activation_.kind == Activation::Kind::leaky_relu ? "LeakyReLU" : "Activation";
}

Dims ActivationLayer::build(const std::vector<Dims>& inputs) {
    expect_inputs(inputs, 1);
    return inputs[0];
}

void ActivationLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                              Mode mode) {
    const Tensor& x = *src.at(0);
    const bool training = mode == Mode::training;
    const auto prop =
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const auto algo = activation_.algorithm(training);
    const float alpha = activation_.eltwise_alpha();
    auto& fwd = ctx.cache().get<dnnl::eltwise_forward>(
        CacheKey("eltwise_fwd") << int(prop) << int(algo) << alpha << x.desc(),
        what() + " forward on input " + x.dims().to_string(), [&] {
            return dnnl::eltwise_forward::primitive_desc({prop, algo, x.desc(), alpha, 0.f},
                                                         cpu_engine());
        });
    dst.reshape(fwd.pd.dst_desc());
    fwd.primitive.execute(ctx.stream(), {{DNNL_ARG_SRC, x.memory()}, {DNNL_ARG_DST, dst.memory()}});
}

void ActivationLayer::backward(Context& ctx, const std::vector<const Tensor*>& src,
                               const Tensor& dst, const Tensor& diff_dst,
                               const std::vector<Tensor*>& diff_src) {
    if (diff_src.empty() || !diff_src[0]) return;
    const Tensor& dd = ctx.as_layout(diff_dst, dst.desc(), diff_dst_reordered_);
    const Tensor& result =
        fused_activation_backward(ctx, activation_, dst, dd, *diff_src[0],
                                  what() + " backward on input " + src.at(0)->dims().to_string());
    if (&result != diff_src[0]) {  // linear: the gradient passes through unchanged
        diff_src[0]->reshape(dd.desc());
        ctx.reorder(dd, *diff_src[0]);
    }
}

}  // namespace tomodenoise
