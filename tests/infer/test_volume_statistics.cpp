#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "infer/volume_statistics.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using tomodenoise::testing::random_values;

namespace {

class VectorSource : public SliceSource {
public:
    VectorSource(std::vector<float> values, StackShape shape)
        : values_(std::move(values)), shape_(shape) {}
    StackShape shape() const override { return shape_; }
    std::string name() const override { return "vol.h5:/noisy"; }
    void read(std::int64_t first, std::int64_t count, float* values) override {
        const std::int64_t plane = shape_.h * shape_.w;
        std::copy_n(values_.data() + first * plane, count * plane, values);
        ++reads_;
    }
    int reads_ = 0;

private:
    std::vector<float> values_;
    StackShape shape_;
};

// Slices of different offsets and spreads, so that any per-slice statistic would differ from
// the volume's.
std::vector<float> uneven_volume(const StackShape& shape) {
    std::vector<float> values = random_values(std::size_t(shape.pixels()), 21, 0.f, 1.f);
    const std::int64_t plane = shape.h * shape.w;
    for (std::int64_t i = 0; i < shape.pixels(); ++i)
        values[std::size_t(i)] = values[std::size_t(i)] * float(1 + i / plane) * 30.f + 1000.f;
    return values;
}

TEST(VolumeNormalization, EqualsNormalizingTheWholeVolumeAtOnce) {
    const StackShape shape{5, 17, 29};
    const std::vector<float> values = uneven_volume(shape);
    for (Scaling scaling : {Scaling::min_max, Scaling::mean_std})
        for (bool clip : {false, true}) {
            SCOPED_TRACE(std::to_string(int(scaling)) + (clip ? " clipped" : ""));
            NormalizeOptions options;
            options.scaling = scaling;
            options.clip = clip;
            options.clip_low = 1;
            options.clip_high = 97.5;
            std::vector<float> copy = values;
            const Normalization want = normalize(copy.data(), shape, options);
            VectorSource source(values, shape);
            const Normalization got = volume_normalization(source, options);
            // Passes: the exact percentiles take two, the moments of clipped values one more.
            const int passes = clip ? (scaling == Scaling::mean_std ? 3 : 2) : 1;
            EXPECT_EQ(source.reads_, passes * shape.n);
            // Exact percentiles and extremes; the moments of clipped values are of the values
            // clipped in float (normalize clips in double): within float rounding.
            const bool float_clipped = clip && scaling == Scaling::mean_std;
            const auto near = [&](double a, double b) {
                EXPECT_NEAR(a, b, (float_clipped ? 1e-6 : 1e-12) * std::abs(b)) << a << " vs " << b;
            };
            near(got.offset, want.offset);
            near(got.scale, want.scale);
            EXPECT_EQ(got.clip_low, want.clip_low);
            EXPECT_EQ(got.clip_high, want.clip_high);
        }
}

// A model's recorded normalization, fitted slice by slice, is fit_normalization's on the whole
// volume: one percentile implementation for training and inference.
TEST(VolumeNormalization, RecordedSpecEqualsFittingTheWholeVolumeAtOnce) {
    const StackShape shape{5, 17, 29};
    const std::vector<float> values = uneven_volume(shape);
    NormalizationSpec spec;
    spec.method = NormalizationMethod::percentile_range;
    spec.low_percent = 0.5;
    spec.high_percent = 99;
    const Normalization want = fit_normalization(spec, values.data(), values.size());
    VectorSource source(values, shape);
    const Normalization got = volume_normalization(source, spec, NormalizeOptions{});
    EXPECT_EQ(got.clip_low, want.clip_low);
    EXPECT_EQ(got.clip_high, want.clip_high);
    EXPECT_EQ(got.offset, want.offset);
    EXPECT_EQ(got.scale, want.scale);
}

TEST(VolumeNormalization, NonFiniteValuesAreNamedOrReplacedFirst) {
    const StackShape shape{3, 4, 5};
    std::vector<float> values = uneven_volume(shape);
    values[2 * 20 + 7] = NAN;  // slice 2, row 1, col 2
    NormalizeOptions options;
    VectorSource source(values, shape);
    tomodenoise::testing::expect_error_naming<FormatError>(
        [&] { volume_normalization(source, options); }, {"vol.h5:/noisy", "slice 2", "1, 2)"});
    options.non_finite = NonFinitePolicy::replace;
    options.replacement = -5.f;
    const Normalization map = volume_normalization(source, options);
    EXPECT_EQ(map.offset, -5.0);  // min-max: the replacement is the smallest value
}

}  // namespace
