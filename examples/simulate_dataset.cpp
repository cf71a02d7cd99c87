// Writes a simulated training file: noisy/clean shapes or CT images (TomoGAN layout),
// Noise2Noise pairs, noisy images only (Noise2Self) or segmentation maps. See
// include/tomodenoise/simulate.hpp for the layouts and the physics.
//
//   simulate_dataset --kind ct --out ct.h5 --count 64 --size 256 --i0 1e4 --views 90
//   simulate_dataset --kind ct --out ct.h5 --i0 1000:50000 --test-i0 2000 --texture 0.1

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/simulate.hpp"
#include "tool_main.hpp"

int main(int argc, char** argv) {
    CLI::App app{"Simulates a training data set of noisy and clean images and writes it to HDF5"};
    tomodenoise::SimulationOptions o;
    std::string kind = "shapes", scene = "shapes", noise = "gaussian", phantom = "mixed",
                filter = "ramp", out;
    std::string sigma = "0.1", peak = "20", i0 = "10000", test_sigma, test_peak, test_i0;
    app.add_option("--kind", kind,
                   "shapes | ct | n2n | n2s (noisy images only) | seg | projections (a Data "
                   "Exchange file of --count phantom rows with white and dark fields, for "
                   "reconstruct_stack; /simulation/clean for evaluation)")
        ->capture_default_str();
    app.add_option("--out", out, "output HDF5 file (a regular file, replaced if it exists)")
        ->required();
    using Limits = tomodenoise::SimulationOptions;
    app.add_option("--count", o.count,
                   "training images (at most " + std::to_string(Limits::max_images) + ")")
        ->capture_default_str();
    app.add_option("--test-count", o.test_count, "test images")->capture_default_str();
    app.add_option("--size", o.size,
                   "image side in pixels (8 to " + std::to_string(Limits::max_size) + ")")
        ->capture_default_str();
    app.add_option("--seed", o.seed, "base random seed")->capture_default_str();
    app.add_option("--scene", scene, "n2n, n2s: shapes | ct (CT phantoms and scan as --kind ct)")
        ->capture_default_str();
    app.add_option("--noise", noise, "shapes, n2n, n2s, seg: gaussian | poisson")
        ->capture_default_str();
    app.add_option("--sigma", sigma,
                   "Gaussian noise standard deviation (values in [0, 1]); A:B draws one per "
                   "image, log-uniformly")
        ->capture_default_str();
    app.add_option("--peak", peak,
                   "Poisson noise: counts at value 1 (at most 1e30); A:B draws one per image, "
                   "log-uniformly")
        ->capture_default_str();
    app.add_option("--texture", o.texture,
                   "RMS of a band-limited random texture inside each shape, ellipse and sphere, "
                   "as a fraction of its value (0 to 1; 0: piecewise constant)")
        ->capture_default_str();
    app.add_option("--phantom", phantom,
                   "ct (and ct scenes): shepp-logan | ellipses | spheres | mixed")
        ->capture_default_str();
    app.add_option("--i0", i0,
                   "ct: incident photons per ray (0: no photon noise; at most 1e30); A:B draws "
                   "one per image, log-uniformly")
        ->capture_default_str();
    const CLI::Option* test_sigma_given =
        app.add_option("--test-sigma", test_sigma, "--sigma of the test images (default: --sigma)");
    const CLI::Option* test_peak_given =
        app.add_option("--test-peak", test_peak, "--peak of the test images (default: --peak)");
    const CLI::Option* test_i0_given =
        app.add_option("--test-i0", test_i0, "--i0 of the test images (default: --i0)");
    app.add_option("--mu-scale", o.mu_scale,
                   "ct: optical depth of a full-width ray through value 1")
        ->capture_default_str();
    app.add_option("--full-views", o.full_views,
                   "ct: angles of the full scan over 180 degrees (at most " +
                       std::to_string(Limits::max_views) + ")")
        ->capture_default_str();
    app.add_option("--views", o.views, "ct: angles kept for the input (divides --full-views)")
        ->capture_default_str();
    app.add_option("--wedge", o.wedge_degrees, "ct: missing wedge in degrees")
        ->capture_default_str();
    app.add_option("--filter", filter, "ct: FBP filter ramp | shepp-logan | hann")
        ->capture_default_str();
    app.footer(
        "The data set is held in memory while it is simulated: a data set larger than "
        "the\nmachine's memory is refused before any work starts. Image i of a split has the "
        "same scene\nwhatever the noise options, and test images never repeat a training "
        "scene: runs with one\n--seed and different --test-i0 evaluate one model on the "
        "same held-out scenes at several doses.");
    return tomodenoise::tool::run_tool("simulate_dataset", app, argc, argv, [&] {
        tomodenoise::tool::check_command_line([&] {
            o.kind = tomodenoise::parse_simulation_kind(kind);
            o.scene = tomodenoise::parse_scene_kind(scene);
            o.noise = tomodenoise::parse_noise_model(noise);
            o.phantom = tomodenoise::parse_phantom_kind(phantom);
            o.filter = tomodenoise::parse_fbp_filter(filter);
            o.sigma = tomodenoise::parse_value_range(sigma, "sigma");
            o.peak = tomodenoise::parse_value_range(peak, "peak");
            o.i0 = tomodenoise::parse_value_range(i0, "i0");
            if (*test_sigma_given)
                o.test_sigma = tomodenoise::parse_value_range(test_sigma, "test-sigma");
            if (*test_peak_given)
                o.test_peak = tomodenoise::parse_value_range(test_peak, "test-peak");
            if (*test_i0_given) o.test_i0 = tomodenoise::parse_value_range(test_i0, "test-i0");
            o.validate();
        });
        tomodenoise::remove_temporaries_on_signal();
        tomodenoise::check_output_is_not_an_input({"--out", out, ""}, {});
        const auto start = std::chrono::steady_clock::now();
        tomodenoise::tool::doing("simulating " + std::to_string(o.count + o.test_count) +
                                 " images of " + std::to_string(o.size) + "x" +
                                 std::to_string(o.size));
        const tomodenoise::SimulatedDataset data = tomodenoise::simulate(o);
        tomodenoise::tool::doing("writing " + out);
        tomodenoise::write_simulated_dataset(out, data);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf(
            "simulate_dataset: wrote %s: %s, %lld train + %lld test images of %lldx%lld, "
            "seed %llu, %.1f s\n",
            out.c_str(), kind.c_str(), static_cast<long long>(o.count),
            static_cast<long long>(o.test_count), static_cast<long long>(o.size),
            static_cast<long long>(o.size), static_cast<unsigned long long>(o.seed), seconds);
    });
}
