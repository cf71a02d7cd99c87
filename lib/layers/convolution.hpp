#pragma once
// 2D convolution (Keras Conv2D): k x k kernel, stride 1 or 2, 'same' or 'valid' padding, bias,
// and an activation fused as a oneDNN post-op. 3x3 stride-1 layers wide enough to gain run
// Winograd unless the context asks for direct: the library's own kernel (WinogradConvolution)
// where the CPU and layer fit it, forward and backward-data, otherwise oneDNN's where
// implemented, in every pass (forward, backward-data, backward-weights with the bias gradient).

#include <cstdint>

#include "core/layer.hpp"
#include "layers/activation.hpp"
#include "layers/initializer.hpp"
#include "layers/primitive_weights.hpp"
#include "layers/winograd_convolution.hpp"

namespace tomodenoise {

enum class Padding { same, valid };

struct ConvolutionConfig {
    std::int64_t filters = 1;
    std::int64_t kernel = 3;
    std::int64_t stride = 1;
    Padding padding = Padding::same;
    bool use_bias = true;
    Activation activation = Activation::linear();
    Initializer kernel_initializer = Initializer::glorot_uniform;
};

/// Leading and trailing padding for one spatial dim, as TensorFlow computes 'same'.
struct SpatialPadding {
    std::int64_t out = 0, before = 0, after = 0;
};
SpatialPadding spatial_padding(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                               Padding padding);
/// The pixels a kernel x kernel window every `stride` pixels reads (convolution, pooling), on
/// inputs whose size is a multiple of the stride.
SpatialFootprint window_footprint(std::int64_t kernel, std::int64_t stride, Padding padding);

class ConvolutionLayer : public Layer {
public:
    ConvolutionLayer(std::string name, ConvolutionConfig config);

    std::string type() const override { return "Conv2D"; }
    SpatialFootprint spatial_footprint() const override {
        return window_footprint(config_.kernel, config_.stride, config_.padding);
    }
    Dims build(const std::vector<Dims>& inputs) override;
    void initialize(std::mt19937& rng) override;
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;
    std::vector<Parameter*> parameters() override;

    const ConvolutionConfig& config() const { return config_; }
    std::int64_t input_channels() const { return in_channels_; }
    Parameter& kernel() { return kernel_; }
    Parameter& bias() { return bias_; }
    /// The layout this layer's forward primitive reads its input in, for inputs of `src` dims:
    /// feeding it so costs no reorder.
    dnnl::memory::desc preferred_src_desc(Context& ctx, const Dims& src, Mode mode);
    /// oneDNN's implementation for the last forward ("brgconv:avx512_core", ...).
    std::string implementation() const { return implementation_; }

private:
    struct Geometry {
        dnnl::memory::dims strides, pad_before, pad_after;
    };
    Geometry geometry(const Dims& src) const;
    bool wants_winograd(const Context& ctx) const;
    bool uses_own_winograd(const Context& ctx) const;
    /// `incoming`, when given, is the layout the input arrives in: a direct convolution is
    /// asked to read it as it is (no reorder) and falls back to oneDNN's choice.
    const CachedPrimitive<dnnl::convolution_forward>& forward_primitive(
        Context& ctx, const Dims& src, Mode mode, const dnnl::memory::desc* incoming = nullptr);
    const Tensor& weights(Context& ctx, const dnnl::memory::desc& md);
    void forward_own_winograd(Context& ctx, const Tensor& x, Tensor& dst);
    /// diff_src (input dims `src`, nChw16c) from `dd`, the gradient before the activation in
    /// nChw16c.
    void backward_data_own_winograd(const Dims& src, const Tensor& dd, Tensor& diff_src);

    ConvolutionConfig config_;
    std::int64_t in_channels_ = 0;
    Parameter kernel_, bias_;

    PrimitiveWeights weights_;
    WeightGradient weight_gradient_;
    WinogradConvolution own_winograd_, own_winograd_backward_;
    std::uint64_t own_winograd_kernel_version_ = 0, own_winograd_bias_version_ = 0,
                  own_winograd_backward_version_ = 0;
    Tensor src_reordered_, diff_dst_reordered_, diff_pre_, src_for_weights_, diff_dst_for_weights_,
        diff_dst_for_data_;
    // Owned by the cached primitive descriptor, which lives as long as the cache: kept as
    // a pointer so that forward copies no string.
    const char* implementation_ = "";
};

}  // namespace tomodenoise
