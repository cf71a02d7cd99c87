#include "sim/parallel_beam.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "tomodenoise/error.hpp"

namespace tomodenoise::sim {
namespace {

constexpr double k_pi = 3.14159265358979323846;
// scikit-image pads projections to at least 64 samples before filtering; so do we, so the
// kernels agree for tiny detectors too.
constexpr int k_min_padded_length = 64;

int padded_length(int bins) {
    int length = k_min_padded_length;
    while (length < 2 * bins) length *= 2;
    return length;
}

// Frequency response of the window at DFT index k of `length` (cycles per sample nu in
// [-1/2, 1/2), as numpy's fftfreq).
double window_response(FbpFilter filter, int k, int length) {
    const double nu = double(k < length / 2 ? k : k - length) / length;
    switch (filter) {
        case FbpFilter::ramp:
            return 1.0;
        case FbpFilter::shepp_logan:
            return k == 0 ? 1.0 : std::sin(k_pi * nu) / (k_pi * nu);
        case FbpFilter::hann:
            return 0.5 * (1.0 + std::cos(2.0 * k_pi * nu));
    }
    return 1.0;
}

// The filter's frequency response at the DFT indices of the padded length: the DFT of the
// band-limited ramp (1/4 at 0, -1/(pi m)^2 at odd m, 0 at even m, periodic over the padded
// length; Kak & Slaney, eq. 61) times the window. The ramp is even, so its DFT is real and a
// cosine transform suffices.
std::vector<double> compute_filter_response(int length, FbpFilter filter) {
    std::vector<double> ramp(length, 0.0);
    ramp[0] = 0.25;
    for (int i = 1; i < length; i += 2) {
        const int m = std::min(i, length - i);
        ramp[i] = -1.0 / ((k_pi * m) * (k_pi * m));
    }
    std::vector<double> response(length);
    for (int k = 0; k < length; ++k) {
        double sum = 0.0;
        for (int i = 0; i < length; ++i)
            sum += ramp[i] * std::cos(2.0 * k_pi * double((std::int64_t(i) * k) % length) / length);
        response[k] = sum * window_response(filter, k, length);
    }
    return response;
}

// What filtering a detector row of `bins` needs: the response, and for the radix-2 FFT of the
// padded length (a power of two) its twiddle factors and bit-reversal permutation.
struct FilterPlan {
    int bins = 0, length = 0;
    std::vector<double> response;
    std::vector<std::complex<double>> twiddles;  // exp(-2 pi i k / length), k < length / 2
    std::vector<int> bit_reversed;

    FilterPlan(int detector_bins, FbpFilter filter)
        : bins(detector_bins),
          length(padded_length(detector_bins)),
          response(compute_filter_response(length, filter)),
          twiddles(std::size_t(length / 2)),
          bit_reversed(std::size_t(length)) {
        for (int k = 0; k < length / 2; ++k)
            twiddles[k] = std::polar(1.0, -2.0 * k_pi * k / length);
        int bits = 0;
        while ((1 << bits) < length) ++bits;
        for (int i = 0; i < length; ++i) {
            int r = 0;
            for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
            bit_reversed[i] = r;
        }
    }

    // In-place DFT of `a` (length values); `inverse`: the unnormalized inverse.
    void transform(std::complex<double>* a, bool inverse) const {
        for (int i = 0; i < length; ++i)
            if (i < bit_reversed[i]) std::swap(a[i], a[bit_reversed[i]]);
        for (int half = 1; half < length; half *= 2) {
            const int stride = length / (2 * half);
            for (int start = 0; start < length; start += 2 * half)
                for (int j = 0; j < half; ++j) {
                    const std::complex<double> w =
                        inverse ? std::conj(twiddles[j * stride]) : twiddles[j * stride];
                    const std::complex<double> odd = w * a[start + j + half];
                    a[start + j + half] = a[start + j] - odd;
                    a[start + j] += odd;
                }
        }
    }

    // Filters rows `first` and `second` (bins values each; `second` may be null) into `out_first`
    // and `out_second` at once, as the real and imaginary parts of one complex row: the response
    // is real and even, so the two do not mix. Zero-padded to the length, so the circular
    // convolution is the linear one on the detector.
    void filter_pair(const float* first, const float* second, float* out_first, float* out_second,
                     std::vector<std::complex<double>>& buffer) const {
        buffer.assign(std::size_t(length), {0.0, 0.0});
        for (int n = 0; n < bins; ++n) buffer[n] = {first[n], second ? second[n] : 0.0f};
        transform(buffer.data(), false);
        for (int k = 0; k < length; ++k) buffer[k] *= response[k];
        transform(buffer.data(), true);
        for (int n = 0; n < bins; ++n) {
            out_first[n] = float(buffer[n].real() / length);
            if (out_second) out_second[n] = float(buffer[n].imag() / length);
        }
    }
};

const FilterPlan& filter_plan(int bins, FbpFilter filter) {
    static std::mutex mutex;
    static std::map<std::pair<int, FbpFilter>, std::unique_ptr<const FilterPlan>> cache;
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[{bins, filter}];
    if (!slot) slot = std::make_unique<const FilterPlan>(bins, filter);
    return *slot;
}

// Adds view row `q` (padded bins), linearly interpolated at start + col * step, to columns
// [col0, col1) of `row_sum`. Positions within a hair of the padded row's ends (rounding) clamp
// to its last interval, which ends in a zero bin. Built for AVX2 too (gathers) and chosen at
// run time, as the library is compiled for the baseline x86-64.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx2", "default")))
#endif
void accumulate_view(const float* q, int padded, float start, float step, int col0, int col1,
                     float* row_sum) {
#pragma omp simd
    for (int col = col0; col < col1; ++col) {
        const float t = start + float(col) * step;
        const int i = std::min(std::max(int(t), 0), padded - 2);
        const float frac = t - float(i);
        row_sum[col] += q[i] + frac * (q[i + 1] - q[i]);
    }
}

// Image rows reconstructed together: each view's filtered row is then read once per block, from
// L1, instead of once per image row.
constexpr int k_rows_per_block = 16;

}  // namespace

ParallelGeometry ParallelGeometry::full(int size, int views) {
    return degraded(size, views, 1, 0.0);
}

ParallelGeometry ParallelGeometry::degraded(int size, int full_views, int step, double wedge) {
    ParallelGeometry g;
    g.size = size;
    g.center = 0.5 * (size - 1);
    g.angle_step = k_pi * step / full_views;
    for (int m = 0; m < full_views; m += step) {
        const double angle = m * k_pi / full_views;
        if (angle < k_pi - wedge) g.angles.push_back(angle);
    }
    return g;
}

ParallelGeometry ParallelGeometry::measured(int size, std::vector<double> angles, double center) {
    ParallelGeometry g;
    g.size = size;
    g.center = center;
    g.angle_step = angles.empty() ? 0.0 : k_pi / double(angles.size());
    g.angles = std::move(angles);
    return g;
}

const std::vector<double>& filter_kernel(int bins, FbpFilter filter) {
    static std::mutex mutex;
    static std::map<std::pair<int, FbpFilter>, std::unique_ptr<const std::vector<double>>> cache;
    const FilterPlan& plan = filter_plan(bins, filter);
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[{bins, filter}];
    if (!slot) {
        const int length = plan.length;
        auto kernel = std::make_unique<std::vector<double>>(2 * bins - 1);
        for (int d = -(bins - 1); d <= bins - 1; ++d) {
            const int m = (d + length) % length;
            double sum = 0.0;
            for (int k = 0; k < length; ++k)
                sum += plan.response[k] *
                       std::cos(2.0 * k_pi * double((std::int64_t(k) * m) % length) / length);
            (*kernel)[d + bins - 1] = sum / length;
        }
        slot = std::move(kernel);
    }
    return *slot;
}

std::vector<float> filtered_back_projection(const std::vector<float>& sinogram,
                                            const ParallelGeometry& geometry, FbpFilter filter) {
    const int bins = geometry.size;
    const std::size_t views = geometry.angles.size();
    if (sinogram.size() != views * bins)
        throw ShapeError("filtered_back_projection: sinogram of " +
                         std::to_string(sinogram.size()) + " values, expected " +
                         std::to_string(views) + " views x " + std::to_string(bins) + " bins");
    const FilterPlan& plan = filter_plan(bins, filter);
    // Filtered rows padded with one zero bin on each side, so interpolation needs no checks
    // within one bin of the detector's ends.
    const int padded = bins + 2;
    std::vector<float> filtered(views * padded, 0.0f);
    const std::size_t pairs = (views + 1) / 2;
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, pairs), [&](const auto& range) {
        std::vector<std::complex<double>> buffer;
        for (std::size_t pair = range.begin(); pair != range.end(); ++pair) {
            const std::size_t v = 2 * pair;
            const bool two = v + 1 < views;
            plan.filter_pair(sinogram.data() + v * bins,
                             two ? sinogram.data() + (v + 1) * bins : nullptr,
                             filtered.data() + v * padded + 1,
                             two ? filtered.data() + (v + 1) * padded + 1 : nullptr, buffer);
        }
    });

    const int size = geometry.size;
    const double centre = geometry.center;
    std::vector<double> cosines(views), sines(views);
    for (std::size_t v = 0; v < views; ++v) {
        cosines[v] = std::cos(geometry.angles[v]);
        sines[v] = std::sin(geometry.angles[v]);
    }
    std::vector<float> image(std::size_t(size) * size);
    const int blocks = (size + k_rows_per_block - 1) / k_rows_per_block;
    tbb::parallel_for(0, blocks, [&](int block) {
        const int first_row = block * k_rows_per_block;
        const int rows = std::min(k_rows_per_block, size - first_row);
        std::vector<float> sum(std::size_t(rows) * size, 0.0f);
        for (std::size_t v = 0; v < views; ++v) {
            const float* q = filtered.data() + v * padded;
            const double c = cosines[v];
            for (int r = 0; r < rows; ++r) {
                const double y = centre - (first_row + r);
                // Position in the padded row of pixel column 0; it moves by cos(theta) per
                // column. Columns whose position falls outside [0, padded - 1) get nothing.
                const double start = -centre * c + y * sines[v] + centre + 1.0;
                // The bounds are clamped to [0, size] in double before conversion: near 90
                // degrees cos(theta) is tiny and they are far beyond int's range.
                double lo = 0, hi = size;
                if (c > 0) {
                    lo = std::max(lo, std::ceil(-start / c));
                    hi = std::min(hi, std::ceil((padded - 1 - start) / c));
                } else if (c < 0) {
                    lo = std::max(lo, std::floor((padded - 1 - start) / c) + 1);
                    hi = std::min(hi, std::floor(-start / c) + 1);
                } else if (start < 0.0 || start >= padded - 1) {
                    continue;
                }
                if (!(lo < hi)) continue;
                accumulate_view(q, padded, float(start), float(c), int(lo), int(hi),
                                sum.data() + std::size_t(r) * size);
            }
        }
        for (int r = 0; r < rows; ++r)
            for (int col = 0; col < size; ++col)
                image[std::size_t(first_row + r) * size + col] =
                    float(double(sum[std::size_t(r) * size + col]) * geometry.angle_step);
    });
    return image;
}

}  // namespace tomodenoise::sim
