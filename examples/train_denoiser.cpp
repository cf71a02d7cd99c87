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

#include <cstdio>
#include <string>

#include "tomodenoise/io.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/threads.hpp"
#include "tomodenoise/train.hpp"
#include "tool_main.hpp"

using namespace tomodenoise;

int main(int argc, char** argv) {
    CLI::App app{"Trains a denoising network on an HDF5 training file and saves it as Keras HDF5"};
    app.footer(
        "NaN or infinite values in the training file are an error. Training stops (exit 1) as\n"
        "soon as the loss or a weight is NaN or infinite; --out then keeps the model of the\n"
        "last good epoch.");
    std::string data, out, arch = "cnn";
    TrainOptions options;
    bool noise2noise = false;
    app.add_option("--data", data, "training file (TomoGAN layout, or n2n with --noise2noise)")
        ->required();
    app.add_option("--out", out,
                   "model file written after every epoch (may be --resume's, not --data's)")
        ->required();
    app.add_option("--arch", arch, "network to train from scratch")
        ->check(CLI::IsMember({"cnn", "tomogan"}))
        ->capture_default_str();
    app.add_option("--resume", options.resume,
                   "model file (with optimizer state) to continue training");
    app.add_option("--epochs", options.epochs, "epochs")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--batch", options.batch,
                   "patches per step (refused when their activations exceed the machine's memory)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--patch", options.patch, "patch side in pixels")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--steps", options.steps_per_epoch,
                   "steps per epoch (0: one pass over the images)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--lr", options.learning_rate, "Adam learning rate")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--seed", options.seed, "seed of the initial weights and of the patches")
        ->capture_default_str();
    app.add_option("--threads", options.threads,
                   "threads (0: all cores; at most " + std::to_string(max_threads()) +
                       ", 4 x the hardware threads)")
        ->check(CLI::Range(0, max_threads()))
        ->capture_default_str();
    app.add_flag("--noise2noise", noise2noise,
                 "train on two noisy realizations (train_a -> train_b)");
    app.add_option("--snapshots", options.snapshots,
                   "folder for a PNG per epoch: first test slice, input | output | target "
                   "(created before training starts)");

    return tool::run_tool("train_denoiser", app, argc, argv, [&] {
        remove_temporaries_on_signal();
        check_output_is_not_an_input({"--out", out, ""}, {{"--data", data, ""}});
        options.architecture =
            arch == "cnn" ? DenoiserArchitecture::cnn : DenoiserArchitecture::tomogan;
        options.checkpoint = out;
        tool::doing("reading the training data '" + data + "'");
        const TrainingData training_data = read_training_file(
            data, noise2noise ? TrainingLayout::noise2noise : TrainingLayout::tomogan);

        if (!options.resume.empty()) tool::doing("loading the model '" + options.resume + "'");
        // Named after this tool's option; train_denoiser finds the folder ready.
        if (!options.snapshots.empty())
            prepare_output_folder({"--snapshots", options.snapshots, ""});
        TrainingCallbacks callbacks;
        callbacks.on_start = [&] {
            const StackShape& shape = training_data.inputs.shape();
            std::printf(
                "training %s: %lld images %s, %d epochs of %s steps, batch %d, "
                "patch %lld\n",
                options.resume.empty() ? arch.c_str() : options.resume.c_str(),
                static_cast<long long>(shape.n), shape.to_string().c_str(), options.epochs,
                options.steps_per_epoch ? std::to_string(options.steps_per_epoch).c_str() : "auto",
                options.batch, static_cast<long long>(options.patch));
            tool::doing("training (batch " + std::to_string(options.batch) + " of " +
                        std::to_string(options.patch) + "x" + std::to_string(options.patch) +
                        " patches)");
        };
        callbacks.on_epoch = [&](const TrainingEpoch& r) {
            std::printf("epoch %d: train loss %.6g", r.epoch, r.train_loss);
            if (r.test_loss >= 0)
                std::printf(", test loss %.6g, test PSNR %.2f dB", r.test_loss, r.test_psnr);
            std::printf(", %.1f s -> %s\n", r.seconds, out.c_str());
            std::fflush(stdout);
        };
        train_denoiser(training_data, options, callbacks);
    });
}
