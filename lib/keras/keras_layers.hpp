#pragma once
// Keras layer classes <-> the framework's layers: what a model_config entry becomes on load,
// what a layer's entry is on save, and how its weights are laid out in a Keras file.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/layer.hpp"
#include "layers/initializer.hpp"

namespace tomodenoise {

/// The largest sizes a model_config may declare, so that a corrupt file is refused before
/// anything is allocated for it: filters, units and input channels; kernel sizes, strides,
/// pool sizes and upsampling factors; declared input heights and widths.
constexpr std::int64_t max_keras_channels = 65536;
constexpr std::int64_t max_keras_window = 64;
constexpr std::int64_t max_keras_input_size = std::int64_t(1) << 20;

/// `value` as JSON text for a message, cut to 60 characters.
std::string brief(const nlohmann::json& value);

/// `object[key]` as a string, `fallback` when absent or null. Throws FormatError naming
/// `where` and the key when `object` is no JSON object or the value no string.
std::string keras_string(const nlohmann::json& object, const char* key, const std::string& where,
                         const std::string& fallback = "");

/// `value` (the field `field` of a config) as an integer in [low, high]. Throws FormatError
/// naming `where`, the field and the value otherwise.
std::int64_t keras_integer(const nlohmann::json& value, const std::string& field,
                           const std::string& where, std::int64_t low, std::int64_t high);

/// A layer made from a Keras model_config entry (`class_name` and its `config`). Throws
/// FormatError naming `where` (the file), the layer and its class for anything unsupported.
std::unique_ptr<Layer> layer_from_keras(const std::string& class_name, const nlohmann::json& config,
                                        const std::string& where);

/// Keras's LeakyReLU default negative slope.
constexpr float keras_leaky_relu_alpha = 0.3f;

/// The layer's Keras `config` object (name included), as Keras writes it in model_config.
/// Throws InvalidArgument naming the layer for a layer type with no Keras form.
nlohmann::json keras_layer_config(const Layer& layer);

/// How `p`, a parameter of `layer`, is stored in a Keras file: Keras's dim i is the
/// parameter's dim axes[i]. Identity except for kernels: convolution kernels (OIHW here) are
/// HWIO there, transposed convolution kernels {out, in, kh, kw} are (kh, kw, out, in), dense
/// kernels {units, in} are (in, units).
std::vector<int> keras_axes(const Layer& layer, const Parameter& p);

std::string keras_name(Initializer init);  ///< "GlorotUniform", "HeUniform", ...

}  // namespace tomodenoise
