#pragma once
// Stacks for the I/O tests: random pixels of any type, and exact comparison.

#include <cstring>

#include "test_support.hpp"
#include "tomodenoise/stack.hpp"

namespace tomodenoise::testing {

/// Random pixels spanning most of the type's range (floats in [-1000, 1000)), from a fixed
/// seed, so that a wrong conversion or a misplaced slice shows.
inline Stack random_stack(StackShape shape, PixelType type, std::uint32_t seed) {
    float lo = -1000.f, hi = 1000.f;
    if (type == PixelType::uint8) lo = 0.f, hi = 255.f;
    if (type == PixelType::uint16) lo = 0.f, hi = 65535.f;
    if (type == PixelType::int16) lo = -32768.f, hi = 32767.f;
    const std::vector<float> values =
        random_values(static_cast<std::size_t>(shape.pixels()), seed, lo, hi);
    return Stack::from_float(shape, values.data(), type);
}

/// Same type, shape and bytes.
inline bool same_pixels(const Stack& a, const Stack& b) {
    return a.type() == b.type() && a.shape() == b.shape() && a.bytes() == b.bytes() &&
           std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

}  // namespace tomodenoise::testing
