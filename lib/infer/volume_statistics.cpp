#include "infer/volume_statistics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace tomodenoise {

namespace {

// A histogram of float values by the top bits of their bit patterns, mapped so that the order
// of the keys is the order of the values: no range needs to be known before the pass. Private
// until the streaming percentile estimator of normalize.hpp replaces it.
class BitPatternHistogram {
public:
    static constexpr int dropped_bits = 12;  // 2^20 bins of 2^12 neighbouring floats each

    BitPatternHistogram() : counts_(std::size_t(1) << (32 - dropped_bits), 0) {}

    void add(const float* values, std::size_t count) {
        for (std::size_t i = 0; i < count; ++i) ++counts_[key(values[i]) >> dropped_bits];
    }

    // The value of rank `rank` (0-based) among `total`, interpolated inside its bin.
    double value_of_rank(std::uint64_t rank) const {
        std::uint64_t before = 0;
        std::size_t bin = 0;
        while (before + counts_[bin] <= rank) before += counts_[bin++];
        const double low = value(std::uint32_t(bin) << dropped_bits);
        const double high =
            value((std::uint32_t(bin) << dropped_bits) | ((1u << dropped_bits) - 1));
        return low + (double(rank - before) + 0.5) / double(counts_[bin]) * (high - low);
    }

    // Calls f(representative value, count) for every non-empty bin.
    template <typename F>
    void for_each_bin(F f) const {
        for (std::size_t bin = 0; bin < counts_.size(); ++bin)
            if (counts_[bin] != 0)
                f(value((std::uint32_t(bin) << dropped_bits) | (1u << (dropped_bits - 1))),
                  counts_[bin]);
    }

private:
    static std::uint32_t key(float v) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
    }
    static double value(std::uint32_t key) {
        const std::uint32_t bits = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
        float v;
        std::memcpy(&v, &bits, sizeof v);
        return v;
    }

    std::vector<std::uint64_t> counts_;
};

// Count, mean and sum of squared deviations, merged slice by slice (Chan et al.).
struct Moments {
    double count = 0, mean = 0, m2 = 0;
    double low = std::numeric_limits<double>::infinity();
    double high = -std::numeric_limits<double>::infinity();

    void add(const float* values, std::size_t n) {
        double sum = 0;
        for (std::size_t i = 0; i < n; ++i) sum += values[i];
        const double slice_mean = sum / double(n);
        double slice_m2 = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double d = values[i] - slice_mean;
            slice_m2 += d * d;
            low = std::min(low, double(values[i]));
            high = std::max(high, double(values[i]));
        }
        const double total = count + double(n), delta = slice_mean - mean;
        mean += delta * double(n) / total;
        m2 += slice_m2 + delta * delta * count * double(n) / total;
        count = total;
    }
};

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

Normalization volume_normalization(SliceSource& source, const NormalizeOptions& options,
                                   const std::function<void(std::int64_t slice)>& on_slice) {
    const StackShape shape = source.shape();
    const std::size_t plane = std::size_t(shape.h * shape.w);
    std::vector<float> slice(plane);
    Moments moments;
    std::vector<BitPatternHistogram> histogram(options.clip ? 1 : 0);
    for (std::int64_t s = 0; s < shape.n; ++s) {
        source.read(s, 1, slice.data());
        clean_slice(slice.data(), shape, s, options, source.name());
        moments.add(slice.data(), plane);
        if (options.clip) histogram[0].add(slice.data(), plane);
        if (on_slice) on_slice(s);
    }

    Normalization map;
    double low = moments.low, high = moments.high, mean = moments.mean;
    double variance = moments.m2 / moments.count;
    if (options.clip) {
        const auto percentile = [&](double percent) {
            const double position = percent / 100.0 * (moments.count - 1);
            const auto below = std::uint64_t(std::floor(position));
            const double fraction = position - double(below);
            const auto at = [&](std::uint64_t rank) {
                return std::clamp(histogram[0].value_of_rank(rank), moments.low, moments.high);
            };
            const double lower = at(below);
            return fraction == 0.0 ? lower : lower + fraction * (at(below + 1) - lower);
        };
        map.clip_low = percentile(options.clip_low);
        map.clip_high = percentile(options.clip_high);
        low = std::clamp(low, map.clip_low, map.clip_high);
        high = std::clamp(high, map.clip_low, map.clip_high);
        double sum = 0, squares = 0;
        histogram[0].for_each_bin([&](double v, std::uint64_t n) {
            sum += double(n) * std::clamp(v, map.clip_low, map.clip_high);
        });
        mean = sum / moments.count;
        histogram[0].for_each_bin([&](double v, std::uint64_t n) {
            const double d = std::clamp(v, map.clip_low, map.clip_high) - mean;
            squares += double(n) * d * d;
        });
        variance = squares / moments.count;
    }
    if (options.scaling == Scaling::min_max) {
        map.offset = low;
        map.scale = high > low ? high - low : 1.0;
    } else if (options.scaling == Scaling::mean_std) {
        const double std_dev = std::sqrt(variance);
        map.offset = mean;
        map.scale = std_dev > 0.0 ? std_dev : 1.0;
    }
    return map;
}

}  // namespace tomodenoise
