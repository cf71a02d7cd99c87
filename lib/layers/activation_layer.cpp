#include "layers/activation_layer.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

void activation_backward_from_dst(Context& ctx, const Activation& activation, const Tensor& dst,
                                  const Tensor& diff_dst, Tensor& diff_src,
                                  const std::string& where) {
    const auto algo = activation.algorithm(true);
    const float alpha = activation.eltwise_alpha();
    const auto& md = dst.desc();
    auto& bwd = ctx.cache().get<dnnl::eltwise_backward>(
        CacheKey("eltwise_bwd") << int(algo) << alpha << md, where, [&] {
            dnnl::eltwise_forward::primitive_desc hint(
                {dnnl::prop_kind::forward_training, algo, md, alpha, 0.f}, cpu_engine());
            return dnnl::eltwise_backward::primitive_desc({algo, md, md, alpha, 0.f},
                                                          cpu_engine(), hint);
        });
    // eltwise_linear has no use-dst variant and takes src; with alpha 1 its src equals dst.
    const int data_arg = activation.is_linear() ? DNNL_ARG_SRC : DNNL_ARG_DST;
    diff_src.reshape(md);
    bwd.primitive.execute(ctx.stream(), {{data_arg, dst.memory()},
                                         {DNNL_ARG_DIFF_DST, diff_dst.memory()},
                                         {DNNL_ARG_DIFF_SRC, diff_src.memory()}});
}

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
    activation_backward_from_dst(ctx, activation_, dst, dd, *diff_src[0],
                                 what() + " backward on input " + src.at(0)->dims().to_string());
}

nlohmann::json ActivationLayer::keras_config() const {
    nlohmann::json config = {{"name", name()}, {"trainable", true}, {"dtype", "float32"}};
    // Keras stores alpha as a float32 and writes float(alpha): 0.3 reads 0.30000001192092896.
    if (activation_.kind == Activation::Kind::leaky_relu)
        config["alpha"] = double(activation_.alpha);
    else
        config["activation"] = activation_.keras_name();
    return config;
}

}  // namespace tomodenoise
