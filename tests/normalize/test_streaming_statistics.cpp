// Whole-volume statistics fed slab by slab (RunningMoments, StreamingPercentiles,
// StreamingNormalizationFit) against the in-memory percentile() and double-precision references,
// and fit_normalization's maps, including their consistency under a change of units.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/normalize.hpp"

namespace tomodenoise {
namespace {

using testing::expect_error_naming;
using testing::random_values;

constexpr float nan = std::numeric_limits<float>::quiet_NaN();
constexpr float inf = std::numeric_limits<float>::infinity();
const std::vector<double> percents = {0.0, 0.05, 1.0, 12.3, 50.0, 87.5, 99.0, 99.95, 100.0};

// Uneven slabs, so that no result depends on how a volume is cut.
template <typename Feed>
void feed_in_slabs(const std::vector<float>& values, Feed feed) {
    std::size_t start = 0;
    for (std::size_t slab = 1; start < values.size(); slab = slab * 3 % 1009 + 17) {
        const std::size_t size = std::min(slab, values.size() - start);
        feed(values.data() + start, size);
        start += size;
    }
}

// Heavy tails: Cauchy-distributed values with a few hot pixels of 1e6 and NaN/Inf among them.
std::vector<float> heavy_tailed(std::size_t count, std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::cauchy_distribution<float> cauchy(2.f, 0.5f);
    std::vector<float> v(count);
    for (auto& x : v) x = cauchy(gen);
    for (std::size_t i = 0; i < count; i += 997) v[i] = 1e6f;
    v[5] = nan;
    v[count / 2] = -inf;
    return v;
}

struct Data {
    const char* name;
    std::vector<float> values;
};

std::vector<Data> test_data() {
    std::vector<float> uniform = random_values(60001, 11, -3.f, 7.f);
    uniform[100] = nan;
    uniform[2000] = inf;
    // Detector counts: few distinct values, many ties, far from zero.
    std::vector<float> counts(40000);
    std::mt19937 gen(12);
    std::poisson_distribution<int> poisson(30000);
    for (auto& x : counts) x = float(poisson(gen));
    std::vector<float> mixed_sign = random_values(5003, 13, -1e-3f, 1e-3f);
    mixed_sign[7] = 0.f;
    mixed_sign[8] = -0.f;
    return {{"uniform", uniform},
            {"heavy-tailed", heavy_tailed(50000, 14)},
            {"counts", counts},
            {"mixed-sign", mixed_sign},
            {"one value", {nan, 4.5f, inf}}};
}

// The two order statistics around `percent` of the finite values, by full sort.
std::pair<double, double> neighbours(const std::vector<float>& values, double percent) {
    std::vector<double> sorted;
    for (float v : values)
        if (std::isfinite(v)) sorted.push_back(v);
    std::sort(sorted.begin(), sorted.end());
    const auto below = static_cast<std::size_t>(percent / 100.0 * double(sorted.size() - 1));
    return {sorted[below], sorted[std::min(below + 1, sorted.size() - 1)]};
}

TEST(StreamingPercentiles, FirstPassWithinItsBoundAndSecondEqualsPercentile) {
    for (const Data& data : test_data()) {
        SCOPED_TRACE(data.name);
        StreamingPercentiles streaming(percents, data.name);
        EXPECT_EQ(streaming.passes_finished(), 0);
        feed_in_slabs(data.values, [&](const float* v, std::size_t n) { streaming.add(v, n); });
        streaming.finish_pass();
        EXPECT_FALSE(streaming.exact());
        std::int64_t finite = 0;
        for (float v : data.values) finite += std::isfinite(v);
        EXPECT_EQ(streaming.count(), finite);
        for (double percent : percents) {
            const double exact = percentile(data.values.data(), data.values.size(), percent);
            const auto [low, high] = neighbours(data.values, percent);
            const double bound =
                std::ldexp(std::max(std::abs(low), std::abs(high)), -11) + std::ldexp(1.0, -137);
            const double estimate = streaming.value(percent);
            EXPECT_LE(std::abs(estimate - exact), bound) << percent;
            if (percent == 0.0 || percent == 100.0) {
                EXPECT_EQ(estimate, exact);
            }
        }
        feed_in_slabs(data.values, [&](const float* v, std::size_t n) { streaming.add(v, n); });
        streaming.finish_pass();
        EXPECT_TRUE(streaming.exact());
        for (double percent : percents)
            EXPECT_EQ(streaming.value(percent),
                      percentile(data.values.data(), data.values.size(), percent))
                << percent;
    }
}

TEST(StreamingPercentiles, HeavyTailsDoNotCoarsenTheBulk) {
    // Hot pixels a million times the bulk's spread: a histogram over [min, max] would put the
    // whole bulk into a few bins. The first pass stays within 2^-11 of the values themselves.
    const std::vector<float> values = heavy_tailed(50000, 15);
    StreamingPercentiles streaming({1.0, 50.0}, "hot");
    streaming.add(values.data(), values.size());
    streaming.finish_pass();
    for (double percent : {1.0, 50.0}) {
        const double exact = percentile(values.data(), values.size(), percent);
        EXPECT_LT(std::abs(streaming.value(percent) - exact), 1e-3 * std::abs(exact) + 1e-30);
    }
}

TEST(StreamingPercentiles, RefusesWhatItCannotAnswer) {
    expect_error_naming<InvalidArgument>([] { StreamingPercentiles({101.0}, "vol.h5:/data"); },
                                         {"vol.h5:/data", "101"});
    expect_error_naming<InvalidArgument>([] { StreamingPercentiles({nan}, "vol"); }, {"vol"});

    StreamingPercentiles none_finite({50.0}, "vol.h5:/data");
    const float bad[] = {nan, inf, -inf};
    none_finite.add(bad, 3);
    expect_error_naming<InvalidArgument>([&] { none_finite.finish_pass(); },
                                         {"vol.h5:/data", "no finite value"});

    const std::vector<float> values = random_values(1000, 16);
    StreamingPercentiles streaming({5.0, 95.0}, "vol");
    expect_error_naming<InvalidArgument>([&] { streaming.value(5.0); }, {"vol", "pass"});
    streaming.add(values.data(), values.size());
    streaming.finish_pass();
    expect_error_naming<InvalidArgument>([&] { streaming.value(50.0); }, {"vol", "50"});
    // A second pass over other data cannot give exact values of either.
    streaming.add(values.data(), values.size() - 1);
    expect_error_naming<InvalidArgument>([&] { streaming.finish_pass(); }, {"vol", "second pass"});

    StreamingPercentiles shifted({5.0, 95.0}, "vol");
    shifted.add(values.data(), values.size());
    shifted.finish_pass();
    std::vector<float> other = values;
    for (float& v : other) v = -v;
    shifted.add(other.data(), other.size());
    expect_error_naming<InvalidArgument>([&] { shifted.finish_pass(); }, {"vol", "second pass"});

    StreamingPercentiles done({50.0}, "vol");
    for (int pass = 0; pass < 2; ++pass) {
        done.add(values.data(), values.size());
        done.finish_pass();
    }
    expect_error_naming<InvalidArgument>([&] { done.add(values.data(), 1); }, {"two passes"});
}

// Mean and population standard deviation of the finite values, two-pass in long double.
std::pair<double, double> reference_moments(const std::vector<float>& values) {
    long double sum = 0;
    std::size_t n = 0;
    for (float v : values)
        if (std::isfinite(v)) sum += v, ++n;
    const long double mean = sum / n;
    long double squares = 0;
    for (float v : values)
        if (std::isfinite(v)) squares += (v - mean) * (v - mean);
    return {double(mean), double(std::sqrt(squares / n))};
}

TEST(RunningMoments, SlabBySlabMatchesTheWholeVolume) {
    // A large offset against a small spread is where a naive sum of squares loses every digit.
    std::vector<float> values = random_values(200003, 17, 30000.f, 30000.5f);
    values[3] = nan;
    values[99] = -inf;
    RunningMoments moments;
    feed_in_slabs(values, [&](const float* v, std::size_t n) { moments.add(v, n); });
    const auto [mean, deviation] = reference_moments(values);
    EXPECT_EQ(moments.count(), std::int64_t(values.size()) - 2);
    EXPECT_EQ(moments.non_finite(), 2);
    EXPECT_NEAR(moments.mean(), mean, 1e-12 * std::abs(mean));
    EXPECT_NEAR(moments.standard_deviation(), deviation, 1e-9 * deviation);
    EXPECT_GT(deviation, 0.1);
    const auto [low, high] = std::minmax_element(values.begin() + 100, values.end());
    EXPECT_LE(moments.min(), *low);
    EXPECT_GE(moments.max(), *high);

    RunningMoments empty;
    empty.add(values.data() + 3, 1);
    expect_error_naming<InvalidArgument>([&] { empty.mean("vol.h5:/data"); },
                                         {"vol.h5:/data", "no finite value"});
}

TEST(FitNormalization, MapsOfEachMethod) {
    std::vector<float> values = random_values(20011, 18, -2.f, 9.f);
    values[10] = nan;
    NormalizationSpec spec;
    spec.method = NormalizationMethod::percentile_range;
    spec.low_percent = 1.0;
    spec.high_percent = 99.0;
    Normalization n = fit_normalization(spec, values.data(), values.size(), "v");
    const double low = percentile(values.data(), values.size(), 1.0);
    const double high = percentile(values.data(), values.size(), 99.0);
    EXPECT_EQ(n.clip_low, low);
    EXPECT_EQ(n.clip_high, high);
    EXPECT_EQ(n.offset, low);
    EXPECT_EQ(n.scale, high - low);
    // NaN ignored: the same as normalize() with percentile clipping and min-max scaling of the
    // finite values.
    std::vector<float> finite = values;
    finite.erase(finite.begin() + 10);
    NormalizeOptions options;
    options.clip = true;
    options.clip_low = 1.0;
    options.clip_high = 99.0;
    const Normalization m = normalize(finite.data(), {1, 1, std::int64_t(finite.size())}, options);
    EXPECT_DOUBLE_EQ(m.offset, n.offset);
    EXPECT_DOUBLE_EQ(m.scale, n.scale);

    spec.method = NormalizationMethod::mean_std;
    n = fit_normalization(spec, values.data(), values.size(), "v");
    const auto [mean, deviation] = reference_moments(values);
    EXPECT_NEAR(n.offset, mean, 1e-12 * std::abs(mean));
    EXPECT_NEAR(n.scale, deviation, 1e-12 * deviation);
    EXPECT_TRUE(std::isinf(n.clip_low) && std::isinf(n.clip_high));

    spec.method = NormalizationMethod::none;
    n = fit_normalization(spec, nullptr, 0, "v");
    EXPECT_EQ(n.offset, 0.0);
    EXPECT_EQ(n.scale, 1.0);

    const std::vector<float> constant(100, 7.f);
    for (auto method : {NormalizationMethod::percentile_range, NormalizationMethod::mean_std}) {
        spec.method = method;
        n = fit_normalization(spec, constant.data(), constant.size(), "v");
        EXPECT_EQ(n.scale, 1.0) << to_string(method);
        EXPECT_EQ(n.offset, 7.0) << to_string(method);
    }
}

TEST(FitNormalization, ChangeOfUnitsChangesTheMapConsistently) {
    // The same volume in other units (x * 1000 + 50, as uint16 detector data would be): the
    // normalized values agree, and a model's output mapped back lands in the new units.
    const std::vector<float> volume = heavy_tailed(30000, 19);
    std::vector<float> rescaled;
    for (float v : volume) rescaled.push_back(std::isfinite(v) ? v * 1000.f + 50.f : v);
    for (auto method : {NormalizationMethod::percentile_range, NormalizationMethod::mean_std}) {
        SCOPED_TRACE(to_string(method));
        NormalizationSpec spec;
        spec.method = method;
        const Normalization a = fit_normalization(spec, volume.data(), volume.size(), "a");
        const Normalization b = fit_normalization(spec, rescaled.data(), rescaled.size(), "b");
        std::vector<float> x, y;
        for (std::size_t i = 0; i < volume.size(); ++i)
            if (std::isfinite(volume[i])) x.push_back(volume[i]), y.push_back(rescaled[i]);
        a.apply(x.data(), x.size());
        b.apply(y.data(), y.size());
        EXPECT_TRUE(testing::within_fraction_of_range(y, x, 1e-5));
        // A stand-in for a network: any map of the normalized values.
        for (float* v : {x.data(), y.data()})
            for (std::size_t i = 0; i < x.size(); ++i) v[i] = 0.8f * v[i] + 0.05f;
        a.inverse(x.data(), x.size());
        b.inverse(y.data(), y.size());
        for (float& v : x) v = v * 1000.f + 50.f;
        EXPECT_TRUE(testing::within_fraction_of_range(y, x, 1e-5));
    }
}

TEST(StreamingNormalizationFit, EqualsTheInMemoryFit) {
    const std::vector<float> values = heavy_tailed(70001, 20);
    for (auto method : {NormalizationMethod::none, NormalizationMethod::percentile_range,
                        NormalizationMethod::mean_std}) {
        SCOPED_TRACE(to_string(method));
        NormalizationSpec spec;
        spec.method = method;
        StreamingNormalizationFit fit(spec, "vol");
        int passes = 0;
        while (fit.needs_pass()) {
            feed_in_slabs(values, [&](const float* v, std::size_t n) { fit.add(v, n); });
            fit.finish_pass();
            ++passes;
        }
        EXPECT_EQ(passes, method == NormalizationMethod::percentile_range ? 2
                          : method == NormalizationMethod::mean_std       ? 1
                                                                          : 0);
        const Normalization streamed = fit.result();
        const Normalization whole = fit_normalization(spec, values.data(), values.size(), "vol");
        EXPECT_EQ(streamed.clip_low, whole.clip_low);
        EXPECT_EQ(streamed.clip_high, whole.clip_high);
        EXPECT_NEAR(streamed.offset, whole.offset, 1e-12 * std::abs(whole.offset));
        EXPECT_NEAR(streamed.scale, whole.scale, 1e-12 * whole.scale);
        if (method == NormalizationMethod::percentile_range) {
            EXPECT_EQ(streamed.offset, whole.offset);
            EXPECT_EQ(streamed.scale, whole.scale);
        }
        expect_error_naming<InvalidArgument>([&] { fit.add(values.data(), 1); },
                                             {"vol", "no further pass"});
    }
}

TEST(StreamingNormalizationFit, OnePassGivesTheBoundedEstimate) {
    const std::vector<float> values = random_values(10007, 21, 0.f, 4.f);
    NormalizationSpec spec;
    spec.method = NormalizationMethod::percentile_range;
    StreamingNormalizationFit fit(spec, "vol");
    expect_error_naming<InvalidArgument>([&] { fit.result(); }, {"vol", "pass"});
    fit.add(values.data(), values.size());
    fit.finish_pass();
    EXPECT_TRUE(fit.needs_pass());
    const Normalization estimate = fit.result();
    const Normalization exact = fit_normalization(spec, values.data(), values.size());
    EXPECT_NEAR(estimate.clip_low, exact.clip_low, std::ldexp(4.0, -11));
    EXPECT_NEAR(estimate.clip_high, exact.clip_high, std::ldexp(4.0, -11));
}

TEST(NormalizationSpec, ChecksNameTheField) {
    NormalizationSpec spec;
    spec.method = NormalizationMethod::percentile_range;
    spec.low_percent = -1;
    expect_error_naming<InvalidArgument>([&] { check_normalization_spec(spec); },
                                         {"low_percent", "-1"});
    spec.low_percent = 0.5;
    spec.high_percent = nan;
    expect_error_naming<InvalidArgument>([&] { check_normalization_spec(spec); }, {"high_percent"});
    spec.high_percent = 0.5;
    expect_error_naming<InvalidArgument>([&] { check_normalization_spec(spec); },
                                         {"low_percent", "high_percent"});
    expect_error_naming<InvalidArgument>([&] { fit_normalization(spec, nullptr, 0, "v"); },
                                         {"low_percent"});
    expect_error_naming<InvalidArgument>([&] { StreamingNormalizationFit(spec, "v"); },
                                         {"low_percent"});
    // Percentiles of the other methods are unused.
    spec.method = NormalizationMethod::mean_std;
    EXPECT_NO_THROW(check_normalization_spec(spec));

    spec.method = NormalizationMethod::percentile_range;
    spec.high_percent = 99;
    const float bad[] = {nan, inf};
    expect_error_naming<InvalidArgument>([&] { fit_normalization(spec, bad, 2, "vol.h5:/x"); },
                                         {"vol.h5:/x", "no finite value"});
    spec.method = NormalizationMethod::mean_std;
    expect_error_naming<InvalidArgument>([&] { fit_normalization(spec, bad, 2, "vol.h5:/x"); },
                                         {"vol.h5:/x", "no finite value"});

    for (auto method : {NormalizationMethod::none, NormalizationMethod::percentile_range,
                        NormalizationMethod::mean_std})
        EXPECT_EQ(parse_normalization_method(to_string(method)), method);
    expect_error_naming<InvalidArgument>([] { parse_normalization_method("minmax"); },
                                         {"minmax", "percentile_range"});
}

}  // namespace
}  // namespace tomodenoise
