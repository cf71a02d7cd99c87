#include "layers/convolution.hpp"

#include <cstring>
#include <optional>

#include "layers/activation_layer.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

// Winograd F(4x4, 3x3) pays off only once both channel counts are large enough to amortize
// its transforms (measured in bench/bench_convolution: slower than direct for 8 -> 32).
constexpr std::int64_t winograd_min_channels = 16;

}  // namespace

SpatialPadding spatial_padding(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                               Padding padding) {
    SpatialPadding p;
    if (padding == Padding::valid) {
        p.out = in >= kernel ? (in - kernel) / stride + 1 : 0;
        return p;
    }
    p.out = (in + stride - 1) / stride;
    const std::int64_t total = std::max<std::int64_t>((p.out - 1) * stride + kernel - in, 0);
    p.before = total / 2;
    p.after = total - p.before;
    return p;
}

SpatialFootprint window_footprint(std::int64_t kernel, std::int64_t stride, Padding padding) {
    // Any input size that is a multiple of the stride pads the same.
    const double before = double(spatial_padding(kernel * stride, kernel, stride, padding).before);
    return {double(stride), -before, double(kernel - 1) - before, true};
}

ConvolutionLayer::ConvolutionLayer(std::string name, ConvolutionConfig config)
    : Layer(std::move(name)), config_(config) {
    if (config_.filters < 1 || config_.kernel < 1 || config_.stride < 1)
        throw InvalidArgument(what() + ": filters, kernel and stride must be positive (got " +
                              std::to_string(config_.filters) + ", " +
                              std::to_string(config_.kernel) + ", " +
                              std::to_string(config_.stride) + ")");
}

Dims ConvolutionLayer::build(const std::vector<Dims>& inputs) {
    expect_inputs(inputs, 1);
    const Dims& in = inputs[0];
    if (in_channels_ != 0 && in.c != in_channels_)
        throw ShapeError(what() + " was built for " + std::to_string(in_channels_) +
                         " input channels, got input " + in.to_string());
    const auto ph = spatial_padding(in.h, config_.kernel, config_.stride, config_.padding);
    const auto pw = spatial_padding(in.w, config_.kernel, config_.stride, config_.padding);
    if (ph.out < 1 || pw.out < 1)
        throw ShapeError(what() + ": input " + in.to_string() + " is smaller than the " +
                         std::to_string(config_.kernel) + "x" + std::to_string(config_.kernel) +
                         " kernel with 'valid' padding");
    if (in_channels_ == 0) {
        kernel_ =
            create_parameter(0, "kernel", {config_.filters, in.c, config_.kernel, config_.kernel});
        if (config_.use_bias) bias_ = create_parameter(1, "bias", {config_.filters});
        in_channels_ = in.c;
    }
    return Dims{in.n, config_.filters, ph.out, pw.out};
}

void ConvolutionLayer::initialize(std::mt19937& rng) {
    const std::int64_t area = config_.kernel * config_.kernel;
    tomodenoise::initialize(kernel_, config_.kernel_initializer, in_channels_ * area,
                            config_.filters * area, rng);
    if (config_.use_bias) tomodenoise::initialize(bias_, Initializer::zeros, 0, 0, rng);
}

ConvolutionLayer::Geometry ConvolutionLayer::geometry(const Dims& src) const {
    const auto ph = spatial_padding(src.h, config_.kernel, config_.stride, config_.padding);
    const auto pw = spatial_padding(src.w, config_.kernel, config_.stride, config_.padding);
    return {{config_.stride, config_.stride}, {ph.before, pw.before}, {ph.after, pw.after}};
}

bool ConvolutionLayer::wants_winograd(const Context& ctx) const {
    // Winograd is f32 only, oneDNN's as the library's: bf16 computes direct.
    return ctx.convolution_algorithm() == ConvolutionAlgorithm::automatic &&
           ctx.compute_type(in_channels_, config_.filters) == dnnl::memory::data_type::f32 &&
           config_.kernel == 3 && config_.stride == 1 && in_channels_ >= winograd_min_channels &&
           config_.filters >= winograd_min_channels;
}

bool ConvolutionLayer::uses_own_winograd(const Context& ctx) const {
    return wants_winograd(ctx) && config_.padding == Padding::same &&
           WinogradConvolution::cpu_supported() &&
           WinogradConvolution::fits(in_channels_, config_.filters, config_.activation);
}

const CachedPrimitive<dnnl::convolution_forward>& ConvolutionLayer::forward_primitive(
    Context& ctx, const Dims& src, Mode mode, const dnnl::memory::desc* incoming) {
    const auto g = geometry(src);
    const auto ph = spatial_padding(src.h, config_.kernel, config_.stride, config_.padding);
    const auto pw = spatial_padding(src.w, config_.kernel, config_.stride, config_.padding);
    const dnnl::memory::dims src_dims = src.to_dnnl();
    const dnnl::memory::dims dst_dims = {src.n, config_.filters, ph.out, pw.out};
    const dnnl::memory::dims w_dims = {config_.filters, in_channels_, config_.kernel,
                                       config_.kernel};
    const bool winograd = wants_winograd(ctx);
    // Source, weights and output in the context's type (bf16: f32 accumulation, f32 bias).
    const auto type = ctx.compute_type(in_channels_, config_.filters);
    // At inference a direct convolution reads an input that arrives in oneDNN's blocked
    // layout as it is, so that the layout flows between layers without reorders. Only with
    // whole 16-channel output blocks: a padded blocked output costs more to read than a
    // reorder saves.
    const bool keep_incoming = mode == Mode::inference && !winograd && config_.filters % 16 == 0 &&
                               incoming && *incoming == blocked_desc(src, type);
    const auto prop = mode == Mode::training ? dnnl::prop_kind::forward_training
                                             : dnnl::prop_kind::forward_inference;
    CacheKey key("conv_fwd");
    key << int(prop) << winograd << src_dims << w_dims << g.strides << g.pad_before << g.pad_after
        << config_.use_bias << int(config_.activation.kind) << config_.activation.alpha
        << keep_incoming << int(type);
    if (keep_incoming) key << *incoming;
    return ctx.cache().get<dnnl::convolution_forward>(
        key, what() + " forward on input " + src.to_string(), [&] {
            const auto attr = fused_activation_attr(config_.activation);
            auto make = [&](dnnl::algorithm algo, const dnnl::memory::desc& src_md,
                            const dnnl::memory::desc& dst_md) {
                dnnl::convolution_forward::desc d(prop, algo, src_md, any_desc(w_dims, type),
                                                  bias_desc(config_.filters, config_.use_bias),
                                                  dst_md, g.strides, g.pad_before, g.pad_after);
                return dnnl::convolution_forward::primitive_desc(d, attr, cpu_engine());
            };
            // A preferred choice that oneDNN lacks, or has only as a reference kernel, gives
            // way to the next one; direct convolution in oneDNN's layouts is always there.
            using Pd = dnnl::convolution_forward::primitive_desc;
            auto optimized = [&](dnnl::algorithm algo, const dnnl::memory::desc& src_md,
                                 const dnnl::memory::desc& dst_md) -> std::optional<Pd> {
                try {
                    Pd pd = make(algo, src_md, dst_md);
                    if (std::string(pd.impl_info_str()).rfind("ref", 0) != 0) return pd;
                } catch (const dnnl::error&) {
                }
                return std::nullopt;
            };
            std::optional<Pd> pd;
            if (winograd)
                pd = optimized(dnnl::algorithm::convolution_winograd, any_desc(src_dims),
                               any_desc(dst_dims));
            if (!pd && keep_incoming)
                pd = optimized(dnnl::algorithm::convolution_direct, *incoming,
                               any_desc(dst_dims, type));
            return pd ? *pd
                      : make(dnnl::algorithm::convolution_direct, any_desc(src_dims, type),
                             any_desc(dst_dims, type));
        });
}

dnnl::memory::desc ConvolutionLayer::preferred_src_desc(Context& ctx, const Dims& src, Mode mode) {
    if (uses_own_winograd(ctx)) return blocked_desc(src);
    return forward_primitive(ctx, src, mode).pd.src_desc();
}

void ConvolutionLayer::forward_own_winograd(Context& ctx, const Tensor& x, Tensor& dst) {
    const Dims& in = x.dims();
    const Tensor& xs = ctx.as_layout(x, blocked_desc(in), src_reordered_);
    dst.reshape(blocked_desc(Dims{in.n, config_.filters, in.h, in.w}));
    const std::uint64_t bias_version = config_.use_bias ? bias_.version() : 0;
    if (kernel_.version() != own_winograd_kernel_version_ ||
        bias_version != own_winograd_bias_version_) {
        own_winograd_.set_weights(kernel_.value(), config_.use_bias ? bias_.value() : nullptr,
                                  config_.filters, in_channels_);
        own_winograd_kernel_version_ = kernel_.version();
        own_winograd_bias_version_ = bias_version;
    }
    own_winograd_.forward(xs.data(), dst.data(), in.n, in.h, in.w, config_.activation);
    implementation_ = "winograd_4x3:avx512 (tomodenoise)";
}

const Tensor& ConvolutionLayer::weights(Context& ctx, const dnnl::memory::desc& md) {
    return weights_.laid_out(ctx, kernel_, kernel_.desc(), md,
                             what() + " kernel " + kernel_.shape_string());
}

void ConvolutionLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                               Mode mode) {
    const Tensor& x = *src.at(0);
    if (uses_own_winograd(ctx)) return forward_own_winograd(ctx, x, dst);
    auto& conv = forward_primitive(ctx, x.dims(), mode, &x.desc());
    implementation_ = conv.pd.impl_info_str();
    const Tensor& xs = ctx.as_layout(x, conv.pd.src_desc(), src_reordered_);
    const Tensor& w = weights(ctx, conv.pd.weights_desc());
    dst.reshape(conv.pd.dst_desc());
    std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, xs.memory()}, {DNNL_ARG_WEIGHTS, w.memory()}, {DNNL_ARG_DST, dst.memory()}};
    if (config_.use_bias) args[DNNL_ARG_BIAS] = bias_.value_memory();
    conv.primitive.execute(ctx.stream(), args);
}

void ConvolutionLayer::backward(Context& ctx, const std::vector<const Tensor*>& src,
                                const Tensor& dst, const Tensor& diff_dst,
                                const std::vector<Tensor*>& diff_src) {
    const Tensor& x = *src.at(0);
    const std::string where = what() + " backward on input " + x.dims().to_string();
    const Tensor& dd_as_dst = ctx.as_layout(diff_dst, dst.desc(), diff_dst_reordered_);
    const bool wants_diff_src = !diff_src.empty() && diff_src[0];
    if (uses_own_winograd(ctx) && config_.activation.kind == Activation::Kind::relu &&
        parameter_gradients()) {
        // The weights pass takes the gradient through the ReLU itself, writing it out for
        // backward-data: one pass over the output's gradient fewer than a separate eltwise.
        const Tensor& xs = ctx.as_layout(x, blocked_desc(x.dims()), src_for_weights_);
        if (wants_diff_src) diff_pre_.reshape(dst.desc());
        own_winograd_.backward_weights(xs.data(), dd_as_dst.data(), dst.data(),
                                       wants_diff_src ? diff_pre_.data() : nullptr, x.dims().n,
                                       x.dims().h, x.dims().w, kernel_.grad(),
                                       config_.use_bias ? bias_.grad() : nullptr);
        if (wants_diff_src) backward_data_own_winograd(x.dims(), diff_pre_, *diff_src[0]);
        return;
    }
    const Tensor& diff_pre =
        fused_activation_backward(ctx, config_.activation, dst, dd_as_dst, diff_pre_, where);
    if (uses_own_winograd(ctx)) {
        // The forward ran the library's kernel, which set up own_winograd_ for this layer.
        const Tensor& dd = ctx.as_layout(diff_pre, blocked_desc(dst.dims()), diff_dst_for_data_);
        if (parameter_gradients()) {
            const Tensor& xs = ctx.as_layout(x, blocked_desc(x.dims()), src_for_weights_);
            own_winograd_.backward_weights(xs.data(), dd.data(), nullptr, nullptr, x.dims().n,
                                           x.dims().h, x.dims().w, kernel_.grad(),
                                           config_.use_bias ? bias_.grad() : nullptr);
        }
        if (wants_diff_src) backward_data_own_winograd(x.dims(), dd, *diff_src[0]);
        return;
    }

    auto& fwd = forward_primitive(ctx, x.dims(), Mode::training);
    const auto g = geometry(x.dims());
    const auto algo = std::strstr(fwd.pd.impl_info_str(), "wino") != nullptr
                          ? dnnl::algorithm::convolution_winograd
                          : dnnl::algorithm::convolution_direct;
    const dnnl::memory::dims src_dims = x.dims().to_dnnl();
    const dnnl::memory::dims w_dims = kernel_.shape();
    const dnnl::memory::dims dst_dims = dst.dims().to_dnnl();

    // bf16 training: bf16 activations and gradients in, f32 weight and bias gradients out (the
    // optimizer keeps f32 master weights).
    const auto type = ctx.compute_type(in_channels_, config_.filters);
    if (parameter_gradients()) {
        auto& bww = ctx.cache().get<dnnl::convolution_backward_weights>(
            CacheKey("conv_bww") << int(algo) << src_dims << w_dims << g.strides << g.pad_before
                                 << g.pad_after << config_.use_bias << int(type),
            where, [&] {
                dnnl::convolution_backward_weights::desc d(
                    algo, any_desc(src_dims, type), any_desc(w_dims),
                    bias_desc(config_.filters, config_.use_bias), any_desc(dst_dims, type),
                    g.strides, g.pad_before, g.pad_after);
                return dnnl::convolution_backward_weights::primitive_desc(d, cpu_engine(), fwd.pd);
            });
        weight_gradient_.compute(
            ctx, bww.primitive, bww.pd.diff_weights_desc(),
            ctx.as_layout(x, bww.pd.src_desc(), src_for_weights_).memory(),
            ctx.as_layout(diff_pre, bww.pd.diff_dst_desc(), diff_dst_for_weights_).memory(),
            kernel_.grad_memory(), config_.use_bias ? &bias_ : nullptr, where);
    }

    if (!wants_diff_src) return;
    auto& bwd = ctx.cache().get<dnnl::convolution_backward_data>(
        CacheKey("conv_bwd") << int(algo) << src_dims << w_dims << g.strides << g.pad_before
                             << g.pad_after << int(type),
        where, [&] {
            dnnl::convolution_backward_data::desc d(
                algo, any_desc(src_dims, type), any_desc(w_dims, type), any_desc(dst_dims, type),
                g.strides, g.pad_before, g.pad_after);
            return dnnl::convolution_backward_data::primitive_desc(d, cpu_engine(), fwd.pd);
        });
    const Tensor& w = weights(ctx, bwd.pd.weights_desc());
    const Tensor& dd2 = ctx.as_layout(diff_pre, bwd.pd.diff_dst_desc(), diff_dst_for_data_);
    diff_src[0]->reshape(bwd.pd.diff_src_desc());
    bwd.primitive.execute(ctx.stream(), {{DNNL_ARG_DIFF_DST, dd2.memory()},
                                         {DNNL_ARG_WEIGHTS, w.memory()},
                                         {DNNL_ARG_DIFF_SRC, diff_src[0]->memory()}});
}

void ConvolutionLayer::backward_data_own_winograd(const Dims& src, const Tensor& dd,
                                                  Tensor& diff_src) {
    if (kernel_.version() != own_winograd_backward_version_) {
        own_winograd_backward_.set_weights(kernel_.value(), nullptr, config_.filters, in_channels_,
                                           WinogradConvolution::KernelUse::backward_data);
        own_winograd_backward_version_ = kernel_.version();
    }
    diff_src.reshape(blocked_desc(src));
    own_winograd_backward_.forward(dd.data(), diff_src.data(), src.n, src.h, src.w,
                                   Activation::linear());
}

std::vector<Parameter*> ConvolutionLayer::parameters() {
    if (config_.use_bias) return {&kernel_, &bias_};
    return {&kernel_};
}

}  // namespace tomodenoise
