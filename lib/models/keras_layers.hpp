#pragma once
// Keras layer classes <-> the framework's layers: what a model_config entry becomes on load.

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "core/layer.hpp"

namespace tomodenoise {

/// A layer made from a Keras model_config entry (`class_name` and its `config`). Throws
/// FormatError naming `where` (the file), the layer and its class for anything unsupported.
std::unique_ptr<Layer> layer_from_keras(const std::string& class_name,
                                        const nlohmann::json& config, const std::string& where);

}  // namespace tomodenoise
