#include <gtest/gtest.h>

#include <omp.h>

#include <stdexcept>
#include <vector>

#include "core/network.hpp"
#include "layers/convolution.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/simulate.hpp"
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
    const auto reports = train_supervised(ctx, net, adam, data.train.noisy, data.train.clean,
                                          &t.noisy, &t.clean, opt,
                                          [&](const EpochReport&) { ++calls; });
    ASSERT_EQ(reports.size(), 6u);
    EXPECT_EQ(calls, 6);
    EXPECT_LT(reports.back().train_loss, reports.front().train_loss);
    // A denoiser, not a copier: clearly better than the noisy input on held-out images.
    EXPECT_LT(reports.back().test_loss, 0.7 * noisy_mse)
        << "noisy MSE " << noisy_mse << ", first epoch " << reports.front().test_loss;
    EXPECT_EQ(adam.iterations(), 6 * 25);
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
    train_supervised(ctx, net, adam, images, images, &images, &images, opt,
                     [&](const EpochReport&) { threads_in_epoch.push_back(omp_get_max_threads()); });
    EXPECT_EQ(threads_in_epoch, (std::vector<int>{before + 1, before + 1}));
    EXPECT_EQ(omp_get_max_threads(), before);

    EXPECT_THROW(train_supervised(ctx, net, adam, images, images, &images, &images, opt,
                                  [](const EpochReport&) { throw std::runtime_error("stop"); }),
                 std::runtime_error);
    EXPECT_EQ(omp_get_max_threads(), before);
}

}  // namespace
