#pragma once
// 2D max pooling (Keras MaxPooling2D): pool x pool windows every `stride` pixels, 'valid' or
// TensorFlow 'same' padding (odd sizes round up; padded cells never win). Works in its input's
// layout; training keeps oneDNN's workspace (the arg-max of each window) for backward.

#include <cstdint>

#include "core/layer.hpp"
#include "layers/convolution.hpp"

namespace tomodenoise {

struct MaxPoolingConfig {
    std::int64_t pool = 2;
    std::int64_t stride = 2;
    Padding padding = Padding::valid;  ///< Keras's default
};

class MaxPoolingLayer : public Layer {
public:
    MaxPoolingLayer(std::string name, MaxPoolingConfig config = {});

    std::string type() const override { return "MaxPooling2D"; }
    SpatialFootprint spatial_footprint() const override {
        return window_footprint(config_.pool, config_.stride, config_.padding);
    }
    Dims build(const std::vector<Dims>& inputs) override;
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    /// Throws InvalidArgument unless the last training-mode forward ran on src's dims and
    /// layout: the workspace it kept says which cell of each window won.
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;

    const MaxPoolingConfig& config() const { return config_; }

private:
    struct Geometry {
        dnnl::memory::dims dst, strides, kernel, pad_before, pad_after;
    };
    Geometry geometry(const Dims& src) const;
    const CachedPrimitive<dnnl::pooling_forward>& forward_primitive(Context& ctx,
                                                                    const dnnl::memory::desc& src,
                                                                    Mode mode);

    MaxPoolingConfig config_;
    dnnl::memory workspace_;
    dnnl::memory::desc workspace_src_;  // src layout of the training forward that filled it
    Tensor diff_dst_reordered_;
};

}  // namespace tomodenoise
