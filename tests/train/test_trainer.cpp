#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/network.hpp"
#include "layers/convolution.hpp"
#include "models/cnn_denoiser.hpp"
#include "models/tomogan_generator.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"
#include "tomodenoise/simulate.hpp"
#include "train/loss.hpp"
#include "train/optimizer.hpp"
#include "train/trainer.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

Network small_denoiser() {
    Network net;
    net.add_input("input", 1);
    ConvolutionConfig hidden;
    hidden.filters = 8;
    hidden.activation = Activation::relu();
    net.add<ConvolutionLayer>({"input"}, "conv2d", hidden);
    net.add<ConvolutionLayer>({"conv2d"}, "conv2d_1", hidden);
    ConvolutionConfig out;
    out.filters = 1;
    net.add<ConvolutionLayer>({"conv2d_1"}, "conv2d_2", out);
    return net;
}

// small_denoiser with its parameters, as an optimizer needs them.
Network built_denoiser() {
    Network net = small_denoiser();
    net.build({Dims{1, 1, 16, 16}});
    net.initialize(1);
    return net;
}

// Data of `count` noisy and clean shapes images (and 2 test images) of side `size`.
TrainingData shapes_data(std::int64_t count, std::int64_t size, std::uint32_t seed,
                         double sigma = 0.1) {
    SimulationOptions sim;
    sim.count = count;
    sim.test_count = 2;
    sim.size = size;
    sim.sigma = sigma;
    sim.seed = seed;
    SimulatedDataset data = simulate(sim);
    return {std::move(data.train.noisy), std::move(data.train.clean), std::move(data.test.noisy),
            std::move(data.test.clean)};
}

TrainerPlan plan_of(int iterations, int batch, std::int64_t patch) {
    TrainerPlan plan;
    plan.options.iterations = iterations;
    plan.options.batch = batch;
    plan.options.patch = patch;
    plan.options.depth = 1;
    plan.options.validate_every = iterations;
    return plan;
}

TEST(Trainer, LearnsToDenoiseSimulatedShapes) {
    const TrainingData data = shapes_data(8, 48, 3, 0.2);
    const auto& t = data.test_inputs;
    const double noisy_mse = mean_squared_error(data.test_targets.as<float>(), t.as<float>(),
                                                std::size_t(t.shape().pixels()));

    Context ctx;
    Network net = small_denoiser();
    net.build({Dims{4, 1, 32, 32}});
    net.initialize(1);
    AdamConfig adam_config;
    adam_config.learning_rate = 3e-3;
    Adam adam(named_parameters(net), adam_config);
    TrainerPlan plan = plan_of(150, 4, 32);
    plan.options.validate_every = 25;
    std::vector<TrainingValidation> validations;
    std::int64_t progress_calls = 0;
    TrainingCallbacks callbacks;
    callbacks.on_validation = [&](const TrainingValidation& v) { validations.push_back(v); };
    callbacks.on_progress = [&](const TrainingProgress& p) {
        EXPECT_EQ(p.iteration, ++progress_calls);
        EXPECT_EQ(p.iterations, 150);
        EXPECT_GE(p.data_wait_fraction, 0);
        EXPECT_LE(p.data_wait_fraction, 1);
    };
    const TrainerOutcome outcome = run_trainer(ctx, net, adam, data, plan, callbacks, {});
    ASSERT_EQ(validations.size(), 6u);
    EXPECT_EQ(progress_calls, 150);
    EXPECT_EQ(outcome.summary.iteration, 150);
    EXPECT_FALSE(outcome.stopped);
    EXPECT_LT(validations.back().train_loss, validations.front().train_loss);
    // A denoiser, not a copier: clearly better than the noisy input on held-out images.
    EXPECT_LT(validations.back().test_loss, 0.7 * noisy_mse)
        << "noisy MSE " << noisy_mse << ", first validation " << validations.front().test_loss;
    EXPECT_GT(validations.back().ssim, 0);
    EXPECT_LT(validations.back().ssim, 1);
    EXPECT_EQ(adam.iterations(), 150);
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const NumericalError& e) {
        return e.what();
    }
    return "";
}

TEST(Trainer, StopsBeforeCheckpointingAStepWhoseLossIsNotFinite) {
    // One huge target pixel in slice 2 only: the first step with a patch of slice 2 overflows.
    TrainingData data = shapes_data(3, 16, 4);
    data.targets.as<float>()[2 * 16 * 16 + 5 * 16 + 7] = 3e38f;
    Context ctx;
    Network net = built_denoiser();
    Adam adam(named_parameters(net));
    TrainerPlan plan = plan_of(40, 1, 16);
    plan.options.checkpoint_every = 1;
    std::vector<std::int64_t> checkpoints;
    TrainerHooks hooks;
    hooks.checkpoint = [&](std::int64_t i) { checkpoints.push_back(i); };
    const std::string msg = message_of([&] { run_trainer(ctx, net, adam, data, plan, {}, hooks); });
    ASSERT_FALSE(msg.empty());
    const std::int64_t last = checkpoints.empty() ? 0 : checkpoints.back();
    EXPECT_EQ(std::int64_t(checkpoints.size()), last);  // one per step until then
    EXPECT_NE(msg.find("training diverged"), std::string::npos) << msg;
    EXPECT_NE(msg.find("step " + std::to_string(last + 1)), std::string::npos) << msg;
}

TEST(Trainer, RefusesNonFiniteDataNamingTheStackAndSlice) {
    TrainingData data = shapes_data(3, 16, 4);
    data.inputs.as<float>()[2 * 16 * 16 + 5 * 16 + 7] = std::numeric_limits<float>::quiet_NaN();
    data.inputs_name = "'f.h5:/train_ns'";
    Context ctx;
    Network net = built_denoiser();
    Adam adam(named_parameters(net));
    expect_error_naming<InvalidArgument>(
        [&] { run_trainer(ctx, net, adam, data, plan_of(2, 1, 16), {}, {}); },
        {"'f.h5:/train_ns'", "slice 2"});
}

TEST(Trainer, RefusesABatchWhoseActivationsExceedTheMachinesMemory) {
    Context ctx;
    Network net = built_denoiser();
    Adam adam(named_parameters(net));
    const Stack a({2, 64, 64}, PixelType::float32);
    std::string msg;
    try {
        run_trainer(ctx, net, adam, {a, a, {}, {}}, plan_of(1, 1000000000, 64), {}, {});
    } catch (const InvalidArgument& e) {
        msg = e.what();
    }
    EXPECT_NE(msg.find("batch 1000000000"), std::string::npos) << msg;
    EXPECT_NE(msg.find("GiB"), std::string::npos) << msg;
}

TEST(Trainer, RejectsMismatchedStacksPatchAndDepth) {
    Context ctx;
    Network net = built_denoiser();
    Adam adam(named_parameters(net));
    const Stack a({2, 16, 16}, PixelType::float32), b({3, 16, 16}, PixelType::float32);
    expect_error_naming<ShapeError>(
        [&] {
            run_trainer(ctx, net, adam, {a, b, {}, {}}, plan_of(1, 1, 8), {}, {});
        },
        {"TrainingData::inputs", "TrainingData::targets", "(3, 16, 16)"});
    expect_error_naming<InvalidArgument>(
        [&] {
            run_trainer(ctx, net, adam, {a, a, {}, {}}, plan_of(1, 1, 32), {}, {});
        },
        {"TrainOptions::patch 32", "(2, 16, 16)"});
    TrainerPlan deep = plan_of(1, 1, 8);
    deep.options.depth = 3;  // more than the 2 slices
    expect_error_naming<InvalidArgument>(
        [&] {
            run_trainer(ctx, net, adam, {a, a, {}, {}}, deep, {}, {});
        },
        {"TrainOptions::depth", "got 3"});
}

TEST(Trainer, RunsWithTheContextsThreadsAndRestoresTheCallersOnReturnAndThrow) {
    const int before = omp_get_max_threads();
    Context ctx(before + 1);
    ASSERT_EQ(omp_get_max_threads(), before);
    Network net = built_denoiser();
    Adam adam(named_parameters(net));
    const Stack images = Stack::from_float({2, 16, 16}, random_values(2 * 16 * 16, 5).data());
    TrainerPlan plan = plan_of(2, 1, 16);
    plan.options.validate_every = 1;
    std::vector<int> threads_in_validation;
    TrainingCallbacks callbacks;
    callbacks.on_validation = [&](const TrainingValidation&) {
        threads_in_validation.push_back(omp_get_max_threads());
    };
    run_trainer(ctx, net, adam, {images, images, images, images}, plan, callbacks, {});
    EXPECT_EQ(threads_in_validation, (std::vector<int>{before + 1, before + 1}));
    EXPECT_EQ(omp_get_max_threads(), before);

    plan.options.iterations = 4;
    callbacks.on_validation = [](const TrainingValidation&) { throw std::runtime_error("stop"); };
    EXPECT_THROW(run_trainer(ctx, net, adam, {images, images, images, images}, plan, callbacks, {}),
                 std::runtime_error);
    EXPECT_EQ(omp_get_max_threads(), before);
}

TEST(Trainer, StopRequestedCheckpointsTheStepReachedAndEndsEarly) {
    const TrainingData data = shapes_data(3, 16, 4);
    Context ctx;
    Network net = built_denoiser();
    Adam adam(named_parameters(net));
    TrainerPlan plan = plan_of(50, 1, 16);
    plan.options.checkpoint_every = 10;
    std::int64_t steps = 0;
    std::vector<std::int64_t> checkpoints;
    TrainingCallbacks callbacks;
    callbacks.on_progress = [&](const TrainingProgress& p) { steps = p.iteration; };
    TrainerHooks hooks;
    hooks.stop_requested = [&] { return steps == 13; };
    hooks.checkpoint = [&](std::int64_t i) { checkpoints.push_back(i); };
    const TrainerOutcome outcome = run_trainer(ctx, net, adam, data, plan, callbacks, hooks);
    EXPECT_TRUE(outcome.stopped);
    EXPECT_EQ(outcome.summary.iteration, 13);
    EXPECT_EQ(checkpoints, (std::vector<std::int64_t>{10, 13}));
}

TEST(Trainer, SegmentationLearnsWithWeightedCrossEntropyAndReportsIouAndDice) {
    SimulationOptions sim;
    sim.kind = SimulationKind::seg;
    sim.count = 6;
    sim.test_count = 2;
    sim.size = 32;
    sim.seed = 2;
    SimulatedDataset sets = simulate(sim);
    const Stack labels =
        Stack::from_float(sets.train.labels.shape(), sets.train.labels.to_float().data());
    const Stack test_labels =
        Stack::from_float(sets.test.labels.shape(), sets.test.labels.to_float().data());
    const TrainingData data{sets.train.noisy, labels, sets.test.noisy, test_labels};
    CnnDenoiserConfig config;
    config.output_channels = 4;
    Context ctx;
    Network net = build_cnn_denoiser(config);
    AdamConfig adam_config;
    adam_config.learning_rate = 1e-2;
    Adam adam(named_parameters(net), adam_config);
    TrainerPlan plan = plan_of(60, 4, 32);
    plan.options.mode = TrainingMode::seg;
    plan.options.classes = 4;
    plan.options.class_weights = {1, 2, 2, 2};
    plan.options.validate_every = 20;
    std::vector<TrainingValidation> validations;
    TrainingCallbacks callbacks;
    callbacks.on_validation = [&](const TrainingValidation& v) { validations.push_back(v); };
    run_trainer(ctx, net, adam, data, plan, callbacks, {});
    ASSERT_EQ(validations.size(), 3u);
    EXPECT_LT(validations.back().test_loss, validations.front().test_loss);
    for (const auto& v : validations) {
        ASSERT_EQ(v.iou.size(), 4u);
        ASSERT_EQ(v.dice.size(), 4u);
        EXPECT_TRUE(std::isnan(v.psnr));
        for (std::size_t k = 0; k < 4; ++k) {
            if (std::isnan(v.iou[k])) continue;
            EXPECT_GE(v.iou[k], 0);
            EXPECT_LE(v.iou[k], v.dice[k]);  // Dice = 2 IoU / (1 + IoU) >= IoU
            EXPECT_NEAR(v.dice[k], 2 * v.iou[k] / (1 + v.iou[k]), 1e-12);
        }
    }
    EXPECT_GT(validations.back().mean_iou, validations.front().mean_iou)
        << validations.front().mean_iou << " -> " << validations.back().mean_iou;
}

TEST(Trainer, LabelsOutsideTheClassesAreNamedWithTheirSlice) {
    const Stack images({3, 16, 16}, PixelType::float32);
    Stack labels({3, 16, 16}, PixelType::float32);
    labels.as<float>()[2 * 256 + 9] = 4;
    TrainingData data{images, labels, {}, {}};
    data.targets_name = "'seg.h5:/train_labels'";
    CnnDenoiserConfig config;
    config.output_channels = 4;
    Context ctx;
    Network net = build_cnn_denoiser(config);
    Adam adam(named_parameters(net));
    TrainerPlan plan = plan_of(1, 1, 16);
    plan.options.mode = TrainingMode::seg;
    plan.options.classes = 4;
    expect_error_naming<InvalidArgument>([&] { run_trainer(ctx, net, adam, data, plan, {}, {}); },
                                         {"'seg.h5:/train_labels'", "slice 2", "label 4", "0..3"});
    labels.as<float>()[2 * 256 + 9] = 1.5f;
    data.targets = labels;
    expect_error_naming<InvalidArgument>([&] { run_trainer(ctx, net, adam, data, plan, {}, {}); },
                                         {"slice 2", "label 1.5"});
}

TEST(Trainer, Noise2SelfLearnsFromNoisyImagesOnly) {
    TrainingData data = shapes_data(8, 32, 6, 0.2);
    data.targets = Stack();  // n2s needs none
    const double noisy_mse =
        mean_squared_error(data.test_targets.as<float>(), data.test_inputs.as<float>(),
                           std::size_t(data.test_inputs.shape().pixels()));
    Context ctx;
    Network net = built_denoiser();
    AdamConfig adam_config;
    adam_config.learning_rate = 3e-3;
    Adam adam(named_parameters(net), adam_config);
    TrainerPlan plan = plan_of(150, 8, 32);
    plan.options.mode = TrainingMode::n2s;
    plan.options.mask_mode = MaskMode::interpolate;
    std::vector<TrainingValidation> validations;
    TrainingCallbacks callbacks;
    callbacks.on_validation = [&](const TrainingValidation& v) { validations.push_back(v); };
    run_trainer(ctx, net, adam, data, plan, callbacks, {});
    ASSERT_EQ(validations.size(), 1u);
    EXPECT_LT(validations.back().test_loss, 0.8 * noisy_mse) << "noisy MSE " << noisy_mse;
}

// A U-Net small enough for a test whose skip concatenations have whole 16-channel blocks:
// where oneDNN picks nChw16c, inference writes the skips straight into the concatenations.
TomoGanGeneratorConfig small_unet_config() {
    TomoGanGeneratorConfig config;
    config.levels = 2;
    config.seed = 5;
    return config;
}

// The losses of a short U-Net training run with `algorithm`'s convolutions, and whether the
// library's Winograd kernel ran.
std::vector<double> unet_losses(ConvolutionAlgorithm algorithm, const TrainingData& data,
                                bool& own_winograd) {
    Context ctx;
    ctx.set_convolution_algorithm(algorithm);
    Network net = build_tomogan_generator(small_unet_config());
    Adam adam(named_parameters(net));
    TrainerPlan plan = plan_of(40, 2, 32);
    std::vector<double> losses;
    TrainingCallbacks callbacks;
    callbacks.on_progress = [&](const TrainingProgress& p) { losses.push_back(p.loss); };
    run_trainer(ctx, net, adam, data, plan, callbacks, {});
    own_winograd = false;
    for (const auto& node : net.nodes())
        if (const auto* conv = dynamic_cast<const ConvolutionLayer*>(node.layer.get()))
            own_winograd |= conv->implementation().find("tomodenoise") != std::string::npos;
    return losses;
}

TEST(Trainer, WinogradTrainingFollowsTheDirectLossCurve) {
    const TrainingData data = shapes_data(8, 48, 17);
    bool fast_ran_own = false, direct_ran_own = true;
    const auto fast = unet_losses(ConvolutionAlgorithm::automatic, data, fast_ran_own);
    const auto direct = unet_losses(ConvolutionAlgorithm::direct, data, direct_ran_own);
    EXPECT_EQ(fast_ran_own, WinogradConvolution::cpu_supported());
    EXPECT_FALSE(direct_ran_own);
    ASSERT_EQ(fast.size(), 40u);
    ASSERT_EQ(direct.size(), 40u);
    // Winograd rounds differently (relative 1e-6 per gradient, ConvolutionBackward tests);
    // over 40 Adam steps the losses measured within 1e-6 of each other, relative. A wrong
    // gradient in any pass parts them by far more than the stated 1e-4.
    constexpr double tolerance = 1e-4;
    for (std::size_t i = 0; i < fast.size(); ++i)
        EXPECT_NEAR(fast[i], direct[i], tolerance * direct[i]) << "step " << i + 1;
    EXPECT_LT(direct.back(), 0.5 * direct.front()) << "the run learns nothing: proves little";
}

// A network that has only ever run inference, holding `trained`'s weights.
Network fresh_copy(Network& trained) {
    Network fresh = build_tomogan_generator(small_unet_config());
    const auto from = trained.parameters(), to = fresh.parameters();
    EXPECT_EQ(from.size(), to.size());
    for (std::size_t k = 0; k < from.size() && k < to.size(); ++k) {
        std::copy_n(from[k]->value(), from[k]->size(), to[k]->value());
        to[k]->mark_changed();
    }
    return fresh;
}

Tensor ramp(const Dims& dims, float phase) {
    Tensor t(dims);
    for (std::int64_t i = 0; i < dims.count(); ++i)
        t.data()[i] = 0.5f + 0.4f * std::sin(0.37f * float(i) + phase);
    return t;
}

void train_step(Context& ctx, Network& net, Adam& adam, const Dims& batch, float phase) {
    const Tensor x = ramp(batch, phase), y = ramp(batch, phase + 0.1f);
    Tensor grad;
    mean_squared_error_loss(net.forward(ctx, x, Mode::training), y, &grad);
    net.backward(ctx, grad);
    adam.step();
}

void expect_same_as_fresh_network(Context& ctx, Network& net, const Dims& image, float phase) {
    const Tensor x = ramp(image, phase);
    const Tensor got = net.forward(ctx, x, Mode::inference);
    Network fresh = fresh_copy(net);
    const Tensor& want = fresh.forward(ctx, x, Mode::inference);
    ASSERT_EQ(got.dims(), want.dims()) << "input " << image.to_string();
    std::int64_t nonzero = 0;
    for (std::int64_t i = 0; i < want.dims().count(); ++i) {
        ASSERT_NEAR(got.data()[i], want.data()[i], 1e-5f * (1 + std::abs(want.data()[i])))
            << "index " << i << " of " << want.dims().to_string();
        nonzero += want.data()[i] != 0;
    }
    EXPECT_GT(nonzero, want.dims().count() / 2);
}

TEST(Trainer, UnetInferenceBetweenTrainingStepsMatchesAFreshNetwork) {
    // Inference plans where the U-Net's skips go for its input dims; training in between runs
    // the same layers on other dims. Both shapes run twice: the second run of each follows
    // training, and also reuses the first run's dims.
    Context ctx;
    Network net = build_tomogan_generator(small_unet_config());
    Adam adam(named_parameters(net));
    const Dims batch{3, 1, 16, 16};
    for (const Dims& image : {Dims{1, 1, 32, 32}, Dims{1, 1, 24, 40}}) {
        for (int round = 0; round < 2; ++round) {
            train_step(ctx, net, adam, batch, float(round));
            expect_same_as_fresh_network(ctx, net, image, float(round) + 0.5f);
        }
    }
}

TEST(Trainer, UnetTestLossAtEveryValidationIsTheTrainedNetworks) {
    TrainingData data = shapes_data(4, 32, 7);
    Context ctx;
    Network net = build_tomogan_generator(small_unet_config());
    Adam adam(named_parameters(net));
    TrainerPlan plan = plan_of(6, 3, 16);
    plan.options.validate_every = 2;
    int validations = 0;
    TrainingCallbacks callbacks;
    callbacks.on_validation = [&](const TrainingValidation& report) {
        ++validations;
        Network fresh = fresh_copy(net);
        const auto out = apply_to_slices(ctx, fresh, data.test_inputs, 1, 1, 4);
        double sum = 0;
        const float* t = data.test_targets.as<float>();
        for (std::size_t p = 0; p < out.size(); ++p)
            sum += (double(out[p]) - t[p]) * (double(out[p]) - t[p]);
        const double want = sum / double(out.size());
        EXPECT_NEAR(report.test_loss, want, 1e-5 * want) << "validation " << validations;
    };
    run_trainer(ctx, net, adam, data, plan, callbacks, {});
    EXPECT_EQ(validations, 3);
}

}  // namespace
