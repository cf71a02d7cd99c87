#pragma once
// Element-wise sum of two or more inputs of identical dims (Keras Add): residual connections.
// oneDNN sum, whose output takes the inputs' layout; backward copies the output's gradient to
// every input.

#include "core/layer.hpp"

namespace tomodenoise {

class AddLayer : public Layer {
public:
    explicit AddLayer(std::string name) : Layer(std::move(name)) {}

    std::string type() const override { return "Add"; }
    SpatialFootprint spatial_footprint() const override { return SpatialFootprint::pointwise(); }
    std::size_t input_count() const override { return 0; }
    /// Throws ShapeError naming the layer and every input's dims for fewer than two inputs or
    /// inputs whose dims differ.
    Dims build(const std::vector<Dims>& inputs) override;
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    /// Each input's gradient comes back in that input's layout.
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;

private:
    std::vector<Tensor> inputs_reordered_;
};

}  // namespace tomodenoise
