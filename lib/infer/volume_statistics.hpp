#pragma once
// The normalization of a whole volume from one streaming pass over it: the same map for every
// slice and tile, so that no seam appears where statistics would change.

#include <functional>

#include "infer/slice_stream.hpp"
#include "tomodenoise/normalize.hpp"

namespace tomodenoise {

/// Makes a slice's NaN and +-Inf an error naming the source, slice, row and column, or replaces
/// them, as options.non_finite says; the slice is otherwise untouched.
void clean_slice(float* values, const StackShape& shape, std::int64_t slice,
                 const NormalizeOptions& options, const std::string& source);

/// Reads every slice of `source` once (cleaned as clean_slice does) and returns the map
/// normalize() would return for the whole volume at once with `options`: min-max or mean/std
/// of the values, after clipping at the volume's percentiles. Without clipping the statistics
/// are exact (accumulated in double); the percentiles, and the statistics of clipped values,
/// come from a histogram of the values' float bit patterns (2^20 bins: within about 2^-11 of
/// each value, relative). `on_slice` (may be empty) is called after each slice.
Normalization volume_normalization(SliceSource& source, const NormalizeOptions& options,
                                   const std::function<void(std::int64_t slice)>& on_slice = {});

}  // namespace tomodenoise
