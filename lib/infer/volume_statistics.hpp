#pragma once
// The normalization of a whole volume from streaming passes over it: the same map for every
// slice and tile, so that no seam appears where statistics would change. The percentiles are
// normalize.hpp's StreamingPercentiles (exact after two passes), the moments its RunningMoments.

#include <cstdint>
#include <string>

#include "infer/slice_stream.hpp"
#include "tomodenoise/normalize.hpp"

namespace tomodenoise {

/// Makes a slice's NaN and +-Inf an error naming the source, slice, row and column, or replaces
/// them, as options.non_finite says; the slice is otherwise untouched.
void clean_slice(float* values, const StackShape& shape, std::int64_t slice,
                 const NormalizeOptions& options, const std::string& source);

/// Reads every slice of `source` (cleaned as clean_slice does) as many times as needed and
/// returns the map normalize() returns for the whole volume at once with `options`: min-max or
/// mean/std of the values, after clipping at the volume's percentiles. Passes: one without
/// clipping; two with it (the exact percentiles), three for mean/std of clipped values.
Normalization volume_normalization(SliceSource& source, const NormalizeOptions& options);

/// The map of a model's recorded normalization fitted to the whole of `source`, read as many
/// times as StreamingNormalizationFit needs (cleaned as `cleaning` says): equal to
/// fit_normalization on the whole volume at once.
Normalization volume_normalization(SliceSource& source, const NormalizationSpec& spec,
                                   const NormalizeOptions& cleaning);

}  // namespace tomodenoise
