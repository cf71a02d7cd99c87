#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <limits>

#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "output_checks.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/simulate.hpp"
#include "tool_runner.hpp"
#include "train/optimizer.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

std::string quoted(const std::string& s) {
    return "'" + s + "'";
}

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
    const ToolRun run =
        run_tool(tool, "--data " + quoted(dir.file("absent.h5")) + " --out " + quoted(model));
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.err.find("train_denoiser: error:"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("absent.h5"), std::string::npos) << run.err;
    EXPECT_FALSE(std::filesystem::exists(model));
}

// A small training file in `dir`.
std::string small_training_file(const ScratchDir& dir) {
    SimulationOptions sim;
    sim.count = 2;
    sim.test_count = 1;
    sim.size = 32;
    const std::string data = dir.file("data.h5");
    write_simulated_dataset(data, simulate(sim));
    return data;
}

const std::string one_short_epoch = " --epochs 1 --steps 1 --batch 1 --patch 16";

TEST(TrainDenoiser, RefusesTheDataFileAsOutputWhateverItsName) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = small_training_file(dir);
    const std::string bytes = file_bytes(data);
    std::filesystem::create_hard_link(data, dir.file("hard.h5"));
    std::filesystem::create_symlink(data, dir.file("soft.h5"));
    const std::string spelled = (dir.path() / "." / "data.h5").string();
    for (const std::string& out : {data, dir.file("hard.h5"), dir.file("soft.h5"), spelled}) {
        SCOPED_TRACE(out);
        const ToolRun run =
            run_tool(tool, "--data " + quoted(data) + " --out " + quoted(out) + one_short_epoch);
        EXPECT_GT(run.exit_code, 0) << run.output();
        EXPECT_NE(run.err.find("--out '" + out + "' is the same file as --data '" + data + "'"),
                  std::string::npos)
            << run.err;
        EXPECT_EQ(run.out.find("epoch 1"), std::string::npos) << run.out;
    }
    EXPECT_EQ(file_bytes(data), bytes);
    EXPECT_EQ(folder_entries(dir.path()),
              (std::vector<std::string>{"data.h5", "hard.h5", "soft.h5"}));
}

TEST(TrainDenoiser, RefusesAnOutputThatIsNotARegularFileBeforeTraining) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = small_training_file(dir);
    const std::string fifo = dir.file("fifo"), device_link = dir.file("null");
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    // A rename over the link would replace the link, never /dev/null itself.
    std::filesystem::create_symlink("/dev/null", device_link);
    for (const auto& [out, what] : {std::pair<std::string, std::string>{fifo, "FIFO"},
                                    {device_link, "link to a character device"}}) {
        const ToolRun run =
            run_tool(tool, "--data " + quoted(data) + " --out " + quoted(out) + one_short_epoch);
        EXPECT_GT(run.exit_code, 0) << run.output();
        EXPECT_NE(run.err.find("'" + out + "'"), std::string::npos) << run.err;
        EXPECT_NE(run.err.find(what), std::string::npos) << run.err;
        EXPECT_EQ(run.out.find("epoch 1"), std::string::npos) << run.out;
    }
    EXPECT_TRUE(std::filesystem::is_fifo(std::filesystem::symlink_status(fifo)));
    EXPECT_EQ(std::filesystem::read_symlink(device_link), "/dev/null");
    EXPECT_EQ(folder_entries(dir.path()), (std::vector<std::string>{"data.h5", "fifo", "null"}));
}

SimulatedDataset small_data() {
    SimulationOptions sim;
    sim.count = 4;
    sim.test_count = 2;
    sim.size = 32;
    sim.seed = 9;
    return simulate(sim);
}

TEST(TrainDenoiser, NonFiniteTrainingValuesAreNamedBeforeTraining) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    for (const bool in_targets : {false, true}) {
        ScratchDir dir;
        const std::string data = dir.file("data.h5"), model = dir.file("model.h5");
        SimulatedDataset sets = small_data();
        Stack& bad = in_targets ? sets.train.clean : sets.train.noisy;
        bad.as<float>()[2 * 32 * 32 + 5 * 32 + 7] = in_targets
                                                        ? std::numeric_limits<float>::infinity()
                                                        : std::numeric_limits<float>::quiet_NaN();
        write_simulated_dataset(data, sets);
        const ToolRun run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                               " --epochs 1 --steps 2 --batch 2 --patch 32");
        EXPECT_EQ(run.exit_code, 1) << run.output();
        EXPECT_NE(run.err.find(in_targets ? "/train_gt" : "/train_ns"), std::string::npos)
            << run.err;
        EXPECT_NE(run.err.find("(2, 5, 7)"), std::string::npos) << run.err;
        EXPECT_FALSE(std::filesystem::exists(model));
    }
}

TEST(TrainDenoiser, DivergingTrainingStopsAndKeepsTheLastGoodModel) {
    // A huge but finite target in every training slice: the loss or the weights overflow.
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = dir.file("data.h5"), model = dir.file("model.h5");
    SimulatedDataset sets = small_data();
    for (std::int64_t slice = 0; slice < sets.train.clean.shape().n; ++slice)
        sets.train.clean.as<float>()[slice * 32 * 32 + 16 * 32 + 16] = 1e30f;
    write_simulated_dataset(data, sets);
    const ToolRun run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                           " --epochs 5 --steps 3 --batch 2 --patch 32");
    EXPECT_EQ(run.exit_code, 1) << run.output();
    EXPECT_NE(run.err.find("training diverged"), std::string::npos) << run.err;
    // The message says what the output file holds: the last epoch printed, or nothing.
    const auto last = run.out.rfind("epoch ");
    if (std::filesystem::exists(model)) {
        ASSERT_NE(last, std::string::npos) << run.out;
        const std::string epoch = run.out.substr(last + 6, run.out.find(':', last) - last - 6);
        EXPECT_NE(run.err.find("keeps the model of epoch " + epoch), std::string::npos)
            << run.output();
        EXPECT_NO_THROW(Model::load(model));  // refuses non-finite weights
    } else {
        EXPECT_NE(run.err.find("wrote no model"), std::string::npos) << run.output();
    }
}

TEST(TrainDenoiser, ABatchBeyondTheMachinesMemoryIsRefused) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = dir.file("data.h5"), model = dir.file("model.h5");
    write_simulated_dataset(data, small_data());
    const ToolRun run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                           " --batch 1000000000 --patch 32");
    EXPECT_EQ(run.exit_code, 1) << run.output();
    EXPECT_NE(run.err.find("batch 1000000000"), std::string::npos) << run.err;
    EXPECT_FALSE(std::filesystem::exists(model));
}

TEST(TrainDenoiser, ResumingAnAbsurdModelFileIsAClearError) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = dir.file("data.h5"), model = dir.file("model.h5");
    write_simulated_dataset(data, small_data());
    const std::string first = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                                 " --epochs 1 --steps 1 --batch 2 --patch 32")
                                  .output();
    ASSERT_TRUE(std::filesystem::exists(model)) << first;
    {
        auto file = hdf5::File::open_read_write(model);
        std::string config = hdf5::read_string_attribute(file, "/", "model_config");
        const std::string filters = "\"filters\":";
        const auto at = config.find(filters);
        ASSERT_NE(at, std::string::npos) << config;
        config.insert(at + filters.size(), "100000000");  // 8 filters become 1000000008
        hdf5::write_string_attribute(file, "/", "model_config", config);
        file.close();
    }
    const ToolRun run =
        run_tool(tool, "--data " + quoted(data) + " --out " + quoted(dir.file("again.h5")) +
                           " --resume " + quoted(model) + " --epochs 1 --batch 2 --patch 32");
    EXPECT_EQ(run.exit_code, 1) << run.output();
    EXPECT_NE(run.err.find("model.h5"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("'filters'"), std::string::npos) << run.err;
}

}  // namespace
