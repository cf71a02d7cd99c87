#include "sim/phantom.hpp"

#include <cmath>

namespace tomodenoise::sim {
namespace {

constexpr double k_pi = 3.14159265358979323846;

double uniform(std::mt19937_64& rng, double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
}

int uniform_int(std::mt19937_64& rng, int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
}

}  // namespace

std::vector<Ellipse> shepp_logan_ellipses() {
    const double deg = k_pi / 180.0;
    return {
        {1.0, 0.69, 0.92, 0.0, 0.0, 0.0},
        {-0.8, 0.6624, 0.8740, 0.0, -0.0184, 0.0},
        {-0.2, 0.1100, 0.3100, 0.22, 0.0, -18.0 * deg},
        {-0.2, 0.1600, 0.4100, -0.22, 0.0, 18.0 * deg},
        {0.1, 0.2100, 0.2500, 0.0, 0.35, 0.0},
        {0.1, 0.0460, 0.0460, 0.0, 0.1, 0.0},
        {0.1, 0.0460, 0.0460, 0.0, -0.1, 0.0},
        {0.1, 0.0460, 0.0230, -0.08, -0.605, 0.0},
        {0.1, 0.0230, 0.0230, 0.0, -0.606, 0.0},
        {0.1, 0.0230, 0.0460, 0.06, -0.605, 0.0},
    };
}

std::vector<Ellipse> random_ellipses(std::mt19937_64& rng) {
    std::vector<Ellipse> ellipses;
    const double body_x = uniform(rng, -0.05, 0.05), body_y = uniform(rng, -0.05, 0.05);
    ellipses.push_back({uniform(rng, 0.2, 0.5), uniform(rng, 0.6, 0.85), uniform(rng, 0.6, 0.85),
                        body_x, body_y, uniform(rng, 0.0, k_pi)});
    const int inner = uniform_int(rng, 4, 12);
    for (int i = 0; i < inner; ++i) {
        const double r = uniform(rng, 0.0, 0.55), phi = uniform(rng, 0.0, 2 * k_pi);
        ellipses.push_back({uniform(rng, -0.1, 0.5), uniform(rng, 0.03, 0.25),
                            uniform(rng, 0.03, 0.25), body_x + r * std::cos(phi),
                            body_y + r * std::sin(phi), uniform(rng, 0.0, k_pi)});
    }
    return ellipses;
}

std::vector<Ellipse> random_sphere_slice(std::mt19937_64& rng) {
    constexpr double cylinder_radius = 0.85;
    std::vector<Ellipse> disks{{uniform(rng, 0.1, 0.3), cylinder_radius, cylinder_radius, 0, 0, 0}};
    const int spheres = uniform_int(rng, 10, 40);
    for (int i = 0; i < spheres; ++i) {
        const double radius = uniform(rng, 0.04, 0.2);
        const double z = uniform(rng, -1.0, 1.0);  // distance of the centre from the slice
        const double r = std::sqrt(uniform(rng, 0.0, 1.0)) * (cylinder_radius - radius);
        const double phi = uniform(rng, 0.0, 2 * k_pi);
        const double value = uniform(rng, 0.1, 0.6);
        if (std::abs(z) >= radius) continue;
        const double cut = std::sqrt(radius * radius - z * z);
        disks.push_back({value, cut, cut, r * std::cos(phi), r * std::sin(phi), 0.0});
    }
    return disks;
}

void add_texture(std::vector<Ellipse>& ellipses, double texture, int size, std::mt19937_64& rng) {
    for (Ellipse& e : ellipses)
        e.texture = random_texture(texture * std::abs(e.value), 2.0 / size, rng);
}

std::vector<float> rasterize(const std::vector<Ellipse>& ellipses, int size, int subsamples) {
    std::vector<float> image(std::size_t(size) * size, 0.0f);
    const double pixel = 2.0 / size;
    const double sample_weight = 1.0 / (double(subsamples) * subsamples);
    for (const Ellipse& e : ellipses) {
        const double c = std::cos(e.angle), s = std::sin(e.angle);
        // Only the rows and columns of the ellipse's bounding box need testing.
        const double reach = std::max(e.semi_x, e.semi_y);
        const int col0 = std::max(0, int(std::floor((e.center_x - reach + 1.0) / pixel)));
        const int col1 = std::min(size - 1, int(std::ceil((e.center_x + reach + 1.0) / pixel)));
        const int row0 = std::max(0, int(std::floor((1.0 - e.center_y - reach) / pixel)));
        const int row1 = std::min(size - 1, int(std::ceil((1.0 - e.center_y + reach) / pixel)));
        for (int row = row0; row <= row1; ++row)
            for (int col = col0; col <= col1; ++col) {
                double sum = 0;
                for (int a = 0; a < subsamples; ++a)
                    for (int b = 0; b < subsamples; ++b) {
                        const double x = -1.0 + (col + (b + 0.5) / subsamples) * pixel - e.center_x;
                        const double y = 1.0 - (row + (a + 0.5) / subsamples) * pixel - e.center_y;
                        const double u = (x * c + y * s) / e.semi_x;
                        const double v = (-x * s + y * c) / e.semi_y;
                        if (u * u + v * v <= 1.0) sum += e.value + texture_at(e.texture, x, y);
                    }
                image[std::size_t(row) * size + col] += float(sum * sample_weight);
            }
    }
    return image;
}

std::vector<float> project(const std::vector<Ellipse>& ellipses, const ParallelGeometry& geometry) {
    const int bins = geometry.size;
    const double half = 0.5 * geometry.size;  // pixels per normalized unit
    const double centre = 0.5 * (bins - 1);
    std::vector<float> sinogram(geometry.angles.size() * bins, 0.0f);
    for (std::size_t v = 0; v < geometry.angles.size(); ++v) {
        const double theta = geometry.angles[v];
        const double ct = std::cos(theta), st = std::sin(theta);
        for (const Ellipse& e : ellipses) {
            // Squared half-width of the ellipse's shadow along the detector, and the shadow's
            // centre: a chord at offset s from it has length 2 a b sqrt(w2 - s^2) / w2.
            const double rel = theta - e.angle;
            const double w2 = e.semi_x * e.semi_x * std::cos(rel) * std::cos(rel) +
                              e.semi_y * e.semi_y * std::sin(rel) * std::sin(rel);
            const double shadow = e.center_x * ct + e.center_y * st;
            // The ray is s n + t d relative to the centre, n = (cos, sin) theta, d = (-sin, cos)
            // theta; along it the chord is centred at t = s * midpoint_slope.
            const double ab = e.semi_x * e.semi_y;
            const double midpoint_slope =
                -std::sin(rel) * std::cos(rel) * (e.semi_x * e.semi_x - e.semi_y * e.semi_y) / w2;
            for (int k = 0; k < bins; ++k) {
                const double s = (k - centre) / half - shadow;
                if (s * s >= w2) continue;
                const double half_chord = ab * std::sqrt(w2 - s * s) / w2;
                double integral = 2.0 * e.value * half_chord;
                // A wave cos(beta + gamma t) integrates over [t_m - h, t_m + h] to
                // 2 cos(beta + gamma t_m) sin(gamma h) / gamma.
                const double t_mid = s * midpoint_slope;
                for (const Wave& wave : e.texture) {
                    const double along = wave.ky * ct - wave.kx * st;   // k . d
                    const double across = wave.kx * ct + wave.ky * st;  // k . n
                    const double gh = along * half_chord;
                    const double sinc_h = std::abs(gh) < 1e-9 ? half_chord : std::sin(gh) / along;
                    integral += 2.0 * wave.amplitude *
                                std::cos(s * across + t_mid * along + wave.phase) * sinc_h;
                }
                sinogram[v * bins + k] += float(half * integral);
            }
        }
    }
    return sinogram;
}

}  // namespace tomodenoise::sim
