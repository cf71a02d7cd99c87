#include "tomodenoise/normalize.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

double percentile(const float* values, std::size_t count, double percent) {
    if (!(percent >= 0.0 && percent <= 100.0))
        throw InvalidArgument("percentile " + std::to_string(percent) + " is outside [0, 100]");
    std::vector<float> finite;
    finite.reserve(count);
    std::copy_if(values, values + count, std::back_inserter(finite),
                 [](float v) { return std::isfinite(v); });
    if (finite.empty())
        throw InvalidArgument("no finite value among " + std::to_string(count) +
                              " to take a percentile of");
    const double position = percent / 100.0 * static_cast<double>(finite.size() - 1);
    const std::size_t below = static_cast<std::size_t>(std::floor(position));
    const auto lower = finite.begin() + static_cast<std::ptrdiff_t>(below);
    std::nth_element(finite.begin(), lower, finite.end());
    const double fraction = position - static_cast<double>(below);
    if (fraction == 0.0) return *lower;
    // nth_element leaves the larger values after `lower`; the next order statistic is their
    // minimum.
    const double upper = *std::min_element(lower + 1, finite.end());
    return *lower + fraction * (upper - *lower);
}

NonFiniteReport find_non_finite(const float* values, std::size_t count) {
    NonFiniteReport report;
    for (std::size_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i])) {
            if (report.count++ == 0) report.first = static_cast<std::int64_t>(i);
        }
    return report;
}

void Normalization::apply(float* values, std::size_t count) const {
    for (std::size_t i = 0; i < count; ++i) {
        const double clipped = std::clamp(static_cast<double>(values[i]), clip_low, clip_high);
        values[i] = static_cast<float>((clipped - offset) / scale);
    }
}

void Normalization::inverse(float* values, std::size_t count) const {
    for (std::size_t i = 0; i < count; ++i)
        values[i] = static_cast<float>(values[i] * scale + offset);
}

Normalization normalize(float* values, const StackShape& shape, const NormalizeOptions& options,
                        const std::string& source) {
    const std::size_t count = static_cast<std::size_t>(shape.pixels());
    const NonFiniteReport non_finite = find_non_finite(values, count);
    if (non_finite.count > 0) {
        if (options.non_finite == NonFinitePolicy::error) {
            const std::int64_t plane = shape.h * shape.w, i = non_finite.first;
            throw FormatError(
                source + " " + shape.to_string() + " holds " + std::to_string(non_finite.count) +
                " NaN or infinite values, the first at (slice, row, col) = (" +
                std::to_string(i / plane) + ", " + std::to_string(i % plane / shape.w) + ", " +
                std::to_string(i % shape.w) + ")");
        }
        std::replace_if(
            values, values + count, [](float v) { return !std::isfinite(v); }, options.replacement);
    }

    Normalization normalization;
    if (count == 0) return normalization;
    if (options.clip) {
        if (!(options.clip_low < options.clip_high))
            throw InvalidArgument("clip percentiles " + std::to_string(options.clip_low) + " and " +
                                  std::to_string(options.clip_high) + " for " + source +
                                  " are not increasing");
        normalization.clip_low = percentile(values, count, options.clip_low);
        normalization.clip_high = percentile(values, count, options.clip_high);
    }

    // Statistics of the clipped values, accumulated in double.
    const auto clipped = [&](std::size_t i) {
        return std::clamp(static_cast<double>(values[i]), normalization.clip_low,
                          normalization.clip_high);
    };
    if (options.scaling == Scaling::min_max) {
        double low = clipped(0), high = low;
        for (std::size_t i = 1; i < count; ++i) {
            low = std::min(low, clipped(i));
            high = std::max(high, clipped(i));
        }
        normalization.offset = low;
        normalization.scale = high > low ? high - low : 1.0;
    } else if (options.scaling == Scaling::mean_std) {
        double sum = 0.0;
        for (std::size_t i = 0; i < count; ++i) sum += clipped(i);
        const double mean = sum / static_cast<double>(count);
        double squares = 0.0;
        for (std::size_t i = 0; i < count; ++i) {
            const double deviation = clipped(i) - mean;
            squares += deviation * deviation;
        }
        const double std_dev = std::sqrt(squares / static_cast<double>(count));
        normalization.offset = mean;
        normalization.scale = std_dev > 0.0 ? std_dev : 1.0;
    }
    normalization.apply(values, count);
    return normalization;
}

}  // namespace tomodenoise
