#pragma once
// The training loop behind tomodenoise/train.hpp: one code path for the supervised, n2n, n2s
// and seg objectives on prefetched random patches, with validation, CSV rows and snapshots.
// Checkpoints are the caller's (they need the model file format, a higher layer): the loop
// says when.

#include <cstdint>
#include <functional>
#include <vector>

#include "core/context.hpp"
#include "core/network.hpp"
#include "tomodenoise/stack.hpp"
#include "tomodenoise/train.hpp"
#include "train/gan.hpp"
#include "train/optimizer.hpp"
#include "train/patch_sampler.hpp"

namespace tomodenoise {

/// `options` with what the caller resolved: depth and architecture (from the resumed model),
/// the step to start from and the sampler's seed (the checkpoint's).
struct TrainerPlan {
    TrainOptions options;
    std::int64_t first_iteration = 0;
    std::uint32_t sampler_seed = 0;
};

struct TrainerHooks {
    /// Checked between steps: true stops the loop, which then checkpoints.
    std::function<bool()> stop_requested;
    /// Writes the checkpoint of the network and optimizer after step `iteration`.
    std::function<void(std::int64_t iteration)> checkpoint;
};

/// Mode gan: what the loop steps besides the generator (the network run_trainer trains) and
/// its optimizer.
struct GanTrainer {
    GanObjective& objective;
    Network& discriminator;
    Optimizer& discriminator_optimizer;
    /// The discriminator's learning rate over the generator's (GanOptions).
    double learning_rate_factor = 1;
};

/// One step of every mode but gan on `batch`: forward in training mode, the options' objective
/// (its gradient in `grad`, kept between steps), backward and the optimizer's update at
/// `learning_rate`. Returns the loss; throws NumericalError naming `step` when it is not finite
/// (before backward). What run_trainer runs per step, and bench/bench_training times.
double training_step(Context& ctx, Network& network, Optimizer& optimizer,
                     const TrainOptions& options, const PatchBatch& batch, double learning_rate,
                     std::int64_t step, Tensor& grad);

/// The losses of one gan iteration: the generator's terms summed over its steps, the
/// discriminator's loss summed over its steps.
struct GanIterationLoss {
    GeneratorLoss generator;
    double discriminator = 0;
};

/// One iteration of mode gan: options.gan.generator_steps generator steps, then
/// discriminator_steps discriminator steps (each clipped for wgan), each on the next batch
/// `next_batch` gives and each followed by its optimizer's update at `learning_rate`. Throws
/// NumericalError naming `step` when a loss is not finite (before that step's update). What
/// run_trainer runs per iteration, and bench/bench_training times.
GanIterationLoss gan_iteration(Context& ctx, Optimizer& generator_optimizer, const GanTrainer& gan,
                               const GanOptions& options,
                               const std::function<const PatchBatch&()>& next_batch,
                               double learning_rate, std::int64_t step);

/// options.learning_rate, or the mode's default (train.hpp).
double learning_rate_of(const TrainOptions& options);

struct TrainerOutcome {
    TrainingSummary summary;
    bool stopped = false;  ///< by stop_requested
};

/// Steps per epoch of `options` on training images of `shape`: its steps_per_epoch, or as many
/// batches as the images fill with patches, at least 1.
std::int64_t steps_per_epoch(const TrainOptions& options, const StackShape& shape);
/// options.iterations, or epochs x steps_per_epoch.
std::int64_t total_iterations(const TrainOptions& options, const StackShape& shape);

/// InvalidArgument or ShapeError naming the field (TrainingData's names) for data that does
/// not fit `options`: types, shapes, the patch, the depth, NaN or infinite values (naming the
/// slice), labels outside 0..classes-1 (naming the slice), missing stacks for the mode.
void check_training_data(const TrainingData& data, const TrainOptions& options);

/// `network` applied in inference mode to every slice of the float stack `inputs`, with
/// `depth` adjacent slices (reflected at the ends) as channels, each reflect-padded to a
/// multiple of `multiple` (downsampling_factor) and cropped back: n x out_channels x h x w
/// values. Runs with ctx.threads() OpenMP threads.
std::vector<float> apply_to_slices(Context& ctx, Network& network, const Stack& inputs, int depth,
                                   std::int64_t out_channels, std::int64_t multiple);

/// Trains `network` (input channels plan.options.depth; for gan the generator, with `gan`'s
/// discriminator: an iteration is GanOptions' generator and discriminator steps, each on a
/// batch of its own, the optimizers' learning rates both following the schedule, the
/// discriminator's weights checked finite too) from plan.first_iteration to the total
/// iterations (or the time limit, or stop_requested), calling `callbacks` and `hooks`, on the
/// data normalized by plan.options.normalization (unset: none; the caller resolves it) fitted
/// to data.inputs. Runs
/// with ctx.threads() OpenMP threads, restoring the caller's count. Data is checked first
/// (check_training_data). NumericalError, before any checkpoint holds them, as soon as the
/// loss, a weight or (checked at each checkpoint) the optimizer's state is not finite.
TrainerOutcome run_trainer(Context& ctx, Network& network, Optimizer& optimizer,
                           const TrainingData& data, const TrainerPlan& plan,
                           const TrainingCallbacks& callbacks, const TrainerHooks& hooks,
                           const GanTrainer* gan = nullptr);

}  // namespace tomodenoise
