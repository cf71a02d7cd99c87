#pragma once
// Supervised training of a denoiser (noisy -> clean, or one noisy realization -> another for
// Noise2Noise) with the MSE loss and Adam on random patches: the loop behind
// examples/train_denoiser.

#include <cstdint>
#include <functional>
#include <vector>

#include "core/context.hpp"
#include "core/network.hpp"
#include "tomodenoise/stack.hpp"
#include "train/optimizer.hpp"

namespace tomodenoise {

struct SupervisedTrainingOptions {
    int epochs = 10;
    int batch = 8;            ///< patches per step
    std::int64_t patch = 64;  ///< patch side; a multiple of the network's size multiple
    int steps_per_epoch = 0;  ///< 0: as many as the training images fill, at least 1
    std::uint32_t seed = 0;   ///< patch positions and order
};

struct EpochReport {
    int epoch = 0;          ///< 1-based
    double train_loss = 0;  ///< mean MSE over the epoch's steps
    double test_loss = -1;  ///< MSE over the whole test images (-1 without test data)
    double seconds = 0;
};

/// `network` applied in inference mode to every slice of the float stack `inputs`, each
/// reflect-padded to a multiple of `multiple` (downsampling_factor) and cropped back, with
/// ctx.threads() OpenMP threads.
Stack apply_to_slices(Context& ctx, Network& network, const Stack& inputs, std::int64_t multiple);

/// Trains `network` (one input channel, one output channel; built or not) to map `inputs` to
/// `targets` (float stacks of equal shape). `optimizer` holds `network`'s parameters. After
/// each epoch the whole `test_inputs` are run through the network in inference mode and their
/// MSE against `test_targets` reported (when given), then `on_epoch` is called. Runs, on_epoch
/// included, with ctx.threads() OpenMP threads; the caller's count is restored on return or
/// throw. Throws ShapeError or InvalidArgument naming the stack or option that does not fit (a
/// batch whose activations exceed the machine's memory among them), and NumericalError, before
/// `on_epoch` sees the epoch, as soon as a loss, a weight or (checked after each epoch) the
/// optimizer's state is NaN or infinite.
std::vector<EpochReport> train_supervised(
    Context& ctx, Network& network, Optimizer& optimizer, const Stack& inputs, const Stack& targets,
    const Stack* test_inputs, const Stack* test_targets, const SupervisedTrainingOptions& options,
    const std::function<void(const EpochReport&)>& on_epoch = {});

}  // namespace tomodenoise
