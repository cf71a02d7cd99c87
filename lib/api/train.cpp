// Training as a library (include/tomodenoise/train.hpp): the training file read as float32
// stacks, the network built from scratch (seeded) or resumed with its optimizer and training
// state, the checkpoint (model, optimizer state, training state in one file, complete or not
// at all), the stop on SIGINT/SIGTERM, and Noise2Self's J-invariant inference on a Model.

#include "tomodenoise/train.hpp"

#include <signal.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>

#include "api/model_impl.hpp"
#include "core/context.hpp"
#include "core/padded_forward.hpp"
#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "keras/vgg19_weights.hpp"
#include "models/cnn_denoiser.hpp"
#include "models/tomogan_discriminator.hpp"
#include "models/tomogan_generator.hpp"
#include "models/vgg19.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/reconstruct.hpp"
#include "tomodenoise/threads.hpp"
#include "train/noise2inverse.hpp"
#include "train/noise2self.hpp"
#include "train/optimizer.hpp"
#include "train/trainer.hpp"

namespace tomodenoise {

namespace {

using json = nlohmann::json;

// The root attribute of a checkpoint holding this library's training state (JSON): what a
// resumed run needs besides the weights and Adam's state to continue bit for bit.
constexpr const char* training_state_attribute = "tomodenoise_training_state";
// The group of a gan checkpoint holding the discriminator and its Adam state, in Keras's layout.
constexpr const char* discriminator_group = "tomodenoise_discriminator";
// VGG19's five poolings need patches of at least this side.
constexpr std::int64_t vgg19_smallest_patch = 32;
constexpr int max_gan_steps = 100;

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
    // NaN or infinite values would make NaN weights: refused, naming the first (slice, row, col).
    NormalizeOptions finite_only;
    finite_only.scaling = Scaling::none;
    normalize(s.as<float>(), s.shape(), finite_only, "'" + address.to_string() + "'");
    return s;
}

bool has_dataset(const std::string& file, const std::string& dataset) {
    return hdf5::link_exists(hdf5::File::open_read(file), dataset);
}

// The normalization a run trains with: the option; or, unset, the resumed model's recorded
// one, none for a resumed model that records no recipe (a Keras model, fine-tuned), and
// mean_std for a new model. Not percentile_range: inference fits the map to the user's volume,
// and the extreme percentiles of noisy data move with the noise (bench/quality: the 0.05th
// percentile of its held-out CT slices is -0.20 at I0 2000, -0.05 at I0 50000), so a model
// would see a volume at another dose shifted and stretched (13 dB lost at I0 50000); the mean
// does not move with zero-mean noise and the deviation little.
NormalizationSpec resolve_normalization(const TrainOptions& options, const Network& network) {
    NormalizationSpec new_model;
    new_model.method = NormalizationMethod::mean_std;
    if (options.resume.empty()) return options.normalization.value_or(new_model);
    if (!hdf5::attribute_exists(hdf5::File::open_read(options.resume), "/", recipe_attribute))
        return options.normalization.value_or(NormalizationSpec{});
    const NormalizationSpec recorded = read_recipe(options.resume, network).normalization;
    if (options.normalization && *options.normalization != recorded)
        throw InvalidArgument("TrainOptions::normalization " + to_string(*options.normalization) +
                              " disagrees with the resumed model " + options.resume +
                              ", which records normalization " + to_string(recorded));
    return recorded;
}

template <typename OutOfBounds>
void check_gan_options(const TrainOptions& options, const OutOfBounds& out_of_bounds) {
    const GanOptions& gan = options.gan;
    if (gan.generator_steps < 1 || gan.generator_steps > max_gan_steps)
        throw out_of_bounds("gan.generator_steps", "between 1 and 100",
                            std::to_string(gan.generator_steps));
    if (gan.discriminator_steps < 0 || gan.discriminator_steps > max_gan_steps)
        throw out_of_bounds("gan.discriminator_steps", "between 0 and 100",
                            std::to_string(gan.discriminator_steps));
    const std::pair<const char*, double> weights[] = {
        {"gan.adversarial_weight", gan.adversarial_weight},
        {"gan.mse_weight", gan.mse_weight},
        {"gan.perceptual_weight", gan.perceptual_weight}};
    for (const auto& [field, weight] : weights)
        if (!(std::isfinite(weight) && weight >= 0))
            throw out_of_bounds(field, "finite and not negative", std::to_string(weight));
    if (gan.adversarial_weight + gan.mse_weight + gan.perceptual_weight <= 0)
        throw out_of_bounds("gan.adversarial_weight", "positive for one of the three weights",
                            "all 0");
    if (!(std::isfinite(gan.clip) && gan.clip > 0))
        throw out_of_bounds("gan.clip", "finite and positive", std::to_string(gan.clip));
    if (gan.discriminator_learning_rate &&
        !(std::isfinite(*gan.discriminator_learning_rate) && *gan.discriminator_learning_rate > 0))
        throw out_of_bounds("gan.discriminator_learning_rate", "finite and positive",
                            std::to_string(*gan.discriminator_learning_rate));
    if (options.architecture && *options.architecture != DenoiserArchitecture::unet)
        throw out_of_bounds("architecture", "unet for mode gan (TomoGAN's generator)",
                            to_string(*options.architecture));
    if (gan.perceptual_weight > 0 && gan.vgg19_weights.empty())
        throw InvalidArgument(
            std::string("TrainOptions::gan.vgg19_weights: a perceptual weight above 0 needs "
                        "Keras's VGG19 ImageNet weights without top, ") +
            vgg19_notop_file + " (or set the perceptual weight to 0)");
    if (gan.perceptual_weight > 0 && options.patch < vgg19_smallest_patch)
        throw out_of_bounds("patch", "at least 32 for the perceptual loss (VGG19's 5 poolings)",
                            std::to_string(options.patch));
}

void check_options(const TrainOptions& options) {
    const auto out_of_bounds = [](const std::string& field, const std::string& bounds,
                                  const std::string& value) {
        return InvalidArgument("TrainOptions::" + field + " must be " + bounds + ", got " + value);
    };
    if (options.mode == TrainingMode::unknown)
        throw out_of_bounds("mode", "one of supervised, n2n, n2s, seg, gan, n2i",
                            to_string(options.mode));
    if (options.mode == TrainingMode::n2i) {
        if (options.splits < 2 || options.splits > max_recipe_splits)
            throw out_of_bounds("splits", "between 2 and " + std::to_string(max_recipe_splits),
                                std::to_string(options.splits));
        if (options.depth > 1)
            throw out_of_bounds("depth", "1 for n2i (its pairs are not adjacent slices)",
                                std::to_string(options.depth));
    }
    if (options.epochs < 1)
        throw out_of_bounds("epochs", "at least 1", std::to_string(options.epochs));
    if (options.iterations < 0)
        throw out_of_bounds("iterations", "0 (epochs x steps_per_epoch) or more",
                            std::to_string(options.iterations));
    if (options.batch < 1)
        throw out_of_bounds("batch", "at least 1", std::to_string(options.batch));
    if (options.patch < 1)
        throw out_of_bounds("patch", "at least 1", std::to_string(options.patch));
    if (options.steps_per_epoch < 0)
        throw out_of_bounds("steps_per_epoch", "0 (one pass over the images) or more",
                            std::to_string(options.steps_per_epoch));
    if (!(std::isfinite(options.max_seconds) && options.max_seconds >= 0))
        throw out_of_bounds("max_seconds", "finite and not negative (0: no limit)",
                            std::to_string(options.max_seconds));
    if (options.normalization) {
        try {
            check_normalization_spec(*options.normalization);
        } catch (const InvalidArgument& e) {
            throw InvalidArgument(std::string("TrainOptions::normalization: ") + e.what());
        }
    }
    if (options.learning_rate &&
        !(std::isfinite(*options.learning_rate) && *options.learning_rate > 0))
        throw out_of_bounds("learning_rate", "finite and positive",
                            std::to_string(*options.learning_rate));
    if (options.mode == TrainingMode::gan) check_gan_options(options, out_of_bounds);
    if (options.threads < 0 || options.threads > max_threads())
        throw out_of_bounds("threads",
                            "between 0 (the default) and " + std::to_string(max_threads()) +
                                " (4 x the hardware threads)",
                            std::to_string(options.threads));
    if (options.levels < 1 || options.levels > 6)
        throw out_of_bounds("levels", "between 1 and 6", std::to_string(options.levels));
    if (options.depth < 0 || (options.depth > 0 && options.depth % 2 == 0))
        throw out_of_bounds("depth", "odd (0: the resumed model's, or 1)",
                            std::to_string(options.depth));
    if (options.mask_width < 2 || options.mask_width > 16)
        throw out_of_bounds("mask_width", "between 2 and 16", std::to_string(options.mask_width));
    if (options.classes < 2 || options.classes > 255)
        throw out_of_bounds("classes", "between 2 and 255", std::to_string(options.classes));
    if (!options.class_weights.empty()) {
        if (options.class_weights.size() != std::size_t(options.classes))
            throw out_of_bounds("class_weights",
                                "one weight per class (" + std::to_string(options.classes) + ")",
                                std::to_string(options.class_weights.size()) + " weights");
        for (const float weight : options.class_weights)
            if (!(std::isfinite(weight) && weight >= 0))
                throw out_of_bounds("class_weights", "finite and not negative",
                                    std::to_string(weight));
    }
    if (options.validate_every < 0)
        throw out_of_bounds("validate_every", "0 (once per epoch) or more",
                            std::to_string(options.validate_every));
    if (options.checkpoint_every < 0)
        throw out_of_bounds("checkpoint_every", "0 (once per epoch) or more",
                            std::to_string(options.checkpoint_every));
}

Network build_network(DenoiserArchitecture architecture, const TrainOptions& options) {
    const std::int64_t outputs = options.mode == TrainingMode::seg ? options.classes : 1;
    if (architecture == DenoiserArchitecture::cnn) {
        CnnDenoiserConfig config;
        config.input_channels = options.depth;
        config.output_channels = outputs;
        config.seed = options.seed;
        return build_cnn_denoiser(config);
    }
    TomoGanGeneratorConfig config;
    config.depth = options.depth;
    config.levels = options.levels;
    config.output_channels = outputs;
    config.seed = options.seed;
    config.residual =
        options.residual && options.depth == 1 &&
        (options.mode == TrainingMode::supervised || options.mode == TrainingMode::n2n ||
         options.mode == TrainingMode::gan || options.mode == TrainingMode::n2i);
    return build_tomogan_generator(config);
}

// The training state stored beside a checkpoint's model and optimizer state.
json training_state(const TrainOptions& options, DenoiserArchitecture architecture,
                    std::int64_t iteration, std::uint32_t sampler_seed) {
    json state = {
        {"iteration", iteration},
        {"mode", to_string(options.mode)},
        {"architecture", to_string(architecture)},
        {"depth", options.depth},
        {"levels", options.levels},
        {"classes", options.classes},
        {"mask_width", options.mask_width},
        {"sampler", {{"generator", "splitmix64(seed, batch, patch)"}, {"seed", sampler_seed}}}};
    // Informative: a resumed run checks the steps against the optimizers' step counts.
    if (options.mode == TrainingMode::gan)
        state["gan"] = {{"generator_steps", options.gan.generator_steps},
                        {"discriminator_steps", options.gan.discriminator_steps},
                        {"loss", to_string(options.gan.loss)}};
    return state;
}

// A resumed file's training state, or null when it has none (a Keras model).
json read_training_state(const std::string& path) {
    const auto file = hdf5::File::open_read(path);
    if (!hdf5::attribute_exists(file, "/", training_state_attribute)) return nullptr;
    try {
        json state = json::parse(hdf5::read_string_attribute(file, "/", training_state_attribute));
        state.at("iteration").get<std::int64_t>();
        state.at("mode").get<std::string>();
        state.at("architecture").get<std::string>();
        state.at("sampler").at("seed").get<std::uint32_t>();
        return state;
    } catch (const json::exception& e) {
        throw FormatError(path + ": malformed " + training_state_attribute + " (" + e.what() + ")");
    }
}

// ---- stop on a signal ---------------------------------------------------------------------------

std::atomic<int> stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");
constexpr int stop_signals[] = {SIGINT, SIGTERM};
struct sigaction previous_actions[2];

// Async-signal-safe: an atomic store, or the earlier handler.
extern "C" void request_stop(int signal_number) {
    int expected = 0;
    if (stop_signal.compare_exchange_strong(expected, signal_number)) return;
    // A second signal: the user insists; the handler installed before takes it.
    const struct sigaction& previous = previous_actions[signal_number == SIGINT ? 0 : 1];
    if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler != SIG_DFL &&
        previous.sa_handler != SIG_IGN) {
        previous.sa_handler(signal_number);
        return;
    }
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    sigaction(signal_number, &default_action, nullptr);
    raise(signal_number);
}

}  // namespace

TrainingMode parse_train_mode(const std::string& name, const std::string& option) {
    for (const TrainingMode mode : {TrainingMode::supervised, TrainingMode::n2n, TrainingMode::n2s,
                                    TrainingMode::seg, TrainingMode::gan, TrainingMode::n2i})
        if (name == to_string(mode)) return mode;
    throw InvalidArgument(option + " '" + name +
                          "' is not one of supervised, n2n, n2s, seg, gan, n2i");
}

GanLoss parse_gan_loss(const std::string& name, const std::string& option) {
    if (name == "bce") return GanLoss::bce;
    if (name == "wgan") return GanLoss::wgan;
    throw InvalidArgument(option + " '" + name + "' is not one of bce, wgan");
}

std::string to_string(GanLoss loss) {
    return loss == GanLoss::wgan ? "wgan" : "bce";
}

GanDiscriminator parse_gan_discriminator(const std::string& name, const std::string& option) {
    if (name == "tomogan") return GanDiscriminator::tomogan;
    if (name == "patch") return GanDiscriminator::patch;
    if (name == "conditional") return GanDiscriminator::conditional;
    throw InvalidArgument(option + ": expected tomogan, patch or conditional, got '" + name + "'");
}

std::string to_string(GanDiscriminator discriminator) {
    if (discriminator == GanDiscriminator::patch) return "patch";
    if (discriminator == GanDiscriminator::conditional) return "conditional";
    return "tomogan";
}

TrainingLayout training_layout(TrainingMode mode) {
    switch (mode) {
        case TrainingMode::supervised:
        case TrainingMode::gan:
            return TrainingLayout::tomogan;
        case TrainingMode::n2n:
            return TrainingLayout::noise2noise;
        case TrainingMode::n2s:
            return TrainingLayout::noise2self;
        case TrainingMode::seg:
            return TrainingLayout::segmentation;
        case TrainingMode::unknown:
        case TrainingMode::n2i:
            break;
    }
    throw InvalidArgument("training mode '" + to_string(mode) +
                          "' has no training file layout: train_denoiser trains supervised, n2n, "
                          "n2s, seg and gan");
}

LearningRateSchedule parse_learning_rate_schedule(const std::string& name,
                                                  const std::string& option) {
    for (const auto schedule : {LearningRateSchedule::constant, LearningRateSchedule::cosine})
        if (name == to_string(schedule)) return schedule;
    throw InvalidArgument(option + " '" + name + "' is not one of constant, cosine");
}

std::string to_string(LearningRateSchedule schedule) {
    return schedule == LearningRateSchedule::cosine ? "cosine" : "constant";
}

DenoiserArchitecture parse_architecture(const std::string& name, const std::string& option) {
    if (name == "cnn") return DenoiserArchitecture::cnn;
    if (name == "unet" || name == "tomogan") return DenoiserArchitecture::unet;
    throw InvalidArgument(option + " '" + name + "' is not one of cnn, unet (or tomogan)");
}

std::string to_string(DenoiserArchitecture architecture) {
    return architecture == DenoiserArchitecture::cnn ? "cnn" : "unet";
}

TrainingData read_training_file(const std::string& file, TrainingLayout layout) {
    struct Names {
        const char *inputs, *targets, *test_inputs, *test_targets;
    };
    const Names names = [&]() -> Names {
        switch (layout) {
            case TrainingLayout::noise2noise:
                return {"/train_a", "/train_b", "/test_a", "/test_clean"};
            case TrainingLayout::noise2self:
                return {"/train_ns", nullptr, "/test_ns", "/test_gt"};
            case TrainingLayout::segmentation:
                return {"/train_ns", "/train_labels", "/test_ns", "/test_labels"};
            case TrainingLayout::tomogan:
                break;
        }
        return {"/train_ns", "/train_gt", "/test_ns", "/test_gt"};
    }();
    const auto address = [&](const char* dataset) { return "'" + file + ":" + dataset + "'"; };
    TrainingData data;
    data.inputs = read_float_stack(file, names.inputs);
    data.inputs_name = address(names.inputs);
    if (names.targets) {
        data.targets = read_float_stack(file, names.targets);
        data.targets_name = address(names.targets);
    }
    const bool with_test = has_dataset(file, names.test_inputs) &&
                           has_dataset(file, names.test_targets) &&
                           hdf5_stack_shape({file, names.test_inputs}).n > 0;
    if (with_test) {
        data.test_inputs = read_float_stack(file, names.test_inputs);
        data.test_targets = read_float_stack(file, names.test_targets);
        data.test_inputs_name = address(names.test_inputs);
        data.test_targets_name = address(names.test_targets);
    }
    return data;
}

void stop_training_on_signal() {
    for (std::size_t k = 0; k < 2; ++k) {
        const int signal_number = stop_signals[k];
        struct sigaction current {};
        if (sigaction(signal_number, nullptr, &current) != 0) continue;
        // An ignored signal (the SIGINT of a background job) stays ignored.
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) continue;
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == request_stop) continue;
        previous_actions[k] = current;
        struct sigaction action {};
        action.sa_handler = request_stop;
        sigemptyset(&action.sa_mask);
        for (const int blocked : stop_signals) sigaddset(&action.sa_mask, blocked);
        sigaction(signal_number, &action, nullptr);
    }
}

void end_by_signal(int signal_number) {
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    std::_Exit(128 + signal_number);  // the signal was blocked: exit with its status anyway
}

Model train_denoiser(const TrainingData& data, const TrainOptions& options,
                     const TrainingCallbacks& callbacks) {
    check_options(options);
    const auto message = [&](const std::string& text) {
        if (callbacks.on_message) callbacks.on_message(text);
    };

    TrainerPlan plan;
    plan.options = options;
    plan.sampler_seed = options.seed;
    TrainOptions& resolved = plan.options;
    const bool gan = options.mode == TrainingMode::gan;
    resolved.learning_rate = learning_rate_of(options);
    DenoiserArchitecture architecture =
        options.architecture.value_or(gan ? DenoiserArchitecture::unet : DenoiserArchitecture::cnn);
    Network network;
    json state = nullptr;
    bool fine_tuned_generator = false;
    if (!options.resume.empty()) {
        network = load_network(options.resume);
        state = read_training_state(options.resume);
        const int model_depth = int(network.input_channels(0));
        if (options.depth > 0 && options.depth != model_depth)
            throw InvalidArgument("TrainOptions::depth " + std::to_string(options.depth) +
                                  " disagrees with the " + std::to_string(model_depth) +
                                  " input channels of the resumed model " + options.resume);
        resolved.depth = model_depth;
        const DenoiserArchitecture model_architecture =
            state.is_null() ? (downsampling_factor(network) > 1 ? DenoiserArchitecture::unet
                                                                : DenoiserArchitecture::cnn)
                            : parse_architecture(state["architecture"].get<std::string>(),
                                                 options.resume + ": training state architecture");
        if (options.architecture && *options.architecture != model_architecture)
            throw InvalidArgument("TrainOptions::architecture " + to_string(*options.architecture) +
                                  " disagrees with the resumed model " + options.resume + ", a " +
                                  to_string(model_architecture));
        if (gan && model_architecture != DenoiserArchitecture::unet)
            throw InvalidArgument("mode gan trains a unet generator; the resumed model " +
                                  options.resume + " is a " + to_string(model_architecture));
        architecture = model_architecture;
        const std::string model_mode =
            state.is_null() ? std::string() : state["mode"].get<std::string>();
        if (gan && model_mode == to_string(TrainingMode::supervised)) {
            // A pre-trained generator: its weights only; its step and Adam state are MSE's.
            message("fine-tuning the supervised model " + options.resume +
                    " as the generator: training starts at step 0 with a new discriminator and "
                    "fresh Adam optimizers");
            state = nullptr;
            fine_tuned_generator = true;
        } else if (!state.is_null() && model_mode != to_string(options.mode)) {
            throw InvalidArgument("TrainOptions::mode " + to_string(options.mode) +
                                  " disagrees with the resumed model " + options.resume +
                                  ", trained in mode " + model_mode +
                                  (gan ? " (mode gan fine-tunes only a supervised model as its "
                                         "generator)"
                                       : " (only mode gan fine-tunes another mode's model: "
                                         "a supervised one)"));
        }
        // Its inputs were means of K - 1 splits, and its recipe has inference average K.
        if (!state.is_null() && options.mode == TrainingMode::n2i) {
            const int model_splits = read_recipe(options.resume, network).splits;
            if (options.splits != model_splits)
                throw InvalidArgument("TrainOptions::splits " + std::to_string(options.splits) +
                                      " disagrees with the resumed model " + options.resume +
                                      ", trained on " + std::to_string(model_splits) +
                                      " splits (resume it with " + std::to_string(model_splits) +
                                      ")");
        }
    } else {
        if (resolved.depth == 0) resolved.depth = 1;
        network = build_network(architecture, resolved);
    }
    resolved.normalization = resolve_normalization(options, network);
    const std::int64_t outputs = options.mode == TrainingMode::seg ? options.classes : 1;
    const std::string output_name = network.output_names().at(0);
    for (const auto& node : network.nodes())
        if (node.name == output_name && node.dims.c != outputs)
            throw InvalidArgument("the model " + options.resume + " has " +
                                  std::to_string(node.dims.c) + " output channels, mode " +
                                  to_string(options.mode) + " needs " + std::to_string(outputs));

    AdamConfig adam_config;
    adam_config.learning_rate = *resolved.learning_rate;
    Adam adam(named_parameters(network), adam_config);

    // gan: the discriminator (new, or the checkpoint's with its Adam state) and the VGG19
    // feature extractor of the perceptual loss.
    Network discriminator, vgg;
    GanOptions gan_options = options.gan;  // with the discriminator's kind resolved
    if (gan) {
        if (!state.is_null()) {
            discriminator = load_network(options.resume, discriminator_group);
            // Only TomoGAN's head flattens its features; only the conditional one sees more
            // than the image.
            const auto& input = discriminator.nodes().at(0);
            const GanDiscriminator resumed = discriminator.has_node("flatten")
                                                 ? GanDiscriminator::tomogan
                                             : input.channels > 1 ? GanDiscriminator::conditional
                                                                  : GanDiscriminator::patch;
            if (options.gan.discriminator && *options.gan.discriminator != resumed)
                throw InvalidArgument("TrainOptions::gan.discriminator " +
                                      to_string(*options.gan.discriminator) +
                                      " disagrees with the discriminator of the resumed model " +
                                      options.resume + ", a " + to_string(resumed) + " one");
            gan_options.discriminator = resumed;
            if (resumed == GanDiscriminator::tomogan &&
                (input.height != options.patch || input.width != options.patch))
                throw InvalidArgument(
                    "TrainOptions::patch " + std::to_string(options.patch) +
                    " disagrees with the discriminator of the resumed model " + options.resume +
                    ", built for " + std::to_string(input.height) + "x" +
                    std::to_string(input.width) + " patches (its Dense layer fixes the size)");
        } else {
            TomoGanDiscriminatorConfig config;
            config.height = config.width = options.patch;
            config.seed = options.seed + 1;  // not the generator's stream
            gan_options.discriminator =
                options.gan.discriminator.value_or(GanDiscriminator::tomogan);
            config.head = *gan_options.discriminator == GanDiscriminator::tomogan
                              ? DiscriminatorHead::dense
                              : DiscriminatorHead::patch;
            if (*gan_options.discriminator == GanDiscriminator::conditional)
                config.input_channels = 1 + resolved.depth;
            discriminator = build_tomogan_discriminator(config);
        }
        if (options.gan.perceptual_weight > 0) {
            vgg = build_vgg19_features();
            load_vgg19_weights(vgg, options.gan.vgg19_weights);
            vgg.set_parameter_gradients(false);  // frozen: only the generator learns from it
        }
    }
    // The discriminator's rate follows the generator's schedule, scaled (Heusel et al.'s two
    // time-scale rule: a discriminator that learns faster keeps up with its generator).
    const double discriminator_rate_factor =
        options.gan.discriminator_learning_rate.value_or(*resolved.learning_rate) /
        *resolved.learning_rate;
    AdamConfig discriminator_adam_config = adam_config;
    discriminator_adam_config.learning_rate *= discriminator_rate_factor;
    Adam discriminator_adam(named_parameters(discriminator), discriminator_adam_config);
    if (!state.is_null()) {
        load_optimizer_state(options.resume, network, adam);
        plan.first_iteration = state["iteration"].get<std::int64_t>();
        plan.sampler_seed = state["sampler"]["seed"].get<std::uint32_t>();
        const std::int64_t generator_steps = gan ? options.gan.generator_steps : 1;
        if (adam.iterations() != plan.first_iteration * generator_steps)
            throw FormatError(
                options.resume + ": the training state is at step " +
                std::to_string(plan.first_iteration) + ", the optimizer at step " +
                std::to_string(adam.iterations()) +
                (gan ? " (or TrainOptions::gan.generator_steps is not the run's)" : ""));
        if (gan) {
            load_optimizer_state(options.resume, discriminator, discriminator_adam,
                                 discriminator_group);
            if (discriminator_adam.iterations() !=
                plan.first_iteration * options.gan.discriminator_steps)
                throw InvalidArgument(
                    "TrainOptions::gan.discriminator_steps " +
                    std::to_string(options.gan.discriminator_steps) + " disagrees with " +
                    options.resume + ", whose discriminator took " +
                    std::to_string(discriminator_adam.iterations()) + " steps in " +
                    std::to_string(plan.first_iteration) + " iterations");
        }
    } else if (!options.resume.empty() && !fine_tuned_generator) {
        message("fine-tuning " + options.resume +
                ": it holds no training state of this library, so training starts at step 0 "
                "with a fresh Adam optimizer from its weights");
    }

    if (!options.snapshots.empty())
        prepare_output_folder({"TrainOptions::snapshots", options.snapshots, ""});
    if (!options.validation_csv.empty()) {
        check_output_is_not_an_input({"TrainOptions::validation_csv", options.validation_csv, ""},
                                     {});
        // Proven appendable now rather than at the first validation, after training started.
        if (!std::ofstream(options.validation_csv, std::ios::app))
            throw IoError("TrainOptions::validation_csv '" + options.validation_csv +
                          "' cannot be opened for appending");
    }

    // How the model is meant to be applied, saved with every checkpoint and kept by the Model.
    ModelRecipe recipe = default_recipe(resolved.depth);
    recipe.normalization = *resolved.normalization;
    recipe.mode = options.mode;
    if (options.mode == TrainingMode::seg) recipe.classes = options.classes;
    if (options.mode == TrainingMode::n2i) recipe.splits = options.splits;
    if (options.mode == TrainingMode::n2s) {
        recipe.mask_width = options.mask_width;
        recipe.inference = options.n2s_inference;
    }

    Context ctx(options.threads);
    ctx.set_precision(options.precision);
    std::int64_t saved = -1;
    TrainerHooks hooks;
    hooks.stop_requested = [] { return stop_signal.load() != 0; };
    if (!options.checkpoint.empty())
        hooks.checkpoint = [&](std::int64_t iteration) {
            const json state_now =
                training_state(resolved, architecture, iteration, plan.sampler_seed);
            std::vector<EmbeddedNetwork> embedded;
            if (gan) embedded.push_back({discriminator_group, &discriminator, &discriminator_adam});
            save_network(options.checkpoint, network, &adam, &recipe,
                         {{training_state_attribute, state_now.dump()}}, embedded);
            saved = iteration;
        };
    const auto kept = [&] {
        return saved >= 0 ? options.checkpoint + " keeps the model of step " + std::to_string(saved)
                          : std::string("this run wrote no model");
    };
    // Segmentation labels may come as integers (simulate_dataset stores uint8): the loss takes
    // them as float.
    TrainingData labels_as_float;
    const bool integer_labels =
        options.mode == TrainingMode::seg && (data.targets.type() != PixelType::float32 ||
                                              data.test_targets.type() != PixelType::float32);
    if (integer_labels) {
        labels_as_float = data;
        for (Stack* labels : {&labels_as_float.targets, &labels_as_float.test_targets})
            if (labels->type() != PixelType::float32 && labels->shape().pixels() > 0)
                *labels = Stack::from_float(labels->shape(), labels->to_float().data());
    }
    TrainerOutcome outcome;
    try {
        std::optional<GanObjective> objective;
        std::optional<GanTrainer> gan_trainer;
        if (gan) {
            objective.emplace(network, discriminator, vgg.nodes().empty() ? nullptr : &vgg,
                              gan_options);
            gan_trainer.emplace(GanTrainer{*objective, discriminator, discriminator_adam,
                                           discriminator_rate_factor});
        }
        outcome = run_trainer(ctx, network, adam, integer_labels ? labels_as_float : data, plan,
                              callbacks, hooks, gan_trainer ? &*gan_trainer : nullptr);
    } catch (const NumericalError& e) {
        // Training stops before a diverged step is saved: the checkpoint keeps the last good one.
        throw NumericalError(std::string(e.what()) + "; " + kept());
    }
    // A run that took no step (resumed at its total, or stopped at once) still leaves its
    // output: the state it was given.
    if (saved < 0 && hooks.checkpoint) hooks.checkpoint(outcome.summary.iteration);
    if (outcome.stopped) {
        // The request is answered: a later run in this process trains again.
        const int signal_number = stop_signal.exchange(0);
        throw TrainingInterrupted(std::string("training stopped by signal ") +
                                      std::to_string(signal_number) + " after step " +
                                      std::to_string(outcome.summary.iteration) + "; " + kept() +
                                      (saved >= 0 ? " (resume from it)" : ""),
                                  signal_number, outcome.summary.iteration);
    }

    ApplyOptions apply_options;
    apply_options.threads = options.threads;
    Model model = make_model(std::move(network), apply_options);
    model.set_recipe(recipe);
    return model;
}

TrainingData noise2inverse_training_data(const std::vector<Stack>& splits, const Stack* clean,
                                         const std::vector<std::string>& names) {
    const auto name = [&](std::size_t k) {
        return k < names.size() ? "'" + names[k] + "'" : "split " + std::to_string(k);
    };
    const std::size_t count = splits.size();
    if (count < 2)
        throw ShapeError("Noise2Inverse needs at least 2 sub-reconstructions, got " +
                         std::to_string(count));
    const StackShape shape = splits[0].shape();
    for (std::size_t k = 0; k < count; ++k) {
        if (splits[k].shape() != shape || splits[k].type() != PixelType::float32)
            throw ShapeError(name(k) + " is " + splits[k].shape().to_string() + " " +
                             to_string(splits[k].type()) + " but " + name(0) + " is " +
                             shape.to_string() +
                             " float32: the sub-reconstructions of one "
                             "volume have one shape");
    }
    if (clean && clean->shape() != shape)
        throw ShapeError("the clean reference is " + clean->shape().to_string() +
                         " but the sub-reconstructions are " + shape.to_string());
    const std::int64_t plane = shape.pixels();
    const StackShape pairs{shape.n * std::int64_t(count), shape.h, shape.w};
    TrainingData data;
    data.inputs = Stack(pairs, PixelType::float32);
    data.targets = Stack(pairs, PixelType::float32);
    std::vector<const float*> split_values;
    std::vector<float*> inputs;
    for (std::size_t j = 0; j < count; ++j) {
        split_values.push_back(splits[j].as<float>());
        inputs.push_back(data.inputs.as<float>() + std::int64_t(j) * plane);
        std::copy_n(split_values.back(), plane, data.targets.as<float>() + std::int64_t(j) * plane);
    }
    means_of_other_splits(split_values, plane, inputs);
    data.inputs_name = "Noise2Inverse inputs (means of " + std::to_string(count - 1) + " splits)";
    data.targets_name = "Noise2Inverse targets (the splits)";
    if (clean) {
        data.test_inputs = Stack(shape, PixelType::float32);
        std::copy_n(data.inputs.as<float>(), plane, data.test_inputs.as<float>());
        data.test_targets = clean->type() == PixelType::float32
                                ? *clean
                                : Stack::from_float(shape, clean->to_float().data());
        data.test_inputs_name = "the mean of splits 1.." + std::to_string(count - 1);
        data.test_targets_name = "the clean reference";
    }
    return data;
}

TrainingData read_noise2inverse_data(const std::string& reconstruction, int splits,
                                     const std::string& clean) {
    if (splits < 2 || splits > max_recipe_splits)
        throw InvalidArgument("--splits " + std::to_string(splits) + " must be between 2 and " +
                              std::to_string(max_recipe_splits));
    const auto read_float = [](const std::string& location) {
        StackReader reader(location);
        const Stack stack = reader.read(0, reader.shape().n);
        const std::vector<float> values = stack.to_float("'" + location + "'");
        for (std::size_t i = 0; i < values.size(); ++i)
            if (!std::isfinite(values[i]))
                throw FormatError("'" + location + "' holds a NaN or infinite value at index " +
                                  std::to_string(i));
        return Stack::from_float(stack.shape(), values.data());
    };
    std::vector<Stack> stacks;
    std::vector<std::string> names;
    for (int k = 0; k < splits; ++k) {
        names.push_back(split_location(reconstruction, k));
        try {
            stacks.push_back(read_float(names.back()));
        } catch (const IoError& e) {
            throw IoError(std::string(e.what()) + " (sub-reconstruction " + std::to_string(k) +
                          " of " + std::to_string(splits) + " of '" + reconstruction +
                          "', as reconstruct_stack --splits " + std::to_string(splits) +
                          " writes them)");
        }
    }
    if (clean.empty()) return noise2inverse_training_data(stacks, nullptr, names);
    const Stack reference = read_float(clean);
    TrainingData data = noise2inverse_training_data(stacks, &reference, names);
    data.test_targets_name = clean;
    return data;
}

void apply_j_invariant(Model& model, const float* input, std::int64_t n, std::int64_t h,
                       std::int64_t w, int mask_width, MaskMode mask_mode, float* output,
                       std::int64_t row0, std::int64_t col0) {
    if (mask_width < 2 || mask_width > 16)
        throw InvalidArgument("Noise2Self mask width must be between 2 and 16, got " +
                              std::to_string(mask_width));
    if (row0 < 0 || col0 < 0)
        throw InvalidArgument("Noise2Self tile origin (" + std::to_string(row0) + ", " +
                              std::to_string(col0) + ") must not be negative");
    const std::int64_t channels = model.input_channels(), outputs = model.output_channels();
    j_invariant_inference([&](const float* in, float* out) { model.apply(in, n, h, w, out); },
                          input, n, channels, outputs, h, w, mask_width, mask_mode, row0, col0,
                          output);
}

}  // namespace tomodenoise
