// Training a denoiser (include/tomodenoise/train.hpp): the training file read as float32
// stacks, the network built from scratch (seeded) or resumed with its optimizer state, Adam,
// the supervised loop, and after every epoch the checkpoint (model, then optimizer state) and
// the snapshot.

#include "tomodenoise/train.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "api/model_impl.hpp"
#include "core/context.hpp"
#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "models/cnn_denoiser.hpp"
#include "models/tomogan_generator.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/threads.hpp"
#include "train/optimizer.hpp"
#include "train/supervised.hpp"

namespace tomodenoise {

namespace {

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

double value_range(const Stack& s) {
    const float* v = s.as<float>();
    const auto [lo, hi] = std::minmax_element(v, v + s.shape().pixels());
    return double(*hi) - double(*lo);
}

void check_options(const TrainOptions& options) {
    const auto out_of_bounds = [](const std::string& field, const std::string& bounds,
                                  const std::string& value) {
        return InvalidArgument("TrainOptions::" + field + " must be " + bounds + ", got " + value);
    };
    if (options.epochs < 1)
        throw out_of_bounds("epochs", "at least 1", std::to_string(options.epochs));
    if (options.batch < 1)
        throw out_of_bounds("batch", "at least 1", std::to_string(options.batch));
    if (options.patch < 1)
        throw out_of_bounds("patch", "at least 1", std::to_string(options.patch));
    if (options.steps_per_epoch < 0)
        throw out_of_bounds("steps_per_epoch", "0 (one pass over the images) or more",
                            std::to_string(options.steps_per_epoch));
    if (!(std::isfinite(options.learning_rate) && options.learning_rate > 0))
        throw out_of_bounds("learning_rate", "finite and positive",
                            std::to_string(options.learning_rate));
    if (options.threads < 0 || options.threads > max_threads())
        throw out_of_bounds("threads",
                            "between 0 (the default) and " + std::to_string(max_threads()) +
                                " (4 x the hardware threads)",
                            std::to_string(options.threads));
}

void check_float32(const Stack& stack, const char* field) {
    if (stack.type() != PixelType::float32)
        throw InvalidArgument(std::string("TrainingData::") + field + " must be float32, not " +
                              to_string(stack.type()));
}

}  // namespace

TrainingData read_training_file(const std::string& file, TrainingLayout layout) {
    const bool noise2noise = layout == TrainingLayout::noise2noise;
    const char* input_name = noise2noise ? "/train_a" : "/train_ns";
    const char* target_name = noise2noise ? "/train_b" : "/train_gt";
    const char* test_input_name = noise2noise ? "/test_a" : "/test_ns";
    const char* test_target_name = noise2noise ? "/test_clean" : "/test_gt";
    TrainingData data;
    data.inputs = read_float_stack(file, input_name);
    data.targets = read_float_stack(file, target_name);
    const bool with_test = has_dataset(file, test_input_name) &&
                           has_dataset(file, test_target_name) &&
                           hdf5_stack_shape({file, test_input_name}).n > 0;
    if (with_test) {
        data.test_inputs = read_float_stack(file, test_input_name);
        data.test_targets = read_float_stack(file, test_target_name);
    }
    return data;
}

Model train_denoiser(const TrainingData& data, const TrainOptions& options,
                     const TrainingCallbacks& callbacks) {
    check_options(options);
    check_float32(data.inputs, "inputs");
    check_float32(data.targets, "targets");
    const bool with_test = data.test_inputs.shape().n > 0 || data.test_targets.shape().n > 0;
    if (with_test) {
        check_float32(data.test_inputs, "test_inputs");
        check_float32(data.test_targets, "test_targets");
    }

    Context ctx(options.threads);
    Network network;
    if (!options.resume.empty()) {
        network = load_network(options.resume);
    } else if (options.architecture == DenoiserArchitecture::cnn) {
        CnnDenoiserConfig config;
        config.seed = options.seed;
        network = build_cnn_denoiser(config);
    } else {
        TomoGanGeneratorConfig config;
        config.seed = options.seed;
        network = build_tomogan_generator(config);
    }
    AdamConfig adam_config;
    adam_config.learning_rate = options.learning_rate;
    Adam adam(named_parameters(network), adam_config);
    if (!options.resume.empty()) load_optimizer_state(options.resume, network, adam);

    if (!options.snapshots.empty())
        prepare_output_folder({"TrainOptions::snapshots", options.snapshots, ""});
    const double range = with_test ? value_range(data.test_targets) : 1.0;
    if (callbacks.on_start) callbacks.on_start();

    SupervisedTrainingOptions loop_options;
    loop_options.epochs = options.epochs;
    loop_options.batch = options.batch;
    loop_options.patch = options.patch;
    loop_options.steps_per_epoch = options.steps_per_epoch;
    loop_options.seed = options.seed;
    int saved_epoch = 0;
    const auto on_epoch = [&](const EpochReport& r) {
        if (!options.checkpoint.empty()) {
            save_network(options.checkpoint, network, &adam);
            saved_epoch = r.epoch;
        }
        TrainingEpoch epoch;
        epoch.epoch = r.epoch;
        epoch.train_loss = r.train_loss;
        epoch.test_loss = r.test_loss;
        if (r.test_loss >= 0) epoch.test_psnr = 10 * std::log10(range * range / r.test_loss);
        epoch.seconds = r.seconds;
        if (callbacks.on_epoch) callbacks.on_epoch(epoch);
        if (!options.snapshots.empty() && with_test) {
            char name[32];
            std::snprintf(name, sizeof name, "epoch_%03d.png", r.epoch);
            const Stack output =
                apply_to_slices(ctx, network, data.test_inputs, downsampling_factor(network));
            write_png_montage((std::filesystem::path(options.snapshots) / name).string(),
                              {data.test_inputs, output, data.test_targets}, 0);
        }
    };
    try {
        train_supervised(ctx, network, adam, data.inputs, data.targets,
                         with_test ? &data.test_inputs : nullptr,
                         with_test ? &data.test_targets : nullptr, loop_options, on_epoch);
    } catch (const NumericalError& e) {
        // Training stops before a diverged epoch is saved: the checkpoint keeps the last good one.
        throw NumericalError(std::string(e.what()) + "; " +
                             (saved_epoch > 0 ? options.checkpoint + " keeps the model of epoch " +
                                                    std::to_string(saved_epoch)
                                              : "this run wrote no model"));
    }

    ApplyOptions apply_options;
    apply_options.threads = options.threads;
    return make_model(std::move(network), apply_options);
}

}  // namespace tomodenoise
