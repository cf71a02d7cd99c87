// Normalization against straightforward double-precision computations: percentiles from a
// full sort, min-max and mean/std from textbook formulas, and the inverse map.

#include "tomodenoise/normalize.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {
namespace {

using testing::near_all;
using testing::random_values;

// NumPy's linear percentile from a fully sorted copy, in double.
double reference_percentile(std::vector<float> values, double percent) {
    std::vector<double> sorted;
    for (float v : values)
        if (std::isfinite(v)) sorted.push_back(v);
    std::sort(sorted.begin(), sorted.end());
    const double position = percent / 100.0 * (sorted.size() - 1);
    const std::size_t below = static_cast<std::size_t>(position);
    if (below + 1 >= sorted.size()) return sorted.back();
    return sorted[below] + (position - below) * (sorted[below + 1] - sorted[below]);
}

TEST(Percentile, MatchesSortedReference) {
    std::vector<float> values = random_values(1001, 3, -5.f, 20.f);
    values[17] = std::numeric_limits<float>::quiet_NaN();
    values[400] = std::numeric_limits<float>::infinity();
    for (double percent : {0.0, 0.05, 0.5, 12.3, 50.0, 99.5, 99.95, 100.0})
        EXPECT_NEAR(percentile(values.data(), values.size(), percent),
                    reference_percentile(values, percent), 1e-5)
            << percent;
    // Hand-checkable: positions 0.25 * 3 = 0.75 between 1 and 2.
    const float four[] = {4.f, 1.f, 3.f, 2.f};
    EXPECT_DOUBLE_EQ(percentile(four, 4, 25.0), 1.75);
    EXPECT_DOUBLE_EQ(percentile(four, 4, 100.0), 4.0);
    EXPECT_THROW(percentile(four, 4, 101.0), InvalidArgument);
    const float nans[] = {std::nanf(""), std::nanf("")};
    EXPECT_THROW(percentile(nans, 2, 50.0), InvalidArgument);
}

TEST(Normalize, MinMaxMatchesReferenceAndInverts) {
    const StackShape shape{2, 7, 9};
    const std::vector<float> input = random_values(shape.pixels(), 5, -3.f, 11.f);
    std::vector<float> values = input;
    const Normalization n = normalize(values.data(), shape);

    const auto [low, high] = std::minmax_element(input.begin(), input.end());
    std::vector<double> expected;
    for (float v : input) expected.push_back((double(v) - *low) / (double(*high) - *low));
    EXPECT_TRUE(near_all(values, expected, 1e-6));
    EXPECT_DOUBLE_EQ(n.offset, *low);
    EXPECT_DOUBLE_EQ(n.scale, double(*high) - *low);

    n.inverse(values.data(), values.size());
    EXPECT_TRUE(near_all(values, input, 1e-5));
}

TEST(Normalize, MeanStdMatchesReference) {
    const StackShape shape{3, 5, 11};
    const std::vector<float> input = random_values(shape.pixels(), 6, 100.f, 400.f);
    std::vector<float> values = input;
    NormalizeOptions options;
    options.scaling = Scaling::mean_std;
    const Normalization n = normalize(values.data(), shape, options);

    double sum = 0;
    for (float v : input) sum += v;
    const double mean = sum / input.size();
    double squares = 0;
    for (float v : input) squares += (v - mean) * (v - mean);
    const double std_dev = std::sqrt(squares / input.size());
    EXPECT_NEAR(n.offset, mean, 1e-9 * mean);
    EXPECT_NEAR(n.scale, std_dev, 1e-9 * std_dev);
    std::vector<double> expected;
    for (float v : input) expected.push_back((v - mean) / std_dev);
    EXPECT_TRUE(near_all(values, expected, 1e-5));
}

TEST(Normalize, ClipsOutliersAtPercentilesFirst) {
    const StackShape shape{1, 40, 50};
    std::vector<float> input = random_values(shape.pixels(), 7, 0.f, 1.f);
    input[10] = 1e6f;   // hot pixel
    input[99] = -5e5f;  // dead pixel
    std::vector<float> values = input;
    NormalizeOptions options;
    options.clip = true;  // 0.05 / 99.95 by default
    const Normalization n = normalize(values.data(), shape, options);

    const double low = reference_percentile(input, 0.05), high = reference_percentile(input, 99.95);
    EXPECT_NEAR(n.clip_low, low, 1e-6);
    EXPECT_NEAR(n.clip_high, high, 1e-6);
    EXPECT_NEAR(n.offset, low, 1e-6);
    EXPECT_NEAR(n.scale, high - low, 1e-6);
    std::vector<double> expected;
    for (float v : input)
        expected.push_back((std::clamp<double>(v, low, high) - low) / (high - low));
    EXPECT_TRUE(near_all(values, expected, 1e-5));
    EXPECT_EQ(values[10], 1.f);
    EXPECT_EQ(values[99], 0.f);

    // The recorded parameters reproduce the map on other data.
    std::vector<float> other = {-1e9f, float(low), float(high), 0.5f};
    n.apply(other.data(), other.size());
    EXPECT_EQ(other[0], 0.f);
    EXPECT_NEAR(other[1], 0.0, 1e-6);
    EXPECT_NEAR(other[2], 1.0, 1e-6);
    EXPECT_NEAR(other[3], (0.5 - low) / (high - low), 1e-6);
}

TEST(Normalize, NonFiniteIsAnErrorNamingCountAndFirstIndex) {
    const StackShape shape{3, 4, 5};
    std::vector<float> values(shape.pixels(), 2.f);
    values[(1 * 4 + 2) * 5 + 3] = std::numeric_limits<float>::infinity();
    values[(2 * 4 + 0) * 5 + 1] = std::nanf("");
    const NonFiniteReport report = find_non_finite(values.data(), values.size());
    EXPECT_EQ(report.count, 2);
    EXPECT_EQ(report.first, (1 * 4 + 2) * 5 + 3);
    try {
        std::vector<float> copy = values;
        normalize(copy.data(), shape, {}, "scan.h5:/data");
        FAIL() << "non-finite values passed";
    } catch (const FormatError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("scan.h5:/data"), std::string::npos) << message;
        EXPECT_NE(message.find("2 NaN or infinite"), std::string::npos) << message;
        EXPECT_NE(message.find("(1, 2, 3)"), std::string::npos) << message;
    }

    NormalizeOptions options;
    options.non_finite = NonFinitePolicy::replace;
    options.replacement = 0.f;
    options.scaling = Scaling::none;
    normalize(values.data(), shape, options);
    EXPECT_EQ(find_non_finite(values.data(), values.size()).count, 0);
    EXPECT_EQ(values[(1 * 4 + 2) * 5 + 3], 0.f);
    EXPECT_EQ(values[(2 * 4 + 0) * 5 + 1], 0.f);
    EXPECT_EQ(values[0], 2.f);
}

TEST(Normalize, ConstantInputMapsToZero) {
    const StackShape shape{1, 3, 3};
    for (Scaling scaling : {Scaling::min_max, Scaling::mean_std}) {
        std::vector<float> values(9, 4.f);
        NormalizeOptions options;
        options.scaling = scaling;
        const Normalization n = normalize(values.data(), shape, options);
        EXPECT_EQ(n.scale, 1.0);
        EXPECT_EQ(n.offset, 4.0);
        for (float v : values) EXPECT_EQ(v, 0.f);
    }
}

}  // namespace
}  // namespace tomodenoise
