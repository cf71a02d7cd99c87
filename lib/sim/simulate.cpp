#include "tomodenoise/simulate.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
constexpr int k_train_split = 0, k_test_split = 1;

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
    {"shapes", SimulationKind::shapes}, {"ct", SimulationKind::ct},
    {"n2n", SimulationKind::n2n},       {"n2s", SimulationKind::n2s},
    {"seg", SimulationKind::seg},       {"projections", SimulationKind::projections}};
constexpr std::pair<const char*, NoiseModel> k_noise_names[] = {{"gaussian", NoiseModel::gaussian},
                                                                {"poisson", NoiseModel::poisson}};
constexpr std::pair<const char*, PhantomKind> k_phantom_names[] = {
    {"shepp-logan", PhantomKind::shepp_logan},
    {"ellipses", PhantomKind::ellipses},
    {"spheres", PhantomKind::spheres},
    {"mixed", PhantomKind::mixed}};
constexpr std::pair<const char*, SceneKind> k_scene_names[] = {{"shapes", SceneKind::shapes},
                                                               {"ct", SceneKind::ct}};
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

// Refuses a range outside (0, max] or one that decreases; NaN fails every comparison. The
// single value 0 passes when `zero_allowed` (i0: no photon noise).
void require_range(const ValueRange& range, const std::string& option, double max,
                   bool zero_allowed) {
    const std::string value = to_string(range);
    if (zero_allowed && range.min == 0 && range.max == 0) return;
    require(range.min > 0 && range.max <= max, option,
            std::string(zero_allowed ? "0 (no photon noise) or " : "") + "positive and at most " +
                number(max),
            value);
    require(range.min <= range.max, option, "a range MIN:MAX with MIN <= MAX", value);
}

// One image's noise level: log-uniform within the range, so each octave gets as many images.
double draw_level(const ValueRange& range, std::mt19937_64& rng) {
    if (range.single()) return range.min;
    const double level = std::exp(
        std::uniform_real_distribution<double>(std::log(range.min), std::log(range.max))(rng));
    return std::clamp(level, range.min, range.max);  // exp(log(x)) may round just outside
}

std::uint64_t image_seed(std::uint64_t seed, int split, std::int64_t index) {
    return mix(mix(mix(seed) ^ std::uint64_t(split)) ^ std::uint64_t(index));
}

std::vector<float> noisy_image(const std::vector<float>& clean, NoiseModel noise, double level,
                               std::mt19937_64& rng) {
    return noise == NoiseModel::gaussian ? sim::gaussian_noise(clean, level, rng)
                                         : sim::poisson_noise(clean, level, rng);
}

std::vector<sim::Ellipse> random_ellipses(PhantomKind kind, std::mt19937_64& rng) {
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

std::vector<sim::Ellipse> random_phantom(const SimulationOptions& o, std::mt19937_64& rng) {
    std::vector<sim::Ellipse> phantom = random_ellipses(o.phantom, rng);
    sim::add_texture(phantom, o.texture, int(o.size), rng);
    return phantom;
}

// The range of the noise level that applies to the kind: i0 (ct), sigma or peak.
ValueRange noise_range(const SimulationOptions& o, bool test) {
    if (o.ct_scenes()) return test && o.test_i0 ? *o.test_i0 : o.i0;
    if (o.noise == NoiseModel::gaussian) return test && o.test_sigma ? *o.test_sigma : o.sigma;
    return test && o.test_peak ? *o.test_peak : o.peak;
}

/// The scan geometries, shared by every image of a CT simulation.
struct CtScan {
    sim::ParallelGeometry full, degraded;
    int step = 1;         // the degraded scan keeps every step-th angle of the full one
    double mu_per_pixel;  // optical depth per pixel length of value 1
};

// The degraded scan's angles are the full scan's angles 0, step, 2 step, ... (the same
// doubles): its sinogram is those rows of the full one, with no second projection.
std::vector<float> degraded_sinogram(const std::vector<float>& full, const CtScan& scan) {
    const std::size_t bins = std::size_t(scan.full.size);
    std::vector<float> kept(scan.degraded.angles.size() * bins);
    for (std::size_t view = 0; view < scan.degraded.angles.size(); ++view)
        std::copy_n(full.begin() + std::ptrdiff_t(view * std::size_t(scan.step) * bins), bins,
                    kept.begin() + std::ptrdiff_t(view * bins));
    return kept;
}

void copy_into(Stack& stack, std::int64_t index, const std::vector<float>& image) {
    std::memcpy(stack.as<float>() + index * std::int64_t(image.size()), image.data(),
                image.size() * sizeof(float));
}

SimulatedSplit simulate_split(const SimulationOptions& o, const CtScan& scan, int split,
                              std::int64_t count) {
    const ValueRange levels = noise_range(o, split == k_test_split);
    const StackShape shape{count, o.size, o.size};
    const int size = int(o.size);
    SimulatedSplit out;
    out.noisy = Stack(shape, PixelType::float32);
    out.clean = Stack(shape, PixelType::float32);
    if (o.kind == SimulationKind::n2n) out.noisy_b = Stack(shape, PixelType::float32);
    if (o.kind == SimulationKind::seg) out.labels = Stack(shape, PixelType::uint8);
    out.noise_levels.resize(std::size_t(count));
    // Each image draws its scene, then its noise level, then its noise from its own stream.
    tbb::parallel_for(std::int64_t(0), count, [&](std::int64_t i) {
        std::mt19937_64 rng(image_seed(o.seed, split, i));
        if (o.ct_scenes()) {
            const std::vector<float> full_sinogram =
                sim::project(random_phantom(o, rng), scan.full);
            copy_into(out.clean, i,
                      sim::filtered_back_projection(full_sinogram, scan.full, o.filter));
            const double i0 = draw_level(levels, rng);
            out.noise_levels[std::size_t(i)] = i0;
            const std::vector<float> sinogram = degraded_sinogram(full_sinogram, scan);
            const auto low_dose_fbp = [&] {
                return sim::filtered_back_projection(
                    i0 > 0 ? sim::photon_noise(sinogram, i0, scan.mu_per_pixel, rng) : sinogram,
                    scan.degraded, o.filter);
            };
            copy_into(out.noisy, i, low_dose_fbp());
            if (o.kind == SimulationKind::n2n) copy_into(out.noisy_b, i, low_dose_fbp());
            return;
        }
        const sim::ShapesScene scene = o.kind == SimulationKind::seg
                                           ? sim::draw_materials(size, o.texture, rng)
                                           : sim::draw_shapes(size, o.texture, rng);
        copy_into(out.clean, i, scene.image);
        const double level = draw_level(levels, rng);
        out.noise_levels[std::size_t(i)] = level;
        copy_into(out.noisy, i, noisy_image(scene.image, o.noise, level, rng));
        if (o.kind == SimulationKind::n2n)
            copy_into(out.noisy_b, i, noisy_image(scene.image, o.noise, level, rng));
        if (o.kind == SimulationKind::seg)
            std::memcpy(out.labels.as<std::uint8_t>() + i * size * size, scene.labels.data(),
                        scene.labels.size());
    });
    return out;
}

// The open-beam gain of detector column `column` of `size`: smooth, 0.8 to 1.2, different from
// row to row, so that a reconstruction without flat-field correction shows it.
double detector_gain(std::int64_t row, std::int64_t column, std::int64_t size) {
    return 1.0 + 0.2 * std::sin(2.0 * k_pi * double(column) / double(size) + 0.7 * double(row));
}

// One scan whose detector rows are the phantoms of the train split (see the header).
SimulatedSplit simulate_projections(const SimulationOptions& o, const CtScan& scan) {
    const std::int64_t rows = o.count, size = o.size;
    const std::int64_t angles = std::int64_t(scan.degraded.angles.size());
    const ValueRange levels = noise_range(o, false);
    SimulatedSplit out;
    out.clean = Stack({rows, size, size}, PixelType::float32);
    out.projections = Stack({angles, rows, size}, PixelType::float32);
    out.white = Stack({SimulationOptions::white_frames, rows, size}, PixelType::float32);
    out.dark = Stack({SimulationOptions::dark_frames, rows, size}, PixelType::float32);
    out.noise_levels.resize(std::size_t(rows));
    for (double a : scan.degraded.angles) out.angles_degrees.push_back(a * 180.0 / k_pi);
    const double dark = SimulationOptions::dark_counts;
    tbb::parallel_for(std::int64_t(0), rows, [&](std::int64_t row) {
        std::mt19937_64 rng(image_seed(o.seed, k_train_split, row));
        std::vector<float> full_sinogram = sim::project(random_phantom(o, rng), scan.full);
        const double i0 = draw_level(levels, rng);
        out.noise_levels[std::size_t(row)] = i0;
        const bool noise = i0 > 0;
        // Without noise, counts are expected values at a nominal open beam.
        const double open_beam = noise ? i0 : 1e4;
        const auto counts = [&](double expected) {
            return float(noise ? sim::poisson_sample(expected, rng) : expected);
        };
        const std::vector<float> sinogram = degraded_sinogram(full_sinogram, scan);
        float* data = out.projections.as<float>();
        for (std::int64_t a = 0; a < angles; ++a)
            for (std::int64_t c = 0; c < size; ++c) {
                const double open = open_beam * detector_gain(row, c, size);
                const double p = sinogram[std::size_t(a * size + c)];
                data[(a * rows + row) * size + c] =
                    counts(open * std::exp(-p * scan.mu_per_pixel) + dark);
            }
        for (std::int64_t f = 0; f < SimulationOptions::white_frames; ++f)
            for (std::int64_t c = 0; c < size; ++c)
                out.white.as<float>()[(f * rows + row) * size + c] =
                    counts(open_beam * detector_gain(row, c, size) + dark);
        for (std::int64_t f = 0; f < SimulationOptions::dark_frames; ++f)
            for (std::int64_t c = 0; c < size; ++c)
                out.dark.as<float>()[(f * rows + row) * size + c] = counts(dark);
        for (float& p : full_sinogram) p = float(p * scan.mu_per_pixel);
        copy_into(out.clean, row,
                  sim::filtered_back_projection(full_sinogram, scan.full, o.filter));
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
SceneKind parse_scene_kind(const std::string& name, const std::string& option) {
    return parse_name(name, option, k_scene_names);
}
PhantomKind parse_phantom_kind(const std::string& name, const std::string& option) {
    return parse_name(name, option, k_phantom_names);
}
FbpFilter parse_fbp_filter(const std::string& name, const std::string& option) {
    return parse_name(name, option, k_filter_names);
}
ValueRange parse_value_range(const std::string& text, const std::string& option) {
    const auto parse_number = [&](const std::string& part) {
        char* end = nullptr;
        const double value = std::strtod(part.c_str(), &end);
        if (part.empty() || end != part.c_str() + part.size())
            throw InvalidArgument("--" + option + ": '" + text +
                                  "' is neither a number nor a range MIN:MAX");
        return value;
    };
    const std::size_t colon = text.find(':');
    if (colon == std::string::npos) return ValueRange(parse_number(text));
    return ValueRange(parse_number(text.substr(0, colon)), parse_number(text.substr(colon + 1)));
}
std::string to_string(const ValueRange& range) {
    const bool one_value = range.single() || (std::isnan(range.min) && std::isnan(range.max));
    return one_value ? number(range.min) : number(range.min) + ":" + number(range.max);
}
std::string to_string(SimulationKind kind) {
    return name_of(kind, k_kind_names);
}
std::string to_string(FbpFilter filter) {
    return name_of(filter, k_filter_names);
}

bool SimulationOptions::ct_scenes() const {
    return kind == SimulationKind::ct || kind == SimulationKind::projections ||
           (scene == SceneKind::ct && (kind == SimulationKind::n2n || kind == SimulationKind::n2s));
}

void SimulationOptions::validate() const {
    require(
        scene == SceneKind::shapes || kind == SimulationKind::n2n || kind == SimulationKind::n2s,
        "scene", "shapes for --kind " + to_string(kind) + " (ct scenes: --kind ct, n2n or n2s)",
        name_of(scene, k_scene_names));
    require(count >= 1 && count <= max_images, "count",
            "between 1 and " + std::to_string(max_images), std::to_string(count));
    require(test_count >= 0 && test_count <= max_images, "test-count",
            "between 0 and " + std::to_string(max_images), std::to_string(test_count));
    require(size >= k_min_size && size <= max_size, "size",
            "between " + std::to_string(k_min_size) + " and " + std::to_string(max_size),
            std::to_string(size));
    require_range(sigma, "sigma", max_sigma, false);
    require_range(peak, "peak", max_counts, false);
    require_range(i0, "i0", max_counts, true);
    if (test_sigma) require_range(*test_sigma, "test-sigma", max_sigma, false);
    if (test_peak) require_range(*test_peak, "test-peak", max_counts, false);
    if (test_i0) require_range(*test_i0, "test-i0", max_counts, true);
    require(texture >= 0 && texture <= max_texture, "texture",
            "between 0 and " + number(max_texture), number(texture));
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
    validate();                               // bounds the product below far inside the int64 range
    if (kind == SimulationKind::projections)  // counts, white and dark frames, clean FBP
        return count * size * (std::int64_t(views) + white_frames + dark_frames + size) *
               std::int64_t(sizeof(float));
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
    if (options.ct_scenes()) {
        scan.step = options.full_views / options.views;
        scan.full = sim::ParallelGeometry::full(size, options.full_views);
        scan.degraded = sim::ParallelGeometry::degraded(size, options.full_views, scan.step,
                                                        options.wedge_degrees * k_pi / 180);
        scan.mu_per_pixel = options.mu_scale / size;
    }
    SimulatedDataset data;
    data.kind = options.kind;
    if (options.kind == SimulationKind::projections) {
        data.train = simulate_projections(options, scan);
        return data;
    }
    data.train = simulate_split(options, scan, k_train_split, options.count);
    data.test = simulate_split(options, scan, k_test_split, options.test_count);
    return data;
}

}  // namespace tomodenoise
