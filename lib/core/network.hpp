#pragma once
// A network: a DAG of named layers (U-Net skips are just layers with several inputs). Shapes
// are inferred and checked by build() once per input shape; forward reuses its buffers and
// keeps the layouts oneDNN chose between layers, converting to plain NCHW only at the outputs.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/context.hpp"
#include "core/layer.hpp"
#include "core/tensor.hpp"

namespace tomodenoise {

class Network {
public:
    struct Node {
        std::string name;
        std::unique_ptr<Layer> layer;  ///< null for a network input
        std::vector<std::size_t> inputs;
        std::int64_t channels = 0;  ///< declared channels of a network input
        /// Declared height and width of a network input, 0 when free: what a Keras file stores
        /// as its batch_input_shape. Not enforced here; layers that need a size (Dense after
        /// Flatten) check it when built.
        std::int64_t height = 0, width = 0;
        Dims dims;  ///< output dims from the last build
        Tensor output, diff;
        /// Inference only: where this node writes instead of `output`: its channel range of a
        /// concatenation's output, which then need not run (see plan_concatenations).
        Tensor alias;
        bool elided = false;  ///< inference only: a concatenation its inputs fill
    };

    Network() = default;
    Network(Network&&) = default;
    Network& operator=(Network&&) = default;

    /// Declares a network input of `channels` channels and, when the network needs one, its
    /// height and width (0: any size).
    void add_input(const std::string& name, std::int64_t channels, std::int64_t height = 0,
                   std::int64_t width = 0);
    /// Adds `layer`, fed by the named inputs or layers, which must already exist.
    Layer& add(std::unique_ptr<Layer> layer, const std::vector<std::string>& inputs);
    template <typename L, typename... Args>
    L& add(const std::vector<std::string>& inputs, Args&&... args) {
        return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...), inputs));
    }
    /// The nodes whose values forward returns; by default the last layer added.
    void set_outputs(const std::vector<std::string>& names);

    const std::vector<std::string>& input_names() const { return input_names_; }
    std::vector<std::string> output_names() const;
    /// Channels declared for input `i`.
    std::int64_t input_channels(std::size_t i = 0) const;

    /// Infers and checks every layer's shape for these input dims (creating parameters on the
    /// first build) and returns the output dims. Throws ShapeError naming the layer and dims.
    std::vector<Dims> build(const std::vector<Dims>& input_dims);
    /// Seeds every layer's initializer from `seed`, in layer order. Throws InvalidArgument
    /// before the first build(), when there are no parameters yet.
    void initialize(std::uint32_t seed);

    /// Runs the network; inputs in any layout, outputs plain NCHW (valid until the next call).
    /// Builds first when the input dims changed since the last build.
    const std::vector<Tensor>& forward(Context& ctx, const std::vector<const Tensor*>& inputs,
                                       Mode mode);
    const Tensor& forward(Context& ctx, const Tensor& input, Mode mode);

    /// After forward(..., Mode::training): back-propagates the outputs' gradients (any
    /// layout), overwriting every parameter's gradient. Returns the inputs' gradients (plain)
    /// when `input_gradients`, otherwise an empty list.
    const std::vector<Tensor>& backward(Context& ctx,
                                        const std::vector<const Tensor*>& diff_outputs,
                                        bool input_gradients = false);
    const std::vector<Tensor>& backward(Context& ctx, const Tensor& diff_output,
                                        bool input_gradients = false);

    /// Every parameter, in layer order: the optimizer's view.
    std::vector<Parameter*> parameters();
    /// Layer::set_parameter_gradients for every layer: false freezes the network, whose
    /// backward then computes the inputs' gradients alone.
    void set_parameter_gradients(bool on);
    std::int64_t parameter_count();

    const std::vector<Node>& nodes() const { return nodes_; }
    /// The layer named `name`; throws InvalidArgument when there is none.
    Layer& layer(const std::string& name);
    bool has_node(const std::string& name) const { return index_.count(name) != 0; }

private:
    /// After an inference run on new dims: where every input of a channel concatenation is a
    /// layer whose output has the concatenation's blocked layout and type (nChw16c f32 or bf16,
    /// whole 16-channel blocks, batch 1), that output occupies one contiguous range of the
    /// concatenation's output. Those layers then write there directly and the concatenation is
    /// skipped: the U-Net's skip connections cost no copy. The plan holds until the next build() or
    /// training run, or an inference run on other dims.
    void plan_concatenations();
    void clear_concatenation_plan();
    Tensor& inference_output(Node& node) { return node.alias.empty() ? node.output : node.alias; }

    std::size_t node_index(const std::string& name, const std::string& context) const;
    void accumulate(Context& ctx, Tensor& into, const Tensor& addend);

    std::vector<Node> nodes_;
    std::unordered_map<std::string, std::size_t> index_;
    std::vector<std::string> input_names_;
    std::vector<std::size_t> outputs_;
    std::vector<Dims> built_for_, planned_for_;
    std::vector<Tensor> output_values_, input_diffs_;
    std::vector<bool> has_diff_;
    Tensor addend_scratch_;
    /// Backward: a layer's input gradients that are summed into a node's gradient (U-Net skips);
    /// kept between calls so that training steps allocate nothing.
    std::vector<Tensor> partials_;
};

}  // namespace tomodenoise
