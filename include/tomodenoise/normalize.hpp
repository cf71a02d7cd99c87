#pragma once
/// @file
/// Preparing float data for a network and mapping results back: non-finite values found (an
/// error by default) or replaced, outliers clipped at percentiles, and min-max or mean/std
/// scaling whose parameters are recorded so that outputs map back to input units.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// The value below which `percent` % of the finite values lie, interpolating linearly between
/// the sorted values (NumPy's default): position percent / 100 * (n - 1). NaN and +-Inf are
/// ignored. InvalidArgument when `percent` is outside [0, 100] or no value is finite.
double percentile(const float* values, std::size_t count, double percent);

/// How many values are NaN or +-Inf, and the flat index of the first (-1 when none).
struct NonFiniteReport {
    std::int64_t count = 0;
    std::int64_t first = -1;
};
NonFiniteReport find_non_finite(const float* values, std::size_t count);

/// What normalize does with NaN and +-Inf.
enum class NonFinitePolicy {
    error,    ///< FormatError naming how many and the first (slice, row, col)
    replace,  ///< each becomes NormalizeOptions::replacement before anything else
};

/// The affine map normalize applies after clipping.
enum class Scaling {
    none,      ///< offset 0, scale 1
    min_max,   ///< to [0, 1]: offset = min, scale = max - min
    mean_std,  ///< to mean 0, standard deviation 1 (population): offset = mean, scale = std
};

struct NormalizeOptions {
    NonFinitePolicy non_finite = NonFinitePolicy::error;
    float replacement = 0.f;
    bool clip = false;                          ///< clip at percentiles before scaling
    double clip_low = 0.05, clip_high = 99.95;  ///< percentiles, in percent
    Scaling scaling = Scaling::min_max;
};

/// What normalize did: y = (clamp(x, clip_low, clip_high) - offset) / scale. A constant input
/// (zero range or zero deviation) gets scale 1, so it maps to 0 rather than to NaN.
struct Normalization {
    double clip_low = -std::numeric_limits<double>::infinity();  ///< -inf: no clipping
    double clip_high = std::numeric_limits<double>::infinity();
    double offset = 0.0;
    double scale = 1.0;

    /// The same map on other values (e.g. test data with the training data's parameters).
    void apply(float* values, std::size_t count) const;
    /// Back to input units: x = y * scale + offset. Clipping cannot be undone.
    void inverse(float* values, std::size_t count) const;
};

/// Normalizes `values`, a stack of `shape`, in place and returns what it did. `source` names
/// the data in error messages (a file, "FILE:/dataset").
Normalization normalize(float* values, const StackShape& shape,
                        const NormalizeOptions& options = {}, const std::string& source = "data");

}  // namespace tomodenoise
