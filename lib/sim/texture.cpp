#include "sim/texture.hpp"

#include <cmath>

#include "tomodenoise/simulate.hpp"

namespace tomodenoise::sim {
namespace {

constexpr double k_pi = 3.14159265358979323846;

}  // namespace

std::vector<Wave> random_texture(double rms, double pixel, std::mt19937_64& rng) {
    if (rms == 0) return {};
    constexpr int waves = SimulationOptions::texture_waves;
    // A cosine of amplitude c has RMS c / sqrt(2); independent phases add in power.
    const double amplitude = rms * std::sqrt(2.0 / waves);
    std::uniform_real_distribution<double> log_wavelength(
        std::log(SimulationOptions::min_texture_wavelength),
        std::log(SimulationOptions::max_texture_wavelength));
    std::uniform_real_distribution<double> angle(0.0, 2 * k_pi);
    std::vector<Wave> texture(waves);
    for (Wave& wave : texture) {
        const double k = 2 * k_pi / (std::exp(log_wavelength(rng)) * pixel);
        const double direction = angle(rng);
        wave = {k * std::cos(direction), k * std::sin(direction), angle(rng), amplitude};
    }
    return texture;
}

double texture_at(const std::vector<Wave>& texture, double x, double y) {
    double sum = 0;
    for (const Wave& wave : texture)
        sum += wave.amplitude * std::cos(wave.kx * x + wave.ky * y + wave.phase);
    return sum;
}

}  // namespace tomodenoise::sim
