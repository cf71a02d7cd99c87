// train_denoiser: trains a denoising network from scratch (or resumes one) on an HDF5 training
// file, supervised with the MSE loss and Adam on random patches, and saves it in Keras's HDF5
// layout after every epoch (model, then optimizer state), so an interrupted run loses at most
// one epoch and `--resume` picks it up.
//
//   train_denoiser --data train.h5 --out model.h5 [--arch cnn|tomogan] [--epochs 10] ...
//
// Data layouts (as simulate_dataset writes them):
//   supervised (TomoGAN layout): train_ns -> train_gt, evaluated on test_ns vs test_gt;
//   --noise2noise: train_a -> train_b (two noisy realizations), evaluated on test_a vs
//   test_clean when the file has it.
// --snapshots DIR writes DIR/epoch_NNN.png after each epoch: the first test slice as input |
// output | target, in one display window.

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/context.hpp"
#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "models/cnn_denoiser.hpp"
#include "api/model_impl.hpp"
#include "models/tomogan_generator.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/threads.hpp"
#include "tool_main.hpp"
#include "train/optimizer.hpp"
#include "train/supervised.hpp"

using namespace tomodenoise;

namespace {

// The dataset as float32. NaN or infinite values are refused, naming the first (slice, row,
// col), as denoise_stack refuses them: they would make NaN weights.
Stack read_float_stack(const std::string& file, const std::string& dataset) {
    const DatasetAddress address{file, dataset};
    Stack s = read_hdf5_stack(address);
    if (s.shape().pixels() == 0)
        throw ShapeError("'" + address.to_string() + "' has dims " + s.shape().to_string() +
                         ": there are no images to train on or test with");
    if (s.type() != PixelType::float32) {
        const auto values = s.to_float("'" + address.to_string() + "'");
        s = Stack::from_float(s.shape(), values.data());
    }
    NormalizeOptions finite_only;
    finite_only.scaling = Scaling::none;
    normalize(s.as<float>(), s.shape(), finite_only, "'" + address.to_string() + "'");
    return s;
}

bool has_dataset(const std::string& file, const std::string& dataset) {
    return hdf5::link_exists(hdf5::File::open_read(file), dataset);
}

// Creates `folder` and proves it writable now, so that a bad --snapshots path fails before
// training rather than after the first epoch.
void prepare_snapshot_folder(const std::string& folder) {
    std::error_code error;
    std::filesystem::create_directories(folder, error);
    if (error || !std::filesystem::is_directory(folder))
        throw IoError("--snapshots '" + folder + "': cannot create the folder" +
                      (error ? ": " + error.message() : std::string(": a file has that name")));
    const std::filesystem::path probe = std::filesystem::path(folder) / ".write-test";
    if (!std::ofstream(probe))
        throw IoError("--snapshots '" + folder + "': cannot write in the folder");
    std::filesystem::remove(probe, error);
}

double value_range(const Stack& s) {
    const float* v = s.as<float>();
    const auto [lo, hi] = std::minmax_element(v, v + s.shape().pixels());
    return double(*hi) - double(*lo);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Trains a denoising network on an HDF5 training file and saves it as Keras HDF5"};
    app.footer(
        "NaN or infinite values in the training file are an error. Training stops (exit 1) as\n"
        "soon as the loss or a weight is NaN or infinite; --out then keeps the model of the\n"
        "last good epoch.");
    std::string data, out, arch = "cnn", resume;
    SupervisedTrainingOptions options;
    double learning_rate = 1e-3;
    int threads = 0;
    bool noise2noise = false;
    app.add_option("--data", data, "training file (TomoGAN layout, or n2n with --noise2noise)")
        ->required();
    app.add_option("--out", out,
                   "model file written after every epoch (may be --resume's, not --data's)")
        ->required();
    app.add_option("--arch", arch, "network to train from scratch")
        ->check(CLI::IsMember({"cnn", "tomogan"}))
        ->capture_default_str();
    app.add_option("--resume", resume, "model file (with optimizer state) to continue training");
    app.add_option("--epochs", options.epochs, "epochs")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--batch", options.batch, "patches per step (refused when their activations exceed the machine's memory)")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--patch", options.patch, "patch side in pixels")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--steps", options.steps_per_epoch, "steps per epoch (0: one pass over the images)")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    app.add_option("--lr", learning_rate, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--seed", options.seed, "seed of the initial weights and of the patches")->capture_default_str();
    app.add_option("--threads", threads,
                   "threads (0: all cores; at most " + std::to_string(max_threads()) +
                       ", 4 x the hardware threads)")
        ->check(CLI::Range(0, max_threads()))
        ->capture_default_str();
    app.add_flag("--noise2noise", noise2noise, "train on two noisy realizations (train_a -> train_b)");
    std::string snapshots;
    app.add_option("--snapshots", snapshots,
                   "folder for a PNG per epoch: first test slice, input | output | target "
                   "(created before training starts)");

    return tool::run_tool("train_denoiser", app, argc, argv, [&] {
        remove_temporaries_on_signal();
        check_output_is_not_an_input({"--out", out, ""}, {{"--data", data, ""}});
        const char* input_name = noise2noise ? "/train_a" : "/train_ns";
        const char* target_name = noise2noise ? "/train_b" : "/train_gt";
        const char* test_input_name = noise2noise ? "/test_a" : "/test_ns";
        const char* test_target_name = noise2noise ? "/test_clean" : "/test_gt";
        tool::doing("reading the training data '" + data + "'");
        const Stack inputs = read_float_stack(data, input_name);
        const Stack targets = read_float_stack(data, target_name);
        Stack test_inputs, test_targets;
        const bool with_test = has_dataset(data, test_input_name) && has_dataset(data, test_target_name) &&
                               hdf5_stack_shape({data, test_input_name}).n > 0;
        if (with_test) {
            test_inputs = read_float_stack(data, test_input_name);
            test_targets = read_float_stack(data, test_target_name);
        }

        Context ctx(threads);
        Network network;
        if (!resume.empty()) {
            tool::doing("loading the model '" + resume + "'");
            network = load_network(resume);
        } else if (arch == "cnn") {
            CnnDenoiserConfig config;
            config.seed = options.seed;
            network = build_cnn_denoiser(config);
        } else {
            TomoGanGeneratorConfig config;
            config.seed = options.seed;
            network = build_tomogan_generator(config);
        }
        AdamConfig adam_config;
        adam_config.learning_rate = learning_rate;
        Adam adam(named_parameters(network), adam_config);
        if (!resume.empty()) load_optimizer_state(resume, network, adam);

        if (!snapshots.empty()) prepare_snapshot_folder(snapshots);
        const double range = with_test ? value_range(test_targets) : 1.0;
        std::printf("training %s: %lld images %s, %d epochs of %s steps, batch %d, patch %lld\n",
                    resume.empty() ? arch.c_str() : resume.c_str(),
                    static_cast<long long>(inputs.shape().n), inputs.shape().to_string().c_str(),
                    options.epochs,
                    options.steps_per_epoch ? std::to_string(options.steps_per_epoch).c_str() : "auto",
                    options.batch, static_cast<long long>(options.patch));
        tool::doing("training (batch " + std::to_string(options.batch) + " of " +
                    std::to_string(options.patch) + "x" + std::to_string(options.patch) +
                    " patches)");
        int saved_epoch = 0;
        const auto on_epoch = [&](const EpochReport& r) {
            save_network(out, network, &adam);
            saved_epoch = r.epoch;
            std::printf("epoch %d: train loss %.6g", r.epoch, r.train_loss);
            if (r.test_loss >= 0)
                std::printf(", test loss %.6g, test PSNR %.2f dB", r.test_loss,
                            10 * std::log10(range * range / r.test_loss));
            std::printf(", %.1f s -> %s\n", r.seconds, out.c_str());
            if (!snapshots.empty() && with_test) {
                char name[32];
                std::snprintf(name, sizeof name, "epoch_%03d.png", r.epoch);
                const Stack output =
                    apply_to_slices(ctx, network, test_inputs, downsampling_factor(network));
                write_png_montage((std::filesystem::path(snapshots) / name).string(),
                                  {test_inputs, output, test_targets}, 0);
            }
            std::fflush(stdout);
        };
        try {
            train_supervised(ctx, network, adam, inputs, targets,
                             with_test ? &test_inputs : nullptr,
                             with_test ? &test_targets : nullptr, options, on_epoch);
        } catch (const NumericalError& e) {
            // Training stops before a diverged epoch is saved: the file keeps the last good one.
            throw NumericalError(std::string(e.what()) + "; " +
                                 (saved_epoch > 0 ? out + " keeps the model of epoch " +
                                                        std::to_string(saved_epoch)
                                                  : "this run wrote no model"));
        }
    });
}
