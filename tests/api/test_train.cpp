// Training through the public API (include/tomodenoise/train.hpp): data in memory or from a
// training file, checkpoints, callbacks, snapshots, and options out of bounds.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "keras/model_file.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/simulate.hpp"
#include "tomodenoise/threads.hpp"
#include "tomodenoise/train.hpp"
#include "train/optimizer.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TrainingData simulated_training_data(std::int64_t test_count = 2) {
    SimulationOptions sim;
    sim.count = 4;
    sim.test_count = test_count;
    sim.size = 32;
    sim.seed = 5;
    SimulatedDataset data = simulate(sim);
    return {std::move(data.train.noisy), std::move(data.train.clean), std::move(data.test.noisy),
            std::move(data.test.clean)};
}

TrainOptions short_training(const ScratchDir& dir) {
    TrainOptions options;
    options.epochs = 2;
    options.steps_per_epoch = 3;
    options.batch = 2;
    options.patch = 16;
    options.learning_rate = 3e-3;
    options.seed = 7;
    options.checkpoint = dir.file("model.h5");
    return options;
}

// Adam's step count stored with the checkpoint's optimizer state.
std::int64_t saved_iterations(const std::string& checkpoint) {
    Network network = load_network(checkpoint);
    Adam adam(named_parameters(network));
    load_optimizer_state(checkpoint, network, adam);
    return adam.iterations();
}

std::vector<float> apply(Model& model, const Stack& stack) {
    const StackShape& s = stack.shape();
    std::vector<float> output(static_cast<std::size_t>(s.pixels()));
    model.apply(stack.as<float>(), s.n, s.h, s.w, output.data());
    return output;
}

TEST(TrainApi, TrainsFromMemoryCheckpointsEveryEpochAndReportsInOrder) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.snapshots = dir.file("snapshots/nested");
    const float* target = data.test_targets.as<float>();
    const auto [low, high] =
        std::minmax_element(target, target + data.test_targets.shape().pixels());
    const double range = double(*high) - double(*low);

    std::vector<std::string> events;
    TrainingCallbacks callbacks;
    callbacks.on_start = [&] {
        events.push_back("start");
        EXPECT_FALSE(std::filesystem::exists(options.checkpoint));
        EXPECT_TRUE(std::filesystem::is_directory(options.snapshots));
    };
    callbacks.on_epoch = [&](const TrainingEpoch& epoch) {
        events.push_back("epoch " + std::to_string(epoch.epoch));
        EXPECT_TRUE(std::filesystem::exists(options.checkpoint));
        EXPECT_TRUE(std::isfinite(epoch.train_loss) && epoch.train_loss > 0) << epoch.train_loss;
        ASSERT_GT(epoch.test_loss, 0);
        EXPECT_NEAR(epoch.test_psnr, 10 * std::log10(range * range / epoch.test_loss), 1e-9);
        EXPECT_GE(epoch.seconds, 0);
    };
    Model model = train_denoiser(data, options, callbacks);

    EXPECT_EQ(events, (std::vector<std::string>{"start", "epoch 1", "epoch 2"}));
    EXPECT_EQ(saved_iterations(options.checkpoint), 2 * 3);
    for (const char* name : {"epoch_001.png", "epoch_002.png"})
        EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(options.snapshots) / name))
            << name;

    // The model returned is the last one saved.
    EXPECT_EQ(model.input_channels(), 1);
    EXPECT_EQ(model.output_channels(), 1);
    Model saved = Model::load(options.checkpoint);
    const std::vector<float> got = apply(model, data.test_inputs);
    EXPECT_TRUE(within_fraction_of_range(got, apply(saved, data.test_inputs), 1e-5));
    EXPECT_GT(std::count_if(got.begin(), got.end(), [](float v) { return v != 0; }),
              std::ptrdiff_t(got.size() / 2));

    // Resuming continues the optimizer's steps from the checkpoint, written back in place.
    options.resume = options.checkpoint;
    options.epochs = 1;
    options.snapshots.clear();
    train_denoiser(data, options);
    EXPECT_EQ(saved_iterations(options.checkpoint), 3 * 3);
}

TEST(TrainApi, WithoutTestDataReportsNoTestLossAndWritesNoSnapshot) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data(0);
    ASSERT_EQ(data.test_inputs.shape().n, 0);
    TrainOptions options = short_training(dir);
    options.epochs = 1;
    options.checkpoint.clear();  // nothing saved
    options.snapshots = dir.file("snapshots");
    int epochs = 0;
    TrainingCallbacks callbacks;
    callbacks.on_epoch = [&](const TrainingEpoch& epoch) {
        ++epochs;
        EXPECT_EQ(epoch.test_loss, -1);
        EXPECT_TRUE(std::isnan(epoch.test_psnr)) << epoch.test_psnr;
    };
    train_denoiser(data, options, callbacks);
    EXPECT_EQ(epochs, 1);
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"snapshots"});
    EXPECT_TRUE(folder_entries(options.snapshots).empty());
}

TEST(TrainApi, OptionsOutOfBoundsAreNamedBeforeAnyWork) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    const std::pair<void (*)(TrainOptions&), const char*> cases[] = {
        {[](TrainOptions& o) { o.epochs = 0; }, "TrainOptions::epochs"},
        {[](TrainOptions& o) { o.batch = 0; }, "TrainOptions::batch"},
        {[](TrainOptions& o) { o.patch = 0; }, "TrainOptions::patch"},
        {[](TrainOptions& o) { o.steps_per_epoch = -1; }, "TrainOptions::steps_per_epoch"},
        {[](TrainOptions& o) { o.learning_rate = 0; }, "TrainOptions::learning_rate"},
        {[](TrainOptions& o) { o.learning_rate = std::nan(""); }, "TrainOptions::learning_rate"},
        {[](TrainOptions& o) { o.threads = -1; }, "TrainOptions::threads"},
        {[](TrainOptions& o) { o.threads = max_threads() + 1; }, "TrainOptions::threads"},
    };
    for (const auto& [change, field] : cases) {
        SCOPED_TRACE(field);
        TrainOptions options = short_training(dir);
        change(options);
        TrainingCallbacks callbacks;
        callbacks.on_start = [] { ADD_FAILURE() << "training started"; };
        expect_error_naming<InvalidArgument>([&] { train_denoiser(data, options, callbacks); },
                                             {field});
    }
    EXPECT_TRUE(folder_entries(dir.path()).empty());
}

TEST(TrainApi, DataThatIsNotFloat32IsNamed) {
    TrainingData data = simulated_training_data();
    data.targets = Stack(data.targets.shape(), PixelType::uint16);
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data); },
                                         {"TrainingData::targets", "uint16"});
}

TEST(TrainApi, AnUnwritableSnapshotFolderFailsBeforeTraining) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    write_hdf5_stack({dir.file("file.h5"), "/x"}, data.targets);
    options.snapshots = dir.file("file.h5") + "/snapshots";  // below a file
    TrainingCallbacks callbacks;
    callbacks.on_start = [] { ADD_FAILURE() << "training started"; };
    expect_error_naming<IoError>([&] { train_denoiser(data, options, callbacks); },
                                 {"TrainOptions::snapshots", options.snapshots});
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"file.h5"});
}

TEST(TrainApi, ReadsEitherLayoutAsFloat32WithTheTestOptional) {
    ScratchDir dir;
    const std::string file = dir.file("n2n.h5");
    Stack a({2, 8, 8}, PixelType::uint16), b({2, 8, 8}, PixelType::float64);
    for (std::int64_t i = 0; i < a.shape().pixels(); ++i) {
        a.as<std::uint16_t>()[i] = static_cast<std::uint16_t>(1000 + 7 * i);
        b.as<double>()[i] = 0.25 * double(i);
    }
    write_hdf5_stack({file, "/train_a"}, a);
    write_hdf5_stack({file, "/train_b"}, b);

    const TrainingData data = read_training_file(file, TrainingLayout::noise2noise);
    ASSERT_EQ(data.inputs.type(), PixelType::float32);
    ASSERT_EQ(data.targets.type(), PixelType::float32);
    EXPECT_EQ(data.inputs.shape(), a.shape());
    EXPECT_EQ(data.inputs.to_float(), a.to_float());
    EXPECT_EQ(data.targets.to_float(), b.to_float());
    EXPECT_EQ(data.test_inputs.shape().n, 0);  // no /test_a, /test_clean: no test
    EXPECT_EQ(data.test_targets.shape().n, 0);

    // The TomoGAN layout's datasets are not in this file.
    expect_error_naming<Error>([&] { read_training_file(file, TrainingLayout::tomogan); },
                               {"n2n.h5", "/train_ns"});
}

}  // namespace
