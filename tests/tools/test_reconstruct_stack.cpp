// reconstruct_stack from the command line: the fixture's sinograms with the angles given as a
// range, the splits beside the output, and bad input named with exit 1 and no output.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "test_support.hpp"
#include "tomodenoise/io.hpp"
#include "tool_runner.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TEST(ReconstructStackTool, WritesTheReconstructionAndItsSplits) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "reconstruct_stack");
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, "fixtures/fbp_reference.h5");
    ScratchDir dir;
    const ToolRun run = run_tool(
        tool, "--input '" + fixture.string() +
                  ":/sinogram' --layout rows-angles-columns --angles 0:180:360 --center 128 "
                  "--filter hann --splits 3 --threads 2 --output '" +
                  dir.file("rec") + "'");
    ASSERT_EQ(run.exit_code, 0) << run.output();
    EXPECT_EQ(StackReader(dir.file("rec")).shape(), (StackShape{3, 256, 256}));
    for (int k = 0; k < 3; ++k)
        EXPECT_EQ(StackReader(dir.file("rec.split" + std::to_string(k))).shape(),
                  (StackShape{3, 256, 256}));
    EXPECT_FALSE(std::filesystem::exists(dir.file("rec.split3")));
}

TEST(ReconstructStackTool, BadInputIsNamedAndLeavesNoOutput) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "reconstruct_stack");
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, "fixtures/fbp_reference.h5");
    ScratchDir dir;
    const std::string input = "--input '" + fixture.string() +
                              ":/sinogram' --layout rows-angles-columns --output '" +
                              dir.file("rec.h5") + ":/rec' ";
    struct Case {
        std::string arguments;
        int exit_code;
        std::string message;
    };
    for (const Case& c : {Case{"--angles 0:180:359", 1, "359 angles"},
                          Case{"--angles 0:180:360 --center 256", 1, "--center 256"},
                          Case{"--angles 0:180:360 --splits 1", 1, "--splits 1"},
                          Case{"--angles 0:180", 2, "START:STOP:COUNT"},
                          Case{"--angles 0:180:360 --filter cosine", 2, "--filter"},
                          Case{"--angles 0:180:360 --layout x", 2, "--layout"}}) {
        const ToolRun run = run_tool(tool, input + c.arguments);
        EXPECT_EQ(run.exit_code, c.exit_code) << c.arguments << ": " << run.output();
        EXPECT_NE(run.err.find("reconstruct_stack: error: "), std::string::npos) << run.err;
        EXPECT_NE(run.err.find(c.message), std::string::npos) << c.arguments << ": " << run.err;
        EXPECT_TRUE(folder_entries(dir.path()).empty()) << c.arguments;
    }
}

}  // namespace
