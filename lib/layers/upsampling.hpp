#pragma once
// 2D upsampling by an integer factor (Keras UpSampling2D): nearest neighbour, or bilinear with
// half-pixel centres as TF2's tf.image.resize (source coordinate (dst + 0.5) / factor - 0.5,
// clamped to the image). oneDNN resampling in the input's layout, forward and backward.

#include <cstdint>

#include "core/layer.hpp"

namespace tomodenoise {

enum class Interpolation { nearest, bilinear };

struct UpsamplingConfig {
    std::int64_t factor = 2;
    Interpolation interpolation = Interpolation::nearest;
};

class UpsamplingLayer : public Layer {
public:
    UpsamplingLayer(std::string name, UpsamplingConfig config = {});

    std::string type() const override { return "UpSampling2D"; }
    /// Nearest: output q reads input floor(q / f); bilinear: the two inputs around
    /// (q + 0.5) / f - 0.5.
    SpatialFootprint spatial_footprint() const override;
    /// Throws ShapeError naming the layer and the input dims for a factor below 1.
    Dims build(const std::vector<Dims>& inputs) override;
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;

    const UpsamplingConfig& config() const { return config_; }

private:
    dnnl::algorithm algorithm() const;
    const CachedPrimitive<dnnl::resampling_forward>& forward_primitive(
        Context& ctx, const dnnl::memory::desc& src, Mode mode);

    UpsamplingConfig config_;
    Tensor diff_dst_reordered_;
};

}  // namespace tomodenoise
