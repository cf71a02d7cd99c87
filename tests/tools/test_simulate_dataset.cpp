// The simulate_dataset tool's output: never a file that is not a regular one, and no
// temporaries left behind by earlier runs that were killed.

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

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

}  // namespace
