#pragma once
// Band-limited random texture: a sum of plane waves, cheap to evaluate at a point and to
// integrate in closed form along a line, so textured phantoms keep exact projections.

#include <random>
#include <vector>

namespace tomodenoise::sim {

/// amplitude * cos(kx x + ky y + phase), x and y relative to the textured shape's centre.
struct Wave {
    double kx, ky, phase, amplitude;
};

/// SimulationOptions::texture_waves waves of random direction and phase, wavelengths
/// log-uniform in [min_texture_wavelength, max_texture_wavelength] pixels, whose sum has RMS
/// `rms`. `pixel` is the length of a pixel in the caller's coordinates. No draw when rms is 0.
std::vector<Wave> random_texture(double rms, double pixel, std::mt19937_64& rng);

/// The texture's value at (x, y).
double texture_at(const std::vector<Wave>& texture, double x, double y);

}  // namespace tomodenoise::sim
