#include "sim/noise.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tomodenoise::sim {

double poisson_sample(double mean, std::mt19937_64& rng) {
    if (!(mean > 0)) return 0.0;
    if (mean <= k_poisson_normal_approximation_mean)
        return double(std::poisson_distribution<std::int64_t>(mean)(rng));
    const double normal = std::normal_distribution<double>(mean, std::sqrt(mean))(rng);
    return std::max(0.0, std::round(normal));
}

std::vector<float> gaussian_noise(const std::vector<float>& clean, double sigma,
                                  std::mt19937_64& rng) {
    std::normal_distribution<double> normal(0.0, sigma);
    std::vector<float> noisy(clean.size());
    for (std::size_t i = 0; i < clean.size(); ++i) noisy[i] = float(clean[i] + normal(rng));
    return noisy;
}

std::vector<float> poisson_noise(const std::vector<float>& clean, double peak,
                                 std::mt19937_64& rng) {
    std::vector<float> noisy(clean.size());
    for (std::size_t i = 0; i < clean.size(); ++i) {
        const double counts = poisson_sample(peak * std::max(0.0f, clean[i]), rng);
        noisy[i] = float(counts / peak);
    }
    return noisy;
}

std::vector<float> photon_noise(const std::vector<float>& line_integrals, double i0, double mu,
                                std::mt19937_64& rng) {
    std::vector<float> noisy(line_integrals.size());
    for (std::size_t i = 0; i < line_integrals.size(); ++i) {
        const double expected = i0 * std::exp(-double(line_integrals[i]) * mu);
        const double counts = poisson_sample(expected, rng);
        noisy[i] = float(-std::log(std::max(counts, 1.0) / i0) / mu);
    }
    return noisy;
}

}  // namespace tomodenoise::sim
