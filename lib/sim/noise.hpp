#pragma once
// Measurement noise: on images (Gaussian, Poisson) and on sinograms (photon counting).

#include <random>
#include <vector>

namespace tomodenoise::sim {

/// Above this mean, poisson_sample draws from the normal approximation N(mean, mean).
constexpr double k_poisson_normal_approximation_mean = 1e12;

/// One draw of Poisson(mean), mean >= 0 and finite, as a double: exact up to
/// k_poisson_normal_approximation_mean, where std::poisson_distribution is exact and fast;
/// above it the normal approximation rounded to an integer and clamped at 0 (its skewness
/// 1/sqrt(mean) is then 1e-6 or less), because std::poisson_distribution<std::int64_t> never
/// returns for means beyond the int64 range and loses precision well before.
double poisson_sample(double mean, std::mt19937_64& rng);

/// clean + N(0, sigma^2), independently per pixel.
std::vector<float> gaussian_noise(const std::vector<float>& clean, double sigma,
                                  std::mt19937_64& rng);
/// Poisson(peak * clean) / peak per pixel (negative values count as 0).
std::vector<float> poisson_noise(const std::vector<float>& clean, double peak,
                                 std::mt19937_64& rng);
/// Low-dose line integrals: counts ~ Poisson(i0 exp(-p mu)), p' = -log(max(counts, 1) / i0) / mu,
/// with `mu` the optical depth per unit of p.
std::vector<float> photon_noise(const std::vector<float>& line_integrals, double i0, double mu,
                                std::mt19937_64& rng);

}  // namespace tomodenoise::sim
