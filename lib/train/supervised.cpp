#include "train/supervised.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/padded_forward.hpp"
#include "core/system_memory.hpp"
#include "core/thread_count_scope.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"
#include "tomodenoise/normalize.hpp"
#include "train/loss.hpp"

namespace tomodenoise {

namespace {

void check_pair(const Stack& a, const Stack& b, const char* what) {
    if (a.type() != PixelType::float32 || b.type() != PixelType::float32)
        throw InvalidArgument(std::string(what) + " stacks must be float32");
    if (a.shape() != b.shape() || a.shape().pixels() < 1)
        throw ShapeError(std::string(what) + " inputs " + a.shape().to_string() + " and targets " +
                         b.shape().to_string() + " must have one equal shape, not empty");
}

// Copies the (patch x patch) window at (y, x) of slice `slice` into image `k` of `dst`.
void copy_patch(const Stack& s, std::int64_t slice, std::int64_t y, std::int64_t x,
                std::int64_t patch, Tensor& dst, std::int64_t k) {
    const auto& sh = s.shape();
    const float* src = s.as<float>() + slice * sh.h * sh.w;
    for (std::int64_t r = 0; r < patch; ++r)
        std::memcpy(&dst.at(k, 0, r, 0), src + (y + r) * sh.w + x, sizeof(float) * patch);
}

// Training keeps every layer's output and its gradient for the whole batch: refuses, before
// any is allocated, a batch and patch size whose activations alone exceed this machine's memory.
void expect_batch_fits(const Network& network, const SupervisedTrainingOptions& options) {
    double values = 0;
    for (const auto& node : network.nodes()) values += 2.0 * double(node.dims.count());
    const double bytes = std::min(values * sizeof(float), 0x1p62);
    check_fits_in_memory(std::int64_t(bytes),
                         "batch " + std::to_string(options.batch) + " of " +
                             std::to_string(options.patch) + "x" + std::to_string(options.patch) +
                             " patches (lower the batch or the patch size): the network's "
                             "activations and gradients");
}

// Training stops at the first NaN or infinite loss, weight or optimizer state, before the
// epoch is reported, so nothing saved after an epoch ever holds them.
constexpr const char* divergence_causes = " (outliers in the data, or a learning rate too high)";

void expect_finite_loss(double loss, int epoch, int step) {
    if (!std::isfinite(loss))
        throw NumericalError("training diverged: the loss of epoch " + std::to_string(epoch) +
                             ", step " + std::to_string(step + 1) + " is " + std::to_string(loss) +
                             divergence_causes);
}

void expect_finite_weights(const Network& network, int epoch, int step) {
    for (const auto& node : network.nodes()) {
        if (!node.layer) continue;
        for (const Parameter* p : node.layer->parameters()) {
            const NonFiniteReport non_finite = find_non_finite(p->value(), std::size_t(p->size()));
            if (non_finite.count > 0)
                throw NumericalError("training diverged: after epoch " + std::to_string(epoch) +
                                     ", step " + std::to_string(step + 1) + ", layer '" +
                                     node.name + "' weight '" + p->name() + "' holds " +
                                     std::to_string(non_finite.count) + " NaN or infinite values" +
                                     divergence_causes);
        }
    }
}

}  // namespace

Stack apply_to_slices(Context& ctx, Network& network, const Stack& inputs, std::int64_t multiple) {
    const ThreadCountScope threads(ctx.threads());
    const auto& sh = inputs.shape();
    Tensor padded;
    Stack out(sh, PixelType::float32);
    for (std::int64_t i = 0; i < sh.n; ++i)
        forward_padded(ctx, network, inputs.as<float>() + i * sh.h * sh.w, Dims{1, 1, sh.h, sh.w},
                       1, multiple, padded, out.as<float>() + i * sh.h * sh.w);
    return out;
}

std::vector<EpochReport> train_supervised(Context& ctx, Network& network, Optimizer& optimizer,
                                          const Stack& inputs, const Stack& targets,
                                          const Stack* test_inputs, const Stack* test_targets,
                                          const SupervisedTrainingOptions& options,
                                          const std::function<void(const EpochReport&)>& on_epoch) {
    check_pair(inputs, targets, "training");
    if ((test_inputs == nullptr) != (test_targets == nullptr))
        throw InvalidArgument("test inputs and test targets go together");
    if (test_inputs) check_pair(*test_inputs, *test_targets, "test");
    const auto& sh = inputs.shape();
    if (options.epochs < 1 || options.batch < 1 || options.steps_per_epoch < 0)
        throw InvalidArgument("epochs and batch must be >= 1 and steps per epoch >= 0 (got " +
                              std::to_string(options.epochs) + ", " +
                              std::to_string(options.batch) + ", " +
                              std::to_string(options.steps_per_epoch) + ")");
    if (options.patch < 1 || options.patch > sh.h || options.patch > sh.w)
        throw InvalidArgument("patch " + std::to_string(options.patch) +
                              " must be between 1 and the image size " + sh.to_string());

    const Dims batch_dims{options.batch, 1, options.patch, options.patch};
    network.build({batch_dims});  // checks the patch against the network (ShapeError)
    expect_batch_fits(network, options);
    const std::int64_t multiple = downsampling_factor(network);
    const ThreadCountScope threads(ctx.threads());

    const std::int64_t patches_per_image =
        std::max<std::int64_t>(1, (sh.h / options.patch) * (sh.w / options.patch));
    const int steps =
        options.steps_per_epoch > 0
            ? options.steps_per_epoch
            : int(std::max<std::int64_t>(1, sh.n * patches_per_image / options.batch));
    std::mt19937 rng(options.seed);
    std::uniform_int_distribution<std::int64_t> slice(0, sh.n - 1), row(0, sh.h - options.patch),
        col(0, sh.w - options.patch);
    Tensor x(batch_dims), y(batch_dims), grad;
    std::vector<EpochReport> reports;
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        double loss_sum = 0;
        for (int step = 0; step < steps; ++step) {
            for (std::int64_t k = 0; k < options.batch; ++k) {
                const auto s = slice(rng), r = row(rng), c = col(rng);
                copy_patch(inputs, s, r, c, options.patch, x, k);
                copy_patch(targets, s, r, c, options.patch, y, k);
            }
            const Tensor& out = network.forward(ctx, x, Mode::training);
            const double loss = mean_squared_error_loss(out, y, &grad);
            expect_finite_loss(loss, epoch, step);
            loss_sum += loss;
            network.backward(ctx, grad);
            optimizer.step();
            expect_finite_weights(network, epoch, step);
        }
        EpochReport report;
        report.epoch = epoch;
        report.train_loss = loss_sum / steps;
        const std::string bad_state = optimizer.first_non_finite_state();
        if (!bad_state.empty())
            throw NumericalError("training diverged: after epoch " + std::to_string(epoch) +
                                 " the optimizer's state '" + bad_state +
                                 "' holds NaN or infinite values" + divergence_causes);
        if (test_inputs) {
            const Stack outputs = apply_to_slices(ctx, network, *test_inputs, multiple);
            report.test_loss = mean_squared_error(test_targets->as<float>(), outputs.as<float>(),
                                                  std::size_t(outputs.shape().pixels()));
            if (!std::isfinite(report.test_loss))
                throw NumericalError("training diverged: the test loss after epoch " +
                                     std::to_string(epoch) + " is " +
                                     std::to_string(report.test_loss) + divergence_causes);
        }
        report.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        reports.push_back(report);
        if (on_epoch) on_epoch(report);
    }
    return reports;
}

}  // namespace tomodenoise
