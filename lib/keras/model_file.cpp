#include "keras/model_file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "io/hdf5.hpp"
#include "io/temporary_file.hpp"
#include "keras/keras_layers.hpp"
#include "keras/keras_optimizer.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/version.hpp"

namespace tomodenoise {

namespace {

using json = nlohmann::json;

constexpr const char* keras_version_written = "2.4.0";
constexpr const char* weights_group = "/model_weights";
constexpr const char* optimizer_group = "/optimizer_weights";

// Where a network's Keras layout lives in a file: at the root, or the same layout inside an
// embedded network's group.
struct NetworkRoot {
    std::string group;  // "" for the file's root, else "/<name>"
    std::string attributes() const { return group.empty() ? "/" : group; }
    std::string weights() const { return group + weights_group; }
    std::string optimizer() const { return group + optimizer_group; }
};
// Free spatial dims are built at this size so that parameters can be allocated.
constexpr std::int64_t default_build_size = 64;

// dst (dims `to`) from src (dims `from`) with to[i] = from[axes[i]].
std::vector<float> permute(const std::vector<float>& src, const std::vector<std::int64_t>& from,
                           const std::vector<int>& axes) {
    const std::size_t rank = from.size();
    std::vector<std::int64_t> to(rank), from_strides(rank, 1);
    for (std::size_t i = rank; i-- > 1;) from_strides[i - 1] = from_strides[i] * from[i];
    for (std::size_t i = 0; i < rank; ++i) to[i] = from[axes[i]];
    std::vector<float> dst(src.size());
    std::vector<std::int64_t> idx(rank, 0);
    for (std::size_t linear = 0; linear < dst.size(); ++linear) {
        std::int64_t offset = 0;
        for (std::size_t i = 0; i < rank; ++i) offset += idx[i] * from_strides[axes[i]];
        dst[linear] = src[offset];
        for (std::size_t i = rank; i-- > 0;) {
            if (++idx[i] < to[i]) break;
            idx[i] = 0;
        }
    }
    return dst;
}

std::vector<int> inverse(const std::vector<int>& axes) {
    std::vector<int> inv(axes.size());
    for (std::size_t i = 0; i < axes.size(); ++i) inv[axes[i]] = static_cast<int>(i);
    return inv;
}

std::vector<std::int64_t> keras_dims(const Parameter& p, const std::vector<int>& axes) {
    std::vector<std::int64_t> d(axes.size());
    for (std::size_t i = 0; i < axes.size(); ++i) d[i] = p.shape()[axes[i]];
    return d;
}

json model_config(Network& network) {
    json layers = json::array();
    for (const auto& node : network.nodes()) {
        json entry;
        entry["name"] = node.name;
        if (!node.layer) {
            entry["class_name"] = "InputLayer";
            const auto declared = [](std::int64_t size) {
                return size > 0 ? json(size) : json(nullptr);
            };
            entry["config"] = {
                {"batch_input_shape",
                 {nullptr, declared(node.height), declared(node.width), node.channels}},
                {"dtype", "float32"},
                {"sparse", false},
                {"ragged", false},
                {"name", node.name}};
            entry["inbound_nodes"] = json::array();
        } else {
            entry["class_name"] = node.layer->type();
            entry["config"] = keras_layer_config(*node.layer);
            json inbound = json::array();
            for (auto i : node.inputs)
                inbound.push_back({network.nodes()[i].name, 0, 0, json::object()});
            entry["inbound_nodes"] = json::array({inbound});
        }
        layers.push_back(entry);
    }
    json inputs = json::array(), outputs = json::array();
    for (const auto& n : network.input_names()) inputs.push_back({n, 0, 0});
    for (const auto& n : network.output_names()) outputs.push_back({n, 0, 0});
    return {{"class_name", "Functional"},
            {"config",
             {{"name", "model"},
              {"layers", layers},
              {"input_layers", inputs},
              {"output_layers", outputs}}}};
}

// Each parameter by its optimizer name "<layer>/<weight>", with the layer that decides its Keras
// axis order.
struct WeightRef {
    const Layer* layer;
    const Parameter* parameter;
};
std::unordered_map<std::string, WeightRef> weights_by_name(Network& network) {
    std::unordered_map<std::string, WeightRef> refs;
    for (const auto& node : network.nodes())
        if (node.layer)
            for (Parameter* p : node.layer->parameters())
                refs[parameter_name(node.name, *p)] = {node.layer.get(), p};
    return refs;
}

// The parameter an optimizer state array belongs to ("<layer>/<weight>/<slot>"), or null for
// "iter".
const WeightRef* owner_of(const std::string& state_name,
                          const std::unordered_map<std::string, WeightRef>& refs) {
    const auto slash = state_name.rfind('/');
    if (slash == std::string::npos) return nullptr;
    auto it = refs.find(state_name.substr(0, slash));
    return it == refs.end() ? nullptr : &it->second;
}

void write_optimizer(const hdf5::File& file, const NetworkRoot& root, Network& network,
                     const Optimizer& optimizer) {
    const json training_config = {
        {"optimizer_config",
         {{"class_name", optimizer.type()}, {"config", keras_optimizer_config(optimizer)}}}};
    hdf5::write_string_attribute(file, root.attributes(), "training_config", training_config.dump(),
                                 hdf5::StringStorage::variable);
    const auto refs = weights_by_name(network);
    const std::string group = root.optimizer() + "/" + optimizer.type();
    hdf5::create_groups(file, group);
    std::vector<std::string> names;
    for (const auto& array : optimizer.state()) {
        const std::string name = optimizer.type() + "/" + array.name + ":0";
        const std::string path = root.optimizer() + "/" + name;
        if (const WeightRef* ref = owner_of(array.name, refs)) {
            const auto axes = keras_axes(*ref->layer, *ref->parameter);
            const auto stored = permute(array.values, array.shape, axes);
            hdf5::write_float_dataset(file, path, keras_dims(*ref->parameter, axes), stored.data());
        } else {
            hdf5::write_float_dataset(file, path, array.shape, array.values.data());
        }
        names.push_back(name);
    }
    hdf5::write_string_list_attribute(file, root.optimizer(), "weight_names", names);
}

json recipe_json(const ModelRecipe& recipe) {
    json normalization = {{"method", to_string(recipe.normalization.method)}};
    if (recipe.normalization.method == NormalizationMethod::percentile_range) {
        normalization["low_percent"] = recipe.normalization.low_percent;
        normalization["high_percent"] = recipe.normalization.high_percent;
    }
    return {{"version", recipe_version},       {"mode", to_string(recipe.mode)},
            {"depth", recipe.depth},           {"classes", recipe.classes},
            {"mask_width", recipe.mask_width}, {"inference", to_string(recipe.inference)},
            {"splits", recipe.splits},         {"normalization", normalization}};
}

// `object[prefix + key]`, which must be present: `where` names the file and attribute, `prefix`
// the enclosing field ("normalization.").
const json& recipe_field(const json& object, const std::string& key, const std::string& where,
                         const std::string& prefix = "") {
    if (!object.is_object())
        throw FormatError(
            where + ": " +
            (prefix.empty() ? "" : "field '" + prefix.substr(0, prefix.size() - 1) + "': ") +
            "expected a JSON object, got " + brief(object));
    const auto it = object.find(key);
    if (it == object.end()) throw FormatError(where + ": field '" + prefix + key + "' is missing");
    return *it;
}

// An enumerated field: a string that `parse` knows.
template <typename Parse>
auto recipe_name(const json& object, const std::string& key, const std::string& where, Parse parse,
                 const std::string& prefix = "") {
    const json& value = recipe_field(object, key, where, prefix);
    if (!value.is_string())
        throw FormatError(where + ": field '" + prefix + key + "' must be a string, got " +
                          brief(value));
    try {
        return parse(value.get<std::string>());
    } catch (const InvalidArgument& e) {
        throw FormatError(where + ": field '" + prefix + key + "': " + e.what());
    }
}

constexpr const char* normalization_prefix = "normalization.";

double recipe_percent(const json& object, const std::string& key, const std::string& where) {
    const json& value = recipe_field(object, key, where, normalization_prefix);
    // NaN and infinities are written as null by JSON; neither is a percentile.
    if (!value.is_number() || !std::isfinite(value.get<double>()))
        throw FormatError(where + ": field '" + normalization_prefix + key +
                          "' must be a finite number, got " + brief(value));
    return value.get<double>();
}

ModelRecipe parse_recipe(const std::string& text, const std::string& where) {
    json root;
    try {
        root = json::parse(text);
    } catch (const json::exception& e) {
        throw FormatError(where + ": not valid JSON (" + e.what() + ")");
    }
    const std::int64_t version =
        keras_integer(recipe_field(root, "version", where), "field 'version'", where, 1,
                      std::numeric_limits<std::int64_t>::max());
    if (version > recipe_version)
        throw FormatError(where + ": field 'version' is " + std::to_string(version) +
                          ", newer than the " + std::to_string(recipe_version) +
                          " this library reads");
    const auto integer = [&](const char* key) {
        return keras_integer(recipe_field(root, key, where), std::string("field '") + key + "'",
                             where, 0, max_keras_channels);
    };
    ModelRecipe recipe;
    recipe.mode = recipe_name(root, "mode", where, parse_training_mode);
    recipe.depth = integer("depth");
    recipe.classes = integer("classes");
    recipe.mask_width = integer("mask_width");
    recipe.inference = recipe_name(root, "inference", where, parse_inference_method);
    recipe.splits = integer("splits");
    const json& normalization = recipe_field(root, "normalization", where);
    recipe.normalization.method = recipe_name(normalization, "method", where,
                                              parse_normalization_method, normalization_prefix);
    if (recipe.normalization.method == NormalizationMethod::percentile_range) {
        recipe.normalization.low_percent = recipe_percent(normalization, "low_percent", where);
        recipe.normalization.high_percent = recipe_percent(normalization, "high_percent", where);
    }
    return recipe;
}

// `network` (and `optimizer`'s state) in Keras's layout at `root` of `file`.
void write_network(const hdf5::File& file, const NetworkRoot& root, Network& network,
                   const Optimizer* optimizer) {
    const std::string at = root.attributes(), weights = root.weights();
    if (!root.group.empty()) hdf5::create_groups(file, root.group);
    hdf5::write_string_attribute(file, at, "model_config", model_config(network).dump(),
                                 hdf5::StringStorage::variable);
    hdf5::write_string_attribute(file, at, "keras_version", keras_version_written,
                                 hdf5::StringStorage::variable);
    hdf5::write_string_attribute(file, at, "backend", "tensorflow", hdf5::StringStorage::variable);
    hdf5::write_string_attribute(file, at, "tomodenoise_version", version(),
                                 hdf5::StringStorage::variable);
    hdf5::create_groups(file, weights);
    std::vector<std::string> layer_names;
    for (const auto& node : network.nodes()) layer_names.push_back(node.name);
    hdf5::write_string_list_attribute(file, weights, "layer_names", layer_names);
    hdf5::write_string_attribute(file, weights, "keras_version", keras_version_written,
                                 hdf5::StringStorage::variable);
    hdf5::write_string_attribute(file, weights, "backend", "tensorflow",
                                 hdf5::StringStorage::variable);
    for (const auto& node : network.nodes()) {
        const std::string group = weights + "/" + node.name;
        hdf5::create_groups(file, group);
        std::vector<std::string> weight_names;
        if (node.layer) {
            for (Parameter* p : node.layer->parameters()) {
                const std::string weight = node.name + "/" + p->name() + ":0";
                const auto axes = keras_axes(*node.layer, *p);
                const std::vector<float> value(p->value(), p->value() + p->size());
                const auto stored = permute(value, p->shape(), axes);
                hdf5::write_float_dataset(file, group + "/" + weight, keras_dims(*p, axes),
                                          stored.data());
                weight_names.push_back(weight);
            }
        }
        hdf5::write_string_list_attribute(file, group, "weight_names", weight_names);
    }
    if (optimizer) write_optimizer(file, root, network, *optimizer);
}

void write_file(const std::string& path, Network& network, const Optimizer* optimizer,
                const ModelRecipe* recipe,
                const std::map<std::string, std::string>& root_attributes,
                const std::vector<EmbeddedNetwork>& embedded) {
    auto file = hdf5::File::create(path);
    write_network(file, NetworkRoot{}, network, optimizer);
    for (const EmbeddedNetwork& e : embedded)
        write_network(file, NetworkRoot{"/" + e.group}, *e.network, e.optimizer);
    if (recipe)
        hdf5::write_string_attribute(file, "/", recipe_attribute, recipe_json(*recipe).dump(),
                                     hdf5::StringStorage::variable);
    for (const auto& [name, value] : root_attributes)
        hdf5::write_string_attribute(file, "/", name, value, hdf5::StringStorage::variable);
    file.close();
}

json read_model_config(const hdf5::File& file, const NetworkRoot& root = {}) {
    if (!root.group.empty() && !hdf5::link_exists(file, root.group))
        throw FormatError(file.path() + ": no embedded network " + root.group);
    if (!hdf5::attribute_exists(file, root.attributes(), "model_config"))
        throw FormatError(file.path() + ": no 'model_config' attribute" +
                          (root.group.empty() ? std::string() : " in " + root.group) +
                          ": not a Keras HDF5 model file");
    const std::string text = hdf5::read_string_attribute(file, root.attributes(), "model_config");
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw FormatError(file.path() + ": model_config is not valid JSON (" + e.what() + ")");
    }
}

// Name of the node feeding a Keras inbound_nodes entry ([name, node_index, tensor_index, {}]).
std::vector<std::string> inbound_names(const json& layer, const std::string& where) {
    std::vector<std::string> names;
    if (!layer.contains("inbound_nodes") || layer["inbound_nodes"].empty()) return names;
    const json& nodes = layer["inbound_nodes"];
    if (!nodes.is_array() || !nodes[0].is_array())
        throw FormatError(where + ": malformed inbound_nodes " + nodes.dump());
    if (nodes.size() != 1)
        throw FormatError(where + ": layers shared between several calls are not supported");
    for (const auto& in : nodes[0]) {
        if (!in.is_array() || in.empty() || !in[0].is_string())
            throw FormatError(where + ": malformed inbound_nodes " + nodes.dump());
        names.push_back(in[0].get<std::string>());
    }
    return names;
}

const json& layers_of(const json& config, const std::string& path) {
    const json* layers = nullptr;
    if (config.is_object() && config.contains("config") && config["config"].is_object() &&
        config["config"].contains("layers"))
        layers = &config["config"]["layers"];
    if (!layers || !layers->is_array())
        throw FormatError(path + ": model_config has no config.layers list");
    return *layers;
}

// The config object of model_config layer entry `index`, checked to be one.
const json& config_of(const json& layer, std::size_t index, const std::string& path) {
    const std::string where = path + ": model_config layer " + std::to_string(index);
    const std::string class_name = keras_string(layer, "class_name", where);
    if (!layer.contains("config") || !layer["config"].is_object())
        throw FormatError(where + " (class '" + class_name + "') has no config object");
    return layer["config"];
}

KerasInputShape input_shape_of(const json& layer_config, const std::string& where) {
    const json* shape = nullptr;
    if (layer_config.contains("batch_input_shape")) shape = &layer_config["batch_input_shape"];
    if (!shape || !shape->is_array() || shape->size() != 4 || !(*shape)[3].is_number_integer())
        throw FormatError(where + ": input shape must be [batch, H, W, C] with known C, got " +
                          (shape ? shape->dump() : std::string("none")));
    const auto size = [&](const json& value, const char* field) -> std::int64_t {
        return value.is_null() ? 0 : keras_integer(value, field, where, 1, max_keras_input_size);
    };
    KerasInputShape s;
    s.h = size((*shape)[1], "input height");
    s.w = size((*shape)[2], "input width");
    s.c = keras_integer((*shape)[3], "input channels", where, 1, max_keras_channels);
    return s;
}

// Before `layer` allocates its parameter `index` of `shape` (our axis order): the file must
// store that weight with the same dims in Keras's order, so that a config disagreeing with its
// weights (filters, kernel size, units, input channels) allocates nothing.
void check_stored_weight(const hdf5::File& file, const NetworkRoot& root, const Layer& layer,
                         std::size_t index, const std::vector<std::int64_t>& shape) {
    const std::string where = file.path() + ": layer '" + layer.name() + "' (" + layer.type() + ")";
    const std::string group = root.weights() + "/" + layer.name();
    if (!hdf5::link_exists(file, group)) throw FormatError(where + ": no weights group " + group);
    const auto names = hdf5::read_string_list_attribute(file, group, "weight_names");
    if (index >= names.size())
        throw FormatError(where + ": its config needs weight " + std::to_string(index + 1) +
                          " of shape " + shape_string(shape) + ", the file stores " +
                          std::to_string(names.size()) + " weight(s)");
    const std::string path = group + "/" + names[index];
    if (!hdf5::link_exists(file, path))
        throw FormatError(where + ": weight dataset " + path + " is missing");
    auto stored = hdf5::Dataset::open(file, path).dims(), needed = shape;
    std::sort(stored.begin(), stored.end());
    std::sort(needed.begin(), needed.end());
    if (stored != needed)
        throw FormatError(where + ": its config and inputs make weight '" + names[index] +
                          "' of shape " + shape_string(shape) + ", the file stores " +
                          hdf5::dims_to_string(hdf5::Dataset::open(file, path).dims()));
}

void load_weights(const hdf5::File& file, const NetworkRoot& root, Network& network) {
    for (const auto& node : network.nodes())
        if (node.layer && !node.layer->parameters().empty())
            read_keras_layer_weights(file, root.weights() + "/" + node.name, *node.layer);
}

}  // namespace

void read_keras_layer_weights(const hdf5::File& file, const std::string& group, Layer& layer) {
    auto params = layer.parameters();
    const std::string where = file.path() + ": layer '" + layer.name() + "'";
    if (!hdf5::link_exists(file, group)) throw FormatError(where + ": no weights group " + group);
    const auto names = hdf5::read_string_list_attribute(file, group, "weight_names");
    if (names.size() != params.size())
        throw FormatError(where + " has " + std::to_string(names.size()) +
                          " weight(s) in the file, the layer needs " +
                          std::to_string(params.size()));
    for (std::size_t k = 0; k < params.size(); ++k) {
        Parameter& p = *params[k];
        const std::string path = group + "/" + names[k];
        if (!hdf5::link_exists(file, path))
            throw FormatError(where + ": weight dataset " + path + " is missing");
        const auto array = hdf5::read_float_dataset(file, path);
        const auto axes = keras_axes(layer, p);
        const auto want = keras_dims(p, axes);
        if (array.dims != want)
            throw FormatError(where + ": weight '" + names[k] + "' has dims " +
                              hdf5::dims_to_string(array.dims) + ", the layer's config needs " +
                              hdf5::dims_to_string(want));
        const NonFiniteReport non_finite =
            find_non_finite(array.values.data(), array.values.size());
        if (non_finite.count > 0)
            throw FormatError(where + ": weight '" + names[k] + "' holds " +
                              std::to_string(non_finite.count) +
                              " NaN or infinite values (the first at flat index " +
                              std::to_string(non_finite.first) + ")");
        const auto ours = permute(array.values, array.dims, inverse(axes));
        std::copy(ours.begin(), ours.end(), p.value());
        p.mark_changed();
    }
}

void save_network(const std::string& path, Network& network, const Optimizer* optimizer,
                  const ModelRecipe* recipe,
                  const std::map<std::string, std::string>& root_attributes,
                  const std::vector<EmbeddedNetwork>& embedded) {
    if (recipe) {
        try {
            check_recipe(*recipe, network.input_channels(0), output_channels(network));
        } catch (const InvalidArgument& e) {
            throw InvalidArgument(path + ": the model's recipe: " + e.what());
        }
    }
    TemporaryFile temporary(path);
    write_file(temporary.path(), network, optimizer, recipe, root_attributes, embedded);
    temporary.commit();
}

ModelRecipe read_recipe(const std::string& path, const Network& network) {
    const std::int64_t inputs = network.input_channels(0), outputs = output_channels(network);
    const auto file = hdf5::File::open_read(path);
    if (!hdf5::attribute_exists(file, "/", recipe_attribute)) return default_recipe(inputs);
    const std::string where = path + ": attribute " + recipe_attribute;
    const ModelRecipe recipe =
        parse_recipe(hdf5::read_string_attribute(file, "/", recipe_attribute), where);
    try {
        check_recipe(recipe, inputs, outputs);
    } catch (const InvalidArgument& e) {
        throw FormatError(where + ": " + e.what());
    }
    return recipe;
}

std::int64_t output_channels(const Network& network, std::size_t i) {
    const auto names = network.output_names();
    if (i >= names.size())
        throw InvalidArgument("the network has " + std::to_string(names.size()) +
                              " output(s), no output " + std::to_string(i));
    for (const auto& node : network.nodes())
        if (node.name == names[i]) return node.dims.c;
    throw InvalidArgument("the network has no node named after its output '" + names[i] + "'");
}

KerasInputShape keras_input_shape(const std::string& path, std::size_t i) {
    const auto file = hdf5::File::open_read(path);
    const json config = read_model_config(file);
    std::size_t seen = 0;
    const json& layers = layers_of(config, path);
    for (std::size_t index = 0; index < layers.size(); ++index) {
        const json& cfg = config_of(layers[index], index, path);
        if (keras_string(layers[index], "class_name", path) != "InputLayer") continue;
        if (seen++ == i) return input_shape_of(cfg, path);
    }
    throw FormatError(path + ": model has no input " + std::to_string(i));
}

Network load_network(const std::string& path, const std::string& embedded_group) {
    const auto file = hdf5::File::open_read(path);
    const NetworkRoot root{embedded_group.empty() ? "" : "/" + embedded_group};
    const json config = read_model_config(file, root);
    const std::string model_class = keras_string(config, "class_name", path + ": model_config");
    if (model_class != "Model" && model_class != "Functional" && model_class != "Sequential")
        throw FormatError(path + ": model class '" + model_class +
                          "' is not supported (Model, Functional, Sequential)");
    const bool sequential = model_class == "Sequential";

    Network network;
    std::vector<Dims> build_dims;
    std::string previous;
    const json& layers = layers_of(config, path);
    for (std::size_t index = 0; index < layers.size(); ++index) {
        const json& layer = layers[index];
        const json& cfg = config_of(layer, index, path);
        const std::string entry = path + ": model_config layer " + std::to_string(index);
        const std::string class_name = keras_string(layer, "class_name", entry);
        const std::string name =
            keras_string(cfg, "name", entry, keras_string(layer, "name", entry));
        const std::string where = path + ": layer '" + name + "' (" + class_name + ")";
        if (class_name == "InputLayer" ||
            (sequential && network.nodes().empty() && cfg.contains("batch_input_shape"))) {
            const auto shape = input_shape_of(cfg, where);
            const std::string input_name = class_name == "InputLayer" ? name : name + "_input";
            try {
                network.add_input(input_name, shape.c, shape.h, shape.w);
            } catch (const Error& e) {
                throw FormatError(where + ": " + e.what());
            }
            build_dims.push_back(Dims{1, shape.c, shape.h ? shape.h : default_build_size,
                                      shape.w ? shape.w : default_build_size});
            previous = input_name;
            if (class_name == "InputLayer") continue;
        }
        auto inputs = inbound_names(layer, where);
        if (inputs.empty()) {
            if (!sequential) throw FormatError(where + ": has no inbound nodes");
            inputs = {previous};
        }
        auto made = layer_from_keras(class_name, cfg, path);
        made->set_parameter_check(
            [&file, &root](const Layer& l, std::size_t k, const std::vector<std::int64_t>& shape) {
                check_stored_weight(file, root, l, k, shape);
            });
        try {
            network.add(std::move(made), inputs);
        } catch (const Error& e) {
            throw FormatError(where + ": " + e.what());
        }
        previous = name;
    }
    if (!sequential) {
        std::vector<std::string> outputs;
        const json& model = config["config"];
        const json none = json::array();
        const json& listed = model.contains("output_layers") ? model["output_layers"] : none;
        if (!listed.is_array()) throw FormatError(path + ": malformed output_layers");
        for (const auto& o : listed) {
            if (!o.is_array() || o.empty() || !o[0].is_string())
                throw FormatError(path + ": malformed output_layers");
            outputs.push_back(o[0].get<std::string>());
        }
        if (!outputs.empty()) network.set_outputs(outputs);
    }
    try {
        network.build(build_dims);
    } catch (const ShapeError& e) {
        throw FormatError(path + ": the model's layers do not fit together: " + e.what());
    }
    // The checks refer to `file`, closed on return; the parameters exist now.
    for (const auto& node : network.nodes())
        if (node.layer) node.layer->set_parameter_check({});
    load_weights(file, root, network);

    return network;
}

void load_optimizer_state(const std::string& path, Network& network, Optimizer& optimizer,
                          const std::string& embedded_group) {
    const auto file = hdf5::File::open_read(path);
    const NetworkRoot root{embedded_group.empty() ? "" : "/" + embedded_group};
    const std::string state_group = root.optimizer();
    const std::string prefix = optimizer.type() + "/";
    if (!hdf5::link_exists(file, state_group + "/" + optimizer.type()))
        throw FormatError(path + ": no " + optimizer.type() + " optimizer state (" + state_group +
                          "/" + optimizer.type() + ")");
    const auto refs = weights_by_name(network);
    std::vector<OptimizerStateArray> state;
    for (const auto& name : hdf5::read_string_list_attribute(file, state_group, "weight_names")) {
        if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + 2 ||
            name.compare(name.size() - 2, 2, ":0") != 0)
            throw FormatError(path + ": optimizer weight '" + name + "' is not " + prefix +
                              "<name>:0");
        const std::string dataset = state_group + "/" + name;
        OptimizerStateArray s;
        s.name = name.substr(prefix.size(), name.size() - prefix.size() - 2);
        const WeightRef* ref = owner_of(s.name, refs);
        // Checked before reading, so that a corrupt file's dims allocate nothing.
        const auto dims = hdf5::Dataset::open(file, dataset).dims();
        if (ref) {
            const auto axes = keras_axes(*ref->layer, *ref->parameter);
            if (dims != keras_dims(*ref->parameter, axes))
                throw FormatError(path + ": optimizer weight '" + name + "' has dims " +
                                  hdf5::dims_to_string(dims) + ", its parameter needs " +
                                  hdf5::dims_to_string(keras_dims(*ref->parameter, axes)));
            s.values = permute(hdf5::read_float_dataset(file, dataset).values, dims, inverse(axes));
            s.shape = ref->parameter->shape();
        } else {
            if (std::any_of(dims.begin(), dims.end(), [](std::int64_t d) { return d != 1; }))
                throw FormatError(path + ": optimizer weight '" + name + "' has dims " +
                                  hdf5::dims_to_string(dims) +
                                  ": it belongs to no parameter, so it must be one value (the "
                                  "iteration count)");
            s.values = hdf5::read_float_dataset(file, dataset).values;
            s.shape = dims;
        }
        state.push_back(std::move(s));
    }
    try {
        optimizer.load_state(state);
    } catch (const Error& e) {
        throw FormatError(path + ": " + e.what());
    }
}

}  // namespace tomodenoise
