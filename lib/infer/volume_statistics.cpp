#include "infer/volume_statistics.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace tomodenoise {

namespace {

// Calls `use` on every slice of `source`, cleaned, in order.
void read_pass(SliceSource& source, const NormalizeOptions& cleaning,
               const std::function<void(float* values, std::size_t count)>& use) {
    const StackShape shape = source.shape();
    std::vector<float> slice(std::size_t(shape.h * shape.w));
    for (std::int64_t s = 0; s < shape.n; ++s) {
        source.read(s, 1, slice.data());
        clean_slice(slice.data(), shape, s, cleaning, source.name());
        use(slice.data(), slice.size());
    }
}

}  // namespace

void clean_slice(float* values, const StackShape& shape, std::int64_t slice,
                 const NormalizeOptions& options, const std::string& source) {
    NormalizeOptions non_finite_only;
    non_finite_only.scaling = Scaling::none;
    non_finite_only.non_finite = options.non_finite;
    non_finite_only.replacement = options.replacement;
    normalize(values, StackShape{1, shape.h, shape.w}, non_finite_only,
              "'" + source + "' slice " + std::to_string(slice));
}

Normalization volume_normalization(SliceSource& source, const NormalizeOptions& options) {
    const std::string name = "'" + source.name() + "'";
    Normalization map;
    RunningMoments moments;
    if (options.clip) {
        StreamingPercentiles percentiles({options.clip_low, options.clip_high}, name);
        for (int pass = 0; pass < 2; ++pass) {
            read_pass(source, options, [&](float* v, std::size_t n) { percentiles.add(v, n); });
            percentiles.finish_pass();
        }
        map.clip_low = percentiles.value(options.clip_low);
        map.clip_high = percentiles.value(options.clip_high);
        if (options.scaling == Scaling::min_max) {
            // The clipped values' extremes are the percentiles themselves.
            map.offset = map.clip_low;
            map.scale = map.clip_high > map.clip_low ? map.clip_high - map.clip_low : 1.0;
            return map;
        }
        if (options.scaling == Scaling::none) return map;
    }
    read_pass(source, options, [&](float* v, std::size_t n) {
        if (options.clip)
            for (std::size_t i = 0; i < n; ++i)
                v[i] = float(std::clamp<double>(v[i], map.clip_low, map.clip_high));
        moments.add(v, n);
    });
    if (options.scaling == Scaling::min_max) {
        map.offset = moments.min(name);
        const double range = moments.max(name) - moments.min(name);
        map.scale = range > 0.0 ? range : 1.0;
    } else if (options.scaling == Scaling::mean_std) {
        map.offset = moments.mean(name);
        const double deviation = moments.standard_deviation(name);
        map.scale = deviation > 0.0 ? deviation : 1.0;
    }
    return map;
}

Normalization volume_normalization(SliceSource& source, const NormalizationSpec& spec,
                                   const NormalizeOptions& cleaning) {
    StreamingNormalizationFit fit(spec, "'" + source.name() + "'");
    while (fit.needs_pass()) {
        read_pass(source, cleaning, [&](float* v, std::size_t n) { fit.add(v, n); });
        fit.finish_pass();
    }
    return fit.result();
}

}  // namespace tomodenoise
