#pragma once
// Concatenation along channels (Keras Concatenate, axis -1 in channels_last) of two or more
// inputs with equal batch, height and width: the U-Net's skip connections. oneDNN concat
// chooses the output layout; backward hands each input its channel range of the gradient.

#include "core/layer.hpp"

namespace tomodenoise {

class ConcatenationLayer : public Layer {
public:
    explicit ConcatenationLayer(std::string name) : Layer(std::move(name)) {}

    std::string type() const override { return "Concatenate"; }
    SpatialFootprint spatial_footprint() const override { return SpatialFootprint::pointwise(); }
    std::size_t input_count() const override { return 0; }
    bool concatenates_channels() const override { return true; }
    /// Throws ShapeError naming the layer and every input's dims for fewer than two inputs or
    /// inputs that differ in batch, height or width.
    Dims build(const std::vector<Dims>& inputs) override;
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    /// Each input's gradient comes back in that input's layout.
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;

private:
    /// Whether every input is nChw16c with whole 16-channel blocks (the U-Net's skips in
    /// training): the concatenation is then, image by image, one contiguous run per input,
    /// which copy_channel_ranges copies. oneDNN runs such concatenations, and the reorders of
    /// channel-range views that split a gradient, with generic element-by-element kernels.
    static bool whole_blocks(const std::vector<const Tensor*>& src);
    /// Copies each part into its channel range of `into_whole` (nChw16c of `all`), or, when
    /// that is null, out of `out_of_whole` into `diff_parts` (those not null; laid out as the
    /// parts).
    static void copy_channel_ranges(const std::vector<const Tensor*>& parts, const Dims& all,
                                    float* into_whole, const float* out_of_whole,
                                    const std::vector<Tensor*>& diff_parts = {});

    std::vector<Tensor> inputs_reordered_;
    Tensor diff_dst_plain_;
    std::vector<dnnl::memory> diff_views_;  // channel ranges of the gradient, one per input
};

}  // namespace tomodenoise
