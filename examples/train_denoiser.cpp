// train_denoiser: trains a network on an HDF5 training file (supervised, Noise2Noise,
// Noise2Self, segmentation or TomoGAN's adversarial training) from scratch, or resumes / fine-tunes
// one, and saves it in Keras's HDF5 layout with its optimizer and training state every
// --checkpoint-every steps, at the end, and on SIGINT/SIGTERM, so that `--resume` continues it bit
// for bit.
//
//   train_denoiser --data train.h5 --out model.h5 [--mode supervised] [--arch cnn|unet] ...
//
// Data layouts (as simulate_dataset writes them):
//   supervised: train_ns -> train_gt, validated on test_ns vs test_gt;
//   n2n (or --noise2noise): train_a -> train_b, validated on test_a vs test_clean;
//   n2s: train_ns only, validated on test_ns vs test_gt when the file has both;
//   seg: train_ns -> train_labels, validated on test_ns vs test_labels;
//   gan: as supervised;
//   n2i: --data is a reconstruction (a stack location) that reconstruct_stack --splits K wrote
//        with its K sub-reconstructions beside it; validated against --clean when given.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "tomodenoise/io.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/precision.hpp"
#include "tomodenoise/threads.hpp"
#include "tomodenoise/train.hpp"
#include "tool_main.hpp"

using namespace tomodenoise;

namespace {

std::string duration(double seconds) {
    char text[32];
    const long long s = static_cast<long long>(seconds + 0.5);
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%lldh%02lldm", s / 3600, s / 60 % 60);
    else
        std::snprintf(text, sizeof text, "%lldm%02llds", s / 60, s % 60);
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "Trains a denoising or segmentation network on an HDF5 training file and saves "
        "it as Keras HDF5"};
    app.footer(
        "NaN or infinite values in the training file are an error. Training stops (exit 1) as\n"
        "soon as the loss or a weight is NaN or infinite; --out then keeps the last good\n"
        "checkpoint. SIGINT or SIGTERM stop it after the current step with a checkpoint in\n"
        "--out (the process then ends by the signal); --resume continues it to the same total.\n"
        "--mode gan: --out is the generator (what denoise_stack applies); the discriminator\n"
        "and its Adam state are kept in the same file, in its group /tomodenoise_discriminator.");
    std::string data, out, arch, mode = "supervised", loss = "mse", mask_mode = "zero";
    TrainOptions options;
    bool noise2noise = false;
    std::string clean;
    app.add_option("--data", data,
                   "training file (layout per --mode, see the header); n2i: the reconstruction "
                   "FILE.h5:/dataset (or TIFF) whose --splits sub-reconstructions "
                   "reconstruct_stack wrote beside it")
        ->required();
    app.add_option(
           "--splits", options.splits,
           "n2i: the K sub-reconstructions (2 to 1024); input = mean of K-1 of them, "
           "target = the remaining one, for each choice; recorded in the model (with --resume: "
           "the model's by default, and no other)")
        ->check(CLI::Range(2, 1024))
        ->capture_default_str();
    app.add_option("--clean", clean,
                   "n2i: a clean reference stack of the reconstruction's shape to validate "
                   "against (e.g. simulate_dataset's /simulation/clean)");
    app.add_option("--out", out, "checkpoint and final model (may be --resume's, not --data's)")
        ->required();
    app.add_option("--mode", mode, "what to learn")
        ->check(CLI::IsMember({"supervised", "n2n", "n2s", "seg", "gan", "n2i"}))
        ->capture_default_str();
    app.add_option("--arch", arch,
                   "network to train from scratch: cnn (default) or unet (alias tomogan; "
                   "the only one, and the default, for --mode gan); with --resume it must be the "
                   "model's")
        ->check(CLI::IsMember({"cnn", "unet", "tomogan"}));
    app.add_option("--levels", options.levels, "unet pooling levels")
        ->check(CLI::Range(1, 6))
        ->capture_default_str();
    app.add_option("--residual", options.residual,
                   "unet for supervised or n2n at depth 1: output = input + learned correction "
                   "(true or false)")
        ->capture_default_str();
    app.add_option("--depth", options.depth,
                   "adjacent slices as input channels (odd; the middle one is denoised; "
                   "default 1, or the resumed model's)")
        ->check(CLI::Range(1, 63));
    app.add_option("--resume", options.resume,
                   "model file to continue (a checkpoint of this tool) or fine-tune (any Keras "
                   "model: fresh optimizer; gan: also a supervised checkpoint, as the generator "
                   "with a new discriminator)");
    app.add_option("--iters", options.iterations,
                   "total steps, counting a resumed run's (0: --epochs x --steps)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--max-seconds", options.max_seconds,
                   "stop after this many seconds, checkpointing (0: no limit)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--epochs", options.epochs, "epochs, in total (with --iters 0)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--steps", options.steps_per_epoch,
                   "steps per epoch (0: one pass over the images)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--batch", options.batch,
                   "patches per step (refused when their activations exceed the machine's memory)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--patch", options.patch, "patch side in pixels")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    double learning_rate = default_learning_rate;
    CLI::Option* lr_option =
        app.add_option("--lr", learning_rate,
                       "Adam learning rate (default 1e-3; gan: 1e-4, both networks)")
            ->check(CLI::PositiveNumber);
    std::string lr_schedule = to_string(options.lr_schedule);
    app.add_option("--lr-schedule", lr_schedule,
                   "learning rate over the run: constant, or cosine (decaying to 0 at --iters or "
                   "--max-seconds, whichever comes first)")
        ->check(CLI::IsMember({"constant", "cosine"}))
        ->capture_default_str();
    app.add_option("--loss", loss, "loss of supervised and n2n")
        ->check(CLI::IsMember({"mse", "l1"}))
        ->capture_default_str();
    std::string normalization, n2s_inference = "single-pass";
    std::vector<double> clip_percentiles;  // empty or {low, high}
    app.add_option("--normalization", normalization,
                   "how the data is scaled for the network, fitted over all training inputs and "
                   "recorded in the model (denoise_stack scales a volume the same way from its "
                   "own statistics and maps the output back): percentile (clip at "
                   "--clip-percentiles, that range to 0..1), mean-std (mean 0, deviation 1) or "
                   "none; default: mean-std for a new model, the resumed model's recorded one "
                   "(none for a model without a recipe)")
        ->check(CLI::IsMember({"none", "percentile", "mean-std"}));
    app.add_option("--clip-percentiles", clip_percentiles,
                   "--normalization percentile (implied) with these low and high percentiles "
                   "instead of 0.05 99.95")
        ->expected(2)
        ->check(CLI::Range(0.0, 100.0));
    app.add_option("--n2s-inference", n2s_inference,
                   "n2s: the inference the model records as denoise_stack's default: single-pass "
                   "or j-invariant (one pass per mask phase)")
        ->check(CLI::IsMember({"single-pass", "j-invariant"}))
        ->capture_default_str();
    app.add_option("--mask-width", options.mask_width, "n2s: period of the grid of hidden pixels")
        ->check(CLI::Range(2, 16))
        ->capture_default_str();
    app.add_option("--mask-mode", mask_mode,
                   "n2s: hidden pixels zeroed or replaced by their 4 neighbours' mean")
        ->check(CLI::IsMember({"zero", "interpolate"}))
        ->capture_default_str();
    app.add_option("--classes", options.classes, "seg: classes (labels 0..classes-1)")
        ->check(CLI::Range(2, 255))
        ->capture_default_str();
    app.add_option("--class-weights", options.class_weights,
                   "seg: one weight per class, comma-separated")
        ->delimiter(',');
    GanOptions& gan = options.gan;
    app.add_option("--itg", gan.generator_steps, "gan: generator steps per iteration")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("--itd", gan.discriminator_steps, "gan: discriminator steps per iteration")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    app.add_option("--ladv", gan.adversarial_weight, "gan: weight of the adversarial loss")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--lmse", gan.mse_weight, "gan: weight of the MSE against the label")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--lperc", gan.perceptual_weight,
                   "gan: weight of the perceptual loss (MSE of VGG19 features; needs --vgg19)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    std::string gan_loss = to_string(gan.loss);
    app.add_option("--gan-loss", gan_loss,
                   "gan: bce (discriminator logits) or wgan (Wasserstein critic, weights clipped "
                   "to --clip)")
        ->check(CLI::IsMember({"bce", "wgan"}))
        ->capture_default_str();
    std::string discriminator;
    app.add_option("--discriminator", discriminator,
                   "gan: tomogan (TomoGAN's: one logit per patch) or patch (its convolutions "
                   "on the images' high-pass residuals, then one logit per 8x8 block: learns "
                   "faster from small batches), or conditional (patch judging the output's "
                   "residual beside the input's, as pix2pix); default tomogan, or the resumed "
                   "checkpoint's")
        ->check(CLI::IsMember({"tomogan", "patch", "conditional"}));
    double discriminator_lr = 0;
    auto* discriminator_lr_option =
        app.add_option("--lr-discriminator", discriminator_lr,
                       "gan: the discriminator's Adam learning rate, on the schedule of --lr "
                       "(default: --lr's)")
            ->check(CLI::PositiveNumber);
    app.add_option("--clip", gan.clip, "gan, wgan: the critic's weight clipping bound")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--vgg19", gan.vgg19_weights,
                   std::string("gan: Keras's VGG19 ImageNet weights without top (") +
                       vgg19_notop_file + "), needed when --lperc is above 0 (not downloaded)")
        ->check(CLI::ExistingFile);
    app.add_option("--val-every", options.validate_every,
                   "steps between validations (0: once per epoch)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--checkpoint-every", options.checkpoint_every,
                   "steps between checkpoints (0: once per epoch)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--val-csv", options.validation_csv,
                   "CSV file a row is appended to at every validation");
    app.add_option("--seed", options.seed,
                   "seed of the initial weights, patches, transforms and masks")
        ->capture_default_str();
    app.add_option("--threads", options.threads,
                   "threads (0: all cores; at most " + std::to_string(max_threads()) +
                       ", 4 x the hardware threads)")
        ->check(CLI::Range(0, max_threads()))
        ->capture_default_str();
    std::string precision = "f32";
    app.add_option("--precision", precision,
                   "what forward and backward compute in: f32, or bf16 (bfloat16 activations, "
                   "weights and gradients in the convolutions; weights, Adam's state and the loss "
                   "stay f32; several times faster on CPUs with AMX, slower than f32 on CPUs "
                   "without AVX-512 BF16 or AMX)")
        ->check(CLI::IsMember({"f32", "bf16"}))
        ->capture_default_str();
    app.add_flag("--noise2noise", noise2noise, "the same as --mode n2n");
    app.add_option("--snapshots", options.snapshots,
                   "folder for a PNG per validation: first test slice, input | output | label "
                   "(created before training starts)");

    return tool::run_tool("train_denoiser", app, argc, argv, [&] {
        remove_temporaries_on_signal();
        stop_training_on_signal();
        tool::check_command_line([&] {
            options.mode = parse_train_mode(noise2noise ? "n2n" : mode, "--mode");
            if (!arch.empty()) options.architecture = parse_architecture(arch, "--arch");
            options.lr_schedule = parse_learning_rate_schedule(lr_schedule, "--lr-schedule");
            if (lr_option->count() > 0) options.learning_rate = learning_rate;
            gan.loss = parse_gan_loss(gan_loss, "--gan-loss");
            if (discriminator_lr_option->count() > 0)
                gan.discriminator_learning_rate = discriminator_lr;
            if (!discriminator.empty())
                gan.discriminator = parse_gan_discriminator(discriminator, "--discriminator");
            if (options.mode == TrainingMode::gan && gan.perceptual_weight > 0 &&
                gan.vgg19_weights.empty())
                throw InvalidArgument(std::string("--lperc ") +
                                      std::to_string(gan.perceptual_weight) +
                                      " (the perceptual loss) needs --vgg19 " + vgg19_notop_file +
                                      ", Keras's VGG19 weights without top (or --lperc 0)");
            options.loss = loss == "l1" ? TrainingLoss::l1 : TrainingLoss::mse;
            options.precision = parse_precision(precision);
            options.mask_mode = mask_mode == "interpolate" ? MaskMode::interpolate : MaskMode::zero;
            options.n2s_inference = n2s_inference == "j-invariant" ? InferenceMethod::j_invariant
                                                                   : InferenceMethod::single_pass;
            if (!clip_percentiles.empty()) {
                if (!normalization.empty() && normalization != "percentile")
                    throw InvalidArgument(
                        "--clip-percentiles belongs to --normalization "
                        "percentile, not " +
                        normalization);
                normalization = "percentile";
            }
            if (!normalization.empty()) {
                NormalizationSpec spec;
                spec.method = normalization == "percentile" ? NormalizationMethod::percentile_range
                              : normalization == "mean-std" ? NormalizationMethod::mean_std
                                                            : NormalizationMethod::none;
                if (!clip_percentiles.empty()) {
                    spec.low_percent = clip_percentiles[0];
                    spec.high_percent = clip_percentiles[1];
                    if (!(spec.low_percent < spec.high_percent))
                        throw InvalidArgument("--clip-percentiles " +
                                              std::to_string(spec.low_percent) + " " +
                                              std::to_string(spec.high_percent) +
                                              ": the low percentile must be below the high one");
                }
                options.normalization = spec;
            }
            if (options.depth % 2 == 0 && options.depth > 0)
                throw InvalidArgument("--depth " + std::to_string(options.depth) +
                                      " must be odd (the middle slice is denoised)");
            if (!options.class_weights.empty() &&
                options.class_weights.size() != std::size_t(options.classes))
                throw InvalidArgument("--class-weights gives " +
                                      std::to_string(options.class_weights.size()) +
                                      " weights for --classes " + std::to_string(options.classes));
        });
        const ToolFile data_file = options.mode == TrainingMode::n2i
                                       ? StackLocation::parse(data).tool_file("--data")
                                       : ToolFile{"--data", data, ""};
        check_output_is_not_an_input({"--out", out, ""}, {data_file});
        if (!options.validation_csv.empty())
            check_output_is_not_an_input({"--val-csv", options.validation_csv, ""},
                                         {data_file, {"--out", out, ""}});
        options.checkpoint = out;
        // A resumed n2i model resumes with the K it records (train_denoiser refuses another):
        // the default when --splits is not given, and the K of the data read below.
        if (options.mode == TrainingMode::n2i && !options.resume.empty() &&
            app.count("--splits") == 0) {
            const ModelRecipe recipe = Model::load(options.resume).recipe();
            if (recipe.mode == TrainingMode::n2i) options.splits = recipe.splits;
        }
        if (options.precision == Precision::bf16) tool::note_bf16_support("train_denoiser");
        tool::doing("reading the training data '" + data + "'");
        if (options.mode != TrainingMode::n2i && !clean.empty())
            throw CLI::ValidationError("--clean belongs to --mode n2i");
        const TrainingData training_data =
            options.mode == TrainingMode::n2i
                ? read_noise2inverse_data(data, options.splits, clean)
                : read_training_file(data, training_layout(options.mode));

        if (!options.resume.empty()) tool::doing("loading the model '" + options.resume + "'");
        // Named after this tool's option; train_denoiser finds the folder ready.
        if (!options.snapshots.empty())
            prepare_output_folder({"--snapshots", options.snapshots, ""});
        TrainingCallbacks callbacks;
        callbacks.on_message = [](const std::string& text) {
            std::printf("note: %s\n", text.c_str());
            std::fflush(stdout);
        };
        callbacks.on_start = [&] {
            const StackShape& shape = training_data.inputs.shape();
            std::printf("training %s (%s): %lld images %s, batch %d, patch %lld\n",
                        options.resume.empty() ? (!arch.empty()                       ? arch.c_str()
                                                  : options.mode == TrainingMode::gan ? "unet"
                                                                                      : "cnn")
                                               : options.resume.c_str(),
                        to_string(options.mode).c_str(), static_cast<long long>(shape.n),
                        shape.to_string().c_str(), options.batch,
                        static_cast<long long>(options.patch));
            std::fflush(stdout);
            tool::doing("training (batch " + std::to_string(options.batch) + " of " +
                        std::to_string(options.patch) + "x" + std::to_string(options.patch) +
                        " patches)");
        };
        double last_line = -1;
        callbacks.on_progress = [&](const TrainingProgress& p) {
            // About one line per 2 seconds, and the last step's.
            constexpr double line_interval = 2.0;
            if (p.iteration < p.iterations && p.seconds - last_line < line_interval) return;
            last_line = p.seconds;
            double eta = p.iterations_per_second > 0
                             ? double(p.iterations - p.iteration) / p.iterations_per_second
                             : 0;
            // --max-seconds ends the run first when it comes first.
            if (options.max_seconds > 0)
                eta = std::min(eta, std::max(0.0, options.max_seconds - p.seconds));
            char discriminator[64] = "";
            if (!std::isnan(p.discriminator_loss))
                std::snprintf(discriminator, sizeof discriminator, ", discriminator loss %.6g",
                              p.discriminator_loss);
            std::printf(
                "step %lld/%lld: loss %.6g%s, %.2f steps/s, ETA %s, waiting for data %.0f%%\n",
                static_cast<long long>(p.iteration), static_cast<long long>(p.iterations), p.loss,
                discriminator, p.iterations_per_second, duration(eta).c_str(),
                100 * p.data_wait_fraction);
            std::fflush(stdout);
        };
        callbacks.on_validation = [&](const TrainingValidation& v) {
            std::printf("validation at step %lld: train loss %.6g",
                        static_cast<long long>(v.iteration), v.train_loss);
            if (!std::isnan(v.test_loss)) std::printf(", test loss %.6g", v.test_loss);
            if (!std::isnan(v.psnr)) std::printf(", test PSNR %.2f dB", v.psnr);
            if (!std::isnan(v.ssim)) std::printf(", SSIM %.4f", v.ssim);
            if (!std::isnan(v.high_frequency_ratio))
                std::printf(", high-frequency ratio %.3f", v.high_frequency_ratio);
            if (!std::isnan(v.adversarial_loss))
                std::printf(" (adversarial %.6g, MSE %.6g, perceptual %.6g)", v.adversarial_loss,
                            v.mse_loss, v.perceptual_loss);
            if (!std::isnan(v.discriminator_loss))
                std::printf(", discriminator loss %.6g", v.discriminator_loss);
            if (!std::isnan(v.mean_iou))
                std::printf(", mean IoU %.4f, mean Dice %.4f", v.mean_iou, v.mean_dice);
            std::printf(" -> %s\n", out.c_str());
            std::fflush(stdout);
        };
        callbacks.on_end = [&](const TrainingSummary& s) {
            std::printf("trained steps %lld..%lld in %s (%s), waiting for data %.1f%% -> %s\n",
                        static_cast<long long>(s.first_iteration),
                        static_cast<long long>(s.iteration), duration(s.seconds).c_str(),
                        s.time_limit_reached ? "time limit reached" : "done",
                        100 * s.data_wait_fraction, out.c_str());
            std::fflush(stdout);
        };
        try {
            train_denoiser(training_data, options, callbacks);
        } catch (const TrainingInterrupted& e) {
            std::printf("train_denoiser: %s\n", e.what());
            std::fflush(stdout);
            end_by_signal(e.signal_number());
        }
    });
}
