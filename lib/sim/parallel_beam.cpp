#include "sim/parallel_beam.hpp"

#include <tbb/parallel_for.h>

#include <cmath>
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

std::vector<double> compute_filter_kernel(int bins, FbpFilter filter) {
    const int length = padded_length(bins);
    // Band-limited ramp in the spatial domain: 1/4 at 0, -1/(pi m)^2 at odd m, 0 at even m,
    // periodic over the padded length.
    std::vector<double> ramp(length, 0.0);
    ramp[0] = 0.25;
    for (int i = 1; i < length; i += 2) {
        const int m = std::min(i, length - i);
        ramp[i] = -1.0 / ((k_pi * m) * (k_pi * m));
    }
    std::vector<double> cosine(length);
    for (int i = 0; i < length; ++i) cosine[i] = std::cos(2.0 * k_pi * i / length);
    // The ramp is even, so its DFT is real and a cosine transform suffices both ways.
    std::vector<double> response(length);
    for (int k = 0; k < length; ++k) {
        double sum = 0.0;
        for (int i = 0; i < length; ++i) sum += ramp[i] * cosine[(std::int64_t(i) * k) % length];
        response[k] = sum * window_response(filter, k, length);
    }
    std::vector<double> kernel(2 * bins - 1);
    for (int d = -(bins - 1); d <= bins - 1; ++d) {
        const int m = (d + length) % length;
        double sum = 0.0;
        for (int k = 0; k < length; ++k)
            sum += response[k] * cosine[(std::int64_t(k) * m) % length];
        kernel[d + bins - 1] = sum / length;
    }
    return kernel;
}

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
    std::lock_guard<std::mutex> lock(mutex);
    auto& slot = cache[{bins, filter}];
    if (!slot)
        slot = std::make_unique<const std::vector<double>>(compute_filter_kernel(bins, filter));
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
    const std::vector<double>& kernel = filter_kernel(bins, filter);
    // Filtered rows padded with one zero bin on each side, so interpolation needs no checks
    // within one bin of the detector's ends.
    const int padded = bins + 2;
    std::vector<float> filtered(views * padded, 0.0f);
    tbb::parallel_for(std::size_t(0), views, [&](std::size_t v) {
        const float* p = sinogram.data() + v * bins;
        float* q = filtered.data() + v * padded + 1;
        for (int n = 0; n < bins; ++n) {
            const double* kn = kernel.data() + n + bins - 1;  // kn[-k] = kernel(n - k)
            double sum = 0.0;
            for (int k = 0; k < bins; ++k) sum += p[k] * kn[-k];
            q[n] = float(sum);
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
    tbb::parallel_for(0, size, [&](int row) {
        const double y = centre - row;
        std::vector<double> sum(size, 0.0);
        for (std::size_t v = 0; v < views; ++v) {
            const float* q = filtered.data() + v * padded;
            // Position in the padded row of pixel column 0; it moves by cos(theta) per column.
            const double start = -centre * cosines[v] + y * sines[v] + centre + 1.0;
            for (int col = 0; col < size; ++col) {
                const double t = start + col * cosines[v];
                if (t < 0.0 || t >= padded - 1) continue;
                const int i = int(t);
                const double frac = t - i;
                sum[col] += (1.0 - frac) * q[i] + frac * q[i + 1];
            }
        }
        for (int col = 0; col < size; ++col)
            image[std::size_t(row) * size + col] = float(sum[col] * geometry.angle_step);
    });
    return image;
}

}  // namespace tomodenoise::sim
