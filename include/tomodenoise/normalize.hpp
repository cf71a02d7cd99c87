#pragma once
/// @file
/// Preparing float data for a network and mapping results back: non-finite values found (an
/// error by default) or replaced, outliers clipped at percentiles, and min-max or mean/std
/// scaling whose parameters are recorded so that outputs map back to input units; the same maps
/// fitted to a whole volume held in memory or fed slab by slab (streaming percentiles and
/// moments), for the normalization a model's recipe names.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

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

/// How a model expects its input scaled. Training records it in the model file (ModelRecipe),
/// so that whoever applies the model scales a volume the same way from that volume's own
/// statistics (fit_normalization, StreamingNormalizationFit) and maps the output back to the
/// volume's units with Normalization::inverse.
enum class NormalizationMethod {
    none,              ///< values as they are
    percentile_range,  ///< clip at the low and high percentiles, map that range onto 0..1
    mean_std,          ///< mean 0, standard deviation 1 (population); no clipping
};

/// "none", "percentile_range", "mean_std".
std::string to_string(NormalizationMethod method);
/// The method named by to_string; InvalidArgument listing the names for any other text.
NormalizationMethod parse_normalization_method(const std::string& name);

/// A normalization method with its parameters.
struct NormalizationSpec {
    NormalizationMethod method = NormalizationMethod::none;
    /// percentile_range only: the percentiles (in percent, 0 <= low < high <= 100) of the whole
    /// volume that become 0 and 1.
    double low_percent = 0.05;
    double high_percent = 99.95;
};

/// Equal methods, and for percentile_range equal percentiles (the other methods do not use
/// them).
bool operator==(const NormalizationSpec& a, const NormalizationSpec& b);
inline bool operator!=(const NormalizationSpec& a, const NormalizationSpec& b) {
    return !(a == b);
}
/// "none", "mean_std", or "percentile_range 0.05..99.95" (the percentiles in percent).
std::string to_string(const NormalizationSpec& spec);

/// InvalidArgument naming the field ("low_percent", "high_percent") when `spec` cannot be
/// applied: for percentile_range, a percentile that is NaN or outside [0, 100], or low_percent
/// not below high_percent. The percentiles of the other methods are not used and not checked.
void check_normalization_spec(const NormalizationSpec& spec);

/// The map of `spec` fitted to the finite values among `count` (NaN and +-Inf are ignored):
/// percentile_range clips at the exact percentiles (percentile()) and scales that range to
/// 0..1; mean_std takes the mean and population standard deviation, accumulated in double;
/// none is the identity and reads nothing. A constant input gets scale 1, as in normalize.
/// InvalidArgument naming `source` when no value is finite, and naming the field for a spec
/// check_normalization_spec refuses.
Normalization fit_normalization(const NormalizationSpec& spec, const float* values,
                                std::size_t count, const std::string& source = "data");

/// Count, extremes, mean and population standard deviation of the finite values of data fed in
/// pieces (slabs of a volume, several stacks). Each piece is summed in double around its own
/// mean and merged with Chan et al.'s update, so that the rounding error does not grow with
/// the volume's length: the mean and standard deviation of a volume fed slab by slab agree with
/// those of the whole volume at once within about 1e-12 relative. One thread at a time.
class RunningMoments {
public:
    /// Adds the finite values among `count`; NaN and +-Inf are counted in non_finite().
    void add(const float* values, std::size_t count);

    std::int64_t count() const { return count_; }  ///< finite values seen
    std::int64_t non_finite() const { return non_finite_; }
    /// The statistics of the finite values seen; InvalidArgument naming `source` when there
    /// are none.
    double mean(const std::string& source = "data") const;
    double standard_deviation(const std::string& source = "data") const;
    double min(const std::string& source = "data") const;
    double max(const std::string& source = "data") const;

private:
    void require_values(const std::string& source) const;

    std::int64_t count_ = 0, non_finite_ = 0;
    double mean_ = 0.0, squares_ = 0.0;  // squares_: sum of squared deviations from mean_
    double min_ = 0.0, max_ = 0.0;
};

/// Percentiles of a volume too large for memory, fed slab by slab (in any order and any
/// pieces) in two passes over the same data; NaN and +-Inf are ignored.
///
/// The first pass counts the finite values in 2^20 bins of their float bit pattern, in value
/// order: each bin holds 2^12 consecutive float numbers, so it is at most 2^-11 times the
/// magnitude of its values wide. After it, value() interpolates inside the bins holding the
/// order statistics it needs: within 2^-11 (0.05 %) of the larger magnitude of those two
/// order statistics (plus 2^-137, the width of the bins around zero) from percentile()'s
/// result; exact for percents 0 and 100. The second
/// pass counts, one count per float number, the values in those bins only: after it, value()
/// equals percentile() on the whole volume, bit for bit. Memory: 8 MiB during the first pass,
/// 32 KiB per needed bin during the second. One thread at a time.
class StreamingPercentiles {
public:
    /// Will give the percentiles `percents` (in percent, each in [0, 100]; InvalidArgument
    /// otherwise) of the data `source` names in error messages.
    explicit StreamingPercentiles(std::vector<double> percents, std::string source = "data");
    ~StreamingPercentiles();
    StreamingPercentiles(StreamingPercentiles&&) noexcept;
    StreamingPercentiles& operator=(StreamingPercentiles&&) noexcept;

    /// Feeds values to the current pass. InvalidArgument after the second pass.
    void add(const float* values, std::size_t count);
    /// Ends the current pass. After the first: InvalidArgument naming the source when no value
    /// was finite. After the second: InvalidArgument when it saw other data than the first.
    void finish_pass();
    /// Passes finished: 0, 1 (value() estimates) or 2 (value() exact).
    int passes_finished() const;
    bool exact() const { return passes_finished() == 2; }
    /// Finite values seen in the first pass.
    std::int64_t count() const;
    /// Percentile `percent`, one of those given to the constructor (InvalidArgument otherwise
    /// and before the first pass has finished).
    double value(double percent) const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// The map of a NormalizationSpec fitted to a volume fed slab by slab, without holding it:
/// percentile_range takes two passes (after which result() equals fit_normalization on the
/// whole volume, bit for bit) and mean_std one (equal within about 1e-12 relative); none needs
/// none. Feed every slab with add(), call finish_pass(), and repeat while needs_pass(). A
/// caller that can afford one pass only may take result() after it: the percentiles are then
/// within StreamingPercentiles's first-pass bound. One thread at a time.
class StreamingNormalizationFit {
public:
    /// InvalidArgument naming the field for a spec check_normalization_spec refuses.
    explicit StreamingNormalizationFit(const NormalizationSpec& spec,
                                       std::string source = "volume");

    /// Whether another pass over the whole volume is needed for the exact result.
    bool needs_pass() const;
    void add(const float* values, std::size_t count);
    void finish_pass();
    /// InvalidArgument naming the source when no pass has finished (for a method other than
    /// none) or no value was finite.
    Normalization result() const;

private:
    NormalizationSpec spec_;
    std::string source_;
    int passes_ = 0;
    RunningMoments moments_;
    StreamingPercentiles percentiles_;
};

}  // namespace tomodenoise
