#include "train/trainer.hpp"

#include <tbb/task_group.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/padded_forward.hpp"
#include "core/reflect_padding.hpp"
#include "core/system_memory.hpp"
#include "core/thread_count_scope.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/metrics.hpp"
#include "tomodenoise/normalize.hpp"
#include "train/loss.hpp"
#include "train/noise2self.hpp"
#include "train/patch_sampler.hpp"

namespace tomodenoise {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string name_or(const std::string& name, const char* field) {
    return name.empty() ? std::string("TrainingData::") + field : name;
}

constexpr int max_depth = 63;

// NaN or infinite values would make NaN weights: refused, naming the first slice holding one.
void expect_finite(const Stack& s, const std::string& name) {
    const NonFiniteReport bad = find_non_finite(s.as<float>(), std::size_t(s.shape().pixels()));
    if (bad.count > 0)
        throw InvalidArgument(name + " holds " + std::to_string(bad.count) +
                              " NaN or infinite values, the first in slice " +
                              std::to_string(bad.first / (s.shape().h * s.shape().w)));
}

void expect_labels(const Stack& s, const std::string& name, int classes) {
    const std::int64_t plane = s.shape().h * s.shape().w;
    const float* v = s.as<float>();
    for (std::int64_t i = 0; i < s.shape().pixels(); ++i) {
        const float label = v[i];
        if (label >= 0 && label < float(classes) && label == std::floor(label)) continue;
        throw InvalidArgument(name + ": slice " + std::to_string(i / plane) + " holds label " +
                              std::to_string(label) + ", not a class in 0.." +
                              std::to_string(classes - 1) + " (TrainOptions::classes " +
                              std::to_string(classes) + ")");
    }
}

void expect_float32(const Stack& s, const std::string& name) {
    if (s.type() != PixelType::float32)
        throw InvalidArgument(name + " must be float32, not " + to_string(s.type()));
}

// Training keeps every layer's output and its gradient for the whole batch: refuses, before
// any is allocated, a batch and patch size whose activations alone exceed this machine's memory
// (gan: the generator's, the discriminator's and the VGG19's together, each built for the batch).
void expect_batch_fits(const std::vector<const Network*>& networks, const TrainOptions& options) {
    double values = 0;
    for (const Network* network : networks)
        for (const auto& node : network->nodes()) values += 2.0 * double(node.dims.count());
    const double bytes = std::min(values * sizeof(float), 0x1p62);
    check_fits_in_memory(std::int64_t(bytes),
                         "batch " + std::to_string(options.batch) + " of " +
                             std::to_string(options.patch) + "x" + std::to_string(options.patch) +
                             " patches (lower the batch or the patch size): the network's "
                             "activations and gradients");
}

// Training stops at the first NaN or infinite loss, weight or optimizer state, before a
// checkpoint holds it.
constexpr const char* divergence_causes = " (outliers in the data, or a learning rate too high)";

void expect_finite_weights(const Network& network, std::int64_t iteration) {
    for (const auto& node : network.nodes()) {
        if (!node.layer) continue;
        for (const Parameter* p : node.layer->parameters()) {
            const NonFiniteReport non_finite = find_non_finite(p->value(), std::size_t(p->size()));
            if (non_finite.count > 0)
                throw NumericalError("training diverged: after step " + std::to_string(iteration) +
                                     ", layer '" + node.name + "' weight '" + p->name() +
                                     "' holds " + std::to_string(non_finite.count) +
                                     " NaN or infinite values" + divergence_causes);
        }
    }
}

// The loss of one batch and its gradient with respect to `out`.
double objective(const TrainOptions& options, const Tensor& out, const PatchBatch& batch,
                 Tensor& grad) {
    switch (options.mode) {
        case TrainingMode::n2s:
            return masked_mean_squared_error_loss(out, batch.target, batch.mask, &grad);
        case TrainingMode::seg:
            return sparse_softmax_crossentropy(out, batch.target, options.class_weights, &grad);
        case TrainingMode::supervised:
        case TrainingMode::n2n:
        case TrainingMode::n2i:
        case TrainingMode::unknown:  // refused by check_options
        case TrainingMode::gan:
            break;
    }
    return options.loss == TrainingLoss::l1 ? mean_absolute_error_loss(out, batch.target, &grad)
                                            : mean_squared_error_loss(out, batch.target, &grad);
}

void expect_finite_step_loss(double loss, const char* what, std::int64_t step) {
    if (!std::isfinite(loss))
        throw NumericalError(std::string("training diverged: the ") + what + " of step " +
                             std::to_string(step) + " is " + std::to_string(loss) +
                             divergence_causes);
}

// The cosine schedule's floor: the optimizer refuses a learning rate of 0.
constexpr double min_learning_rate_fraction = 1e-3;

// The learning rate of the step after `iteration` of `total`, `seconds` into the run.
double scheduled_learning_rate(const TrainOptions& options, std::int64_t iteration,
                               std::int64_t total, double seconds) {
    const double learning_rate = learning_rate_of(options);
    if (options.lr_schedule == LearningRateSchedule::constant) return learning_rate;
    double progress = double(iteration) / double(total);
    if (options.max_seconds > 0) progress = std::max(progress, seconds / options.max_seconds);
    constexpr double pi = 3.14159265358979323846;
    const double decayed = 0.5 * (1 + std::cos(pi * std::min(progress, 1.0)));
    return learning_rate * std::max(decayed, min_learning_rate_fraction);
}

// Batch `index`: the sampler's patches; for n2s the middle channel becomes the target and is
// hidden at the patch's grid phase in the input.
void prepare_batch(const PatchSampler& sampler, const TrainOptions& options, std::int64_t index,
                   PatchBatch& batch) {
    sampler.fill(index, batch);
    if (options.mode != TrainingMode::n2s) return;
    const Dims& in = batch.input.dims();
    const Dims plane_dims{in.n, 1, in.h, in.w};
    if (batch.target.dims() != plane_dims) batch.target = Tensor(plane_dims);
    if (batch.mask.dims() != plane_dims) batch.mask = Tensor(plane_dims);
    const std::int64_t plane = in.h * in.w;
    for (std::int64_t k = 0; k < in.n; ++k) {
        float* middle = batch.input.data() + (k * in.c + in.c / 2) * plane;
        float* target = batch.target.data() + k * plane;
        std::copy(middle, middle + plane, target);
        const PatchDraw& d = batch.draws[std::size_t(k)];
        hide_grid(target, in.h, in.w, 0, 0, d.phase_row, d.phase_col, options.mask_width,
                  options.mask_mode, middle, batch.mask.data() + k * plane);
    }
}

// Waits for the prefetch task when the loop leaves early (a throw, a stop): a task must not
// outlive the buffers it fills. Its own exception, if any, is the lesser news then.
struct PrefetchJoin {
    tbb::task_group& group;
    ~PrefetchJoin() {
        try {
            group.wait();
        } catch (...) {  // the exception already propagating is the one to report
        }
    }
};

double value_range(const float* v, std::size_t count) {
    const auto [lo, hi] = std::minmax_element(v, v + count);
    return double(*hi) - double(*lo);
}

// Per-class IoU and Dice of predicted against true labels, and their means over the classes
// present in either: what seg validation reports.
void segmentation_scores(const std::vector<float>& predicted, const float* labels, int classes,
                         TrainingValidation& v) {
    const auto count = static_cast<std::size_t>(classes);
    std::vector<double> both(count, 0.0), truth(count, 0.0), guess(count, 0.0);
    for (std::size_t i = 0; i < predicted.size(); ++i) {
        const auto p = std::size_t(predicted[i]), t = std::size_t(labels[i]);
        guess[p] += 1;
        truth[t] += 1;
        if (p == t) both[p] += 1;
    }
    v.iou.assign(std::size_t(classes), std::numeric_limits<double>::quiet_NaN());
    v.dice = v.iou;
    double iou_sum = 0, dice_sum = 0;
    int present = 0;
    for (std::size_t k = 0; k < std::size_t(classes); ++k) {
        if (truth[k] + guess[k] == 0) continue;
        v.iou[k] = both[k] / (truth[k] + guess[k] - both[k]);
        v.dice[k] = 2 * both[k] / (truth[k] + guess[k]);
        iou_sum += v.iou[k];
        dice_sum += v.dice[k];
        ++present;
    }
    if (present > 0) {
        v.mean_iou = iou_sum / present;
        v.mean_dice = dice_sum / present;
    }
}

// `data` in the units the network learns in: `map` applied to the inputs, to the targets of
// supervised, n2n and n2i (one map: the same units) and to the test inputs. The test targets stay
// in the data's units: validation maps the output back to them.
TrainingData normalized_copy(const TrainingData& data, const Normalization& map,
                             TrainingMode mode) {
    TrainingData normalized = data;
    std::vector<Stack*> mapped = {&normalized.inputs, &normalized.test_inputs};
    if (mode == TrainingMode::supervised || mode == TrainingMode::n2n ||
        mode == TrainingMode::gan || mode == TrainingMode::n2i)
        mapped.push_back(&normalized.targets);
    for (Stack* s : mapped) map.apply(s->as<float>(), std::size_t(s->shape().pixels()));
    return normalized;
}

class Validator {
public:
    /// `data`: as given (the snapshots show its test inputs); `learned`: the same in the units
    /// the network learns in, `map` taking `data` there.
    Validator(Context& ctx, Network& network, const TrainingData& data, const TrainingData& learned,
              const Normalization& map, const TrainOptions& o)
        : ctx_(ctx), network_(network), data_(data), learned_(learned), map_(map), options_(o) {}

    bool has_test() const { return data_.test_inputs.shape().n > 0; }

    /// `train`: train_loss and, for gan, the loss terms, filled by the caller.
    TrainingValidation validate(const TrainingValidation& train) {
        TrainingValidation v = train;
        const std::int64_t iteration = v.iteration;
        if (!has_test()) return v;
        if (multiple_ == 0) multiple_ = downsampling_factor(network_);
        const bool seg = options_.mode == TrainingMode::seg;
        const std::int64_t out_channels = seg ? options_.classes : 1;
        const auto& sh = data_.test_inputs.shape();
        const std::int64_t plane = sh.h * sh.w;
        std::vector<float> out = apply_to_slices(ctx_, network_, learned_.test_inputs,
                                                 options_.depth, out_channels, multiple_);
        const float* targets = data_.test_targets.as<float>();
        std::vector<float> image(std::size_t(sh.pixels()));
        if (seg) {
            double loss = 0;
            for (std::int64_t i = 0; i < sh.n; ++i) {
                const Tensor logits =
                    Tensor::view(const_cast<float*>(out.data()) + i * out_channels * plane,
                                 Dims{1, out_channels, sh.h, sh.w});
                const Tensor labels =
                    Tensor::view(const_cast<float*>(targets) + i * plane, Dims{1, 1, sh.h, sh.w});
                loss +=
                    sparse_softmax_crossentropy(logits, labels, options_.class_weights, nullptr);
                for (std::int64_t p = 0; p < plane; ++p) {
                    const float* first = out.data() + i * out_channels * plane + p;
                    std::int64_t best = 0;
                    for (std::int64_t k = 1; k < out_channels; ++k)
                        if (first[k * plane] > first[best * plane]) best = k;
                    image[std::size_t(i * plane + p)] = float(best);
                }
            }
            v.test_loss = loss / double(sh.n);
            segmentation_scores(image, targets, options_.classes, v);
        } else {
            map_.inverse(out.data(), out.size());
            std::copy(out.begin(), out.end(), image.begin());
            const auto count = std::size_t(sh.pixels());
            const double mse = mean_squared_error(targets, image.data(), count);
            v.test_loss = options_.loss == TrainingLoss::l1 && options_.mode != TrainingMode::n2s
                              ? mean_absolute_error(targets, image.data(), count)
                              : mse;
            const double range = value_range(targets, count);
            v.psnr = 10 * std::log10(range * range / mse);
            constexpr std::int64_t ssim_window = 11;
            if (sh.h >= ssim_window && sh.w >= ssim_window)
                v.ssim = compare_stacks(targets, image.data(), sh, range).mean.ssim;
            v.high_frequency_ratio = high_frequency_power_ratio(targets, image.data(), sh);
        }
        if (!std::isfinite(v.test_loss))
            throw NumericalError("training diverged: the test loss after step " +
                                 std::to_string(iteration) + " is " + std::to_string(v.test_loss) +
                                 divergence_causes);
        if (!options_.snapshots.empty()) {
            char name[32];
            std::snprintf(name, sizeof name, "iter_%07lld.png", static_cast<long long>(iteration));
            const Stack output = Stack::from_float(sh, image.data());
            write_png_montage((std::filesystem::path(options_.snapshots) / name).string(),
                              {data_.test_inputs, output, data_.test_targets}, 0);
        }
        if (!options_.validation_csv.empty()) append_csv_row(v);
        return v;
    }

private:
    void append_csv_row(const TrainingValidation& v) const {
        const std::string& path = options_.validation_csv;
        std::error_code ec;
        const bool fresh =
            !std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0;
        std::ofstream csv(path, std::ios::app);
        const bool seg = options_.mode == TrainingMode::seg;
        const bool gan = options_.mode == TrainingMode::gan;
        if (fresh) {
            csv << "iteration,train_loss,test_loss,"
                << (seg ? "mean_iou,mean_dice" : "psnr,ssim,high_frequency_ratio");
            if (gan) csv << ",adversarial_loss,mse_loss,perceptual_loss,discriminator_loss";
            for (std::size_t k = 0; k < v.iou.size(); ++k) csv << ",iou_" << k;
            for (std::size_t k = 0; k < v.dice.size(); ++k) csv << ",dice_" << k;
            csv << "\n";
        }
        csv << v.iteration << "," << v.train_loss << "," << v.test_loss << ","
            << (seg ? v.mean_iou : v.psnr) << "," << (seg ? v.mean_dice : v.ssim);
        if (!seg) csv << "," << v.high_frequency_ratio;
        if (gan)
            csv << "," << v.adversarial_loss << "," << v.mse_loss << "," << v.perceptual_loss << ","
                << v.discriminator_loss;
        for (const double x : v.iou) csv << "," << x;
        for (const double x : v.dice) csv << "," << x;
        csv << "\n";
        csv.flush();
        if (!csv) throw IoError("TrainOptions::validation_csv '" + path + "': cannot append a row");
    }

    Context& ctx_;
    Network& network_;
    const TrainingData& data_;
    const TrainingData& learned_;
    const Normalization& map_;
    const TrainOptions& options_;
    std::int64_t multiple_ = 0;
};

}  // namespace

std::int64_t steps_per_epoch(const TrainOptions& options, const StackShape& shape) {
    if (options.steps_per_epoch > 0) return options.steps_per_epoch;
    const std::int64_t per_image =
        std::max<std::int64_t>(1, (shape.h / options.patch) * (shape.w / options.patch));
    return std::max<std::int64_t>(1, shape.n * per_image / options.batch);
}

std::int64_t total_iterations(const TrainOptions& options, const StackShape& shape) {
    return options.iterations > 0 ? options.iterations
                                  : std::int64_t(options.epochs) * steps_per_epoch(options, shape);
}

void check_training_data(const TrainingData& data, const TrainOptions& options) {
    const std::string inputs = name_or(data.inputs_name, "inputs");
    const std::string targets = name_or(data.targets_name, "targets");
    const std::string test_inputs = name_or(data.test_inputs_name, "test_inputs");
    const std::string test_targets = name_or(data.test_targets_name, "test_targets");
    const bool n2s = options.mode == TrainingMode::n2s;
    expect_float32(data.inputs, inputs);
    const auto& sh = data.inputs.shape();
    if (sh.pixels() < 1) throw ShapeError(inputs + " has dims " + sh.to_string() + ": no images");
    if (!n2s) {
        expect_float32(data.targets, targets);
        if (data.targets.shape() != sh)
            throw ShapeError(inputs + " " + sh.to_string() + " and " + targets + " " +
                             data.targets.shape().to_string() + " must have one shape (mode " +
                             to_string(options.mode) + " learns one from the other)");
    }
    const bool with_test = data.test_inputs.shape().n > 0 || data.test_targets.shape().n > 0;
    if (with_test) {
        expect_float32(data.test_inputs, test_inputs);
        expect_float32(data.test_targets, test_targets);
        if (data.test_inputs.shape() != data.test_targets.shape() ||
            data.test_inputs.shape().pixels() < 1)
            throw ShapeError(test_inputs + " " + data.test_inputs.shape().to_string() + " and " +
                             test_targets + " " + data.test_targets.shape().to_string() +
                             " must have one shape, not empty");
    }
    if (options.patch > sh.h || options.patch > sh.w)
        throw InvalidArgument("TrainOptions::patch " + std::to_string(options.patch) +
                              " is larger than the images of " + inputs + " " + sh.to_string());
    if (options.depth < 1 || options.depth % 2 == 0 || options.depth > max_depth ||
        options.depth > sh.n)
        throw InvalidArgument("TrainOptions::depth must be odd, between 1 and " +
                              std::to_string(std::min<std::int64_t>(max_depth, sh.n)) + " (the " +
                              std::to_string(sh.n) + " slices of " + inputs + "), got " +
                              std::to_string(options.depth));
    expect_finite(data.inputs, inputs);
    if (!n2s) expect_finite(data.targets, targets);
    if (with_test) {
        expect_finite(data.test_inputs, test_inputs);
        expect_finite(data.test_targets, test_targets);
    }
    if (options.mode == TrainingMode::seg) {
        expect_labels(data.targets, targets, options.classes);
        if (with_test) expect_labels(data.test_targets, test_targets, options.classes);
    }
}

std::vector<float> apply_to_slices(Context& ctx, Network& network, const Stack& inputs, int depth,
                                   std::int64_t out_channels, std::int64_t multiple) {
    const ThreadCountScope threads(ctx.threads());
    const auto& sh = inputs.shape();
    const std::int64_t plane = sh.h * sh.w;
    Tensor padded;
    std::vector<float> in(std::size_t(depth * plane));
    std::vector<float> out(std::size_t(sh.n * out_channels * plane));
    for (std::int64_t i = 0; i < sh.n; ++i) {
        for (int c = 0; c < depth; ++c) {
            const float* slice =
                inputs.as<float>() + reflect_index(i + c - depth / 2, sh.n) * plane;
            std::copy(slice, slice + plane, in.begin() + c * plane);
        }
        forward_padded(ctx, network, in.data(), Dims{1, depth, sh.h, sh.w}, out_channels, multiple,
                       padded, out.data() + i * out_channels * plane);
    }
    return out;
}

double training_step(Context& ctx, Network& network, Optimizer& optimizer,
                     const TrainOptions& options, const PatchBatch& batch, double learning_rate,
                     std::int64_t step, Tensor& grad) {
    const Tensor& out = network.forward(ctx, batch.input, Mode::training);
    const double loss = objective(options, out, batch, grad);
    expect_finite_step_loss(loss, "loss", step);
    network.backward(ctx, grad);
    optimizer.set_learning_rate(learning_rate);
    optimizer.step();
    return loss;
}

GanIterationLoss gan_iteration(Context& ctx, Optimizer& generator_optimizer, const GanTrainer& gan,
                               const GanOptions& options,
                               const std::function<const PatchBatch&()>& next_batch,
                               double learning_rate, std::int64_t step) {
    GanIterationLoss sum;
    for (int k = 0; k < options.generator_steps; ++k) {
        const PatchBatch& batch = next_batch();
        const GeneratorLoss g = gan.objective.generator_loss(ctx, batch.input, batch.target, true);
        expect_finite_step_loss(g.total, "generator loss", step);
        generator_optimizer.set_learning_rate(learning_rate);
        generator_optimizer.step();
        sum.generator.total += g.total;
        sum.generator.adversarial += g.adversarial;
        sum.generator.mse += g.mse;
        sum.generator.perceptual += g.perceptual;
    }
    for (int k = 0; k < options.discriminator_steps; ++k) {
        const PatchBatch& batch = next_batch();
        const double d = gan.objective.discriminator_loss(ctx, batch.input, batch.target, true);
        expect_finite_step_loss(d, "discriminator loss", step);
        gan.discriminator_optimizer.set_learning_rate(learning_rate * gan.learning_rate_factor);
        gan.discriminator_optimizer.step();
        gan.objective.clip_discriminator();
        sum.discriminator += d;
    }
    return sum;
}

double learning_rate_of(const TrainOptions& options) {
    return options.learning_rate.value_or(
        options.mode == TrainingMode::gan ? default_gan_learning_rate : default_learning_rate);
}

TrainerOutcome run_trainer(Context& ctx, Network& network, Optimizer& optimizer,
                           const TrainingData& data, const TrainerPlan& plan,
                           const TrainingCallbacks& callbacks, const TrainerHooks& hooks,
                           const GanTrainer* gan) {
    const TrainOptions& options = plan.options;
    check_training_data(data, options);
    if ((options.mode == TrainingMode::gan) != (gan != nullptr))
        throw InvalidArgument("run_trainer: mode gan needs its discriminator, other modes none");
    const bool n2s = options.mode == TrainingMode::n2s;
    const NormalizationSpec spec = options.normalization.value_or(NormalizationSpec{});
    const Normalization map =
        fit_normalization(spec, data.inputs.as<float>(), std::size_t(data.inputs.shape().pixels()),
                          name_or(data.inputs_name, "inputs"));
    TrainingData normalized;
    if (spec.method != NormalizationMethod::none)
        normalized = normalized_copy(data, map, options.mode);
    const TrainingData& learned = spec.method != NormalizationMethod::none ? normalized : data;
    const Dims batch_dims{options.batch, options.depth, options.patch, options.patch};
    network.build({batch_dims});  // checks the patch against the network (ShapeError)
    std::vector<const Network*> trained = {&network};
    if (gan) {
        // The image, or for a conditional discriminator the image beside the input.
        gan->discriminator.build({Dims{options.batch, gan->discriminator.input_channels(0),
                                       options.patch, options.patch}});
        trained.push_back(&gan->discriminator);
        if (Network* vgg = gan->objective.perceptual_network()) {
            constexpr std::int64_t rgb = 3;
            vgg->build({Dims{options.batch, rgb, options.patch, options.patch}});
            trained.push_back(vgg);
        }
    }
    expect_batch_fits(trained, options);
    const ThreadCountScope threads(ctx.threads());

    const std::int64_t total = total_iterations(options, data.inputs.shape());
    const std::int64_t epoch = steps_per_epoch(options, data.inputs.shape());
    const std::int64_t validate_every = options.validate_every > 0 ? options.validate_every : epoch;
    const std::int64_t checkpoint_every =
        options.checkpoint_every > 0 ? options.checkpoint_every : epoch;

    PatchSamplerConfig sampler_config;
    sampler_config.batch = options.batch;
    sampler_config.patch = options.patch;
    sampler_config.depth = options.depth;
    sampler_config.seed = plan.sampler_seed;
    sampler_config.mask_width = n2s ? options.mask_width : 0;
    const PatchSampler sampler(learned.inputs, n2s ? nullptr : &learned.targets, sampler_config);
    Validator validator(ctx, network, data, learned, map, options);

    TrainerOutcome outcome;
    TrainingSummary& summary = outcome.summary;
    summary.first_iteration = plan.first_iteration;
    std::int64_t iteration = plan.first_iteration, checkpointed = plan.first_iteration;
    const auto checkpoint = [&] {
        const std::string bad_state = optimizer.first_non_finite_state();
        if (!bad_state.empty())
            throw NumericalError("training diverged: after step " + std::to_string(iteration) +
                                 " the optimizer's state '" + bad_state +
                                 "' holds NaN or infinite values" + divergence_causes);
        if (gan) {
            const std::string bad = gan->discriminator_optimizer.first_non_finite_state();
            if (!bad.empty())
                throw NumericalError("training diverged: after step " + std::to_string(iteration) +
                                     " the discriminator optimizer's state '" + bad +
                                     "' holds NaN or infinite values" + divergence_causes);
        }
        if (hooks.checkpoint) hooks.checkpoint(iteration);
        checkpointed = iteration;
    };
    double loss_sum = 0, waited = 0;
    std::int64_t losses = 0;
    // gan: sums of the generator's loss terms and the discriminator's loss since the previous
    // validation, and how many steps each counts.
    GeneratorLoss gan_sum;
    double discriminator_sum = 0;
    std::int64_t generator_steps = 0, discriminator_steps = 0;
    const auto validate = [&] {
        TrainingValidation train;
        train.iteration = iteration;
        train.train_loss = losses ? loss_sum / double(losses) : 0;
        if (gan) {
            const auto mean = [](double sum, std::int64_t count) {
                return count > 0 ? sum / double(count) : std::numeric_limits<double>::quiet_NaN();
            };
            train.adversarial_loss = mean(gan_sum.adversarial, generator_steps);
            train.mse_loss = mean(gan_sum.mse, generator_steps);
            train.perceptual_loss = mean(gan_sum.perceptual, generator_steps);
            train.discriminator_loss = mean(discriminator_sum, discriminator_steps);
        }
        TrainingValidation v = validator.validate(train);
        v.seconds = summary.seconds;
        loss_sum = 0;
        losses = 0;
        gan_sum = {};
        discriminator_sum = 0;
        generator_steps = discriminator_steps = 0;
        if (callbacks.on_validation) callbacks.on_validation(v);
    };

    if (callbacks.on_start) callbacks.on_start();
    const auto t0 = Clock::now();
    // A step takes one batch, a gan iteration one per generator and discriminator step: batch
    // numbers follow the steps, so a resumed run draws the same patches.
    const std::int64_t batches_per_step =
        gan ? std::int64_t(options.gan.generator_steps) + options.gan.discriminator_steps : 1;
    const std::int64_t batch_count = total * batches_per_step;
    // Batch i + 1 is assembled on TBB's threads while step i computes on OpenMP's.
    PatchBatch batches[2];
    tbb::task_group prefetch;
    PrefetchJoin join{prefetch};
    const auto prefetch_batch = [&](std::int64_t index) {
        PatchBatch& target = batches[index % 2];
        prefetch.run([&sampler, &options, index, &target] {
            prepare_batch(sampler, options, index, target);
        });
    };
    std::int64_t next_batch = iteration * batches_per_step;
    if (next_batch < batch_count) prefetch_batch(next_batch);
    const auto take_batch = [&]() -> const PatchBatch& {
        const auto wait0 = Clock::now();
        prefetch.wait();
        waited += seconds_since(wait0);
        const PatchBatch& batch = batches[next_batch % 2];
        ++next_batch;
        if (next_batch < batch_count) prefetch_batch(next_batch);
        return batch;
    };
    const std::function<const PatchBatch&()> next_gan_batch = take_batch;
    Tensor grad;
    while (iteration < total) {
        if (hooks.stop_requested && hooks.stop_requested()) {
            outcome.stopped = true;
            break;
        }
        if (options.max_seconds > 0 && seconds_since(t0) >= options.max_seconds) {
            summary.time_limit_reached = true;
            break;
        }
        const double learning_rate =
            scheduled_learning_rate(options, iteration, total, seconds_since(t0));
        double loss = 0;
        double step_discriminator_loss = std::numeric_limits<double>::quiet_NaN();
        if (!gan) {
            loss = training_step(ctx, network, optimizer, options, take_batch(), learning_rate,
                                 iteration + 1, grad);
        } else {
            const GanIterationLoss g = gan_iteration(ctx, optimizer, *gan, options.gan,
                                                     next_gan_batch, learning_rate, iteration + 1);
            loss = g.generator.total / options.gan.generator_steps;
            gan_sum.adversarial += g.generator.adversarial;
            gan_sum.mse += g.generator.mse;
            gan_sum.perceptual += g.generator.perceptual;
            generator_steps += options.gan.generator_steps;
            discriminator_sum += g.discriminator;
            discriminator_steps += options.gan.discriminator_steps;
            if (options.gan.discriminator_steps > 0)
                step_discriminator_loss = g.discriminator / options.gan.discriminator_steps;
        }
        ++iteration;
        expect_finite_weights(network, iteration);
        if (gan) expect_finite_weights(gan->discriminator, iteration);
        loss_sum += loss;
        ++losses;

        summary.seconds = seconds_since(t0);
        summary.data_wait_fraction = summary.seconds > 0 ? waited / summary.seconds : 0;
        if (callbacks.on_progress) {
            TrainingProgress p;
            p.iteration = iteration;
            p.iterations = total;
            p.loss = loss;
            p.discriminator_loss = step_discriminator_loss;
            p.seconds = summary.seconds;
            p.iterations_per_second =
                summary.seconds > 0 ? double(iteration - plan.first_iteration) / summary.seconds
                                    : 0;
            p.data_wait_fraction = summary.data_wait_fraction;
            callbacks.on_progress(p);
        }
        if (iteration % checkpoint_every == 0 || iteration == total) checkpoint();
        if (iteration % validate_every == 0 || iteration == total) validate();
    }
    prefetch.wait();
    if (checkpointed != iteration) checkpoint();
    if (summary.time_limit_reached && losses > 0) validate();
    summary.iteration = iteration;
    summary.seconds = seconds_since(t0);
    if (callbacks.on_end && !outcome.stopped) callbacks.on_end(summary);
    return outcome;
}

}  // namespace tomodenoise
