// Noise2Inverse through the public API: the X:1 pairs from K sub-reconstructions, training in
// mode n2i recording K in the model's recipe, and the options it refuses.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/infer.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/reconstruct.hpp"
#include "tomodenoise/train.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

std::vector<Stack> random_splits(int count, StackShape shape) {
    std::vector<Stack> splits;
    for (int k = 0; k < count; ++k)
        splits.push_back(Stack::from_float(
            shape, random_values(std::size_t(shape.pixels()), std::uint32_t(10 + k)).data()));
    return splits;
}

TEST(Noise2Inverse, PairsAreTheMeanOfTheOthersAndTheLeftOutSplit) {
    const StackShape shape{2, 5, 7};
    const std::vector<Stack> splits = random_splits(3, shape);
    const Stack clean = splits[0];
    const TrainingData data = noise2inverse_training_data(splits, &clean);
    ASSERT_EQ(data.inputs.shape(), (StackShape{6, 5, 7}));
    ASSERT_EQ(data.targets.shape(), (StackShape{6, 5, 7}));
    const std::int64_t plane = shape.pixels();
    for (int j = 0; j < 3; ++j)
        for (std::int64_t p = 0; p < plane; ++p) {
            double others = 0;
            for (int k = 0; k < 3; ++k)
                if (k != j) others += splits[k].as<float>()[p];
            ASSERT_NEAR(data.inputs.as<float>()[j * plane + p], others / 2, 1e-6) << j << " " << p;
            ASSERT_EQ(data.targets.as<float>()[j * plane + p], splits[j].as<float>()[p]);
        }
    // Validated on the mean of splits 1..K-1 against the clean reference.
    ASSERT_EQ(data.test_inputs.shape(), shape);
    for (std::int64_t p = 0; p < plane; ++p)
        ASSERT_NEAR(data.test_inputs.as<float>()[p],
                    (splits[1].as<float>()[p] + splits[2].as<float>()[p]) / 2, 1e-6);
    EXPECT_EQ(noise2inverse_training_data(splits).test_inputs.shape().pixels(), 0);
}

TEST(Noise2Inverse, SplitsOfAnotherShapeAreNamed) {
    std::vector<Stack> splits = random_splits(3, {2, 5, 7});
    splits[2] = random_splits(1, {2, 5, 6})[0];
    expect_error_naming<ShapeError>(
        [&] {
            noise2inverse_training_data(splits, nullptr, {"a", "b", "c.h5:/rec"});
        },
        {"'c.h5:/rec'", "(2, 5, 6)", "(2, 5, 7)"});
    expect_error_naming<ShapeError>([&] { noise2inverse_training_data({splits[0]}); },
                                    {"at least 2"});
}

TEST(Noise2Inverse, TrainsAndRecordsTheSplitsInTheModel) {
    ScratchDir dir;
    const std::vector<Stack> splits = random_splits(3, {2, 24, 24});
    const TrainingData data = noise2inverse_training_data(splits, &splits[0]);
    TrainOptions options;
    options.mode = TrainingMode::n2i;
    options.splits = 3;
    options.iterations = 2;
    options.batch = 2;
    options.patch = 16;
    options.checkpoint = dir.file("n2i.h5");
    const Model model = train_denoiser(data, options);
    EXPECT_EQ(model.recipe().mode, TrainingMode::n2i);
    EXPECT_EQ(model.recipe().splits, 3);
    const Model loaded = Model::load(dir.file("n2i.h5"));
    EXPECT_EQ(loaded.recipe().splits, 3);
    EXPECT_EQ(parse_train_mode("n2i"), TrainingMode::n2i);

    options.splits = 1;
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data, options); },
                                         {"TrainOptions::splits", "1"});
    options.splits = 3;
    options.depth = 3;
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data, options); },
                                         {"TrainOptions::depth", "n2i"});
}

// A checkpoint trained on K splits resumes only with K: its inputs were means of K - 1 splits,
// and the recipe it keeps tells inference to average K predictions.
TEST(Noise2Inverse, ResumingWithAnotherNumberOfSplitsIsRefusedBeforeTraining) {
    ScratchDir dir;
    TrainOptions options;
    options.mode = TrainingMode::n2i;
    options.splits = 3;
    options.iterations = 1;
    options.batch = 2;
    options.patch = 16;
    options.checkpoint = dir.file("n2i.h5");
    train_denoiser(noise2inverse_training_data(random_splits(3, {2, 24, 24})), options);

    options.resume = options.checkpoint;
    options.checkpoint = dir.file("resumed.h5");
    options.iterations = 2;
    options.splits = 4;
    const TrainingData four = noise2inverse_training_data(random_splits(4, {2, 24, 24}));
    bool started = false;
    TrainingCallbacks callbacks;
    callbacks.on_start = [&] { started = true; };
    expect_error_naming<InvalidArgument>([&] { train_denoiser(four, options, callbacks); },
                                         {"TrainOptions::splits 4", "3 splits", options.resume});
    EXPECT_FALSE(started);
    EXPECT_FALSE(std::filesystem::exists(options.checkpoint));

    options.splits = 3;
    const Model resumed =
        train_denoiser(noise2inverse_training_data(random_splits(3, {2, 24, 24})), options);
    EXPECT_EQ(resumed.recipe().splits, 3);
}

TEST(Noise2Inverse, ReadsTheSplitsBesideTheReconstruction) {
    ScratchDir dir;
    const std::vector<Stack> splits = random_splits(2, {2, 8, 8});
    const std::string reconstruction = dir.file("rec.h5") + ":/rec";
    write_hdf5_stack(DatasetAddress::parse(split_location(reconstruction, 0)), splits[0]);
    expect_error_naming<IoError>(
        [&] { read_noise2inverse_data(reconstruction, 2); },
        {"rec.split1.h5", "sub-reconstruction 1 of 2", "reconstruct_stack --splits 2"});
    write_hdf5_stack(DatasetAddress::parse(split_location(reconstruction, 1)), splits[1]);
    EXPECT_EQ(read_noise2inverse_data(reconstruction, 2).inputs.shape(), (StackShape{4, 8, 8}));
}

// denoise_stack with an n2i model: the mean over j of the model applied to the mean of the
// splits but j, slice by slice.
TEST(Noise2Inverse, DenoiseStackAveragesThePredictionsOfTheKInputs) {
    ScratchDir dir;
    const StackShape shape{3, 24, 20};
    const std::vector<Stack> splits = random_splits(3, shape);
    TrainOptions options;
    options.mode = TrainingMode::n2i;
    options.splits = 3;
    options.iterations = 3;
    options.batch = 2;
    options.patch = 16;
    options.normalization = NormalizationSpec{};  // none: Model::apply below sees the same
    options.checkpoint = dir.file("n2i.h5");
    Model model = train_denoiser(noise2inverse_training_data(splits), options);

    const std::string reconstruction = dir.file("rec.h5") + ":/rec";
    DenoiseStackOptions denoise;
    denoise.model = options.checkpoint;
    denoise.input = reconstruction;
    denoise.output = dir.file("out.h5") + ":/den";
    denoise.tile = 0;
    write_hdf5_stack(DatasetAddress::parse(reconstruction), splits[0]);
    write_hdf5_stack(DatasetAddress::parse(split_location(reconstruction, 0)), splits[0]);
    write_hdf5_stack(DatasetAddress::parse(split_location(reconstruction, 1)), splits[1]);
    expect_error_naming<IoError>([&] { denoise_stack(denoise); },
                                 {"rec.split2.h5", "Noise2Inverse model of 3 splits"});
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.h5")));
    write_hdf5_stack(DatasetAddress::parse(split_location(reconstruction, 2)), splits[2]);
    const DenoiseStackResult result = denoise_stack(denoise);
    EXPECT_EQ(result.shape, shape);

    const std::int64_t plane = shape.h * shape.w;
    std::vector<float> want(static_cast<std::size_t>(shape.pixels()), 0.0f);
    std::vector<float> input(static_cast<std::size_t>(plane)), output(input.size());
    for (std::int64_t i = 0; i < shape.n; ++i)
        for (int j = 0; j < 3; ++j) {
            for (std::int64_t p = 0; p < plane; ++p) {
                float others = 0;
                for (int k = 0; k < 3; ++k)
                    if (k != j) others += splits[std::size_t(k)].as<float>()[i * plane + p];
                input[std::size_t(p)] = others / 2;
            }
            model.apply(input.data(), 1, shape.h, shape.w, output.data());
            for (std::int64_t p = 0; p < plane; ++p)
                want[std::size_t(i * plane + p)] += output[std::size_t(p)] / 3;
        }
    StackReader reader(denoise.output);
    const std::vector<float> got = reader.read(0, shape.n).to_float();
    EXPECT_TRUE(within_fraction_of_range(got, want, 1e-5));
}

}  // namespace
