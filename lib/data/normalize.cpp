#include "tomodenoise/normalize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <utility>
#include <vector>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

// A percent as a person writes it (0.05, 99.95, 1e-07), not std::to_string's 0.050000.
std::string percent_text(double percent) {
    std::ostringstream text;
    text << percent;
    return text.str();
}

}  // namespace

double percentile(const float* values, std::size_t count, double percent) {
    if (!(percent >= 0.0 && percent <= 100.0))
        throw InvalidArgument("percentile " + percent_text(percent) + " is outside [0, 100]");
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

std::string to_string(NormalizationMethod method) {
    switch (method) {
        case NormalizationMethod::none:
            return "none";
        case NormalizationMethod::percentile_range:
            return "percentile_range";
        case NormalizationMethod::mean_std:
            return "mean_std";
    }
    return "unknown";
}

NormalizationMethod parse_normalization_method(const std::string& name) {
    for (auto method : {NormalizationMethod::none, NormalizationMethod::percentile_range,
                        NormalizationMethod::mean_std})
        if (name == to_string(method)) return method;
    throw InvalidArgument("normalization method '" + name +
                          "' is not one of none, percentile_range, mean_std");
}

bool operator==(const NormalizationSpec& a, const NormalizationSpec& b) {
    return a.method == b.method &&
           (a.method != NormalizationMethod::percentile_range ||
            (a.low_percent == b.low_percent && a.high_percent == b.high_percent));
}

std::string to_string(const NormalizationSpec& spec) {
    if (spec.method != NormalizationMethod::percentile_range) return to_string(spec.method);
    return to_string(spec.method) + " " + percent_text(spec.low_percent) + ".." +
           percent_text(spec.high_percent);
}

void check_normalization_spec(const NormalizationSpec& spec) {
    if (spec.method != NormalizationMethod::percentile_range) return;
    const auto check_percent = [](double percent, const char* field) {
        if (!(percent >= 0.0 && percent <= 100.0))
            throw InvalidArgument(std::string(field) + " " + percent_text(percent) +
                                  " is not a percentile in [0, 100]");
    };
    check_percent(spec.low_percent, "low_percent");
    check_percent(spec.high_percent, "high_percent");
    if (!(spec.low_percent < spec.high_percent))
        throw InvalidArgument("low_percent " + percent_text(spec.low_percent) +
                              " is not below high_percent " + percent_text(spec.high_percent));
}

namespace {

// The map that clips at the percentile values `low` and `high` and scales that range to 0..1.
Normalization percentile_range_map(double low, double high) {
    Normalization n;
    n.clip_low = low;
    n.clip_high = high;
    n.offset = low;
    n.scale = high > low ? high - low : 1.0;
    return n;
}

Normalization mean_std_map(const RunningMoments& moments, const std::string& source) {
    Normalization n;
    n.offset = moments.mean(source);
    const double deviation = moments.standard_deviation(source);
    n.scale = deviation > 0.0 ? deviation : 1.0;
    return n;
}

}  // namespace

Normalization fit_normalization(const NormalizationSpec& spec, const float* values,
                                std::size_t count, const std::string& source) {
    check_normalization_spec(spec);
    switch (spec.method) {
        case NormalizationMethod::none:
            return Normalization{};
        case NormalizationMethod::percentile_range:
            if (find_non_finite(values, count).count == static_cast<std::int64_t>(count))
                throw InvalidArgument(source + ": no finite value among " + std::to_string(count) +
                                      " to fit a percentile_range normalization to");
            return percentile_range_map(percentile(values, count, spec.low_percent),
                                        percentile(values, count, spec.high_percent));
        case NormalizationMethod::mean_std: {
            RunningMoments moments;
            moments.add(values, count);
            return mean_std_map(moments, source);
        }
    }
    throw InvalidArgument(source + ": unknown normalization method");
}

void RunningMoments::add(const float* values, std::size_t count) {
    std::int64_t finite = 0;
    double sum = 0.0, low = 0.0, high = 0.0;
    for (std::size_t i = 0; i < count; ++i) {
        if (!std::isfinite(values[i])) continue;
        const double v = values[i];
        low = finite == 0 ? v : std::min(low, v);
        high = finite == 0 ? v : std::max(high, v);
        sum += v;
        ++finite;
    }
    non_finite_ += static_cast<std::int64_t>(count) - finite;
    if (finite == 0) return;
    // The piece's squared deviations around its own mean, then Chan et al.'s merge.
    const double mean = sum / static_cast<double>(finite);
    double squares = 0.0;
    for (std::size_t i = 0; i < count; ++i)
        if (std::isfinite(values[i])) {
            const double deviation = values[i] - mean;
            squares += deviation * deviation;
        }
    const double before = static_cast<double>(count_), added = static_cast<double>(finite);
    const double total = before + added, delta = mean - mean_;
    mean_ += delta * added / total;
    squares_ += squares + delta * delta * before * added / total;
    min_ = count_ == 0 ? low : std::min(min_, low);
    max_ = count_ == 0 ? high : std::max(max_, high);
    count_ += finite;
}

void RunningMoments::require_values(const std::string& source) const {
    if (count_ == 0)
        throw InvalidArgument(source + ": no finite value among " + std::to_string(non_finite_) +
                              " to take statistics of");
}

double RunningMoments::mean(const std::string& source) const {
    require_values(source);
    return mean_;
}

double RunningMoments::standard_deviation(const std::string& source) const {
    require_values(source);
    return std::sqrt(squares_ / static_cast<double>(count_));
}

double RunningMoments::min(const std::string& source) const {
    require_values(source);
    return min_;
}

double RunningMoments::max(const std::string& source) const {
    require_values(source);
    return max_;
}

namespace {

// Float bit patterns as unsigned keys in value order (-0 just below +0): negative numbers with
// every bit flipped, the others with the sign bit set.
std::uint32_t ordered_key(float value) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

float from_ordered_key(std::uint32_t key) {
    const std::uint32_t bits = (key & 0x80000000u) ? (key & 0x7fffffffu) : ~key;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// A first-pass bin is the top bits of the key; the second pass resolves the rest, one count per
// float number. Bins align with binades (2^23 floats each), so a finite bin holds no Inf or NaN.
constexpr int fine_bits = 12;
constexpr std::uint32_t coarse_bins = 1u << (32 - fine_bits);
constexpr std::uint32_t fine_bins = 1u << fine_bits;

}  // namespace

struct StreamingPercentiles::State {
    // Where order statistic `rank` lies after the first pass: its bin, the finite values in
    // lower bins, and the bin's count.
    struct Rank {
        std::int64_t rank = 0;
        std::uint32_t bin = 0;
        std::int64_t below = 0, in_bin = 0;
        double estimate = 0.0;
    };

    std::vector<double> percents;
    std::string source;
    int passes = 0;
    std::int64_t count = 0, second_count = 0;
    // The extremes of the finite values (read once count > 0).
    float min = std::numeric_limits<float>::infinity(), max = -min;
    std::vector<std::uint64_t> coarse;                    // first pass
    std::vector<Rank> ranks;                              // sorted by rank, no duplicates
    std::vector<std::uint32_t> fine_bin_ids;              // second pass: the bins refined
    std::vector<std::vector<std::uint64_t>> fine_counts;  // and their counts per float number

    // The position of `percent` among the order statistics, as percentile() computes it.
    std::pair<std::int64_t, double> position(double percent) const {
        const double at = percent / 100.0 * static_cast<double>(count - 1);
        const double below = std::floor(at);
        return {static_cast<std::int64_t>(below), at - below};
    }

    const Rank& rank(std::int64_t r) const {
        return *std::lower_bound(ranks.begin(), ranks.end(), r,
                                 [](const Rank& a, std::int64_t b) { return a.rank < b; });
    }

    void finish_first_pass();
    void finish_second_pass();
};

void StreamingPercentiles::State::finish_first_pass() {
    if (count == 0) throw InvalidArgument(source + ": no finite value to take percentiles of");
    std::vector<std::int64_t> needed;
    for (double percent : percents) {
        const auto [below, fraction] = position(percent);
        needed.push_back(below);
        if (fraction > 0.0) needed.push_back(below + 1);
    }
    std::sort(needed.begin(), needed.end());
    needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
    std::int64_t seen = 0;
    std::uint32_t bin = 0;
    for (std::int64_t r : needed) {
        while (seen + static_cast<std::int64_t>(coarse[bin]) <= r) seen += coarse[bin++];
        Rank at;
        at.rank = r;
        at.bin = bin;
        at.below = seen;
        at.in_bin = static_cast<std::int64_t>(coarse[bin]);
        // Spread evenly over the bin's values that lie within the extremes.
        const double low = std::max<double>(from_ordered_key(bin << fine_bits), min);
        const double high =
            std::min<double>(from_ordered_key((bin << fine_bits) | (fine_bins - 1)), max);
        at.estimate = r == 0           ? min
                      : r == count - 1 ? max
                                       : low + (static_cast<double>(r - seen) + 0.5) /
                                                   static_cast<double>(at.in_bin) * (high - low);
        ranks.push_back(at);
        if (fine_bin_ids.empty() || fine_bin_ids.back() != bin) fine_bin_ids.push_back(bin);
    }
    fine_counts.assign(fine_bin_ids.size(), std::vector<std::uint64_t>(fine_bins, 0));
    std::vector<std::uint64_t>().swap(coarse);
}

void StreamingPercentiles::State::finish_second_pass() {
    const auto different = [&] {
        return InvalidArgument(source +
                               ": the second pass for its percentiles saw other values than the "
                               "first (" +
                               std::to_string(second_count) + " finite against " +
                               std::to_string(count) + ")");
    };
    if (second_count != count) throw different();
    for (Rank& at : ranks) {
        const std::size_t index = static_cast<std::size_t>(
            std::find(fine_bin_ids.begin(), fine_bin_ids.end(), at.bin) - fine_bin_ids.begin());
        const auto& counts = fine_counts[index];
        std::int64_t seen = at.below, in_bin = 0;
        for (std::uint64_t c : counts) in_bin += static_cast<std::int64_t>(c);
        if (in_bin != at.in_bin) throw different();
        std::uint32_t j = 0;
        while (seen + static_cast<std::int64_t>(counts[j]) <= at.rank) seen += counts[j++];
        at.estimate = from_ordered_key((at.bin << fine_bits) | j);
    }
}

StreamingPercentiles::StreamingPercentiles(std::vector<double> percents, std::string source)
    : state_(std::make_unique<State>()) {
    for (double percent : percents)
        if (!(percent >= 0.0 && percent <= 100.0))
            throw InvalidArgument(source + ": percentile " + percent_text(percent) +
                                  " is outside [0, 100]");
    state_->percents = std::move(percents);
    state_->source = std::move(source);
    if (!state_->percents.empty()) state_->coarse.assign(coarse_bins, 0);
}

StreamingPercentiles::~StreamingPercentiles() = default;
StreamingPercentiles::StreamingPercentiles(StreamingPercentiles&&) noexcept = default;
StreamingPercentiles& StreamingPercentiles::operator=(StreamingPercentiles&&) noexcept = default;

void StreamingPercentiles::add(const float* values, std::size_t count) {
    State& s = *state_;
    if (s.passes == 0) {
        std::uint64_t* histogram = s.coarse.empty() ? nullptr : s.coarse.data();
        std::int64_t finite = 0;
        float low = s.min, high = s.max;
        for (std::size_t i = 0; i < count; ++i) {
            const float v = values[i];
            if (!std::isfinite(v)) continue;
            low = std::min(low, v);
            high = std::max(high, v);
            ++finite;
            if (histogram) ++histogram[ordered_key(v) >> fine_bits];
        }
        s.count += finite;
        s.min = low;
        s.max = high;
    } else if (s.passes == 1) {
        const std::size_t bins = s.fine_bin_ids.size();
        for (std::size_t i = 0; i < count; ++i) {
            const float v = values[i];
            if (!std::isfinite(v)) continue;
            ++s.second_count;
            const std::uint32_t key = ordered_key(v);
            for (std::size_t b = 0; b < bins; ++b)
                if (s.fine_bin_ids[b] == key >> fine_bits)
                    ++s.fine_counts[b][key & (fine_bins - 1)];
        }
    } else {
        throw InvalidArgument(s.source + ": its percentiles need no more than two passes");
    }
}

void StreamingPercentiles::finish_pass() {
    State& s = *state_;
    if (s.passes == 0)
        s.finish_first_pass();
    else if (s.passes == 1)
        s.finish_second_pass();
    else
        throw InvalidArgument(s.source + ": its percentiles need no more than two passes");
    ++s.passes;
}

int StreamingPercentiles::passes_finished() const {
    return state_->passes;
}

std::int64_t StreamingPercentiles::count() const {
    return state_->count;
}

double StreamingPercentiles::value(double percent) const {
    const State& s = *state_;
    if (std::find(s.percents.begin(), s.percents.end(), percent) == s.percents.end())
        throw InvalidArgument(s.source + ": percentile " + percent_text(percent) +
                              " was not asked for");
    if (s.passes == 0)
        throw InvalidArgument(s.source + ": percentiles need a finished pass over the data");
    const auto [below, fraction] = s.position(percent);
    const double lower = s.rank(below).estimate;
    if (fraction == 0.0) return lower;
    return lower + fraction * (s.rank(below + 1).estimate - lower);
}

namespace {

std::vector<double> percents_of(const NormalizationSpec& spec) {
    check_normalization_spec(spec);
    if (spec.method != NormalizationMethod::percentile_range) return {};
    return {spec.low_percent, spec.high_percent};
}

}  // namespace

StreamingNormalizationFit::StreamingNormalizationFit(const NormalizationSpec& spec,
                                                     std::string source)
    : spec_(spec), source_(source), percentiles_(percents_of(spec), std::move(source)) {}

bool StreamingNormalizationFit::needs_pass() const {
    switch (spec_.method) {
        case NormalizationMethod::none:
            return false;
        case NormalizationMethod::percentile_range:
            return passes_ < 2;
        case NormalizationMethod::mean_std:
            return passes_ < 1;
    }
    return false;
}

void StreamingNormalizationFit::add(const float* values, std::size_t count) {
    if (!needs_pass())
        throw InvalidArgument(source_ + ": its " + to_string(spec_.method) +
                              " normalization needs no further pass");
    if (spec_.method == NormalizationMethod::mean_std)
        moments_.add(values, count);
    else
        percentiles_.add(values, count);
}

void StreamingNormalizationFit::finish_pass() {
    if (!needs_pass())
        throw InvalidArgument(source_ + ": its " + to_string(spec_.method) +
                              " normalization needs no further pass");
    if (spec_.method == NormalizationMethod::mean_std)
        moments_.mean(source_);  // no finite value: the error belongs to the pass
    else
        percentiles_.finish_pass();
    ++passes_;
}

Normalization StreamingNormalizationFit::result() const {
    if (spec_.method == NormalizationMethod::none) return Normalization{};
    if (passes_ == 0)
        throw InvalidArgument(source_ + ": its " + to_string(spec_.method) +
                              " normalization needs a finished pass over the data");
    if (spec_.method == NormalizationMethod::mean_std) return mean_std_map(moments_, source_);
    return percentile_range_map(percentiles_.value(spec_.low_percent),
                                percentiles_.value(spec_.high_percent));
}

}  // namespace tomodenoise
