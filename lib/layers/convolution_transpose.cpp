#include "layers/convolution_transpose.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

SpatialPadding transpose_padding(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                 Padding padding) {
    if (padding == Padding::valid) return {(in - 1) * stride + kernel, 0, 0};
    // TensorFlow computes the transpose as the gradient of the 'same' convolution from an
    // output of in * stride, so it crops exactly that convolution's padding.
    SpatialPadding p = spatial_padding(in * stride, kernel, stride, Padding::same);
    p.out = in * stride;
    return p;
}

SpatialFootprint ConvolutionTransposeLayer::spatial_footprint() const {
    const double s = double(config_.stride), k = double(config_.kernel);
    const double before =
        double(transpose_padding(1, config_.kernel, config_.stride, config_.padding).before);
    return {1 / s, (before - (k - 1)) / s, before / s, true};
}

ConvolutionTransposeLayer::ConvolutionTransposeLayer(std::string name, ConvolutionConfig config)
    : Layer(std::move(name)), config_(config) {
    if (config_.filters < 1 || config_.kernel < 1 || config_.stride < 1)
        throw InvalidArgument(what() + ": filters, kernel and stride must be positive (got " +
                              std::to_string(config_.filters) + ", " +
                              std::to_string(config_.kernel) + ", " +
                              std::to_string(config_.stride) + ")");
    if (config_.kernel < config_.stride)
        throw InvalidArgument(what() + ": kernel " + std::to_string(config_.kernel) +
                              " is smaller than stride " + std::to_string(config_.stride) +
                              ", which is not supported");
}

Dims ConvolutionTransposeLayer::build(const std::vector<Dims>& inputs) {
    expect_inputs(inputs, 1);
    const Dims& in = inputs[0];
    if (in_channels_ != 0 && in.c != in_channels_)
        throw ShapeError(what() + " was built for " + std::to_string(in_channels_) +
                         " input channels, got input " + in.to_string());
    if (in.count() < 1) throw ShapeError(what() + ": empty input " + in.to_string());
    if (in_channels_ == 0) {
        kernel_ =
            create_parameter(0, "kernel", {config_.filters, in.c, config_.kernel, config_.kernel});
        if (config_.use_bias) bias_ = create_parameter(1, "bias", {config_.filters});
        in_channels_ = in.c;
    }
    const auto out = geometry(in).dst;
    return Dims{out[0], out[1], out[2], out[3]};
}

void ConvolutionTransposeLayer::initialize(std::mt19937& rng) {
    // Keras reads fans from its kernel shape (k, k, out, in) as if it were a convolution's.
    const std::int64_t area = config_.kernel * config_.kernel;
    tomodenoise::initialize(kernel_, config_.kernel_initializer, config_.filters * area,
                            in_channels_ * area, rng);
    if (config_.use_bias) tomodenoise::initialize(bias_, Initializer::zeros, 0, 0, rng);
}

ConvolutionTransposeLayer::Geometry ConvolutionTransposeLayer::geometry(const Dims& src) const {
    const auto ph = transpose_padding(src.h, config_.kernel, config_.stride, config_.padding);
    const auto pw = transpose_padding(src.w, config_.kernel, config_.stride, config_.padding);
    return {src.to_dnnl(),
            {config_.filters, in_channels_, config_.kernel, config_.kernel},
            {src.n, config_.filters, ph.out, pw.out},
            {config_.stride, config_.stride},
            {ph.before, pw.before},
            {ph.after, pw.after}};
}

const CachedPrimitive<dnnl::deconvolution_forward>& ConvolutionTransposeLayer::forward_primitive(
    Context& ctx, const Dims& src, Mode mode) {
    const auto g = geometry(src);
    const auto prop = mode == Mode::training ? dnnl::prop_kind::forward_training
                                             : dnnl::prop_kind::forward_inference;
    // Source, weights and output in the context's type (bf16: f32 accumulation, f32 bias).
    const auto type = ctx.compute_type(in_channels_, config_.filters);
    CacheKey key("deconv_fwd");
    key << int(prop) << g.src << g.weights << g.strides << g.pad_before << g.pad_after
        << config_.use_bias << int(config_.activation.kind) << config_.activation.alpha
        << int(type);
    return ctx.cache().get<dnnl::deconvolution_forward>(
        key, what() + " forward on input " + src.to_string(), [&] {
            dnnl::deconvolution_forward::desc d(
                prop, dnnl::algorithm::deconvolution_direct, any_desc(g.src, type),
                any_desc(g.weights, type), bias_desc(config_.filters, config_.use_bias),
                any_desc(g.dst, type), g.strides, g.pad_before, g.pad_after);
            return dnnl::deconvolution_forward::primitive_desc(
                d, fused_activation_attr(config_.activation), cpu_engine());
        });
}

const Tensor& ConvolutionTransposeLayer::weights(Context& ctx, const dnnl::memory::desc& md) {
    return weights_.laid_out(ctx, kernel_, kernel_.desc(), md,
                             what() + " kernel " + kernel_.shape_string());
}

void ConvolutionTransposeLayer::forward(Context& ctx, const std::vector<const Tensor*>& src,
                                        Tensor& dst, Mode mode) {
    const Tensor& x = *src.at(0);
    auto& deconv = forward_primitive(ctx, x.dims(), mode);
    const Tensor& xs = ctx.as_layout(x, deconv.pd.src_desc(), src_reordered_);
    const Tensor& w = weights(ctx, deconv.pd.weights_desc());
    dst.reshape(deconv.pd.dst_desc());
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, xs.memory()}, {DNNL_ARG_WEIGHTS, w.memory()}, {DNNL_ARG_DST, dst.memory()}};
    if (config_.use_bias) args[DNNL_ARG_BIAS] = bias_.value_memory();
    deconv.primitive.execute(ctx.stream(), args);
}

void ConvolutionTransposeLayer::backward(Context& ctx, const std::vector<const Tensor*>& src,
                                         const Tensor& dst, const Tensor& diff_dst,
                                         const std::vector<Tensor*>& diff_src) {
    const Tensor& x = *src.at(0);
    auto& fwd = forward_primitive(ctx, x.dims(), Mode::training);
    const auto g = geometry(x.dims());
    const std::string where = what() + " backward on input " + x.dims().to_string();
    const auto algo = dnnl::algorithm::deconvolution_direct;

    const Tensor& diff_pre = fused_activation_backward(
        ctx, config_.activation, dst, ctx.as_layout(diff_dst, dst.desc(), diff_dst_reordered_),
        diff_pre_, where);

    // bf16 training: bf16 activations and gradients in, f32 weight and bias gradients out.
    const auto type = ctx.compute_type(in_channels_, config_.filters);
    if (parameter_gradients()) {
        auto& bww = ctx.cache().get<dnnl::deconvolution_backward_weights>(
            CacheKey("deconv_bww") << g.src << g.weights << g.strides << g.pad_before << g.pad_after
                                   << config_.use_bias << int(type),
            where, [&] {
                dnnl::deconvolution_backward_weights::desc d(
                    algo, any_desc(g.src, type), any_desc(g.weights),
                    bias_desc(config_.filters, config_.use_bias), any_desc(g.dst, type), g.strides,
                    g.pad_before, g.pad_after);
                return dnnl::deconvolution_backward_weights::primitive_desc(d, cpu_engine(),
                                                                            fwd.pd);
            });
        weight_gradient_.compute(
            ctx, bww.primitive, bww.pd.diff_weights_desc(),
            ctx.as_layout(x, bww.pd.src_desc(), src_for_weights_).memory(),
            ctx.as_layout(diff_pre, bww.pd.diff_dst_desc(), diff_dst_for_weights_).memory(),
            kernel_.grad_memory(), config_.use_bias ? &bias_ : nullptr, where);
    }

    if (diff_src.empty() || !diff_src[0]) return;
    auto& bwd = ctx.cache().get<dnnl::deconvolution_backward_data>(
        CacheKey("deconv_bwd") << g.src << g.weights << g.strides << g.pad_before << g.pad_after
                               << int(type),
        where, [&] {
            dnnl::deconvolution_backward_data::desc d(
                algo, any_desc(g.src, type), any_desc(g.weights, type), any_desc(g.dst, type),
                g.strides, g.pad_before, g.pad_after);
            return dnnl::deconvolution_backward_data::primitive_desc(d, cpu_engine(), fwd.pd);
        });
    const Tensor& w = weights(ctx, bwd.pd.weights_desc());
    const Tensor& dd2 = ctx.as_layout(diff_pre, bwd.pd.diff_dst_desc(), diff_dst_for_data_);
    diff_src[0]->reshape(bwd.pd.diff_src_desc());
    bwd.primitive.execute(ctx.stream(), {{DNNL_ARG_DIFF_DST, dd2.memory()},
                                         {DNNL_ARG_WEIGHTS, w.memory()},
                                         {DNNL_ARG_DIFF_SRC, diff_src[0]->memory()}});
}

std::vector<Parameter*> ConvolutionTransposeLayer::parameters() {
    if (config_.use_bias) return {&kernel_, &bias_};
    return {&kernel_};
}

}  // namespace tomodenoise
