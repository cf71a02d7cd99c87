#include "tomodenoise/simulate.hpp"

#include <tbb/parallel_for.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/system_memory.hpp"
#include "sim/noise.hpp"
#include "sim/parallel_beam.hpp"
#include "sim/phantom.hpp"
#include "sim/shapes.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {
namespace {

constexpr double k_pi = 3.14159265358979323846;
constexpr int k_min_size = 8;

template <typename Enum, std::size_t N>
Enum parse_name(const std::string& name, const std::string& option,
                const std::pair<const char*, Enum> (&names)[N]) {
    std::string accepted;
    for (const auto& [text, value] : names) {
        if (name == text) return value;
        accepted += (accepted.empty() ? "" : ", ") + std::string(text);
    }
    throw InvalidArgument("--" + option + ": unknown value '" + name + "' (expected one of " +
                          accepted + ")");
}

constexpr std::pair<const char*, SimulationKind> k_kind_names[] = {
    {"shapes", SimulationKind::shapes},
    {"ct", SimulationKind::ct},
    {"n2n", SimulationKind::n2n},
    {"seg", SimulationKind::seg}};
constexpr std::pair<const char*, NoiseModel> k_noise_names[] = {{"gaussian", NoiseModel::gaussian},
                                                                {"poisson", NoiseModel::poisson}};
constexpr std::pair<const char*, PhantomKind> k_phantom_names[] = {
    {"shepp-logan", PhantomKind::shepp_logan},
    {"ellipses", PhantomKind::ellipses},
    {"spheres", PhantomKind::spheres},
    {"mixed", PhantomKind::mixed}};
constexpr std::pair<const char*, FbpFilter> k_filter_names[] = {
    {"ramp", FbpFilter::ramp}, {"shepp-logan", FbpFilter::shepp_logan}, {"hann", FbpFilter::hann}};

template <typename Enum, std::size_t N>
std::string name_of(Enum value, const std::pair<const char*, Enum> (&names)[N]) {
    for (const auto& [text, v] : names)
        if (v == value) return text;
    return "unknown";
}

void require(bool condition, const std::string& option, const std::string& rule,
             const std::string& value) {
    if (!condition) throw InvalidArgument("--" + option + " must be " + rule + ", got " + value);
}

// A value as "%g" prints it: 1e+30 rather than std::to_string's thirty digits.
std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

// SplitMix64 finalizer: turns (seed, split, index) into well-separated stream seeds.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::uint64_t image_seed(std::uint64_t seed, int split, std::int64_t index) {
    return mix(mix(mix(seed) ^ std::uint64_t(split)) ^ std::uint64_t(index));
}

std::vector<float> noisy_image(const std::vector<float>& clean, const SimulationOptions& o,
                               std::mt19937_64& rng) {
    return o.noise == NoiseModel::gaussian ? sim::gaussian_noise(clean, o.sigma, rng)
                                           : sim::poisson_noise(clean, o.peak, rng);
}

std::vector<sim::Ellipse> random_phantom(PhantomKind kind, std::mt19937_64& rng) {
    if (kind == PhantomKind::mixed)
        kind = std::bernoulli_distribution(0.5)(rng) ? PhantomKind::ellipses : PhantomKind::spheres;
    switch (kind) {
        case PhantomKind::shepp_logan:
            return sim::shepp_logan_ellipses();
        case PhantomKind::ellipses:
            return sim::random_ellipses(rng);
        default:
            return sim::random_sphere_slice(rng);
    }
}

/// The scan geometries, shared by every image of a CT simulation.
struct CtScan {
    sim::ParallelGeometry full, degraded;
    double mu_per_pixel;  // optical depth per pixel length of value 1
};

void copy_into(Stack& stack, std::int64_t index, const std::vector<float>& image) {
    std::memcpy(stack.as<float>() + index * std::int64_t(image.size()), image.data(),
                image.size() * sizeof(float));
}

SimulatedSplit simulate_split(const SimulationOptions& o, const CtScan& scan, int split,
                              std::int64_t count) {
    const StackShape shape{count, o.size, o.size};
    const int size = int(o.size);
    SimulatedSplit out;
    out.noisy = Stack(shape, PixelType::float32);
    out.clean = Stack(shape, PixelType::float32);
    if (o.kind == SimulationKind::n2n) out.noisy_b = Stack(shape, PixelType::float32);
    if (o.kind == SimulationKind::seg) out.labels = Stack(shape, PixelType::uint8);
    tbb::parallel_for(std::int64_t(0), count, [&](std::int64_t i) {
        std::mt19937_64 rng(image_seed(o.seed, split, i));
        if (o.kind == SimulationKind::ct) {
            const auto phantom = random_phantom(o.phantom, rng);
            copy_into(out.clean, i,
                      sim::filtered_back_projection(sim::project(phantom, scan.full), scan.full,
                                                    o.filter));
            auto sinogram = sim::project(phantom, scan.degraded);
            if (o.i0 > 0) sinogram = sim::photon_noise(sinogram, o.i0, scan.mu_per_pixel, rng);
            copy_into(out.noisy, i,
                      sim::filtered_back_projection(sinogram, scan.degraded, o.filter));
            return;
        }
        const sim::ShapesScene scene = sim::draw_shapes(size, rng);
        copy_into(out.clean, i, scene.image);
        copy_into(out.noisy, i, noisy_image(scene.image, o, rng));
        if (o.kind == SimulationKind::n2n)
            copy_into(out.noisy_b, i, noisy_image(scene.image, o, rng));
        if (o.kind == SimulationKind::seg)
            std::memcpy(out.labels.as<std::uint8_t>() + i * size * size, scene.labels.data(),
                        scene.labels.size());
    });
    return out;
}

}  // namespace

SimulationKind parse_simulation_kind(const std::string& name, const std::string& option) {
    return parse_name(name, option, k_kind_names);
}
NoiseModel parse_noise_model(const std::string& name, const std::string& option) {
    return parse_name(name, option, k_noise_names);
}
PhantomKind parse_phantom_kind(const std::string& name, const std::string& option) {
    return parse_name(name, option, k_phantom_names);
}
FbpFilter parse_fbp_filter(const std::string& name, const std::string& option) {
    return parse_name(name, option, k_filter_names);
}
std::string to_string(SimulationKind kind) {
    return name_of(kind, k_kind_names);
}
std::string to_string(FbpFilter filter) {
    return name_of(filter, k_filter_names);
}

void SimulationOptions::validate() const {
    require(count >= 1 && count <= max_images, "count",
            "between 1 and " + std::to_string(max_images), std::to_string(count));
    require(test_count >= 0 && test_count <= max_images, "test-count",
            "between 0 and " + std::to_string(max_images), std::to_string(test_count));
    require(size >= k_min_size && size <= max_size, "size",
            "between " + std::to_string(k_min_size) + " and " + std::to_string(max_size),
            std::to_string(size));
    require(sigma > 0 && sigma <= max_sigma, "sigma", "positive and at most " + number(max_sigma),
            number(sigma));
    require(peak > 0 && peak <= max_counts, "peak", "positive and at most " + number(max_counts),
            number(peak));
    require(i0 >= 0 && i0 <= max_counts, "i0",
            "0 (no photon noise) or positive, at most " + number(max_counts), number(i0));
    require(mu_scale >= min_mu_scale && mu_scale <= max_mu_scale, "mu-scale",
            "between " + number(min_mu_scale) + " and " + number(max_mu_scale), number(mu_scale));
    require(full_views >= 1 && full_views <= max_views, "full-views",
            "between 1 and " + std::to_string(max_views), std::to_string(full_views));
    require(views >= 1 && views <= full_views && full_views % views == 0, "views",
            "a divisor of --full-views (" + std::to_string(full_views) + ")",
            std::to_string(views));
    require(wedge_degrees >= 0 && wedge_degrees < 180, "wedge", "in [0, 180) degrees",
            number(wedge_degrees));
}

std::int64_t SimulationOptions::bytes() const {
    validate();  // bounds the product below far inside the int64 range
    const std::int64_t float_stacks = kind == SimulationKind::n2n ? 3 : 2;
    const std::int64_t bytes_per_pixel =
        float_stacks * std::int64_t(sizeof(float)) + (kind == SimulationKind::seg ? 1 : 0);
    return (count + test_count) * size * size * bytes_per_pixel;
}

SimulatedDataset simulate(const SimulationOptions& options) {
    const std::int64_t bytes = options.bytes();
    const std::int64_t memory = physical_memory_bytes();
    if (memory > 0 && bytes > memory)
        throw InvalidArgument("--count " + std::to_string(options.count) + ", --test-count " +
                              std::to_string(options.test_count) + " and --size " +
                              std::to_string(options.size) + " make a data set of " +
                              gibibytes(bytes) + ", more than this machine's memory (" +
                              gibibytes(memory) + ")");
    const int size = int(options.size);
    CtScan scan;
    if (options.kind == SimulationKind::ct) {
        scan.full = sim::ParallelGeometry::full(size, options.full_views);
        scan.degraded = sim::ParallelGeometry::degraded(size, options.full_views,
                                                        options.full_views / options.views,
                                                        options.wedge_degrees * k_pi / 180);
        scan.mu_per_pixel = options.mu_scale / size;
    }
    SimulatedDataset data;
    data.kind = options.kind;
    data.train = simulate_split(options, scan, 0, options.count);
    data.test = simulate_split(options, scan, 1, options.test_count);
    return data;
}

}  // namespace tomodenoise
