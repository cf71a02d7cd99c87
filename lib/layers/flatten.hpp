#pragma once
// Flatten (Keras Flatten, channels_last): (N, C, H, W) becomes (N, H*W*C, 1, 1) with the
// channel index varying fastest, out[n, (h*W + w)*C + c] = in[n, c, h, w], so that the
// weights of a Keras Dense layer after a Flatten load unchanged.

#include "core/layer.hpp"

namespace tomodenoise {

class FlattenLayer : public Layer {
public:
    explicit FlattenLayer(std::string name) : Layer(std::move(name)) {}

    std::string type() const override { return "Flatten"; }
    Dims build(const std::vector<Dims>& inputs) override;
    /// dst is plain.
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    /// diff_src is laid out as src.
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;

private:
    Tensor diff_dst_plain_;
};

}  // namespace tomodenoise
