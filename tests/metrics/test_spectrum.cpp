// The high-frequency power ratio against a naive double-precision reference: the 2-D DFT as its
// defining double sum (no separation, no FFT), rings and band from the definition.

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace {

using namespace tomodenoise;
using tomodenoise::testing::random_values;

// Sum over rings m/4..m/2 of the ring-averaged |DFT|^2 of one h x w image, from the definition.
double naive_band_power(const float* v, int h, int w) {
    const double pi = std::acos(-1.0);
    const int m = std::min(h, w);
    std::vector<double> sum(std::size_t(m), 0.0), count(std::size_t(m), 0.0);
    for (int ky = 0; ky < h; ++ky)
        for (int kx = 0; kx < w; ++kx) {
            std::complex<double> f = 0;
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    f += double(v[y * w + x]) *
                         std::polar(1.0, -2 * pi * (double(ky) * y / h + double(kx) * x / w));
            const double fy = double(ky <= h / 2 ? ky : ky - h) / h;
            const double fx = double(kx <= w / 2 ? kx : kx - w) / w;
            const long ring = std::lround(m * std::sqrt(fy * fy + fx * fx));
            if (ring >= m) continue;
            sum[std::size_t(ring)] += std::norm(f);
            count[std::size_t(ring)] += 1;
        }
    double band = 0;
    for (int r = int(std::ceil(0.25 * m)); r <= int(std::floor(0.5 * m)); ++r)
        if (count[std::size_t(r)] > 0) band += sum[std::size_t(r)] / count[std::size_t(r)];
    return band;
}

double naive_ratio(const std::vector<float>& reference, const std::vector<float>& test, int n,
                   int h, int w) {
    double ref = 0, out = 0;
    for (int i = 0; i < n; ++i) {
        ref += naive_band_power(reference.data() + i * h * w, h, w);
        out += naive_band_power(test.data() + i * h * w, h, w);
    }
    return out / ref;
}

// A 3x3 box blur (wrapped): less power at high frequencies.
std::vector<float> blurred(const std::vector<float>& v, int n, int h, int w) {
    std::vector<float> out(v.size());
    for (int i = 0; i < n; ++i)
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                double s = 0;
                for (int dy = -1; dy <= 1; ++dy)
                    for (int dx = -1; dx <= 1; ++dx)
                        s += v[std::size_t(i * h * w + ((y + dy + h) % h) * w + (x + dx + w) % w)];
                out[std::size_t(i * h * w + y * w + x)] = float(s / 9);
            }
    return out;
}

TEST(HighFrequencyPowerRatio, MatchesTheNaiveDoubleReferenceOnAwkwardSizes) {
    struct Size {
        int n, h, w;
    };
    // Powers of two take the FFT, the others the direct transform; odd, non-square, batch 2.
    for (const Size s : {Size{1, 16, 16}, Size{2, 12, 17}, Size{1, 9, 20}, Size{2, 32, 8}}) {
        SCOPED_TRACE(std::to_string(s.h) + "x" + std::to_string(s.w));
        const auto count = std::size_t(s.n * s.h * s.w);
        const std::vector<float> reference = random_values(count, 3, 0.f, 1.f);
        const std::vector<float> test = random_values(count, 4, -1.f, 2.f);
        const StackShape shape{s.n, s.h, s.w};
        const double got = high_frequency_power_ratio(reference.data(), test.data(), shape);
        const double want = naive_ratio(reference, test, s.n, s.h, s.w);
        EXPECT_NEAR(got, want, 1e-9 * want);
        EXPECT_GT(want, 1.0);  // the test's values spread three times as wide
        const std::vector<float> smooth = blurred(reference, s.n, s.h, s.w);
        const double oversmoothed =
            high_frequency_power_ratio(reference.data(), smooth.data(), shape);
        EXPECT_NEAR(oversmoothed, naive_ratio(reference, smooth, s.n, s.h, s.w), 1e-9);
        EXPECT_LT(oversmoothed, 0.5);
        EXPECT_DOUBLE_EQ(high_frequency_power_ratio(reference.data(), reference.data(), shape),
                         1.0);
    }
}

TEST(HighFrequencyPowerRatio, TinySlicesAndAConstantReferenceAreRefused) {
    const std::vector<float> v(9, 1.f), w = random_values(9, 1);
    EXPECT_THROW(high_frequency_power_ratio(v.data(), w.data(), StackShape{1, 3, 3}), ShapeError);
    const std::vector<float> flat(64, 2.f), noisy = random_values(64, 1);
    EXPECT_THROW(high_frequency_power_ratio(flat.data(), noisy.data(), StackShape{1, 8, 8}),
                 NumericalError);
    // Sides that are not powers of two take the direct DFT, whose rounding leaves a constant
    // image some power in the band: still refused.
    const std::vector<float> flat_odd(2 * 16 * 24, 0.5f), noisy_odd = random_values(2 * 16 * 24, 2);
    EXPECT_THROW(
        high_frequency_power_ratio(flat_odd.data(), noisy_odd.data(), StackShape{2, 16, 24}),
        NumericalError);
}

}  // namespace
