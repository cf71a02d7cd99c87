#pragma once
// Softmax over channels (axis 1 of NCHW, Keras's last axis under channels_last), saved as a
// Keras Activation layer with activation "softmax". Works in the layout of its input.

#include "core/layer.hpp"

namespace tomodenoise {

class SoftmaxLayer : public Layer {
public:
    explicit SoftmaxLayer(std::string name) : Layer(std::move(name)) {}

    std::string type() const override { return "Activation"; }
    SpatialFootprint spatial_footprint() const override { return SpatialFootprint::pointwise(); }
    Dims build(const std::vector<Dims>& inputs) override;
    /// dst is laid out as src.
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    /// diff_src is laid out as dst.
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;

private:
    const CachedPrimitive<dnnl::softmax_forward>& forward_primitive(Context& ctx,
                                                                    const dnnl::memory::desc& md,
                                                                    Mode mode);

    Tensor diff_dst_reordered_;
};

}  // namespace tomodenoise
