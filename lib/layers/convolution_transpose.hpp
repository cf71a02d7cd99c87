#pragma once
// Transposed 2D convolution (Keras Conv2DTranspose) as oneDNN deconvolution: each input pixel
// scatters a k x k kernel into the output at stride s, out[y*s + ky - pad, x*s + kx - pad] +=
// in[y, x] * w[ky, kx] (no kernel flip), then bias and a fused activation. Output size is
// in * s for 'same' and (in - 1) * s + k for 'valid', as Keras computes it for k >= s. The
// kernel is stored in oneDNN order {out, in, k, k}; Keras stores it as (k, k, out, in).

#include <cstdint>

#include "core/layer.hpp"
#include "layers/activation.hpp"
#include "layers/convolution.hpp"
#include "layers/primitive_weights.hpp"

namespace tomodenoise {

/// Output size and the padding cropped from each end of the full scatter, for one spatial dim.
SpatialPadding transpose_padding(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                 Padding padding);

class ConvolutionTransposeLayer : public Layer {
public:
    /// `config.filters` is the number of output channels. Needs kernel >= stride: Keras pads
    /// the output of a smaller kernel, which oneDNN's deconvolution cannot express.
    ConvolutionTransposeLayer(std::string name, ConvolutionConfig config);

    std::string type() const override { return "Conv2DTranspose"; }
    /// Output pixel q = s * p - before + t (t < k) gets input pixel p.
    SpatialFootprint spatial_footprint() const override;
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

private:
    struct Geometry {
        dnnl::memory::dims src, weights, dst, strides, pad_before, pad_after;
    };
    Geometry geometry(const Dims& src) const;
    const CachedPrimitive<dnnl::deconvolution_forward>& forward_primitive(Context& ctx,
                                                                          const Dims& src,
                                                                          Mode mode);
    const Tensor& weights(Context& ctx, const dnnl::memory::desc& md);

    ConvolutionConfig config_;
    std::int64_t in_channels_ = 0;
    Parameter kernel_, bias_;

    PrimitiveWeights weights_;
    WeightGradient weight_gradient_;
    Tensor src_reordered_, diff_dst_reordered_, diff_pre_, src_for_weights_, diff_dst_for_weights_,
        diff_dst_for_data_;
};

}  // namespace tomodenoise
