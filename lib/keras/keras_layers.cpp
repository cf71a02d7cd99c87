#include "keras/keras_layers.hpp"

#include "layers/activation_layer.hpp"
#include "layers/add.hpp"
#include "layers/concatenation.hpp"
#include "layers/convolution.hpp"
#include "layers/convolution_transpose.hpp"
#include "layers/dense.hpp"
#include "layers/flatten.hpp"
#include "layers/max_pooling.hpp"
#include "layers/softmax.hpp"
#include "layers/upsampling.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

// At most this many characters of a JSON value in a message.
constexpr std::size_t quoted_json_chars = 60;

std::string brief(const nlohmann::json& value) {
    std::string text = value.dump();
    if (text.size() > quoted_json_chars) text = text.substr(0, quoted_json_chars) + "...";
    return text;
}

namespace {

using json = nlohmann::json;

// config[key], or FormatError naming the file, layer and key.
const json& field(const json& config, const char* key, const std::string& where) {
    if (!config.is_object())
        throw FormatError(where + ": the layer's config is a JSON " + config.type_name() +
                          ", not an object");
    const auto it = config.find(key);
    if (it == config.end())
        throw FormatError(where + ": missing '" + key + "' in the layer's config");
    return *it;
}

// Reads config[key] as T (a bool, float or string), or throws FormatError naming the file,
// layer, key and value.
template <typename T>
T get(const json& config, const char* key, const std::string& where) {
    const json& value = field(config, key, where);
    try {
        return value.get<T>();
    } catch (const json::exception&) {
        throw FormatError(where + ": '" + key +
                          "' in the layer's config has the wrong type: " + brief(value));
    }
}

// Whether config[key] is given: Keras writes null for a default.
bool given(const json& config, const char* key) {
    return config.contains(key) && !config.at(key).is_null();
}

template <typename T>
T get_or(const json& config, const char* key, T fallback, const std::string& where) {
    return given(config, key) ? get<T>(config, key, where) : fallback;
}

std::int64_t integer(const json& config, const char* key, const std::string& where,
                     std::int64_t low, std::int64_t high) {
    return keras_integer(field(config, key, where), std::string("'") + key + "'", where, low, high);
}

// A square (k, k) pair of values in [1, max_keras_window], as Keras writes kernel sizes,
// strides and pool sizes.
std::int64_t square(const json& config, const char* key, const std::string& where) {
    const json& pair = field(config, key, where);
    if (!pair.is_array() || pair.size() != 2)
        throw FormatError(where + ": '" + key + "' must be a pair, got " + brief(pair));
    const std::string name = std::string("'") + key + "'";
    const std::int64_t first = keras_integer(pair[0], name, where, 1, max_keras_window);
    if (keras_integer(pair[1], name, where, 1, max_keras_window) != first)
        throw FormatError(where + ": '" + key + "' must be a square pair, got " + brief(pair));
    return first;
}

void expect_channels_last(const json& config, const std::string& where) {
    const auto fmt = get_or<std::string>(config, "data_format", "channels_last", where);
    if (fmt != "channels_last")
        throw FormatError(where + ": data_format '" + fmt +
                          "' is not supported (channels_last only)");
}

Padding padding_of(const json& config, const std::string& where) {
    const auto p = get_or<std::string>(config, "padding", "valid", where);
    if (p == "same") return Padding::same;
    if (p == "valid") return Padding::valid;
    throw FormatError(where + ": padding '" + p + "' is not supported (same, valid)");
}

// From a Keras activation name ("relu", "linear", "sigmoid", "tanh"); throws FormatError
// naming `where` and the name otherwise.
Activation activation_from_keras(const std::string& name, const std::string& where) {
    if (name == "linear") return Activation::linear();
    if (name == "relu") return Activation::relu();
    if (name == "sigmoid") return Activation::sigmoid();
    if (name == "tanh") return Activation::tanh();
    throw FormatError(where + ": unsupported activation '" + name +
                      "' (supported: linear, relu, sigmoid, tanh)");
}

Activation activation_of(const json& config, const std::string& where) {
    return activation_from_keras(get_or<std::string>(config, "activation", "linear", where), where);
}

// The kernel initializer this library writes (keras_name); any other (Keras 2.2's
// VarianceScaling, say) reads as Keras's default: it only matters to weights drawn anew, and a
// loaded layer has its file's.
Initializer kernel_initializer_of(const json& config) {
    const auto found = config.find("kernel_initializer");
    if (found == config.end() || !found->is_object() || !found->contains("class_name") ||
        !found->at("class_name").is_string())
        return Initializer::glorot_uniform;
    const auto name = found->at("class_name").get<std::string>();
    for (const Initializer init : {Initializer::he_uniform, Initializer::he_normal})
        if (name == keras_name(init)) return init;
    return Initializer::glorot_uniform;
}

ConvolutionConfig convolution_config(const json& config, const std::string& where) {
    expect_channels_last(config, where);
    if (given(config, "dilation_rate") && square(config, "dilation_rate", where) != 1)
        throw FormatError(where + ": dilated convolutions are not supported");
    if (given(config, "groups") && integer(config, "groups", where, 1, max_keras_channels) != 1)
        throw FormatError(where + ": grouped convolutions are not supported");
    ConvolutionConfig c;
    c.filters = integer(config, "filters", where, 1, max_keras_channels);
    c.kernel = square(config, "kernel_size", where);
    c.stride = square(config, "strides", where);
    c.padding = padding_of(config, where);
    c.use_bias = get_or<bool>(config, "use_bias", true, where);
    c.activation = activation_of(config, where);
    c.kernel_initializer = kernel_initializer_of(config);
    return c;
}

std::unique_ptr<Layer> max_pooling_from_keras(const std::string& name, const json& config,
                                              const std::string& where) {
    expect_channels_last(config, where);
    MaxPoolingConfig c;
    c.pool = square(config, "pool_size", where);
    c.stride = given(config, "strides") ? square(config, "strides", where) : c.pool;
    c.padding = padding_of(config, where);
    return std::make_unique<MaxPoolingLayer>(name, c);
}

std::unique_ptr<Layer> upsampling_from_keras(const std::string& name, const json& config,
                                             const std::string& where) {
    expect_channels_last(config, where);
    UpsamplingConfig c;
    c.factor = square(config, "size", where);
    // Keras 2.2.x has no 'interpolation' key: nearest.
    const auto mode = get_or<std::string>(config, "interpolation", "nearest", where);
    if (mode == "nearest")
        c.interpolation = Interpolation::nearest;
    else if (mode == "bilinear")
        c.interpolation = Interpolation::bilinear;
    else
        throw FormatError(where + ": interpolation '" + mode +
                          "' is not supported (nearest, bilinear)");
    return std::make_unique<UpsamplingLayer>(name, c);
}

std::unique_ptr<Layer> dense_from_keras(const std::string& name, const json& config,
                                        const std::string& where) {
    DenseConfig c;
    c.units = integer(config, "units", where, 1, max_keras_channels);
    c.use_bias = get_or<bool>(config, "use_bias", true, where);
    c.activation = activation_of(config, where);
    c.kernel_initializer = kernel_initializer_of(config);
    return std::make_unique<DenseLayer>(name, c);
}

std::unique_ptr<Layer> activation_from_keras(const std::string& name, const json& config,
                                             const std::string& where) {
    const auto fn = get<std::string>(config, "activation", where);
    if (fn == "softmax") return std::make_unique<SoftmaxLayer>(name);
    return std::make_unique<ActivationLayer>(name, activation_from_keras(fn, where));
}

void expect_channel_axis(const json& config, const std::string& where) {
    const auto axis = given(config, "axis") ? integer(config, "axis", where, -1, 3) : -1;
    if (axis != -1 && axis != 3)
        throw FormatError(where + ": only the channel axis (-1) is supported, got axis " +
                          std::to_string(axis));
}

}  // namespace

std::string keras_string(const json& object, const char* key, const std::string& where,
                         const std::string& fallback) {
    if (!object.is_object())
        throw FormatError(where + ": expected a JSON object with '" + key + "', got " +
                          brief(object));
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return fallback;
    if (!it->is_string())
        throw FormatError(where + ": '" + key + "' must be a string, got " + brief(*it));
    return it->get<std::string>();
}

std::int64_t keras_integer(const json& value, const std::string& field, const std::string& where,
                           std::int64_t low, std::int64_t high) {
    if (!value.is_number_integer())
        throw FormatError(where + ": " + field + " must be an integer, got " + brief(value));
    // An unsigned value above the int64 range would wrap to a negative one.
    if (value.is_number_unsigned() && value.get<std::uint64_t>() > std::uint64_t(high))
        throw FormatError(where + ": " + field + " is " + brief(value) + ", must be between " +
                          std::to_string(low) + " and " + std::to_string(high));
    const auto v = value.get<std::int64_t>();
    if (v < low || v > high)
        throw FormatError(where + ": " + field + " is " + std::to_string(v) + ", must be between " +
                          std::to_string(low) + " and " + std::to_string(high));
    return v;
}

std::unique_ptr<Layer> layer_from_keras(const std::string& class_name, const json& config,
                                        const std::string& file) {
    const std::string unnamed = file + ": a layer of class '" + class_name + "'";
    const std::string name = keras_string(config, "name", unnamed);
    if (name.empty()) throw FormatError(unnamed + " has no name");
    const std::string where = file + ": layer '" + name + "' (" + class_name + ")";
    if (class_name == "Conv2D")
        return std::make_unique<ConvolutionLayer>(name, convolution_config(config, where));
    if (class_name == "Conv2DTranspose") {
        if (given(config, "output_padding"))
            throw FormatError(where + ": output_padding is not supported");
        return std::make_unique<ConvolutionTransposeLayer>(name, convolution_config(config, where));
    }
    if (class_name == "MaxPooling2D") return max_pooling_from_keras(name, config, where);
    if (class_name == "UpSampling2D") return upsampling_from_keras(name, config, where);
    if (class_name == "Concatenate") {
        expect_channel_axis(config, where);
        return std::make_unique<ConcatenationLayer>(name);
    }
    if (class_name == "Add") return std::make_unique<AddLayer>(name);
    if (class_name == "Dense") return dense_from_keras(name, config, where);
    if (class_name == "Flatten") return std::make_unique<FlattenLayer>(name);
    if (class_name == "Activation") return activation_from_keras(name, config, where);
    if (class_name == "Softmax") {
        expect_channel_axis(config, where);
        return std::make_unique<SoftmaxLayer>(name);
    }
    if (class_name == "LeakyReLU")
        return std::make_unique<ActivationLayer>(
            name,
            Activation::leaky_relu(get_or<float>(config, "alpha", keras_leaky_relu_alpha, where)));
    throw FormatError(where + ": layer class '" + class_name +
                      "' is not supported (supported: InputLayer, Conv2D, Conv2DTranspose, "
                      "MaxPooling2D, UpSampling2D, Concatenate, Add, Dense, Flatten, Activation, "
                      "Softmax, LeakyReLU)");
}

namespace {

// The keys Keras writes for a layer with a kernel and a bias: initializers (the kernel's
// `kernel`, zero biases), regularizers and constraints (none).
json keras_weight_settings(Initializer kernel) {
    return {{"kernel_initializer",
             {{"class_name", keras_name(kernel)}, {"config", {{"seed", nullptr}}}}},
            {"bias_initializer", {{"class_name", "Zeros"}, {"config", json::object()}}},
            {"kernel_regularizer", nullptr},
            {"bias_regularizer", nullptr},
            {"activity_regularizer", nullptr},
            {"kernel_constraint", nullptr},
            {"bias_constraint", nullptr}};
}

// The Keras config of a Conv2D layer named `name`; Conv2DTranspose adds to it.
json convolution_keras_config(const std::string& name, const ConvolutionConfig& config) {
    const json k = {config.kernel, config.kernel};
    const json s = {config.stride, config.stride};
    json c = {{"name", name},
              {"trainable", true},
              {"dtype", "float32"},
              {"filters", config.filters},
              {"kernel_size", k},
              {"strides", s},
              {"padding", config.padding == Padding::same ? "same" : "valid"},
              {"data_format", "channels_last"},
              {"dilation_rate", {1, 1}},
              {"groups", 1},
              {"activation", config.activation.name()},
              {"use_bias", config.use_bias}};
    c.update(keras_weight_settings(config.kernel_initializer));
    return c;
}

json dense_keras_config(const std::string& name, const DenseConfig& config) {
    json c = {{"name", name},
              {"trainable", true},
              {"dtype", "float32"},
              {"units", config.units},
              {"activation", config.activation.name()},
              {"use_bias", config.use_bias}};
    c.update(keras_weight_settings(config.kernel_initializer));
    return c;
}

json activation_keras_config(const std::string& name, const Activation& activation) {
    json config = {{"name", name}, {"trainable", true}, {"dtype", "float32"}};
    // Keras stores alpha as a float32 and writes float(alpha): 0.3 reads 0.30000001192092896.
    if (activation.kind == Activation::Kind::leaky_relu)
        config["alpha"] = double(activation.alpha);
    else
        config["activation"] = activation.name();
    return config;
}

json max_pooling_keras_config(const std::string& name, const MaxPoolingConfig& config) {
    return {{"name", name},
            {"trainable", true},
            {"dtype", "float32"},
            {"pool_size", {config.pool, config.pool}},
            {"padding", config.padding == Padding::same ? "same" : "valid"},
            {"strides", {config.stride, config.stride}},
            {"data_format", "channels_last"}};
}

json upsampling_keras_config(const std::string& name, const UpsamplingConfig& config) {
    return {{"name", name},
            {"trainable", true},
            {"dtype", "float32"},
            {"size", {config.factor, config.factor}},
            {"data_format", "channels_last"},
            {"interpolation",
             config.interpolation == Interpolation::bilinear ? "bilinear" : "nearest"}};
}

}  // namespace

json keras_layer_config(const Layer& layer) {
    const std::string& name = layer.name();
    if (const auto* conv = dynamic_cast<const ConvolutionLayer*>(&layer))
        return convolution_keras_config(name, conv->config());
    if (const auto* deconv = dynamic_cast<const ConvolutionTransposeLayer*>(&layer)) {
        auto config = convolution_keras_config(name, deconv->config());
        config["output_padding"] = nullptr;
        return config;
    }
    if (const auto* dense = dynamic_cast<const DenseLayer*>(&layer))
        return dense_keras_config(name, dense->config());
    if (const auto* activation = dynamic_cast<const ActivationLayer*>(&layer))
        return activation_keras_config(name, activation->activation());
    if (const auto* pool = dynamic_cast<const MaxPoolingLayer*>(&layer))
        return max_pooling_keras_config(name, pool->config());
    if (const auto* up = dynamic_cast<const UpsamplingLayer*>(&layer))
        return upsampling_keras_config(name, up->config());
    const json common = {{"name", name}, {"trainable", true}, {"dtype", "float32"}};
    if (dynamic_cast<const AddLayer*>(&layer)) return common;
    if (dynamic_cast<const ConcatenationLayer*>(&layer)) {
        json config = common;
        config["axis"] = -1;
        return config;
    }
    if (dynamic_cast<const FlattenLayer*>(&layer)) {
        json config = common;
        config["data_format"] = "channels_last";
        return config;
    }
    if (dynamic_cast<const SoftmaxLayer*>(&layer)) {
        json config = common;
        config["activation"] = "softmax";
        return config;
    }
    throw InvalidArgument("layer '" + name + "' (" + layer.type() + ") has no Keras form");
}

std::vector<int> keras_axes(const Layer& layer, const Parameter& p) {
    if (p.name() == "kernel") {
        if (dynamic_cast<const ConvolutionLayer*>(&layer)) return {2, 3, 1, 0};
        if (dynamic_cast<const ConvolutionTransposeLayer*>(&layer)) return {2, 3, 0, 1};
        if (dynamic_cast<const DenseLayer*>(&layer)) return {1, 0};
    }
    std::vector<int> axes(p.shape().size());
    for (std::size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int>(i);
    return axes;
}

std::string keras_name(Initializer init) {
    switch (init) {
        case Initializer::glorot_uniform:
            return "GlorotUniform";
        case Initializer::he_uniform:
            return "HeUniform";
        case Initializer::he_normal:
            return "HeNormal";
        case Initializer::zeros:
            return "Zeros";
    }
    return "GlorotUniform";
}

}  // namespace tomodenoise
