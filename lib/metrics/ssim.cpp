#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace tomodenoise {
namespace {

constexpr double k_ssim_k1 = 0.01;
constexpr double k_ssim_k2 = 0.03;
constexpr double k_gaussian_sigma = 1.5;
constexpr int k_gaussian_radius = 5;  // truncate 3.5 sigma, as Wang et al. and scipy
constexpr int k_uniform_size = 7;
// Output rows per parallel task: large enough that the (window - 1) rows each task filters
// twice are a small overhead, small enough that the five row buffers stay in cache.
constexpr std::int64_t k_rows_per_block = 32;

/// A separable, normalized window and the factor that turns the windowed second moments into
/// the covariance SSIM uses (1 for population, n / (n - 1) for sample covariance).
struct SsimWindow {
    std::vector<double> taps;
    double covariance_norm;
    const char* name;
};

SsimWindow gaussian_window() {
    SsimWindow window{std::vector<double>(2 * k_gaussian_radius + 1), 1.0, "ssim_gaussian"};
    for (int i = -k_gaussian_radius; i <= k_gaussian_radius; ++i)
        window.taps[i + k_gaussian_radius] =
            std::exp(-0.5 * i * i / (k_gaussian_sigma * k_gaussian_sigma));
    const double sum = std::accumulate(window.taps.begin(), window.taps.end(), 0.0);
    for (double& t : window.taps) t /= sum;
    return window;
}

SsimWindow uniform_window() {
    const double n = double(k_uniform_size) * k_uniform_size;
    return {std::vector<double>(k_uniform_size, 1.0 / k_uniform_size), n / (n - 1.0),
            "ssim_uniform7"};
}

// The five windowed moments (x, y, xx, yy, xy) of one block of output rows: a horizontal pass
// over the block's input rows, then a vertical pass per output row, all in double precision
// because the variances are differences of nearly equal moments.
double ssim_block_sum(const float* x, const float* y, std::int64_t width, std::int64_t first_row,
                      std::int64_t rows, const SsimWindow& window, double c1, double c2,
                      std::vector<double>& horizontal, std::vector<double>& vertical) {
    const std::int64_t size = std::int64_t(window.taps.size());
    const std::int64_t out_w = width - size + 1;
    const std::int64_t in_rows = rows + size - 1;
    const std::int64_t plane = in_rows * out_w;
    horizontal.assign(5 * plane, 0.0);
    for (std::int64_t r = 0; r < in_rows; ++r) {
        const float* xr = x + (first_row + r) * width;
        const float* yr = y + (first_row + r) * width;
        double* h = horizontal.data() + r * out_w;
        for (std::int64_t c = 0; c < out_w; ++c) {
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            for (std::int64_t t = 0; t < size; ++t) {
                const double a = xr[c + t], b = yr[c + t], wt = window.taps[t];
                sx += wt * a;
                sy += wt * b;
                sxx += wt * a * a;
                syy += wt * b * b;
                sxy += wt * a * b;
            }
            h[c] = sx;
            h[plane + c] = sy;
            h[2 * plane + c] = sxx;
            h[3 * plane + c] = syy;
            h[4 * plane + c] = sxy;
        }
    }
    double sum = 0.0;
    vertical.resize(5 * out_w);
    for (std::int64_t r = 0; r < rows; ++r) {
        std::fill(vertical.begin(), vertical.end(), 0.0);
        for (std::int64_t t = 0; t < size; ++t) {
            const double wt = window.taps[t];
            for (int m = 0; m < 5; ++m) {
                const double* h = horizontal.data() + m * plane + (r + t) * out_w;
                double* v = vertical.data() + m * out_w;
                for (std::int64_t c = 0; c < out_w; ++c) v[c] += wt * h[c];
            }
        }
        for (std::int64_t c = 0; c < out_w; ++c) {
            const double mx = vertical[c], my = vertical[out_w + c];
            const double vx = window.covariance_norm * (vertical[2 * out_w + c] - mx * mx);
            const double vy = window.covariance_norm * (vertical[3 * out_w + c] - my * my);
            const double vxy = window.covariance_norm * (vertical[4 * out_w + c] - mx * my);
            sum +=
                ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    }
    return sum;
}

double ssim_mean(const float* reference, const float* test, std::int64_t height, std::int64_t width,
                 double data_range, const SsimWindow& window) {
    const std::int64_t size = std::int64_t(window.taps.size());
    if (height < size || width < size)
        throw ShapeError(std::string(window.name) + ": images must be at least " +
                         std::to_string(size) + "x" + std::to_string(size) + ", got " +
                         std::to_string(height) + "x" + std::to_string(width));
    if (!(data_range > 0.0 && std::isfinite(data_range)))
        throw InvalidArgument(std::string(window.name) +
                              ": data range must be finite and positive, got " +
                              std::to_string(data_range));
    const double c1 = (k_ssim_k1 * data_range) * (k_ssim_k1 * data_range);
    const double c2 = (k_ssim_k2 * data_range) * (k_ssim_k2 * data_range);
    const std::int64_t out_h = height - size + 1, out_w = width - size + 1;
    const std::int64_t blocks = (out_h + k_rows_per_block - 1) / k_rows_per_block;
    // Per-block sums added in block order keep the result independent of the thread count.
    std::vector<double> block_sums(blocks);
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, blocks),
                      [&](const tbb::blocked_range<std::int64_t>& range) {
                          std::vector<double> horizontal, vertical;
                          for (std::int64_t b = range.begin(); b != range.end(); ++b) {
                              const std::int64_t first = b * k_rows_per_block;
                              const std::int64_t rows = std::min(k_rows_per_block, out_h - first);
                              block_sums[b] = ssim_block_sum(reference, test, width, first, rows,
                                                             window, c1, c2, horizontal, vertical);
                          }
                      });
    return std::accumulate(block_sums.begin(), block_sums.end(), 0.0) / double(out_h * out_w);
}

}  // namespace

double ssim_gaussian(const float* reference, const float* test, std::int64_t height,
                     std::int64_t width, double data_range) {
    static const SsimWindow window = gaussian_window();
    return ssim_mean(reference, test, height, width, data_range, window);
}

double ssim_uniform7(const float* reference, const float* test, std::int64_t height,
                     std::int64_t width, double data_range) {
    static const SsimWindow window = uniform_window();
    return ssim_mean(reference, test, height, width, data_range, window);
}

}  // namespace tomodenoise
