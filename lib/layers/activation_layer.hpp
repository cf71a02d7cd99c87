#pragma once
// Keras Activation (relu, sigmoid, tanh, linear) and LeakyReLU layers: a oneDNN eltwise that
// works in its input's layout. Training runs the *_use_dst_for_bwd variants, so backward reads
// only the layer's output.

#include <string>

#include "core/layer.hpp"
#include "layers/activation.hpp"

namespace tomodenoise {

class ActivationLayer : public Layer {
public:
    /// Throws InvalidArgument for a negative leaky_relu slope (its backward from dst needs the
    /// sign of the output to be the sign of the input).
    ActivationLayer(std::string name, Activation activation);

    /// "LeakyReLU" for leaky_relu, "Activation" otherwise.
    std::string type() const override;
    SpatialFootprint spatial_footprint() const override { return SpatialFootprint::pointwise(); }
    Dims build(const std::vector<Dims>& inputs) override;
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;

    const Activation& activation() const { return activation_; }

private:
    Activation activation_;
    Tensor diff_dst_reordered_;
};

}  // namespace tomodenoise
