#include "models/keras_layers.hpp"

#include "layers/convolution.hpp"
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

std::unique_ptr<Layer> convolution_from_keras(const std::string& name, const json& config,
                                              const std::string& where) {
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
    c.activation = Activation::from_keras(get_or<std::string>(config, "activation", "linear", where),
                                          where);
    return std::make_unique<ConvolutionLayer>(name, c);
}

}  // namespace

std::unique_ptr<Layer> layer_from_keras(const std::string& class_name, const json& config,
                                        const std::string& file) {
    const std::string name = get<std::string>(config, "name", file);
    const std::string where = file + ": layer '" + name + "' (" + class_name + ")";
    if (class_name == "Conv2D") return convolution_from_keras(name, config, where);
    throw FormatError(where + ": layer class '" + class_name + "' is not supported");
}

}  // namespace tomodenoise
