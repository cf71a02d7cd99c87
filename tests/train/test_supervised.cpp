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
#include "models/tomogan_generator.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/simulate.hpp"
#include "train/loss.hpp"
#include "train/optimizer.hpp"
#include "train/supervised.hpp"

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

TEST(SupervisedTraining, LearnsToDenoiseSimulatedShapes) {
    SimulationOptions sim;
    sim.count = 8;
    sim.test_count = 2;
    sim.size = 48;
    sim.sigma = 0.2;
    sim.seed = 3;
    const auto data = simulate(sim);
    double noisy_mse = 0;
    const auto& t = data.test;
    for (std::int64_t i = 0; i < t.noisy.shape().pixels(); ++i) {
        const double d = t.noisy.as<float>()[i] - t.clean.as<float>()[i];
        noisy_mse += d * d;
    }
    noisy_mse /= double(t.noisy.shape().pixels());

    Context ctx;
    Network net = small_denoiser();
    net.build({Dims{4, 1, 32, 32}});
    net.initialize(1);
    AdamConfig adam_config;
    adam_config.learning_rate = 3e-3;
    Adam adam(named_parameters(net), adam_config);
    SupervisedTrainingOptions opt;
    opt.epochs = 6;
    opt.batch = 4;
    opt.patch = 32;
    opt.steps_per_epoch = 25;
    int calls = 0;
    const auto reports =
        train_supervised(ctx, net, adam, data.train.noisy, data.train.clean, &t.noisy, &t.clean,
                         opt, [&](const EpochReport&) { ++calls; });
    ASSERT_EQ(reports.size(), 6u);
    EXPECT_EQ(calls, 6);
    EXPECT_LT(reports.back().train_loss, reports.front().train_loss);
    // A denoiser, not a copier: clearly better than the noisy input on held-out images.
    EXPECT_LT(reports.back().test_loss, 0.7 * noisy_mse)
        << "noisy MSE " << noisy_mse << ", first epoch " << reports.front().test_loss;
    EXPECT_EQ(adam.iterations(), 6 * 25);
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const NumericalError& e) {
        return e.what();
    }
    return "";
}

TEST(SupervisedTraining, StopsBeforeReportingAnEpochWhoseLossIsNotFinite) {
    SimulationOptions sim;
    sim.count = 3;
    sim.size = 16;
    sim.seed = 4;
    auto data = simulate(sim);
    Context ctx;
    Network net = small_denoiser();
    net.build({Dims{2, 1, 16, 16}});
    net.initialize(1);
    Adam adam(named_parameters(net));
    SupervisedTrainingOptions opt;
    opt.epochs = 3;
    opt.batch = 2;
    opt.patch = 16;
    opt.steps_per_epoch = 2;
    std::vector<int> reported;
    const std::string msg = message_of([&] {
        train_supervised(ctx, net, adam, data.train.noisy, data.train.clean, nullptr, nullptr, opt,
                         [&](const EpochReport& r) {
                             reported.push_back(r.epoch);
                             // Epoch 2 trains towards infinite targets.
                             float* target = data.train.clean.as<float>();
                             std::fill(target, target + data.train.clean.shape().pixels(),
                                       std::numeric_limits<float>::infinity());
                         });
    });
    EXPECT_EQ(reported, std::vector<int>{1});
    EXPECT_NE(msg.find("epoch 2, step 1"), std::string::npos) << msg;
}

TEST(SupervisedTraining, StopsWhenAWeightIsNoLongerFinite) {
    // One NaN input pixel in each slice: its patch's gradient makes the first kernel NaN, and
    // a ReLU may hide that from the loss. Either way training stops in the first step.
    SimulationOptions sim;
    sim.count = 3;
    sim.size = 16;
    sim.seed = 4;
    auto data = simulate(sim);
    for (std::int64_t slice = 0; slice < 3; ++slice)
        data.train.noisy.as<float>()[slice * 16 * 16 + 5 * 16 + 7] =
            std::numeric_limits<float>::quiet_NaN();
    Context ctx;
    Network net = small_denoiser();
    net.build({Dims{2, 1, 16, 16}});
    net.initialize(1);
    Adam adam(named_parameters(net));
    SupervisedTrainingOptions opt;
    opt.epochs = 2;
    opt.batch = 2;
    opt.patch = 16;
    opt.steps_per_epoch = 2;
    int reported = 0;
    const std::string msg = message_of([&] {
        train_supervised(ctx, net, adam, data.train.noisy, data.train.clean, nullptr, nullptr, opt,
                         [&](const EpochReport&) { ++reported; });
    });
    EXPECT_EQ(reported, 0);
    EXPECT_NE(msg.find("training diverged"), std::string::npos) << msg;
    EXPECT_NE(msg.find("epoch 1, step 1"), std::string::npos) << msg;
}

TEST(SupervisedTraining, RefusesABatchWhoseActivationsExceedTheMachinesMemory) {
    Context ctx;
    Network net = small_denoiser();
    net.build({Dims{1, 1, 16, 16}});
    Adam adam(named_parameters(net));
    const Stack a({2, 64, 64}, PixelType::float32);
    SupervisedTrainingOptions opt;
    opt.patch = 64;
    opt.batch = 1000000000;
    std::string msg;
    try {
        train_supervised(ctx, net, adam, a, a, nullptr, nullptr, opt);
    } catch (const InvalidArgument& e) {
        msg = e.what();
    }
    EXPECT_NE(msg.find("batch 1000000000"), std::string::npos) << msg;
    EXPECT_NE(msg.find("GiB"), std::string::npos) << msg;
}

TEST(SupervisedTraining, RejectsMismatchedStacksAndOptions) {
    Context ctx;
    Network net = small_denoiser();
    net.build({Dims{1, 1, 16, 16}});
    Adam adam(named_parameters(net));
    const Stack a({2, 16, 16}, PixelType::float32), b({3, 16, 16}, PixelType::float32);
    SupervisedTrainingOptions opt;
    opt.patch = 8;
    EXPECT_THROW(train_supervised(ctx, net, adam, a, b, nullptr, nullptr, opt), ShapeError);
    opt.patch = 32;
    EXPECT_THROW(train_supervised(ctx, net, adam, a, a, nullptr, nullptr, opt), InvalidArgument);
    opt.patch = 8;
    opt.epochs = 0;
    EXPECT_THROW(train_supervised(ctx, net, adam, a, a, nullptr, nullptr, opt), InvalidArgument);
}

TEST(SupervisedTraining, RunsWithTheContextsThreadsAndRestoresTheCallersOnReturnAndThrow) {
    const int before = omp_get_max_threads();
    Context ctx(before + 1);
    ASSERT_EQ(omp_get_max_threads(), before);
    Network net = small_denoiser();
    net.build({Dims{1, 1, 16, 16}});
    net.initialize(1);
    Adam adam(named_parameters(net));
    const Stack images = Stack::from_float({2, 16, 16}, random_values(2 * 16 * 16, 5).data());
    SupervisedTrainingOptions opt;
    opt.epochs = 2;
    opt.batch = 1;
    opt.patch = 16;
    opt.steps_per_epoch = 1;
    std::vector<int> threads_in_epoch;
    train_supervised(
        ctx, net, adam, images, images, &images, &images, opt,
        [&](const EpochReport&) { threads_in_epoch.push_back(omp_get_max_threads()); });
    EXPECT_EQ(threads_in_epoch, (std::vector<int>{before + 1, before + 1}));
    EXPECT_EQ(omp_get_max_threads(), before);

    EXPECT_THROW(train_supervised(ctx, net, adam, images, images, &images, &images, opt,
                                  [](const EpochReport&) { throw std::runtime_error("stop"); }),
                 std::runtime_error);
    EXPECT_EQ(omp_get_max_threads(), before);
}

// A U-Net small enough for a test whose skip concatenations have whole 16-channel blocks:
// where oneDNN picks nChw16c, inference writes the skips straight into the concatenations.
TomoGanGeneratorConfig small_unet_config() {
    TomoGanGeneratorConfig config;
    config.levels = 2;
    config.seed = 5;
    return config;
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

TEST(SupervisedTraining, UnetInferenceBetweenTrainingStepsMatchesAFreshNetwork) {
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

TEST(SupervisedTraining, UnetTestLossAfterEveryEpochIsTheTrainedNetworks) {
    SimulationOptions sim;
    sim.count = 4;
    sim.test_count = 2;
    sim.size = 32;
    sim.seed = 7;
    const auto data = simulate(sim);
    Context ctx;
    Network net = build_tomogan_generator(small_unet_config());
    Adam adam(named_parameters(net));
    SupervisedTrainingOptions opt;
    opt.epochs = 3;
    opt.batch = 3;
    opt.patch = 16;
    opt.steps_per_epoch = 2;
    int epochs = 0;
    train_supervised(ctx, net, adam, data.train.noisy, data.train.clean, &data.test.noisy,
                     &data.test.clean, opt, [&](const EpochReport& report) {
                         ++epochs;
                         Network fresh = fresh_copy(net);
                         const Stack out = apply_to_slices(ctx, fresh, data.test.noisy, 4);
                         double sum = 0;
                         const float* o = out.as<float>();
                         const float* t = data.test.clean.as<float>();
                         for (std::int64_t p = 0; p < out.shape().pixels(); ++p)
                             sum += (double(o[p]) - t[p]) * (double(o[p]) - t[p]);
                         const double want = sum / double(out.shape().pixels());
                         EXPECT_NEAR(report.test_loss, want, 1e-5 * want) << "epoch " << epochs;
                     });
    EXPECT_EQ(epochs, 3);
}

}  // namespace
