#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "keras/keras_layers.hpp"
#include "layers/initializer.hpp"

using namespace tomodenoise;

namespace {

// A 3x3 convolution kernel from 32 to 64 channels: Keras's fans are 32*9 in and 64*9 out.
constexpr std::int64_t fan_in = 32 * 9, fan_out = 64 * 9;

Parameter make_kernel() {
    return Parameter("kernel", {64, 32, 3, 3});
}

struct Moments {
    double mean = 0, variance = 0, largest = 0;
};

Moments moments(const Parameter& p) {
    Moments m;
    for (std::int64_t i = 0; i < p.size(); ++i) m.mean += p.value()[i];
    m.mean /= double(p.size());
    for (std::int64_t i = 0; i < p.size(); ++i) {
        const double d = p.value()[i] - m.mean;
        m.variance += d * d;
        m.largest = std::max(m.largest, std::abs(double(p.value()[i])));
    }
    m.variance /= double(p.size() - 1);
    return m;
}

double fraction_within(const Parameter& p, double bound) {
    std::int64_t inside = 0;
    for (std::int64_t i = 0; i < p.size(); ++i) inside += std::abs(p.value()[i]) <= bound;
    return double(inside) / double(p.size());
}

// Uniform on (-limit, limit): bounded by limit, reaching close to it, variance limit^2 / 3 and
// half the values within limit / 2. With 18432 values the variance's relative standard error
// is under 1%, so 5% fails only for a wrong distribution.
void expect_uniform(const Parameter& p, double limit) {
    const Moments m = moments(p);
    EXPECT_LE(m.largest, limit);
    EXPECT_GT(m.largest, 0.99 * limit);
    EXPECT_NEAR(m.mean, 0, 0.05 * limit);
    EXPECT_NEAR(m.variance, limit * limit / 3, 0.05 * limit * limit / 3);
    EXPECT_NEAR(fraction_within(p, limit / 2), 0.5, 0.02);
}

TEST(Initializer, GlorotUniformBoundAndVariance) {
    Parameter p = make_kernel();
    std::mt19937 rng(1);
    initialize(p, Initializer::glorot_uniform, fan_in, fan_out, rng);
    const double limit = std::sqrt(6.0 / double(fan_in + fan_out));
    expect_uniform(p, limit);
    EXPECT_NEAR(limit * limit / 3, 2.0 / double(fan_in + fan_out), 1e-15);  // Glorot's variance
}

TEST(Initializer, HeUniformBoundAndVariance) {
    Parameter p = make_kernel();
    std::mt19937 rng(2);
    initialize(p, Initializer::he_uniform, fan_in, fan_out, rng);
    expect_uniform(p, std::sqrt(6.0 / double(fan_in)));
}

TEST(Initializer, HeNormalIsTruncatedWithHeVariance) {
    Parameter p = make_kernel();
    std::mt19937 rng(3);
    initialize(p, Initializer::he_normal, fan_in, fan_out, rng);
    // Keras draws N(0, s) with s = sqrt(2 / fan_in) / 0.8796 and redraws beyond 2 s, which
    // leaves the variance at 2 / fan_in.
    const double variance = 2.0 / double(fan_in);
    const double s = std::sqrt(variance) / 0.87962566103423978;
    const Moments m = moments(p);
    EXPECT_LE(m.largest, 2 * s);
    EXPECT_GT(m.largest, 1.9 * s);
    EXPECT_NEAR(m.mean, 0, 0.05 * s);
    EXPECT_NEAR(m.variance, variance, 0.05 * variance);
    // A normal truncated at 2 s holds erf(1/sqrt(2)) / erf(sqrt(2)) of its mass within s.
    EXPECT_NEAR(fraction_within(p, s), std::erf(1 / std::sqrt(2.0)) / std::erf(std::sqrt(2.0)),
                0.02);
}

TEST(Initializer, ZerosClearsValues) {
    Parameter p = make_kernel();
    std::mt19937 rng(4);
    initialize(p, Initializer::glorot_uniform, fan_in, fan_out, rng);
    initialize(p, Initializer::zeros, fan_in, fan_out, rng);
    for (std::int64_t i = 0; i < p.size(); ++i) ASSERT_EQ(p.value()[i], 0.f) << i;
}

TEST(Initializer, SeededAndMarksChanged) {
    for (auto init :
         {Initializer::glorot_uniform, Initializer::he_uniform, Initializer::he_normal}) {
        Parameter a = make_kernel(), b = make_kernel(), c = make_kernel();
        std::mt19937 rng_a(7), rng_b(7), rng_c(8);
        const auto version = a.version();
        initialize(a, init, fan_in, fan_out, rng_a);
        initialize(b, init, fan_in, fan_out, rng_b);
        initialize(c, init, fan_in, fan_out, rng_c);
        EXPECT_GT(a.version(), version) << keras_name(init);
        EXPECT_TRUE(std::equal(a.value(), a.value() + a.size(), b.value())) << keras_name(init);
        EXPECT_FALSE(std::equal(a.value(), a.value() + a.size(), c.value())) << keras_name(init);
    }
}

TEST(Initializer, KerasNames) {
    EXPECT_EQ(keras_name(Initializer::glorot_uniform), "GlorotUniform");
    EXPECT_EQ(keras_name(Initializer::he_uniform), "HeUniform");
    EXPECT_EQ(keras_name(Initializer::he_normal), "HeNormal");
    EXPECT_EQ(keras_name(Initializer::zeros), "Zeros");
}

}  // namespace
