#include "sim/noise.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tomodenoise::sim {

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
        const double mean = peak * std::max(0.0f, clean[i]);
        const double counts =
            mean > 0 ? double(std::poisson_distribution<std::int64_t>(mean)(rng)) : 0.0;
        noisy[i] = float(counts / peak);
    }
    return noisy;
}

std::vector<float> photon_noise(const std::vector<float>& line_integrals, double i0, double mu,
                                std::mt19937_64& rng) {
    std::vector<float> noisy(line_integrals.size());
    for (std::size_t i = 0; i < line_integrals.size(); ++i) {
        const double expected = i0 * std::exp(-double(line_integrals[i]) * mu);
        const std::int64_t counts = std::poisson_distribution<std::int64_t>(expected)(rng);
        noisy[i] = float(-std::log(double(std::max<std::int64_t>(counts, 1)) / i0) / mu);
    }
    return noisy;
}

}  // namespace tomodenoise::sim
