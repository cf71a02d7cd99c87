#include "core/network.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

void Network::add_input(const std::string& name, std::int64_t channels, std::int64_t height,
                        std::int64_t width) {
    if (index_.count(name))
        throw InvalidArgument("network already has a node named '" + name + "'");
    if (channels < 1)
        throw InvalidArgument("network input '" + name + "' needs at least one channel, got " +
                              std::to_string(channels));
    if (height < 0 || width < 0)
        throw InvalidArgument("network input '" + name + "' is declared with height " +
                              std::to_string(height) + " and width " + std::to_string(width) +
                              " (0 for any size)");
    Node node;
    node.name = name;
    node.channels = channels;
    node.height = height;
    node.width = width;
    index_[name] = nodes_.size();
    nodes_.push_back(std::move(node));
    input_names_.push_back(name);
    built_for_.clear();
}

Layer& Network::add(std::unique_ptr<Layer> layer, const std::vector<std::string>& inputs) {
    const std::string name = layer->name();
    if (index_.count(name))
        throw InvalidArgument("network already has a node named '" + name + "'");
    if (inputs.empty()) throw InvalidArgument("layer '" + name + "' is given no inputs");
    const std::size_t want = layer->input_count();
    if (want != 0 && inputs.size() != want)
        throw ShapeError("layer '" + name + "' (" + layer->type() + ") takes " +
                         std::to_string(want) + " input(s), got " + std::to_string(inputs.size()));
    Node node;
    node.name = name;
    for (const auto& in : inputs)
        node.inputs.push_back(node_index(in, "input of layer '" + name + "'"));
    node.layer = std::move(layer);
    index_[name] = nodes_.size();
    nodes_.push_back(std::move(node));
    built_for_.clear();
    return *nodes_.back().layer;
}

void Network::set_outputs(const std::vector<std::string>& names) {
    std::vector<std::size_t> outs;
    for (const auto& n : names) outs.push_back(node_index(n, "network output"));
    outputs_ = std::move(outs);
}

std::vector<std::string> Network::output_names() const {
    std::vector<std::string> names;
    if (outputs_.empty()) {
        if (!nodes_.empty()) names.push_back(nodes_.back().name);
    } else {
        for (auto i : outputs_) names.push_back(nodes_[i].name);
    }
    return names;
}

std::int64_t Network::input_channels(std::size_t i) const {
    return nodes_[node_index(input_names_.at(i), "network input")].channels;
}

std::size_t Network::node_index(const std::string& name, const std::string& context) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw InvalidArgument(context + ": no node named '" + name + "'");
    return it->second;
}

std::vector<Dims> Network::build(const std::vector<Dims>& input_dims) {
    if (input_dims.size() != input_names_.size())
        throw ShapeError("network has " + std::to_string(input_names_.size()) +
                         " input(s), given " + std::to_string(input_dims.size()));
    if (outputs_.empty() && !nodes_.empty()) outputs_.push_back(nodes_.size() - 1);
    std::size_t next_input = 0;
    for (auto& node : nodes_) {
        if (!node.layer) {
            const Dims& d = input_dims[next_input++];
            if (d.c != node.channels || d.n < 1 || d.h < 1 || d.w < 1)
                throw ShapeError("network input '" + node.name + "' expects " +
                                 std::to_string(node.channels) + " channel(s), given " +
                                 d.to_string());
            node.dims = d;
            continue;
        }
        std::vector<Dims> in;
        for (auto i : node.inputs) in.push_back(nodes_[i].dims);
        node.dims = node.layer->build(in);
    }
    // The plan's views point into outputs laid out for the last build: rebuilt layers may
    // reshape or reallocate them.
    clear_concatenation_plan();
    built_for_ = input_dims;
    std::vector<Dims> out;
    for (auto i : outputs_) out.push_back(nodes_[i].dims);
    return out;
}

void Network::initialize(std::uint32_t seed) {
    // Parameters exist only once build() has seen the input channels.
    if (built_for_.empty())
        throw InvalidArgument("initialize() needs a built network: call build() first");
    std::mt19937 rng(seed);
    for (auto& node : nodes_)
        if (node.layer) node.layer->initialize(rng);
}

const std::vector<Tensor>& Network::forward(Context& ctx, const std::vector<const Tensor*>& inputs,
                                            Mode mode) {
    std::vector<Dims> dims;
    for (const Tensor* t : inputs) dims.push_back(t->dims());
    if (dims != built_for_) build(dims);
    const bool inference = mode == Mode::inference;
    // Training runs every layer into its own output, concatenations included, which can
    // reshape them under the plan's views; inference on other dims needs another plan.
    if (!inference || planned_for_ != dims) clear_concatenation_plan();
    auto out = [&](Node& node) -> Tensor& {
        return inference ? inference_output(node) : node.output;
    };
    std::size_t next_input = 0;
    std::vector<const Tensor*> src;
    for (auto& node : nodes_) {
        if (!node.layer) {
            node.output = *inputs[next_input++];  // shares the caller's storage
            continue;
        }
        if (inference && node.elided) continue;
        src.clear();
        for (auto i : node.inputs) src.push_back(&out(nodes_[i]));
        node.layer->forward(ctx, src, out(node), mode);
    }
    output_values_.resize(outputs_.size());
    for (std::size_t k = 0; k < outputs_.size(); ++k)
        ctx.to_plain(out(nodes_[outputs_[k]]), output_values_[k]);
    if (inference && planned_for_ != dims) {
        plan_concatenations();
        planned_for_ = dims;
    }
    return output_values_;
}

void Network::clear_concatenation_plan() {
    for (auto& node : nodes_) {
        node.alias = Tensor();
        node.elided = false;
    }
    planned_for_.clear();
}

void Network::plan_concatenations() {
    constexpr std::int64_t block = 16;
    std::vector<bool> aliased(nodes_.size(), false);
    for (auto& node : nodes_) {
        if (!node.layer || !node.layer->concatenates_channels()) continue;
        const auto type = node.output.type();
        if (node.dims.n != 1 || node.output.desc() != blocked_desc(node.dims, type)) continue;
        bool fits = true;
        for (auto i : node.inputs) {
            const Node& in = nodes_[i];
            fits = fits && in.layer && !aliased[i] && !in.elided && in.dims.c % block == 0 &&
                   in.output.desc() == blocked_desc(in.dims, type);
        }
        if (!fits) continue;
        const std::size_t bytes_per_value = dnnl::memory::data_type_size(type);
        auto* base = reinterpret_cast<unsigned char*>(node.output.data());
        std::int64_t offset = 0;
        for (auto i : node.inputs) {
            Node& in = nodes_[i];
            const std::size_t byte_offset =
                std::size_t(offset * node.dims.h * node.dims.w) * bytes_per_value;
            in.alias = Tensor::view(reinterpret_cast<float*>(base + byte_offset), in.output.desc());
            // The first run wrote here already; later runs write in place.
            aliased[i] = true;
            offset += in.dims.c;
        }
        node.elided = true;
    }
}

const Tensor& Network::forward(Context& ctx, const Tensor& input, Mode mode) {
    return forward(ctx, std::vector<const Tensor*>{&input}, mode).at(0);
}

void Network::accumulate(Context& ctx, Tensor& into, const Tensor& addend) {
    const Tensor& a = ctx.as_layout(addend, into.desc(), addend_scratch_);
    auto& add = ctx.cache().get<dnnl::binary>(
        CacheKey("binary_add") << into.desc(), "gradient sum of " + into.dims().to_string(), [&] {
            return dnnl::binary::primitive_desc(
                {dnnl::algorithm::binary_add, into.desc(), into.desc(), into.desc()}, cpu_engine());
        });
    add.primitive.execute(ctx.stream(), {{DNNL_ARG_SRC_0, into.memory()},
                                         {DNNL_ARG_SRC_1, a.memory()},
                                         {DNNL_ARG_DST, into.memory()}});
}

const std::vector<Tensor>& Network::backward(Context& ctx,
                                             const std::vector<const Tensor*>& diff_outputs,
                                             bool input_gradients) {
    if (diff_outputs.size() != outputs_.size())
        throw ShapeError("backward needs " + std::to_string(outputs_.size()) +
                         " output gradient(s), given " + std::to_string(diff_outputs.size()));
    has_diff_.assign(nodes_.size(), false);
    for (std::size_t k = 0; k < outputs_.size(); ++k) {
        Node& node = nodes_[outputs_[k]];
        if (diff_outputs[k]->dims() != node.dims)
            throw ShapeError("gradient of output '" + node.name + "' has dims " +
                             diff_outputs[k]->dims().to_string() + ", the output has " +
                             node.dims.to_string());
        if (has_diff_[outputs_[k]]) {
            accumulate(ctx, node.diff, *diff_outputs[k]);
        } else {
            node.diff.reshape(diff_outputs[k]->desc());
            ctx.reorder(*diff_outputs[k], node.diff);
            has_diff_[outputs_[k]] = true;
        }
    }
    std::vector<const Tensor*> src;
    std::vector<Tensor*> diff_src;
    std::vector<Tensor>& partials = partials_;
    for (std::size_t idx = nodes_.size(); idx-- > 0;) {
        Node& node = nodes_[idx];
        if (!node.layer) continue;
        if (!has_diff_[idx]) {
            // Nothing downstream of this layer reaches an output: its parameters get no gradient.
            for (Parameter* p : node.layer->parameters())
                std::fill(p->grad(), p->grad() + p->size(), 0.f);
            continue;
        }
        src.clear();
        diff_src.clear();
        partials.resize(node.inputs.size());
        for (std::size_t k = 0; k < node.inputs.size(); ++k) {
            const std::size_t in = node.inputs[k];
            src.push_back(&nodes_[in].output);
            const bool wanted = nodes_[in].layer || input_gradients;
            if (!wanted) {
                diff_src.push_back(nullptr);
            } else if (has_diff_[in]) {
                diff_src.push_back(&partials[k]);
            } else {
                diff_src.push_back(&nodes_[in].diff);
            }
        }
        node.layer->backward(ctx, src, node.output, node.diff, diff_src);
        for (std::size_t k = 0; k < node.inputs.size(); ++k) {
            const std::size_t in = node.inputs[k];
            if (!diff_src[k]) continue;
            if (diff_src[k] == &partials[k]) accumulate(ctx, nodes_[in].diff, partials[k]);
            has_diff_[in] = true;
        }
    }
    static const std::vector<Tensor> none;
    if (!input_gradients) return none;
    // Kept from call to call, so that a network asked for its input gradients now and then (a
    // discriminator) allocates them once.
    input_diffs_.resize(input_names_.size());
    for (std::size_t k = 0; k < input_names_.size(); ++k) {
        const std::size_t i = index_.at(input_names_[k]);
        if (has_diff_[i]) {
            ctx.to_plain(nodes_[i].diff, input_diffs_[k]);
        } else {
            input_diffs_[k].reshape(nodes_[i].dims);
            input_diffs_[k].zero();
        }
    }
    return input_diffs_;
}

const std::vector<Tensor>& Network::backward(Context& ctx, const Tensor& diff_output,
                                             bool input_gradients) {
    return backward(ctx, std::vector<const Tensor*>{&diff_output}, input_gradients);
}

std::vector<Parameter*> Network::parameters() {
    std::vector<Parameter*> all;
    for (auto& node : nodes_)
        if (node.layer)
            for (Parameter* p : node.layer->parameters()) all.push_back(p);
    return all;
}

void Network::set_parameter_gradients(bool on) {
    for (auto& node : nodes_)
        if (node.layer) node.layer->set_parameter_gradients(on);
}

std::int64_t Network::parameter_count() {
    std::int64_t n = 0;
    for (Parameter* p : parameters()) n += p->size();
    return n;
}

Layer& Network::layer(const std::string& name) {
    Node& node = nodes_[node_index(name, "layer lookup")];
    if (!node.layer) throw InvalidArgument("'" + name + "' is a network input, not a layer");
    return *node.layer;
}

}  // namespace tomodenoise
