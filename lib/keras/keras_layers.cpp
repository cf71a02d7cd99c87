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

namespace {

using json = nlohmann::json;

// Reads config[key] as T, or throws FormatError naming the file, layer and key.
template <typename T>
T get(const json& config, const char* key, const std::string& where) {
    try {
        return config.at(key).get<T>();
    } catch (const json::exception&) {
        throw FormatError(where + ": missing or invalid '" + key + "' in the layer's config");
    }
}

template <typename T>
T get_or(const json& config, const char* key, T fallback, const std::string& where) {
    if (!config.contains(key) || config.at(key).is_null()) return fallback;
    return get<T>(config, key, where);
}

// A square (k, k) pair, as Keras writes kernel sizes, strides and pool sizes.
std::int64_t square(const json& config, const char* key, const std::string& where) {
    const auto v = get<std::vector<std::int64_t>>(config, key, where);
    if (v.size() != 2 || v[0] != v[1])
        throw FormatError(where + ": '" + key + "' must be a square pair, got " +
                          config.at(key).dump());
    return v[0];
}

void expect_channels_last(const json& config, const std::string& where) {
    const auto fmt = get_or<std::string>(config, "data_format", "channels_last", where);
    if (fmt != "channels_last")
        throw FormatError(where + ": data_format '" + fmt + "' is not supported (channels_last only)");
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

ConvolutionConfig convolution_config(const json& config, const std::string& where) {
    expect_channels_last(config, where);
    if (config.contains("dilation_rate") && square(config, "dilation_rate", where) != 1)
        throw FormatError(where + ": dilated convolutions are not supported");
    if (get_or<std::int64_t>(config, "groups", 1, where) != 1)
        throw FormatError(where + ": grouped convolutions are not supported");
    ConvolutionConfig c;
    c.filters = get<std::int64_t>(config, "filters", where);
    c.kernel = square(config, "kernel_size", where);
    c.stride = square(config, "strides", where);
    c.padding = padding_of(config, where);
    c.use_bias = get_or<bool>(config, "use_bias", true, where);
    c.activation = activation_of(config, where);
    return c;
}

std::unique_ptr<Layer> max_pooling_from_keras(const std::string& name, const json& config,
                                              const std::string& where) {
    expect_channels_last(config, where);
    MaxPoolingConfig c;
    c.pool = square(config, "pool_size", where);
    c.stride = config.contains("strides") && !config["strides"].is_null()
                   ? square(config, "strides", where)
                   : c.pool;
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
        throw FormatError(where + ": interpolation '" + mode + "' is not supported (nearest, bilinear)");
    return std::make_unique<UpsamplingLayer>(name, c);
}

std::unique_ptr<Layer> dense_from_keras(const std::string& name, const json& config,
                                        const std::string& where) {
    DenseConfig c;
    c.units = get<std::int64_t>(config, "units", where);
    c.use_bias = get_or<bool>(config, "use_bias", true, where);
    c.activation = activation_of(config, where);
    return std::make_unique<DenseLayer>(name, c);
}

std::unique_ptr<Layer> activation_from_keras(const std::string& name, const json& config,
                                             const std::string& where) {
    const auto fn = get<std::string>(config, "activation", where);
    if (fn == "softmax") return std::make_unique<SoftmaxLayer>(name);
    return std::make_unique<ActivationLayer>(name, activation_from_keras(fn, where));
}

void expect_channel_axis(const json& config, const std::string& where) {
    const auto axis = get_or<std::int64_t>(config, "axis", -1, where);
    if (axis != -1 && axis != 3)
        throw FormatError(where + ": only the channel axis (-1) is supported, got axis " +
                          std::to_string(axis));
}

}  // namespace

std::unique_ptr<Layer> layer_from_keras(const std::string& class_name, const json& config,
                                        const std::string& file) {
    const std::string name = get<std::string>(config, "name", file);
    const std::string where = file + ": layer '" + name + "' (" + class_name + ")";
    if (class_name == "Conv2D")
        return std::make_unique<ConvolutionLayer>(name, convolution_config(config, where));
    if (class_name == "Conv2DTranspose") {
        if (config.contains("output_padding") && !config["output_padding"].is_null())
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
            name, Activation::leaky_relu(get_or<float>(config, "alpha", keras_leaky_relu_alpha, where)));
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
        case Initializer::glorot_uniform: return "GlorotUniform";
        case Initializer::he_uniform: return "HeUniform";
        case Initializer::he_normal: return "HeNormal";
        case Initializer::zeros: return "Zeros";
    }
    return "GlorotUniform";
}

}  // namespace tomodenoise
