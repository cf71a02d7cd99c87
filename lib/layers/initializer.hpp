#pragma once
// Seeded weight initializers with Keras's definitions.

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

}  // namespace tomodenoise
