// The denoise_stack tool, run as a user runs it, against Model::apply on the same data and
// against references computed here with plain loops.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/network.hpp"
#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "layers/convolution.hpp"
#include "output_checks.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/precision.hpp"
#include "tomodenoise/version.hpp"
#include "tool_runner.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

constexpr std::int64_t odd_h = 37, odd_w = 53;

// A two-layer CNN of `in_channels` to `out_channels`, with random weights, saved to `path`.
void save_conv_model(const std::string& path, std::int64_t in_channels,
                     std::int64_t out_channels = 1, std::uint32_t seed = 11) {
    Network net;
    net.add_input("input_1", in_channels);
    ConvolutionConfig hidden;
    hidden.filters = 6;
    hidden.activation = Activation::relu();
    net.add<ConvolutionLayer>({"input_1"}, "conv_hidden", hidden);
    ConvolutionConfig last;
    last.filters = out_channels;
    net.add<ConvolutionLayer>({"conv_hidden"}, "conv_out", last);
    net.build({Dims{1, in_channels, 16, 16}});
    net.initialize(seed);
    save_network(path, net);
}

// Model::apply of the model in `model_path` on `n` images of `channels` x h x w.
std::vector<float> apply_model(const std::string& model_path, const std::vector<float>& input,
                               std::int64_t n, std::int64_t h, std::int64_t w) {
    Model model = Model::load(model_path);
    std::vector<float> output(static_cast<std::size_t>(n * h * w));
    model.apply(input.data(), n, h, w, output.data());
    return output;
}

// The 3-channel input for each slice: slices i-1, i, i+1 reflected at the ends (-1 -> 1,
// n -> n - 2).
std::vector<float> adjacent_slices(const std::vector<float>& stack, std::int64_t n,
                                   std::int64_t plane) {
    std::vector<float> input;
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t k = -1; k <= 1; ++k) {
            const std::int64_t j = i + k < 0    ? -(i + k)
                                   : i + k >= n ? 2 * (n - 1) - (i + k)
                                                : i + k;
            input.insert(input.end(), stack.begin() + j * plane, stack.begin() + (j + 1) * plane);
        }
    return input;
}

std::string shell_quoted(const std::string& text) {
    return "'" + text + "'";
}

class DenoiseStack : public ::testing::Test {
protected:
    void SetUp() override {
        tool_ = tool_path("denoise_stack");
        if (tool_.empty())
            GTEST_SKIP() << "denoise_stack is not built (or TOMODENOISE_BINARY_DIR is unset)";
        model_ = dir_.file("model.h5");
        input_ = dir_.file("in.h5");
        output_ = dir_.file("out.h5");
    }

    // Runs the tool on model.h5, in.h5:/noisy -> out.h5:/denoised plus `extra` options.
    ToolRun denoise(const std::string& extra = "") {
        return run_tool(tool_, "--model " + shell_quoted(model_) + " --input " +
                                   shell_quoted(input_ + ":/noisy") + " --output " +
                                   shell_quoted(output_ + ":/denoised") + " " + extra);
    }

    // The float32 output dataset, checked to have `shape`.
    std::vector<float> read_output(const StackShape& shape) {
        PixelType type;
        EXPECT_EQ(hdf5_stack_shape({output_, "/denoised"}, &type), shape);
        EXPECT_EQ(type, PixelType::float32);
        return read_hdf5_stack({output_, "/denoised"}).to_float();
    }

    ScratchDir dir_;
    std::filesystem::path tool_;
    std::string model_, input_, output_;
};

TEST_F(DenoiseStack, EqualsModelApplyForEachInputPixelType) {
    save_conv_model(model_, 1);
    const StackShape shape{5, odd_h, odd_w};
    const std::vector<std::pair<PixelType, float>> types = {
        {PixelType::uint8, 255.f}, {PixelType::uint16, 4000.f}, {PixelType::float32, 1.f}};
    for (const auto& [type, top] : types) {
        SCOPED_TRACE(to_string(type));
        const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 3, 0.f, top);
        const Stack stack = Stack::from_float(shape, values.data(), type);
        write_hdf5_stack({input_, "/noisy"}, stack);
        std::filesystem::remove(output_);
        // Batch 2 of 5 slices: the last call has one slice.
        const ToolRun run = denoise("--threads 1 --batch 2");
        ASSERT_EQ(run.exit_code, 0) << run.output();
        const auto want = apply_model(model_, stack.to_float(), shape.n, shape.h, shape.w);
        EXPECT_TRUE(near_all(read_output(shape), want, 1e-6));
        EXPECT_EQ(folder_entries(dir_.path()),
                  (std::vector<std::string>{"in.h5", "model.h5", "out.h5"}));
        EXPECT_NE(run.output().find("5 slices of 37x53"), std::string::npos) << run.output();
        EXPECT_NE(run.output().find("slices/s"), std::string::npos) << run.output();
    }
}

TEST_F(DenoiseStack, SlicesSideBySideEqualModelApply) {
    save_conv_model(model_, 1);
    const StackShape shape{5, 21, 34};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 5);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const ToolRun run = denoise("--threads 2 --batch 3 --parallel-images 2");
    ASSERT_EQ(run.exit_code, 0) << run.output();
    const auto want = apply_model(model_, values, shape.n, shape.h, shape.w);
    EXPECT_TRUE(near_all(read_output(shape), want, 1e-6));
    EXPECT_NE(denoise("--parallel-images 0 --overwrite").exit_code, 0);
}

TEST_F(DenoiseStack, ReportsProgressEveryTenthWhenStderrIsNotATerminal) {
    save_conv_model(model_, 1);
    const StackShape shape{5, 8, 8};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 4);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const ToolRun run = denoise("--batch 2");
    ASSERT_EQ(run.exit_code, 0) << run.output();
    // After 2, 4 and 5 of 5 slices: every tenth is reported once, with the slices done.
    for (const char* line : {"denoise_stack: 10% (2/5 slices)", "denoise_stack: 40% (2/5 slices)",
                             "denoise_stack: 50% (4/5 slices)", "denoise_stack: 80% (4/5 slices)",
                             "denoise_stack: 90% (5/5 slices)", "denoise_stack: 100% (5/5 slices)"})
        EXPECT_NE(run.output().find(line), std::string::npos) << line << " in\n" << run.output();
    EXPECT_EQ(run.output().find("50% (2/5"), std::string::npos) << run.output();
    EXPECT_EQ(run.output().find('\r'), std::string::npos) << "a progress bar in a log";
    // With the rate and the time left: "(5/5 slices), 123.45 slices/s, ETA 0:00:00".
    const std::size_t last = run.err.find("100% (5/5 slices), ");
    ASSERT_NE(last, std::string::npos) << run.err;
    const std::string rest = run.err.substr(last);
    EXPECT_NE(rest.find(" slices/s, ETA 0:00:00\n"), std::string::npos) << rest;
}

TEST_F(DenoiseStack, ThreeChannelModelGetsAdjacentSlicesReflectedAtTheEnds) {
    save_conv_model(model_, 3);
    const StackShape shape{4, odd_h, odd_w};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 5, 0.f, 1.f);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    // Batch 3: the second batch's first slice needs a neighbour from the first batch.
    const ToolRun run = denoise("--batch 3");
    ASSERT_EQ(run.exit_code, 0) << run.output();
    const auto want = apply_model(model_, adjacent_slices(values, shape.n, shape.h * shape.w),
                                  shape.n, shape.h, shape.w);
    EXPECT_TRUE(near_all(read_output(shape), want, 1e-6));
}

TEST_F(DenoiseStack, MinMaxNormalizesTheWholeStackWithOneMapAndMapsBack) {
    save_conv_model(model_, 3);
    const StackShape shape{3, odd_h, odd_w};
    const std::int64_t plane = shape.h * shape.w;
    // Slices of different ranges, so that a per-slice map would show.
    std::vector<float> values;
    for (std::int64_t i = 0; i < shape.n; ++i) {
        const auto slice = random_values(static_cast<std::size_t>(plane), 6 + i, 100.f * i,
                                         100.f * i + 50.f * (i + 1));
        values.insert(values.end(), slice.begin(), slice.end());
    }
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const ToolRun run = denoise("--normalize minmax --tile 16");
    ASSERT_EQ(run.exit_code, 0) << run.output();

    const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
    const double low = *lo, high = *hi;
    std::vector<float> input = adjacent_slices(values, shape.n, plane);
    for (float& x : input) x = static_cast<float>((x - low) / (high - low));
    auto want = apply_model(model_, input, shape.n, shape.h, shape.w);
    for (float& y : want) y = static_cast<float>(y * (high - low) + low);
    EXPECT_TRUE(near_all(read_output(shape), want, 1e-5));
}

TEST_F(DenoiseStack, MeanStdWithClippingUsesTheWholeStacksPercentiles) {
    save_conv_model(model_, 1);
    const StackShape shape{2, odd_h, odd_w};
    const std::int64_t plane = shape.h * shape.w;
    auto values = random_values(static_cast<std::size_t>(shape.pixels()), 7, 0.f, 10.f);
    for (std::int64_t p = 0; p < plane; ++p) values[plane + p] += 5.f;  // a stack-wide range
    values[17] = 1e4f;  // an outlier that clipping must remove
    values[plane + 3] = -1e4f;
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const ToolRun run = denoise("--normalize meanstd --clip-percentiles 2 98");
    ASSERT_EQ(run.exit_code, 0) << run.output();

    std::vector<double> sorted(values.begin(), values.end());
    std::sort(sorted.begin(), sorted.end());
    // NumPy's linear interpolation at position p / 100 * (n - 1).
    const auto at = [&](double percent) {
        const double position = percent / 100.0 * static_cast<double>(sorted.size() - 1);
        const auto below = static_cast<std::size_t>(std::floor(position));
        const double t = position - static_cast<double>(below);
        if (below + 1 == sorted.size()) return sorted[below];
        return sorted[below] + t * (sorted[below + 1] - sorted[below]);
    };
    const double clip_low = at(2.0), clip_high = at(98.0);
    const auto clipped = [&](std::size_t p) {
        return std::clamp<double>(values[p], clip_low, clip_high);
    };
    double sum = 0.0, squares = 0.0;
    for (std::size_t p = 0; p < values.size(); ++p) sum += clipped(p);
    const double mean = sum / static_cast<double>(values.size());
    for (std::size_t p = 0; p < values.size(); ++p)
        squares += (clipped(p) - mean) * (clipped(p) - mean);
    const double deviation = std::sqrt(squares / static_cast<double>(values.size()));
    std::vector<float> input(values.size());
    for (std::size_t p = 0; p < values.size(); ++p)
        input[p] = static_cast<float>((clipped(p) - mean) / deviation);
    auto want = apply_model(model_, input, shape.n, shape.h, shape.w);
    for (float& y : want) y = static_cast<float>(y * deviation + mean);
    // The percentiles come from a histogram of 2^12 neighbouring floats per bin.
    EXPECT_TRUE(within_fraction_of_range(read_output(shape), want, 1e-3));
}

TEST_F(DenoiseStack, TilesEqualWholeSlicesAndATileBelowTheMinimumIsNamed) {
    save_conv_model(model_, 1);  // two 3x3 convolutions: radius 2, minimum tile 5
    const StackShape shape{2, odd_h, odd_w};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 9, 0.f, 1.f);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const auto want = apply_model(model_, values, shape.n, shape.h, shape.w);
    for (const char* tiling : {"--tile 5 --tile-threading side-by-side --threads 2",
                               "--tile 16 --tile-threading in-turn --threads 1"}) {
        SCOPED_TRACE(tiling);
        const ToolRun run = denoise(std::string(tiling) + " --overwrite");
        ASSERT_EQ(run.exit_code, 0) << run.output();
        EXPECT_TRUE(within_fraction_of_range(read_output(shape), want, 1e-5));
    }
    std::filesystem::remove(output_);
    const auto before = folder_entries(dir_.path());
    const ToolRun run = denoise("--tile 4");
    EXPECT_NE(run.exit_code, 0);
    for (const char* part : {"tile size 4", "minimum 5", "radius 2"})
        EXPECT_NE(run.output().find(part), std::string::npos) << part << " in " << run.output();
    EXPECT_EQ(folder_entries(dir_.path()), before);
}

TEST_F(DenoiseStack, Uint16OutputIsRoundedAndSaturated) {
    save_conv_model(model_, 1);
    const StackShape shape{2, odd_h, odd_w};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 8, 0.f, 3000.f);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const ToolRun run = denoise("--output-type uint16");
    ASSERT_EQ(run.exit_code, 0) << run.output();
    PixelType type;
    ASSERT_EQ(hdf5_stack_shape({output_, "/denoised"}, &type), shape);
    ASSERT_EQ(type, PixelType::uint16);
    const Stack got = read_hdf5_stack({output_, "/denoised"});
    const auto reference = apply_model(model_, values, shape.n, shape.h, shape.w);
    std::size_t saturated = 0, mismatches = 0;
    for (std::size_t i = 0; i < reference.size(); ++i) {
        const double want = std::clamp(std::round(static_cast<double>(reference[i])), 0.0, 65535.0);
        if (reference[i] < 0.f) ++saturated;
        // A float rounding difference may flip a value lying within 1e-3 of a half.
        const double fraction = std::abs(reference[i] - std::trunc(reference[i]));
        const double half_distance = std::abs(fraction - 0.5);
        if (got.as<std::uint16_t>()[i] != want && half_distance > 1e-3) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0u);
    EXPECT_GT(saturated, 0u) << "no negative output: saturation is untested";
    EXPECT_GT(reference.size() - saturated, 100u) << "too few values test the rounding";
}

TEST_F(DenoiseStack, IntegerOutputOfASmallRangeWarnsAndOutputScaleUsesTheTypesRange) {
    // uint8 output of data in 0..1 silently kept two levels.
    save_conv_model(model_, 1);
    const StackShape shape{2, odd_h, odd_w};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 8, 0.f, 1.f);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const auto reference = apply_model(model_, values, shape.n, shape.h, shape.w);
    const auto [low, high] = std::minmax_element(reference.begin(), reference.end());
    ASSERT_LT(*high - *low, 16.f) << "the model's output must span few uint8 levels";

    const ToolRun plain = denoise("--output-type uint8");
    ASSERT_EQ(plain.exit_code, 0) << plain.output();
    EXPECT_NE(plain.err.find("denoise_stack: warning:"), std::string::npos) << plain.err;
    EXPECT_NE(plain.err.find("--output-scale"), std::string::npos) << plain.err;

    // A:B maps the model's output range onto 0..255.
    const std::string from_low = std::to_string(*low), from_high = std::to_string(*high);
    const ToolRun scaled =
        denoise("--overwrite --output-type uint8 --output-scale " + from_low + ":" + from_high);
    ASSERT_EQ(scaled.exit_code, 0) << scaled.output();
    EXPECT_EQ(scaled.err.find("warning"), std::string::npos) << scaled.err;
    const Stack got = read_hdf5_stack({output_, "/denoised"});
    ASSERT_EQ(got.type(), PixelType::uint8);
    const double a = std::stod(from_low), b = std::stod(from_high);
    std::set<int> levels;
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < reference.size(); ++i) {
        const int value = got.as<std::uint8_t>()[i];
        levels.insert(value);
        const double want = std::clamp((reference[i] - a) * 255.0 / (b - a), 0.0, 255.0);
        if (std::abs(value - want) > 0.5 + 1e-3) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0u);
    EXPECT_GT(levels.size(), 100u);

    const ToolRun float_scaled = denoise("--overwrite --output-scale 0:1");
    EXPECT_EQ(float_scaled.exit_code, 2) << float_scaled.output();
    EXPECT_NE(float_scaled.err.find("--output-scale"), std::string::npos) << float_scaled.err;
    for (const char* bad : {"1:0", "0", "a:b", "0:inf", ":1"}) {
        const ToolRun run = denoise(std::string("--overwrite --output-type uint8 --output-scale ") +
                                    "'" + bad + "'");
        EXPECT_EQ(run.exit_code, 2) << bad << ": " << run.output();
        EXPECT_EQ(run.err.rfind("denoise_stack: error: --output-scale", 0), 0u) << run.err;
    }
}

TEST_F(DenoiseStack, RankTwoInputIsOneSlice) {
    save_conv_model(model_, 1);
    const auto values = random_values(static_cast<std::size_t>(odd_h * odd_w), 9);
    {
        const auto file = hdf5::File::create(input_);
        hdf5::write_float_dataset(file, "/noisy", {odd_h, odd_w}, values.data());
    }
    const ToolRun run = denoise();
    ASSERT_EQ(run.exit_code, 0) << run.output();
    EXPECT_TRUE(near_all(read_output({1, odd_h, odd_w}),
                         apply_model(model_, values, 1, odd_h, odd_w), 1e-6));
    EXPECT_TRUE(StackReader(output_ + ":/denoised").two_dimensional());  // (H, W) out
}

TEST_F(DenoiseStack, WritesBesideTheInputInTheSameFileAndKeepsTheInput) {
    save_conv_model(model_, 1);
    const StackShape shape{3, 16, 24};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 10);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    output_ = input_;
    const ToolRun run = denoise();
    ASSERT_EQ(run.exit_code, 0) << run.output();
    EXPECT_TRUE(near_all(read_output(shape), apply_model(model_, values, 3, 16, 24), 1e-6));
    EXPECT_EQ(read_hdf5_stack({input_, "/noisy"}).to_float(), values);
}

TEST_F(DenoiseStack, ExistingOutputDatasetNeedsOverwrite) {
    save_conv_model(model_, 1);
    const StackShape shape{2, 8, 8};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 12);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const std::vector<float> old(static_cast<std::size_t>(shape.pixels()), 7.f);
    write_hdf5_stack({output_, "/denoised"}, Stack::from_float(shape, old.data()));

    const ToolRun refused = denoise();
    EXPECT_EQ(refused.exit_code, 1) << refused.output();
    EXPECT_NE(refused.output().find("out.h5:/denoised"), std::string::npos) << refused.output();
    EXPECT_EQ(read_hdf5_stack({output_, "/denoised"}).to_float(), old);

    const ToolRun replaced = denoise("--overwrite");
    ASSERT_EQ(replaced.exit_code, 0) << replaced.output();
    EXPECT_TRUE(near_all(read_output(shape), apply_model(model_, values, 2, 8, 8), 1e-6));
}

TEST_F(DenoiseStack, NonFiniteInputIsAnErrorNamingTheSliceOrIsReplaced) {
    save_conv_model(model_, 1);
    const StackShape shape{5, 8, 8};
    auto values = random_values(static_cast<std::size_t>(shape.pixels()), 13);
    values[3 * 64 + 2 * 8 + 5] = std::nanf("");
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));

    // Slices 0..2 are written before slice 3 fails: nothing of them may remain.
    const ToolRun failed = denoise();
    EXPECT_EQ(failed.exit_code, 1) << failed.output();
    EXPECT_NE(failed.output().find("denoise_stack: error: '" + input_ + ":/noisy' slice 3"),
              std::string::npos)
        << failed.output();
    EXPECT_NE(failed.output().find("(0, 2, 5)"), std::string::npos) << failed.output();
    EXPECT_EQ(folder_entries(dir_.path()), (std::vector<std::string>{"in.h5", "model.h5"}));

    const ToolRun replaced = denoise("--replace-non-finite 0.25");
    ASSERT_EQ(replaced.exit_code, 0) << replaced.output();
    values[3 * 64 + 2 * 8 + 5] = 0.25f;
    EXPECT_TRUE(near_all(read_output(shape), apply_model(model_, values, 5, 8, 8), 1e-6));
}

TEST_F(DenoiseStack, FailureInAnExistingOutputFileLeavesItsOtherDatasetsOnly) {
    save_conv_model(model_, 1);
    const StackShape shape{4, 8, 8};
    auto values = random_values(static_cast<std::size_t>(shape.pixels()), 14);
    values[values.size() - 1] = INFINITY;
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const std::vector<float> kept(64, 3.f);
    write_hdf5_stack({output_, "/kept"}, Stack::from_float({1, 8, 8}, kept.data()));
    const ToolRun run = denoise();
    EXPECT_EQ(run.exit_code, 1) << run.output();
    const auto file = hdf5::File::open_read(output_);
    EXPECT_EQ(hdf5::child_names(file, "/"), std::vector<std::string>{"kept"});
}

// Each case: the tool fails with exit code 1, one "denoise_stack: error:" line naming what is
// at fault, and no output file.
struct ErrorCase {
    std::string name;
    std::string model_file;          // relative to the scratch folder
    std::string input;               // address, relative to the scratch folder
    std::vector<std::string> named;  // what the message must name
};

TEST_F(DenoiseStack, ErrorsNameTheFileAndLeaveNoOutput) {
    // in.h5: /noisy (2, 8, 8), /volume of rank 4. Models: good 1->1, 1->2, 2->1, an unknown
    // layer class, a file that is not HDF5.
    const std::vector<float> values = random_values(2 * 64, 15);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float({2, 8, 8}, values.data()));
    {
        const auto file = hdf5::File::open_read_write(input_);
        hdf5::write_float_dataset(file, "/volume", {2, 1, 8, 8}, values.data());
    }
    save_conv_model(model_, 1);
    save_conv_model(dir_.file("two_out.h5"), 1, 2);
    save_conv_model(dir_.file("two_in.h5"), 2, 1);
    const std::string unknown = dir_.file("unknown_layer.h5");
    save_conv_model(unknown, 1);
    {
        const auto file = hdf5::File::open_read_write(unknown);
        std::string config = hdf5::read_string_attribute(file, "/", "model_config");
        const std::size_t at = config.find("\"Conv2D\"");
        ASSERT_NE(at, std::string::npos) << config;
        config.replace(at, 8, "\"NoSuchLayer2D\"");
        hdf5::write_string_attribute(file, "/", "model_config", config);
    }
    std::ofstream(dir_.file("garbage.h5")) << "this is not an HDF5 file";

    const std::vector<ErrorCase> cases = {
        {"missing model", "absent_model.h5", "in.h5:/noisy", {"absent_model.h5"}},
        {"corrupt model", "garbage.h5", "in.h5:/noisy", {"garbage.h5"}},
        {"unsupported layer",
         "unknown_layer.h5",
         "in.h5:/noisy",
         {"unknown_layer.h5", "NoSuchLayer2D"}},
        {"two output channels", "two_out.h5", "in.h5:/noisy", {"two_out.h5", "2 output channels"}},
        {"two input channels", "two_in.h5", "in.h5:/noisy", {"two_in.h5", "2 input channels"}},
        {"missing input file", "model.h5", "absent_input.h5:/noisy", {"absent_input.h5"}},
        {"missing dataset", "model.h5", "in.h5:/absent", {"in.h5:/absent"}},
        {"rank 4 input", "model.h5", "in.h5:/volume", {"in.h5:/volume", "(2, 1, 8, 8)"}},
    };
    const auto before = folder_entries(dir_.path());
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const ToolRun run =
            run_tool(tool_, "--model " + shell_quoted(dir_.file(c.model_file)) + " --input " +
                                shell_quoted(dir_.file(c.input)) + " --output " +
                                shell_quoted(output_ + ":/denoised"));
        EXPECT_EQ(run.exit_code, 1) << run.output();
        EXPECT_EQ(run.output().rfind("denoise_stack: error: ", 0), 0u) << run.output();
        const std::string output = run.output();
        EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;
        for (const auto& name : c.named)
            EXPECT_NE(run.output().find(name), std::string::npos) << name << " in " << run.output();
        EXPECT_EQ(folder_entries(dir_.path()), before);
    }
}

TEST_F(DenoiseStack, BadCommandLinesGetCli11sMessageAndFail) {
    const std::string addresses = " --input " + shell_quoted(input_ + ":/noisy") + " --output " +
                                  shell_quoted(output_ + ":/d");
    const ToolRun unknown = denoise("--no-such-option 3");
    EXPECT_NE(unknown.exit_code, 0) << unknown.output();
    EXPECT_NE(unknown.output().find("--no-such-option"), std::string::npos) << unknown.output();

    const ToolRun no_model = run_tool(tool_, addresses);
    EXPECT_NE(no_model.exit_code, 0) << no_model.output();
    EXPECT_NE(no_model.output().find("--model is required"), std::string::npos)
        << no_model.output();

    const ToolRun bad_type = denoise("--output-type int32");
    EXPECT_NE(bad_type.exit_code, 0) << bad_type.output();
    EXPECT_NE(bad_type.output().find("int32"), std::string::npos) << bad_type.output();

    const ToolRun bad_clip = denoise("--clip-percentiles 90 10");
    EXPECT_EQ(bad_clip.exit_code, 2) << bad_clip.output();
    EXPECT_NE(bad_clip.output().find("--clip-percentiles"), std::string::npos) << bad_clip.output();
    EXPECT_FALSE(std::filesystem::exists(output_));
}

TEST_F(DenoiseStack, PublishedModelsReproduceTheKerasFixture) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture_path, "fixtures/keras_reference_256.h5");
    const auto fixture = hdf5::File::open_read(fixture_path.string());
    const std::pair<const char*, const char*> cases[] = {
        {"TomoGAN", "/input_0_255"}, {"TomoGAN-toy", "/input_0_255"}, {"dn-mdl-toy", "/input_0_1"}};
    for (const auto& [name, input_name] : cases) {
        TOMODENOISE_SHARED_FILE_OR_SKIP(model_path, std::string("models/keras/") + name + ".h5");
        const hdf5::FloatArray input = hdf5::read_float_dataset(fixture, input_name);
        const hdf5::FloatArray want =
            hdf5::read_float_dataset(fixture, std::string("/output/") + name);
        ASSERT_EQ(input.dims, (std::vector<std::int64_t>{1, 1, 256, 256}));
        std::filesystem::remove(input_);
        std::filesystem::remove(output_);
        write_hdf5_stack({input_, "/noisy"}, Stack::from_float({1, 256, 256}, input.values.data()));
        model_ = model_path.string();
        const ToolRun run = denoise();
        ASSERT_EQ(run.exit_code, 0) << name << ": " << run.output();
        EXPECT_TRUE(within_fraction_of_range(read_output({1, 256, 256}), want.values, 1e-4))
            << name;
    }
}

// --precision bf16 on this CPU, and on the CPUs ONEDNN_MAX_CPU_ISA makes oneDNN see: AVX-512
// without bf16 instructions (emulated; where the CPU has no AVX-512, its AVX2) and AVX2 (no bf16
// kernels: f32). Each run is within 1e-2 of the fixture's range and says once when the CPU has
// no fast bf16.
TEST_F(DenoiseStack, PrecisionBf16ReproducesTheKerasFixtureOnEveryKindOfCpu) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture_path, "fixtures/keras_reference_256.h5");
    TOMODENOISE_SHARED_FILE_OR_SKIP(model_path, "models/keras/TomoGAN-toy.h5");
    const auto fixture = hdf5::File::open_read(fixture_path.string());
    const hdf5::FloatArray input = hdf5::read_float_dataset(fixture, "/input_0_255");
    const hdf5::FloatArray want = hdf5::read_float_dataset(fixture, "/output/TomoGAN-toy");
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float({1, 256, 256}, input.values.data()));
    model_ = model_path.string();
    const std::string note = "denoise_stack: note: this CPU has no fast bf16";
    // Capped at AVX512_CORE, a CPU without AVX-512 (AVX2 only) still runs its AVX2 kernels.
    const bool avx512_core =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const struct {
        const char* max_isa;  // empty: the CPU as it is
        bool noted;
        const char* says;
    } cpus[] = {{"", cpu_bf16_support() != Bf16Support::native, ""},
                {"AVX512_CORE", true, avx512_core ? "emulates" : "computes in f32"},
                {"AVX2", true, "computes in f32"}};
    for (const auto& cpu : cpus) {
        SCOPED_TRACE(cpu.max_isa);
        if (*cpu.max_isa) setenv("ONEDNN_MAX_CPU_ISA", cpu.max_isa, 1);
        const ToolRun run = denoise("--precision bf16 --overwrite");
        unsetenv("ONEDNN_MAX_CPU_ISA");
        ASSERT_EQ(run.exit_code, 0) << run.output();
        EXPECT_TRUE(within_fraction_of_range(read_output({1, 256, 256}), want.values, 1e-2));
        // Recorded with the options: a resumed run in the other precision is refused.
        const std::string options =
            StackReader(output_ + ":/denoised").attributes().at("tomodenoise_options");
        EXPECT_NE(options.find("\"precision\":\"bf16\""), std::string::npos) << options;
        const std::size_t at = run.err.find(note);
        EXPECT_EQ(at != std::string::npos, cpu.noted) << run.err;
        if (cpu.noted) {
            EXPECT_EQ(run.err.find(note, at + 1), std::string::npos) << "noted twice: " << run.err;
            EXPECT_NE(run.err.find(cpu.says, at), std::string::npos) << run.err;
        }
    }
    const ToolRun bad = denoise("--precision fp16 --overwrite");
    EXPECT_EQ(bad.exit_code, 2) << bad.output();
    EXPECT_NE(bad.err.find("--precision"), std::string::npos) << bad.err;
}

TEST_F(DenoiseStack, RefusesItsInputDatasetOrItsModelAsOutputWhateverTheirNames) {
    save_conv_model(model_, 1);
    const auto values = random_values(2 * 8 * 8, 13);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float({2, 8, 8}, values.data()));
    const std::string input_bytes = file_bytes(input_), model_bytes = file_bytes(model_);
    std::filesystem::create_hard_link(model_, dir_.file("model_link.h5"));
    const std::string spelled_input = (dir_.path() / "." / "in.h5").string();
    const std::pair<std::string, std::string> refused[] = {
        {spelled_input + ":/noisy", "is the same dataset as --input '" + input_ + ":/noisy'"},
        {model_ + ":/denoised", "is the same file as --model '" + model_ + "'"},
        {dir_.file("model_link.h5") + ":/denoised", "is the same file as --model"}};
    for (const auto& [output, message] : refused) {
        SCOPED_TRACE(output);
        const ToolRun run = run_tool(tool_, "--model " + shell_quoted(model_) + " --input " +
                                                shell_quoted(input_ + ":/noisy") + " --output " +
                                                shell_quoted(output) + " --overwrite");
        EXPECT_GT(run.exit_code, 0) << run.output();
        EXPECT_NE(run.err.find("--output '" + output + "' " + message), std::string::npos)
            << run.err;
    }
    EXPECT_EQ(file_bytes(input_), input_bytes);
    EXPECT_EQ(file_bytes(model_), model_bytes);
    EXPECT_EQ(folder_entries(dir_.path()),
              (std::vector<std::string>{"in.h5", "model.h5", "model_link.h5"}));
}

TEST_F(DenoiseStack, TwoRunsWritingIntoOneNewFileAtOnceNeverMixAndARerunLands) {
    save_conv_model(model_, 1);
    const StackShape shape{60, 64, 64};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 14);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    // Both start before either has created the file. The new file's unfinished output is locked
    // by the run writing it: the other run either waits its turn (the file exists by then, and
    // it adds its dataset) or fails naming the file, and a rerun lands.
    std::vector<std::string> arguments;
    std::vector<pid_t> runs;
    for (const char* dataset : {"/one", "/two"}) {
        arguments.push_back("--threads 1 --model " + shell_quoted(model_) + " --input " +
                            shell_quoted(input_ + ":/noisy") + " --output " +
                            shell_quoted(output_ + ":" + dataset));
        runs.push_back(
            start_tool(tool_, arguments.back(), dir_.file(std::string("err") + (dataset + 1))));
    }
    // Both end before a rerun: one still writing holds the lock a rerun would meet.
    std::vector<int> statuses;
    for (const pid_t run : runs) statuses.push_back(wait_for_tool(run));
    int landed = 0;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const int status = statuses[i];
        ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
        if (WEXITSTATUS(status) == 0) {
            ++landed;
            continue;
        }
        const std::string err = file_bytes(dir_.file(i == 0 ? "errone" : "errtwo"));
        EXPECT_NE(err.find("out.h5"), std::string::npos) << err;
        const ToolRun rerun = run_tool(tool_, arguments[i]);
        EXPECT_EQ(rerun.exit_code, 0) << rerun.output();
    }
    EXPECT_GE(landed, 1);
    const auto want = apply_model(model_, values, shape.n, shape.h, shape.w);
    for (const char* dataset : {"/one", "/two"})
        EXPECT_TRUE(near_all(read_hdf5_stack({output_, dataset}).to_float(), want, 1e-6))
            << dataset;
    EXPECT_EQ(folder_entries(dir_.path()),
              (std::vector<std::string>{"errone", "errtwo", "in.h5", "model.h5", "out.h5"}));
}

// Starts denoise_stack on a stack long enough to be interrupted, waits until it reports
// progress and sends it `signal_number`; returns its wait status.
int interrupt_denoising(const std::filesystem::path& tool, const std::string& arguments,
                        const std::string& err_file, int signal_number) {
    const pid_t pid = start_tool(tool, arguments, err_file);
    for (int waited_ms = 0; waited_ms < 120000; ++waited_ms) {
        if (file_bytes(err_file).find('%') != std::string::npos) break;
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return status;  // ended already
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    kill(pid, signal_number);
    return wait_for_tool(pid);
}

TEST_F(DenoiseStack, InterruptedRunsLeaveOnlyAHiddenUnfinishedOutputAndALaterRunSucceeds) {
    save_conv_model(model_, 1);
    const StackShape shape{400, 128, 128};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 15);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const std::string arguments = "--threads 1 --model " + shell_quoted(model_) + " --input " +
                                  shell_quoted(input_ + ":/noisy") + " --output ";
    const std::string err_file = dir_.file("err");
    const auto interrupt = [&](const std::string& output, int signal_number) {
        std::filesystem::remove(err_file);  // the progress of the last run is not this one's
        const int status =
            interrupt_denoising(tool_, arguments + shell_quoted(output), err_file, signal_number);
        EXPECT_TRUE(WIFSIGNALED(status)) << "status " << status << ": " << file_bytes(err_file);
        EXPECT_EQ(WTERMSIG(status), signal_number);
    };
    for (const int signal_number : {SIGINT, SIGTERM}) {
        SCOPED_TRACE(signal_number);
        // A new output file: its unfinished output is kept, hidden, for a rerun to resume.
        interrupt(output_ + ":/denoised", signal_number);
        EXPECT_EQ(folder_entries(dir_.path()),
                  (std::vector<std::string>{".out.h5.partial", "err", "in.h5", "model.h5"}));
        // A new dataset in the input's file: kept under a hidden group's name there.
        interrupt(input_ + ":/denoised", signal_number);
        EXPECT_EQ(folder_entries(dir_.path()),
                  (std::vector<std::string>{".out.h5.partial", "err", "in.h5", "model.h5"}));
        const std::vector<std::string> names =
            hdf5::child_names(hdf5::File::open_read(input_), "/");
        EXPECT_EQ(std::count(names.begin(), names.end(), "denoised"), 0);
    }
    // The input file holds the input. A run with another input refuses to mix its slices with
    // the unfinished ones; overwriting, it writes the dataset and removes what the interrupted
    // ones left in the file.
    EXPECT_EQ(read_hdf5_stack({input_, "/noisy"}).to_float(), values);
    const StackShape few{3, 128, 128};
    write_hdf5_stack({dir_.file("few.h5"), "/noisy"}, Stack::from_float(few, values.data()));
    const std::string other = "--model " + shell_quoted(model_) + " --input " +
                              shell_quoted(dir_.file("few.h5") + ":/noisy") + " --output " +
                              shell_quoted(input_ + ":/denoised");
    const ToolRun refused = run_tool(tool_, other);
    EXPECT_EQ(refused.exit_code, 1) << refused.output();
    EXPECT_NE(refused.output().find("overwrite"), std::string::npos) << refused.output();
    const ToolRun run = run_tool(tool_, other + " --overwrite");
    ASSERT_EQ(run.exit_code, 0) << run.output();
    EXPECT_EQ(hdf5::child_names(hdf5::File::open_read(input_), "/"),
              (std::vector<std::string>{"denoised", "noisy"}));
    EXPECT_EQ(read_hdf5_stack({input_, "/noisy"}).to_float(), values);
}

#ifdef TOMODENOISE_MPIEXEC
// MPI slab inference: the tool under mpirun, against the same tool in one process.
class DenoiseStackMpi : public DenoiseStack {
protected:
    // `ranks` processes of denoise_stack, each with `extra` options. Open MPI refuses to run
    // as root and more ranks than cores unless told (as a container's CI may need); other
    // MPIs ignore these variables.
    ToolRun denoise_on_ranks(int ranks, const std::string& extra) {
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
        return run_tool(TOMODENOISE_MPIEXEC,
                        "-n " + std::to_string(ranks) + " " + shell_quoted(tool_.string()) +
                            " --model " + shell_quoted(model_) + " --input " +
                            shell_quoted(input_ + ":/noisy") + " --output " +
                            shell_quoted(output_ + ":/denoised") + " " + extra);
    }
};

TEST_F(DenoiseStackMpi, RanksWriteTheOneProcessOutputBitForBit) {
    // Three input channels: slabs need their neighbours' slices (the depth halo); the clipped
    // mean/std map needs the whole volume's statistics; 7 slices split unevenly in 2 and 3.
    save_conv_model(model_, 3);
    const StackShape shape{7, 40, 52};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 21, -3.f, 5.f);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const std::string options =
        "--threads 1 --batch 2 --tile 24 --normalize meanstd --clip-percentiles 1 99";
    const ToolRun single = denoise(options);
    ASSERT_EQ(single.exit_code, 0) << single.output();
    const std::vector<float> want = read_output(shape);
    ASSERT_TRUE(std::any_of(want.begin(), want.end(), [](float v) { return v != 0; }));
    for (const int ranks : {2, 3}) {
        SCOPED_TRACE(std::to_string(ranks) + " ranks");
        std::filesystem::remove(output_);
        const ToolRun run = denoise_on_ranks(ranks, options);
        ASSERT_EQ(run.exit_code, 0) << run.output();
        const std::vector<float> got = read_output(shape);
        ASSERT_EQ(got.size(), want.size());
        EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0);
        // Rank 0 alone reports: one progress line per tenth for the whole job, one summary.
        const std::string out = run.output();
        EXPECT_NE(out.find("100% (7/7 slices)"), std::string::npos) << out;
        EXPECT_EQ(out.find("100% (7/7 slices)"), out.rfind("100% (7/7 slices)")) << out;
        EXPECT_NE(out.find("7 slices of 40x52"), std::string::npos) << out;
        EXPECT_EQ(out.find("7 slices of 40x52"), out.rfind("7 slices of 40x52")) << out;
    }
}

TEST_F(DenoiseStackMpi, AFailingRankStopsTheJobWithItsErrorAndLeavesNoOutput) {
    save_conv_model(model_, 1);
    const StackShape shape{6, 16, 20};
    auto values = random_values(static_cast<std::size_t>(shape.pixels()), 23);
    // Slice 5 is rank 1's (slices 3..5 of 6); no statistics pass reads it before.
    values[5 * 320 + 2 * 20 + 7] = std::nanf("");
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));

    const ToolRun failed = denoise_on_ranks(2, "--threads 1 --batch 1");
    EXPECT_EQ(failed.exit_code, 1) << failed.output();
    const std::string message = "denoise_stack: error: rank 1: '" + input_ + ":/noisy' slice 5";
    EXPECT_NE(failed.output().find(message), std::string::npos) << failed.output();
    EXPECT_EQ(failed.output().find(message), failed.output().rfind(message)) << failed.output();
    EXPECT_EQ(folder_entries(dir_.path()), (std::vector<std::string>{"in.h5", "model.h5"}));

    // Rank 0's own slab failing (slice 1) stops rank 1 as well.
    values[5 * 320 + 2 * 20 + 7] = 0.5f;
    values[1 * 320 + 3 * 20 + 4] = std::nanf("");
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const ToolRun own = denoise_on_ranks(2, "--threads 1 --batch 1");
    EXPECT_EQ(own.exit_code, 1) << own.output();
    EXPECT_NE(own.output().find("denoise_stack: error: '" + input_ + ":/noisy' slice 1"),
              std::string::npos)
        << own.output();
    EXPECT_EQ(folder_entries(dir_.path()), (std::vector<std::string>{"in.h5", "model.h5"}));

    // A failure while rank 0 opens the output (it exists) fails every rank with its message.
    const ToolRun first = denoise_on_ranks(2, "--threads 1 --replace-non-finite 0");
    ASSERT_EQ(first.exit_code, 0) << first.output();
    const ToolRun exists = denoise_on_ranks(2, "--threads 1 --replace-non-finite 0");
    EXPECT_EQ(exists.exit_code, 1) << exists.output();
    EXPECT_NE(exists.output().find("denoise_stack: error: "), std::string::npos) << exists.output();
    EXPECT_NE(exists.output().find("/denoised"), std::string::npos) << exists.output();
}

TEST_F(DenoiseStackMpi, ARunKilledInOneProcessResumesOnRanksToItsOutput) {
    save_conv_model(model_, 3);
    const StackShape shape{150, 64, 64};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 33, 0.f, 500.f);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float(shape, values.data()));
    const std::string options = "--threads 1 --batch 1 --clip-percentiles 1 99 --normalize minmax";
    const std::string command = options + " --model " + shell_quoted(model_) + " --input " +
                                shell_quoted(input_ + ":/noisy") + " --output ";
    const ToolRun reference = run_tool(tool_, command + shell_quoted(dir_.file("ref.h5:/d")));
    ASSERT_EQ(reference.exit_code, 0) << reference.output();
    const std::vector<float> want = read_hdf5_stack({dir_.file("ref.h5"), "/d"}).to_float();

    const std::string err_file = dir_.file("err");
    const int status = interrupt_denoising(tool_, command + shell_quoted(output_ + ":/denoised"),
                                           err_file, SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status << ": " << file_bytes(err_file);
    const ToolRun resumed = denoise_on_ranks(2, options);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output();
    const std::string out = resumed.output();
    EXPECT_NE(out.find("resuming"), std::string::npos) << out;
    // Every rank skips the slices written: rank 0 counts the job to its end exactly once.
    EXPECT_NE(out.find("100% (150/150 slices)"), std::string::npos) << out;
    EXPECT_EQ(out.find("100% (150/150 slices)"), out.rfind("100% (150/150 slices)")) << out;
    EXPECT_EQ(read_hdf5_stack({output_, "/denoised"}).to_float(), want);  // bit for bit
}
#endif

}  // namespace

namespace {

// The whole stack at `location`, in its stored type.
Stack read_location(const std::string& location) {
    StackReader reader(location);
    return reader.read(0, reader.shape().n);
}

// Writes `stack` to a new folder of TIFFs, slice_0.tiff, slice_1.tiff, ...
void write_tiff_folder(const std::string& folder, const Stack& stack) {
    TiffSeries series;
    series.folder = folder;
    series.prefix = "slice_";
    series.digits = 0;
    write_tiff_series(series, stack);
}

}  // namespace

TEST_F(DenoiseStack, AnyStackFormatInAndOutWithSlicesAndTwoDimensionalInputs) {
    save_conv_model(model_, 1);
    const StackShape shape{6, odd_h, odd_w};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 31);
    const Stack stack = Stack::from_float(shape, values.data());
    write_hdf5_stack({input_, "/noisy"}, stack);
    write_tiff_folder(dir_.file("in_folder"), stack);
    write_multipage_tiff(dir_.file("in.tiff"), stack);
    // --slices 1:5 of a one-slice model: slices 1..4, each alone.
    const std::int64_t plane = odd_h * odd_w;
    const std::vector<float> middle(values.begin() + plane, values.begin() + 5 * plane);
    const std::vector<float> want = apply_model(model_, middle, 4, odd_h, odd_w);
    const std::vector<std::string> inputs = {input_ + ":/noisy", dir_.file("in_folder"),
                                             dir_.file("in.tiff")};
    const std::vector<std::string> outputs = {output_ + ":/denoised", dir_.file("out_folder"),
                                              dir_.file("out.tiff")};
    for (const std::string& in : inputs)
        for (const std::string& out : outputs) {
            SCOPED_TRACE(in + " -> " + out);
            const ToolRun run =
                run_tool(tool_, "--model " + shell_quoted(model_) + " --input " + shell_quoted(in) +
                                    " --output " + shell_quoted(out) + " --slices 1:5 --overwrite");
            ASSERT_EQ(run.exit_code, 0) << run.output();
            StackReader written(out);
            EXPECT_EQ(written.shape(), (StackShape{4, odd_h, odd_w}));
            EXPECT_FALSE(written.two_dimensional());
            EXPECT_TRUE(near_all(written.read(0, 4).to_float(), want, 1e-6));
            const auto attributes = written.attributes();
            EXPECT_EQ(attributes.at("tomodenoise_model"), model_);
            EXPECT_EQ(attributes.at("tomodenoise_model_crc32").size(), 8u);
            EXPECT_EQ(attributes.at("tomodenoise_version"), version());
            EXPECT_NE(attributes.at("tomodenoise_options").find("\"slices\":[1,5]"),
                      std::string::npos)
                << attributes.at("tomodenoise_options");
        }

    // One (H, W) image in gives one (H, W) image out, in every format.
    const Stack image = Stack::from_float({1, odd_h, odd_w}, values.data());
    write_multipage_tiff(dir_.file("image.tiff"), image);
    {
        const auto file = hdf5::File::create(dir_.file("image.h5"));
        hdf5::write_float_dataset(file, "/image", {odd_h, odd_w}, values.data());
    }
    const std::vector<float> want_image = apply_model(model_, values, 1, odd_h, odd_w);
    for (const std::string& in : {dir_.file("image.tiff"), dir_.file("image.h5") + ":/image"})
        for (const std::string& out :
             {dir_.file("image_out.h5") + ":/denoised", dir_.file("image_out.tiff")}) {
            SCOPED_TRACE(in + " -> " + out);
            const ToolRun run =
                run_tool(tool_, "--model " + shell_quoted(model_) + " --input " + shell_quoted(in) +
                                    " --output " + shell_quoted(out) + " --overwrite");
            ASSERT_EQ(run.exit_code, 0) << run.output();
            StackReader written(out);
            EXPECT_TRUE(written.two_dimensional());
            EXPECT_TRUE(near_all(written.read(0, 1).to_float(), want_image, 1e-6));
        }
}

TEST_F(DenoiseStack, KilledRunResumesToTheOutputOfAnUninterruptedRun) {
    save_conv_model(model_, 3);
    const StackShape shape{150, 64, 64};
    const auto values = random_values(static_cast<std::size_t>(shape.pixels()), 32, 0.f, 500.f);
    write_hdf5_stack({input_, "/noisy"},
                     Stack::from_float(shape, values.data(), PixelType::uint16));
    // Percentile clipping: the statistics passes run again on resume and must give the same map.
    const std::string command =
        "--threads 1 --batch 1 --clip-percentiles 1 99 --normalize "
        "minmax --model " +
        shell_quoted(model_) + " --input " + shell_quoted(input_ + ":/noisy") + " --output ";
    const ToolRun reference = run_tool(tool_, command + shell_quoted(dir_.file("ref.h5:/d")));
    ASSERT_EQ(reference.exit_code, 0) << reference.output();
    const std::vector<float> want = read_location(dir_.file("ref.h5:/d")).to_float();
    const std::string err_file = dir_.file("err");
    for (const std::string& output :
         {output_ + ":/denoised", dir_.file("out_folder"), dir_.file("out.tiff")}) {
        SCOPED_TRACE(output);
        std::filesystem::remove(err_file);  // the progress of the last run is not this one's
        const int status =
            interrupt_denoising(tool_, command + shell_quoted(output), err_file, SIGKILL);
        ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status << ": " << file_bytes(err_file);
        ASSERT_EQ(WTERMSIG(status), SIGKILL);
        // The unfinished output is hidden: nothing at the output's name reads as a stack.
        EXPECT_THROW(StackReader{output}, Error);

        // Other options would mix two runs' slices: refused, saying how to start over.
        const ToolRun other = run_tool(tool_, command + shell_quoted(output) + " --tile 16");
        EXPECT_EQ(other.exit_code, 1) << other.output();
        EXPECT_NE(other.output().find("overwrite"), std::string::npos) << other.output();

        const ToolRun resumed = run_tool(tool_, command + shell_quoted(output));
        ASSERT_EQ(resumed.exit_code, 0) << resumed.output();
        EXPECT_NE(resumed.err.find("resuming"), std::string::npos) << resumed.err;
        EXPECT_EQ(resumed.out.find("(0 resumed)"), std::string::npos) << resumed.out;
        EXPECT_EQ(read_location(output).to_float(), want);  // bit for bit

        // A finished output is not resumed (the input's data may have changed since): the same
        // command again is refused.
        const ToolRun again = run_tool(tool_, command + shell_quoted(output));
        EXPECT_EQ(again.exit_code, 1) << again.output();
        EXPECT_NE(again.output().find("--overwrite"), std::string::npos) << again.output();
    }
    EXPECT_EQ(read_hdf5_stack({input_, "/noisy"}).to_float(),
              Stack::from_float(shape, values.data(), PixelType::uint16).to_float());
}

TEST_F(DenoiseStack, BadInputsAreNamedLeavingTheInputAndNoOutput) {
    save_conv_model(model_, 3);
    const std::vector<float> values = random_values(4 * 64, 33);
    write_hdf5_stack({input_, "/noisy"}, Stack::from_float({4, 8, 8}, values.data()));
    write_hdf5_stack({input_, "/two"}, Stack::from_float({2, 8, 8}, values.data()));
    {
        const auto file = hdf5::File::open_read_write(input_);
        hdf5::write_float_dataset(file, "/line", {64}, values.data());
        hdf5::write_float_dataset(file, "/volume", {2, 1, 8, 8}, values.data());
    }
    // A finished output of another shape.
    write_hdf5_stack({dir_.file("old.h5"), "/denoised"},
                     Stack::from_float({3, 8, 8}, values.data()));
    // TIFF folders: one with a gap (slice_0, slice_2), one of mixed sizes.
    write_tiff_folder(dir_.file("gap"), Stack::from_float({3, 8, 8}, values.data()));
    std::filesystem::remove(dir_.file("gap") + "/slice_1.tiff");
    write_tiff_folder(dir_.file("mixed"), Stack::from_float({3, 8, 8}, values.data()));
    write_multipage_tiff(dir_.file("mixed") + "/slice_3.tiff",
                         Stack::from_float({1, 4, 16}, values.data()));
    std::ofstream(dir_.file("a_file")) << "not a folder";

    struct Case {
        std::string name, input, output, extra;
        std::vector<std::string> named;
    };
    const std::string out = output_ + ":/denoised";
    const std::vector<Case> cases = {
        {"1-D dataset", input_ + ":/line", out, "", {"in.h5:/line"}},
        {"4-D dataset", input_ + ":/volume", out, "", {"in.h5:/volume", "(2, 1, 8, 8)"}},
        {"depth not the model's", input_ + ":/noisy", out, "--depth 5", {"depth 5", "3"}},
        {"depth beyond the stack", input_ + ":/two", out, "", {"3 adjacent slices", "2"}},
        {"unwritable output",
         input_ + ":/noisy",
         dir_.file("a_file") + "/out.h5:/d",
         "",
         {"a_file"}},
        {"finished output of another shape",
         input_ + ":/noisy",
         dir_.file("old.h5") + ":/denoised",
         "",
         {"old.h5", "(3, 8, 8)"}},
        {"TIFF folder with a gap", dir_.file("gap"), out, "", {"gap"}},
        {"TIFF folder of mixed sizes", dir_.file("mixed"), out, "", {"mixed", "slice_3.tiff"}},
        {"slices outside the stack", input_ + ":/noisy", out, "--slices 2:9", {"slices", "2:9"}},
    };
    const auto before = folder_entries(dir_.path());
    const std::string input_bytes = file_bytes(input_);
    const std::string old_bytes = file_bytes(dir_.file("old.h5"));
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const ToolRun run = run_tool(tool_, "--model " + shell_quoted(model_) + " --input " +
                                                shell_quoted(c.input) + " --output " +
                                                shell_quoted(c.output) + " " + c.extra);
        EXPECT_EQ(run.exit_code, 1) << run.output();
        EXPECT_EQ(run.output().rfind("denoise_stack: error: ", 0), 0u) << run.output();
        for (const auto& name : c.named)
            EXPECT_NE(run.output().find(name), std::string::npos) << name << " in " << run.output();
        EXPECT_EQ(folder_entries(dir_.path()), before);
        EXPECT_EQ(file_bytes(input_), input_bytes);
        EXPECT_EQ(file_bytes(dir_.file("old.h5")), old_bytes);
    }
}
