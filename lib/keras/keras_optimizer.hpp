#pragma once
// The optimizers' Keras form: the optimizer_config of a Keras file's training_config.

#include <nlohmann/json.hpp>

#include "train/optimizer.hpp"

namespace tomodenoise {

/// The Keras optimizer `config` object of `optimizer`, as Keras writes it in training_config.
/// Throws InvalidArgument naming the optimizer for a type with no Keras form.
nlohmann::json keras_optimizer_config(const Optimizer& optimizer);

}  // namespace tomodenoise
