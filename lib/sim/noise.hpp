#pragma once
// Measurement noise: on images (Gaussian, Poisson) and on sinograms (photon counting).

#include <random>
#include <vector>

namespace tomodenoise::sim {

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
