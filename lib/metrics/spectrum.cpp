// The high-frequency power ratio (tomodenoise/metrics.hpp): radially averaged power spectra of
// two stacks compared over 0.25-0.5 cycles/pixel.

#include <tbb/parallel_for.h>

#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace tomodenoise {
namespace {

using Complex = std::complex<double>;

constexpr std::int64_t smallest_side = 4;
constexpr double band_low = 0.25, band_high = 0.5;  // cycles/pixel

bool is_power_of_two(std::int64_t n) {
    return (n & (n - 1)) == 0;
}

// In-place discrete Fourier transform of `v`: iterative radix-2 for powers of two, the direct
// sum otherwise (twiddles from `w`, the n-th roots exp(-2 pi i k / n)).
void dft(std::vector<Complex>& v, const std::vector<Complex>& w, std::vector<Complex>& scratch) {
    const auto n = std::int64_t(v.size());
    if (is_power_of_two(n)) {
        for (std::int64_t i = 1, j = 0; i < n; ++i) {
            std::int64_t bit = n >> 1;
            for (; j & bit; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j) std::swap(v[std::size_t(i)], v[std::size_t(j)]);
        }
        for (std::int64_t len = 2; len <= n; len <<= 1)
            for (std::int64_t start = 0; start < n; start += len)
                for (std::int64_t k = 0; k < len / 2; ++k) {
                    const Complex t =
                        w[std::size_t(k * (n / len))] * v[std::size_t(start + k + len / 2)];
                    const Complex u = v[std::size_t(start + k)];
                    v[std::size_t(start + k)] = u + t;
                    v[std::size_t(start + k + len / 2)] = u - t;
                }
        return;
    }
    scratch.assign(v.size(), Complex{});
    for (std::int64_t k = 0; k < n; ++k)
        for (std::int64_t j = 0; j < n; ++j)
            scratch[std::size_t(k)] += v[std::size_t(j)] * w[std::size_t((k * j) % n)];
    v.swap(scratch);
}

std::vector<Complex> roots(std::int64_t n) {
    constexpr double two_pi = 6.283185307179586476925;
    std::vector<Complex> w(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k)
        w[std::size_t(k)] = std::polar(1.0, -two_pi * double(k) / double(n));
    return w;
}

// The sum over rings m/4..m/2 of the ring-averaged power of one h x w slice.
double band_power(const float* image, std::int64_t h, std::int64_t w,
                  const std::vector<Complex>& wh, const std::vector<Complex>& ww) {
    std::vector<Complex> spectrum(std::size_t(h * w)), line, scratch;
    line.resize(std::size_t(w));
    for (std::int64_t y = 0; y < h; ++y) {
        for (std::int64_t x = 0; x < w; ++x) line[std::size_t(x)] = image[y * w + x];
        dft(line, ww, scratch);
        for (std::int64_t x = 0; x < w; ++x)
            spectrum[std::size_t(y * w + x)] = line[std::size_t(x)];
    }
    line.resize(std::size_t(h));
    const std::int64_t m = std::min(h, w);
    std::vector<double> ring_sum(std::size_t(m), 0.0), ring_count(std::size_t(m), 0.0);
    for (std::int64_t x = 0; x < w; ++x) {
        for (std::int64_t y = 0; y < h; ++y)
            line[std::size_t(y)] = spectrum[std::size_t(y * w + x)];
        dft(line, wh, scratch);
        const double fx = double(x <= w / 2 ? x : x - w) / double(w);
        for (std::int64_t y = 0; y < h; ++y) {
            const double fy = double(y <= h / 2 ? y : y - h) / double(h);
            const auto ring = std::int64_t(std::llround(double(m) * std::sqrt(fy * fy + fx * fx)));
            if (ring >= m) continue;
            ring_sum[std::size_t(ring)] += std::norm(line[std::size_t(y)]);
            ring_count[std::size_t(ring)] += 1;
        }
    }
    const auto first = std::int64_t(std::ceil(band_low * double(m)));
    const auto last = std::int64_t(std::floor(band_high * double(m)));
    double sum = 0;
    for (std::int64_t r = first; r <= last; ++r)
        if (ring_count[std::size_t(r)] > 0)
            sum += ring_sum[std::size_t(r)] / ring_count[std::size_t(r)];
    return sum;
}

}  // namespace

double high_frequency_power_ratio(const float* reference, const float* test,
                                  const StackShape& shape) {
    if (shape.n < 1 || shape.h < smallest_side || shape.w < smallest_side)
        throw ShapeError("high_frequency_power_ratio needs slices of at least " +
                         std::to_string(smallest_side) + "x" + std::to_string(smallest_side) +
                         ", got " + shape.to_string());
    const std::vector<Complex> wh = roots(shape.h), ww = roots(shape.w);
    const std::int64_t plane = shape.h * shape.w;
    std::vector<double> ref_power(std::size_t(shape.n)), test_power(std::size_t(shape.n));
    tbb::parallel_for(std::int64_t(0), shape.n, [&](std::int64_t i) {
        ref_power[std::size_t(i)] = band_power(reference + i * plane, shape.h, shape.w, wh, ww);
        test_power[std::size_t(i)] = band_power(test + i * plane, shape.h, shape.w, wh, ww);
    });
    double ref_sum = 0, test_sum = 0;
    for (std::int64_t i = 0; i < shape.n; ++i) {
        ref_sum += ref_power[std::size_t(i)];
        test_sum += test_power[std::size_t(i)];
    }
    // The DFT of a constant image has rounding-error power in the band, ~1e-32 of its total
    // (Parseval: H W sum x^2); a reference whose band holds no more has none to compare with.
    double ref_energy = 0;
    for (std::int64_t k = 0; k < shape.n * plane; ++k)
        ref_energy += double(reference[k]) * double(reference[k]);
    if (!(ref_sum > 1e-24 * double(plane) * ref_energy))
        throw NumericalError("high_frequency_power_ratio: the reference " + shape.to_string() +
                             " has no power between 0.25 and 0.5 cycles/pixel (constant images)");
    return test_sum / ref_sum;
}

}  // namespace tomodenoise
