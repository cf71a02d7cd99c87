#pragma once
// Fully connected layer (Keras Dense) as a oneDNN inner product: a flat input (N, C, 1, 1),
// as a Flatten gives, becomes (N, units, 1, 1), with bias and an activation fused as a
// post-op. The kernel is stored in oneDNN order {units, C}; Keras stores its transpose.

#include <cstdint>

#include "core/layer.hpp"
#include "layers/activation.hpp"
#include "layers/initializer.hpp"
#include "layers/primitive_weights.hpp"

namespace tomodenoise {

struct DenseConfig {
    std::int64_t units = 1;
    bool use_bias = true;
    Activation activation = Activation::linear();
    Initializer kernel_initializer = Initializer::glorot_uniform;
};

class DenseLayer : public Layer {
public:
    DenseLayer(std::string name, DenseConfig config);

    std::string type() const override { return "Dense"; }
    /// The input must be flat: (N, C, 1, 1).
    Dims build(const std::vector<Dims>& inputs) override;
    void initialize(std::mt19937& rng) override;
    /// Reads src in its own layout; dst is plain.
    void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                 Mode mode) override;
    /// diff_src is laid out as src.
    void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                  const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) override;
    std::vector<Parameter*> parameters() override;

    const DenseConfig& config() const { return config_; }
    std::int64_t input_features() const { return in_features_; }
    Parameter& kernel() { return kernel_; }
    Parameter& bias() { return bias_; }

private:
    const CachedPrimitive<dnnl::inner_product_forward>& forward_primitive(
        Context& ctx, const dnnl::memory::desc& src, Mode mode);
    const Tensor& weights(Context& ctx, const dnnl::memory::desc& md);
    /// The kernel's shape as oneDNN's 4D inner-product weights {units, C, 1, 1}.
    dnnl::memory::desc kernel_as_weights() const;

    DenseConfig config_;
    std::int64_t in_features_ = 0;
    Parameter kernel_, bias_;

    PrimitiveWeights weights_;
    WeightGradient weight_gradient_;
    Tensor diff_dst_reordered_, diff_pre_;
};

}  // namespace tomodenoise
