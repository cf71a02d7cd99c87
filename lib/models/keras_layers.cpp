#include "models/keras_layers.hpp"

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

Activation activation_of(const json& config, const std::string& where) {
    return Activation::from_keras(get_or<std::string>(config, "activation", "linear", where), where);
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
    return std::make_unique<ActivationLayer>(name, Activation::from_keras(fn, where));
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

}  // namespace tomodenoise
