#pragma once
// Seeded weight initializers with Keras's definitions.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <random>
#include <string>

#include "core/parameter.hpp"

namespace tomodenoise {

enum class Initializer {
    glorot_uniform,  ///< Keras's default: U(-l, l), l = sqrt(6 / (fan_in + fan_out))
    he_uniform,      ///< U(-l, l), l = sqrt(6 / fan_in)
    he_normal,       ///< truncated N(0, sqrt(2 / fan_in)), cut at two standard deviations
    zeros,
};

/// Fills `p` and marks it changed.
void initialize(Parameter& p, Initializer init, std::int64_t fan_in, std::int64_t fan_out,
                std::mt19937& rng);

std::string keras_name(Initializer init);  ///< "GlorotUniform", "HeUniform", ...

/// The keys Keras writes for a layer with a kernel and a bias: initializers (the kernel's
/// `kernel`, zero biases), regularizers and constraints (none).
nlohmann::json keras_weight_settings(Initializer kernel);

}  // namespace tomodenoise
