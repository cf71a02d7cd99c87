// The simulate_dataset tool's output: never a file that is not a regular one, and no
// temporaries left behind by earlier runs that were killed.

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "output_checks.hpp"
#include "tomodenoise/io.hpp"
#include "tool_runner.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

std::string quoted(const std::string& s) {
    return "'" + s + "'";
}

const std::string small = " --kind shapes --count 2 --test-count 1 --size 16";

TEST(SimulateDataset, RefusesAnOutputThatIsNotARegularFile) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    const std::string fifo = dir.file("fifo"), device_link = dir.file("null");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    // A rename over the link would replace the link, never /dev/null itself.
    std::filesystem::create_symlink("/dev/null", device_link);
    for (const std::string& out : {fifo, device_link, dir.path().string()}) {
        const ToolRun run = run_tool(tool, "--out " + quoted(out) + small);
        EXPECT_GT(run.exit_code, 0) << run.output();
        EXPECT_NE(run.err.find("refusing to write '" + out + "'"), std::string::npos) << run.err;
    }
    EXPECT_TRUE(std::filesystem::is_fifo(std::filesystem::symlink_status(fifo)));
    EXPECT_EQ(std::filesystem::read_symlink(device_link), "/dev/null");
    EXPECT_EQ(folder_entries(dir.path()), (std::vector<std::string>{"fifo", "null"}));
}

TEST(SimulateDataset, RemovesTemporariesThatAKilledRunLeft) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    const std::string stale = temporary_name("data.h5", ended_process_id());
    const std::string running = temporary_name("data.h5", getpid());  // this process runs
    for (const std::string& name : {stale, running}) {
        std::ofstream file(dir.file(name));
        file << std::string(1000, 'x');
    }
    const ToolRun run = run_tool(tool, "--out " + quoted(dir.file("data.h5")) + small);
    ASSERT_EQ(run.exit_code, 0) << run.output();
    EXPECT_EQ(folder_entries(dir.path()), (std::vector<std::string>{running, "data.h5"}));
    EXPECT_EQ(hdf5_stack_shape({dir.file("data.h5"), "/train_ns"}), (StackShape{2, 16, 16}));
}

// Per-image RMS of noisy - clean, for images drawn from one file.
std::vector<double> residual_rms(const std::string& file, const std::string& noisy,
                                 const std::string& clean) {
    const std::vector<float> a = read_hdf5_stack({file, noisy}).to_float();
    const std::vector<float> b = read_hdf5_stack({file, clean}).to_float();
    const StackShape shape = hdf5_stack_shape({file, noisy});
    const std::size_t pixels = std::size_t(shape.h * shape.w);
    std::vector<double> rms;
    for (std::size_t start = 0; start < a.size(); start += pixels) {
        double sum2 = 0;
        for (std::size_t i = start; i < start + pixels; ++i)
            sum2 += double(a[i] - b[i]) * (a[i] - b[i]);
        rms.push_back(std::sqrt(sum2 / double(pixels)));
    }
    return rms;
}

TEST(SimulateDataset, SigmaRangeGivesEachImageItsOwnLevelWithinTheRange) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    const std::string file = dir.file("range.h5");
    const ToolRun run = run_tool(tool, "--out " + quoted(file) +
                                           " --kind shapes --sigma 0.02:0.5 --test-sigma 0.1 "
                                           "--count 16 --test-count 2 --size 48");
    ASSERT_EQ(run.exit_code, 0) << run.output();
    const std::vector<double> train = residual_rms(file, "/train_ns", "/train_gt");
    for (double rms : train) {
        EXPECT_GT(rms, 0.02 * 0.9);
        EXPECT_LT(rms, 0.5 * 1.1);
    }
    EXPECT_GT(*std::max_element(train.begin(), train.end()) /
                  *std::min_element(train.begin(), train.end()),
              3.0);
    for (double rms : residual_rms(file, "/test_ns", "/test_gt")) EXPECT_NEAR(rms, 0.1, 0.01);
}

TEST(SimulateDataset, TestDosesEvaluateTheSameHeldOutTexturedScenes) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    auto simulate = [&](const std::string& name, const std::string& options) {
        const std::string file = dir.file(name);
        const ToolRun run = run_tool(tool, "--out " + quoted(file) +
                                               " --kind ct --count 1 --test-count 2 --size 32 "
                                               "--seed 3 " +
                                               options);
        EXPECT_EQ(run.exit_code, 0) << run.output();
        return file;
    };
    const std::string low = simulate("low.h5", "--texture 0.2 --i0 1000:50000 --test-i0 2000");
    const std::string high = simulate("high.h5", "--texture 0.2 --test-i0 50000");
    const std::string plain = simulate("plain.h5", "--test-i0 50000");
    const Stack low_gt = read_hdf5_stack({low, "/test_gt"});
    EXPECT_EQ(
        std::memcmp(low_gt.data(), read_hdf5_stack({high, "/test_gt"}).data(), low_gt.bytes()), 0);
    EXPECT_NE(
        std::memcmp(low_gt.data(), read_hdf5_stack({plain, "/test_gt"}).data(), low_gt.bytes()), 0);
    const auto low_noise = residual_rms(low, "/test_ns", "/test_gt");
    const auto high_noise = residual_rms(high, "/test_ns", "/test_gt");
    for (std::size_t i = 0; i < low_noise.size(); ++i) EXPECT_GT(low_noise[i], 2 * high_noise[i]);
}

TEST(SimulateDataset, BadRangesAndTexturesAreNamedAndLeaveNoFile) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    const std::string file = dir.file("bad.h5");
    for (const auto& [args, option] :
         {std::pair<std::string, std::string>{"--i0 5000:1000", "--i0"},
          {"--i0 0:10", "--i0"},
          {"--i0 nan", "--i0"},
          {"--test-i0 1:", "--test-i0"},
          {"--sigma 0.5:0.1", "--sigma"},
          {"--sigma x", "--sigma"},
          {"--noise poisson --peak 0:10", "--peak"},
          {"--test-sigma nan", "--test-sigma"},
          {"--test-peak -1", "--test-peak"},
          {"--texture 2", "--texture"},
          {"--texture nan", "--texture"}}) {
        const ToolRun run = run_tool(tool, args + " --out " + quoted(file) + small);
        EXPECT_EQ(run.exit_code, 2) << args << ": " << run.output();
        EXPECT_NE(run.err.find(option), std::string::npos) << args << ": " << run.err;
        EXPECT_FALSE(std::filesystem::exists(file)) << args;
    }
}

}  // namespace
