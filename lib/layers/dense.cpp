#include "layers/dense.hpp"

#include "core/engine.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// oneDNN's inner product takes a 2D {N, units} dst while the framework's tensors are
// (N, units, 1, 1); plain, both are the same bytes.
dnnl::memory::desc matrix_desc(const Dims& flat) {
    return dnnl::memory::desc({flat.n, flat.c}, dt::f32, tag::nc);
}

// oneDNN memory handles are non-const; the primitives only read the inputs given this way.
dnnl::memory storage_as(const dnnl::memory::desc& md, const float* data) {
    return dnnl::memory(md, cpu_engine(), const_cast<float*>(data));
}

}  // namespace

DenseLayer::DenseLayer(std::string name, DenseConfig config)
    : Layer(std::move(name)), config_(config) {
    if (config_.units < 1)
        throw InvalidArgument(what() + ": units must be positive, got " +
                              std::to_string(config_.units));
}

Dims DenseLayer::build(const std::vector<Dims>& inputs) {
    expect_inputs(inputs, 1);
    const Dims& in = inputs[0];
    if (in.h != 1 || in.w != 1 || in.c < 1)
        throw ShapeError(what() + " needs a flat input (N, C, 1, 1), got " + in.to_string() +
                         ": put a Flatten layer before it");
    if (in_features_ != 0 && in.c != in_features_)
        throw ShapeError(what() + " was built for " + std::to_string(in_features_) +
                         " input features, got input " + in.to_string());
    if (in_features_ == 0) {
        kernel_ = create_parameter(0, "kernel", {config_.units, in.c});
        if (config_.use_bias) bias_ = create_parameter(1, "bias", {config_.units});
        in_features_ = in.c;
    }
    return Dims{in.n, config_.units, 1, 1};
}

void DenseLayer::initialize(std::mt19937& rng) {
    tomodenoise::initialize(kernel_, config_.kernel_initializer, in_features_, config_.units, rng);
    if (config_.use_bias) tomodenoise::initialize(bias_, Initializer::zeros, 0, 0, rng);
}

dnnl::memory::desc DenseLayer::kernel_as_weights() const {
    return kernel_.desc().reshape({config_.units, in_features_, 1, 1});
}

const CachedPrimitive<dnnl::inner_product_forward>& DenseLayer::forward_primitive(
    Context& ctx, const dnnl::memory::desc& src, Mode mode) {
    const Dims in = dims_of(src);
    const auto prop = mode == Mode::training ? dnnl::prop_kind::forward_training
                                             : dnnl::prop_kind::forward_inference;
    CacheKey key("dense_fwd");
    key << int(prop) << src << config_.units << config_.use_bias << int(config_.activation.kind)
        << config_.activation.alpha;
    return ctx.cache().get<dnnl::inner_product_forward>(
        key, what() + " forward on input " + in.to_string(), [&] {
            dnnl::inner_product_forward::desc d(prop, src, any_desc({config_.units, in.c, 1, 1}),
                                                bias_desc(config_.units, config_.use_bias),
                                                matrix_desc({in.n, config_.units, 1, 1}));
            return dnnl::inner_product_forward::primitive_desc(
                d, fused_activation_attr(config_.activation), cpu_engine());
        });
}

const Tensor& DenseLayer::weights(Context& ctx, const dnnl::memory::desc& md) {
    return weights_.laid_out(ctx, kernel_, kernel_as_weights(), md,
                             what() + " kernel " + kernel_.shape_string());
}

void DenseLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                         Mode mode) {
    const Tensor& x = *src.at(0);
    auto& ip = forward_primitive(ctx, x.desc(), mode);
    const Tensor& w = weights(ctx, ip.pd.weights_desc());
    dst.reshape(Dims{x.dims().n, config_.units, 1, 1});
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, x.memory()},
        {DNNL_ARG_WEIGHTS, w.memory()},
        {DNNL_ARG_DST, storage_as(ip.pd.dst_desc(), dst.data())}};
    if (config_.use_bias) args[DNNL_ARG_BIAS] = bias_.value_memory();
    ip.primitive.execute(ctx.stream(), args);
}

void DenseLayer::backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                          const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) {
    const Tensor& x = *src.at(0);
    auto& fwd = forward_primitive(ctx, x.desc(), Mode::training);
    const std::string where = what() + " backward on input " + x.dims().to_string();
    const dnnl::memory::desc w_any = any_desc({config_.units, in_features_, 1, 1});
    const auto dst_matrix = matrix_desc(dst.dims());

    // dst is plain, so the gradient before the activation is too and reads as a matrix.
    const Tensor& diff_pre = fused_activation_backward(
        ctx, config_.activation, dst, ctx.as_layout(diff_dst, dst.desc(), diff_dst_reordered_),
        diff_pre_, where);
    const dnnl::memory diff_pre_matrix = storage_as(dst_matrix, diff_pre.data());

    if (parameter_gradients()) {
        auto& bww = ctx.cache().get<dnnl::inner_product_backward_weights>(
            CacheKey("dense_bww") << x.desc() << config_.units << config_.use_bias, where, [&] {
                dnnl::inner_product_backward_weights::desc d(
                    x.desc(), w_any, bias_desc(config_.units, config_.use_bias), dst_matrix);
                return dnnl::inner_product_backward_weights::primitive_desc(d, cpu_engine(),
                                                                            fwd.pd);
            });
        weight_gradient_.compute(ctx, bww.primitive, bww.pd.diff_weights_desc(), x.memory(),
                                 diff_pre_matrix, storage_as(kernel_as_weights(), kernel_.grad()),
                                 config_.use_bias ? &bias_ : nullptr, where);
    }

    if (diff_src.empty() || !diff_src[0]) return;
    auto& bwd = ctx.cache().get<dnnl::inner_product_backward_data>(
        CacheKey("dense_bwd") << x.desc() << config_.units, where, [&] {
            dnnl::inner_product_backward_data::desc d(x.desc(), w_any, dst_matrix);
            return dnnl::inner_product_backward_data::primitive_desc(d, cpu_engine(), fwd.pd);
        });
    const Tensor& w = weights(ctx, bwd.pd.weights_desc());
    diff_src[0]->reshape(x.desc());
    bwd.primitive.execute(ctx.stream(), {{DNNL_ARG_DIFF_DST, diff_pre_matrix},
                                         {DNNL_ARG_WEIGHTS, w.memory()},
                                         {DNNL_ARG_DIFF_SRC, diff_src[0]->memory()}});
}

std::vector<Parameter*> DenseLayer::parameters() {
    if (config_.use_bias) return {&kernel_, &bias_};
    return {&kernel_};
}

}  // namespace tomodenoise
