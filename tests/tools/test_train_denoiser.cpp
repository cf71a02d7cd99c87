#include <gtest/gtest.h>

#include <filesystem>

#include "keras/model_file.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/simulate.hpp"
#include "tool_runner.hpp"
#include "train/optimizer.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

TEST(TrainDenoiser, TrainsSavesEveryEpochAndResumes) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    SimulationOptions sim;
    sim.count = 6;
    sim.test_count = 2;
    sim.size = 48;
    sim.seed = 9;
    const std::string data = dir.file("data.h5"), model = dir.file("model.h5");
    write_simulated_dataset(data, simulate(sim));

    const std::string common = " --epochs 2 --steps 10 --batch 4 --patch 32 --lr 0.003";
    const ToolRun run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                           common + " --snapshots " + quoted(dir.file("snap")));
    ASSERT_EQ(run.exit_code, 0) << run.output();
    EXPECT_NE(run.out.find("epoch 2: train loss"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("test PSNR"), std::string::npos) << run.out;
    EXPECT_TRUE(std::filesystem::exists(dir.file("snap/epoch_002.png")));

    Model loaded = Model::load(model);
    EXPECT_EQ(loaded.input_channels(), 1);
    EXPECT_EQ(loaded.output_channels(), 1);

    const ToolRun resumed = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                               " --resume " + quoted(model) + common);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output();
    Network net = load_network(model);
    Adam adam(named_parameters(net));
    load_optimizer_state(model, net, adam);
    EXPECT_EQ(adam.iterations(), 40);  // 2 x 10 steps, then 2 x 10 more
}

TEST(TrainDenoiser, BadDataIsNamedAndLeavesNoModel) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string model = dir.file("model.h5");
    const ToolRun run = run_tool(tool, "--data " + quoted(dir.file("absent.h5")) + " --out " +
                                           quoted(model));
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.err.find("train_denoiser: error:"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("absent.h5"), std::string::npos) << run.err;
    EXPECT_FALSE(std::filesystem::exists(model));
}

}  // namespace
