#pragma once
// The layer contract. A layer owns its parameters and whatever state its backward needs
// (max-pooling workspaces, cached blocked weights). The network calls build() once per input
// shape, which checks shapes and creates parameters; forward and backward take explicit
// tensors in any oneDNN layout and reorder only where a primitive wants another one.

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/parameter.hpp"
#include "core/tensor.hpp"

namespace tomodenoise {

enum class Mode { inference, training };

/// The most values one parameter may hold: 1 GiB of float32, above VGG19's largest weight
/// (25088 x 4096). A larger one comes from a wrong configuration, not a network to train.
constexpr std::int64_t max_parameter_values = std::int64_t(1) << 28;

/// Which input pixels one output pixel of a layer reads, along each spatial axis (rows and
/// columns alike): output pixel q reads input pixels step * q + low .. step * q + high, for
/// inputs whose size is a multiple of the layer's stride (as tiles aligned to the network's
/// downsampling factor are). What a network's receptive field is computed from (lib/infer).
struct SpatialFootprint {
    double step = 1, low = 0, high = 0;
    /// False when an output pixel may read any input pixel (dense layers), or when the layer
    /// does not say: such a network cannot be run tile by tile.
    bool bounded = true;

    /// Each output pixel reads the input pixel at its own position (activations, additions).
    static SpatialFootprint pointwise() { return {}; }
    static SpatialFootprint unbounded() { return {1, 0, 0, false}; }
};

/// "[N, C, H, W], [N, C, H, W], ..." for messages about layers with several inputs.
std::string dims_list(const std::vector<Dims>& dims);

class Layer {
public:
    explicit Layer(std::string name) : name_(std::move(name)) {}
    virtual ~Layer() = default;
    Layer(const Layer&) = delete;
    Layer& operator=(const Layer&) = delete;

    /// Called by build() with the index (in parameters() order) and shape of each parameter
    /// before allocating it; throws to refuse the shape. A model file checks the shape against
    /// the weight it stores, so a config that disagrees with its weights allocates nothing.
    using ParameterCheck = std::function<void(const Layer& layer, std::size_t index,
                                              const std::vector<std::int64_t>& shape)>;

    const std::string& name() const { return name_; }
    /// Installs `check` for the parameters build() creates from now on (empty: none).
    void set_parameter_check(ParameterCheck check) { parameter_check_ = std::move(check); }
    /// The Keras class name this layer saves as ("Conv2D", "MaxPooling2D", ...).
    virtual std::string type() const = 0;
    /// Number of inputs, or 0 for "one or more" (concatenation, addition).
    virtual std::size_t input_count() const { return 1; }
    /// True when the output is the inputs side by side along channels, in input order, and
    /// nothing else: at inference the network may then have the inputs write straight into
    /// their channel ranges of the output and skip this layer's forward.
    virtual bool concatenates_channels() const { return false; }

    /// Which input pixels an output pixel reads; by default unbounded, so that a layer that
    /// does not say is never tiled (see SpatialFootprint).
    virtual SpatialFootprint spatial_footprint() const { return SpatialFootprint::unbounded(); }

    /// Output dims for these input dims; creates the parameters on the first call. Throws
    /// ShapeError naming the layer and the dims when the inputs do not fit.
    virtual Dims build(const std::vector<Dims>& inputs) = 0;

    /// Sets the parameters to their initial values (Keras defaults unless configured).
    virtual void initialize(std::mt19937& /*rng*/) {}

    /// Computes dst from src. dst is reshaped to the layout the layer chooses.
    virtual void forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                         Mode mode) = 0;

    /// Precondition: the last forward of this layer ran in Mode::training on the same src and
    /// produced dst. Writes the gradient of each input whose diff_src entry is not null
    /// (reshaped to the layout the layer chooses) and, with parameter_gradients(), overwrites
    /// the parameter gradients.
    virtual void backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                          const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) = 0;

    virtual std::vector<Parameter*> parameters() { return {}; }

    /// False: backward leaves the parameter gradients as they are and computes the inputs'
    /// gradients alone (a frozen layer: the perceptual loss's VGG19). True by default.
    void set_parameter_gradients(bool on) { parameter_gradients_ = on; }
    bool parameter_gradients() const { return parameter_gradients_; }

protected:
    /// "layer 'NAME' (TYPE)" for messages.
    std::string what() const { return "layer '" + name_ + "' (" + type() + ")"; }
    /// Throws ShapeError unless there are `expected` inputs.
    void expect_inputs(const std::vector<Dims>& inputs, std::size_t expected) const;
    /// Parameter `index` (in parameters() order) named `name`, allocated once the installed
    /// check accepts `shape`. Throws ShapeError naming the layer, the weight and the shape for
    /// a dim below 1 or more than max_parameter_values values.
    Parameter create_parameter(std::size_t index, std::string name,
                               std::vector<std::int64_t> shape) const;

private:
    std::string name_;
    ParameterCheck parameter_check_;
    bool parameter_gradients_ = true;
};

}  // namespace tomodenoise
