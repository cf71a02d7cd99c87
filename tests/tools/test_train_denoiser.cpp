#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <thread>

#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "output_checks.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/precision.hpp"
#include "tomodenoise/reconstruct.hpp"
#include "tomodenoise/simulate.hpp"
#include "tool_runner.hpp"
#include "train/optimizer.hpp"
#include "vgg19_weights_file.hpp"

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

    const std::string common = " --steps 10 --batch 4 --patch 32 --lr 0.003";
    const ToolRun run =
        run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) + common +
                           " --epochs 2 --snapshots " + quoted(dir.file("snap")));
    ASSERT_EQ(run.exit_code, 0) << run.output();
    EXPECT_NE(run.out.find("validation at step 20: train loss"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("test PSNR"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("step 20/20"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("steps/s, ETA"), std::string::npos) << run.out;
    EXPECT_TRUE(std::filesystem::exists(dir.file("snap/iter_0000020.png")));

    Model loaded = Model::load(model);
    EXPECT_EQ(loaded.input_channels(), 1);
    EXPECT_EQ(loaded.output_channels(), 1);

    // --epochs is a total: the resumed run trains the third epoch.
    const ToolRun resumed =
        run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) + " --resume " +
                           quoted(model) + common + " --epochs 3");
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output();
    EXPECT_NE(resumed.out.find("trained steps 20..30"), std::string::npos) << resumed.out;
    Network net = load_network(model);
    Adam adam(named_parameters(net));
    load_optimizer_state(model, net, adam);
    EXPECT_EQ(adam.iterations(), 30);
}

// --mode n2i --resume continues with the K the model records: by default, and refusing another
// K before training, naming both and the model.
TEST(TrainDenoiser, Noise2InverseResumesWithTheModelsNumberOfSplitsOnly) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string reconstruction = dir.file("rec.h5") + ":/rec";
    for (int k = 0; k < 3; ++k)
        write_hdf5_stack(
            DatasetAddress::parse(split_location(reconstruction, k)),
            Stack::from_float({2, 40, 40}, random_values(2 * 40 * 40, std::uint32_t(k)).data()));
    const std::string model = dir.file("n2i.h5"), resumed = dir.file("resumed.h5");
    const std::string common = " --mode n2i --data " + quoted(reconstruction) +
                               " --batch 2 --patch 32 --steps 1 --threads 1";
    const ToolRun first =
        run_tool(tool, "--out " + quoted(model) + " --splits 2 --iters 1" + common);
    ASSERT_EQ(first.exit_code, 0) << first.output();

    const ToolRun other = run_tool(tool, "--out " + quoted(resumed) + " --resume " + quoted(model) +
                                             " --splits 3 --iters 2" + common);
    EXPECT_EQ(other.exit_code, 1) << other.output();
    for (const char* part : {"TrainOptions::splits 3", "trained on 2 splits", model.c_str()})
        EXPECT_NE(other.err.find(part), std::string::npos) << part << "\n" << other.output();
    EXPECT_FALSE(std::filesystem::exists(resumed));

    const ToolRun same = run_tool(
        tool, "--out " + quoted(resumed) + " --resume " + quoted(model) + " --iters 2" + common);
    ASSERT_EQ(same.exit_code, 0) << same.output();
    EXPECT_EQ(Model::load(resumed).recipe().splits, 2);
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
        EXPECT_EQ(run.out.find("validation at"), std::string::npos) << run.out;
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
        EXPECT_EQ(run.out.find("validation at"), std::string::npos) << run.out;
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
    // The message says what the output file holds: the last validation printed (checkpoints
    // come with them here), or nothing.
    const std::string validated = "validation at step ";
    const auto last = run.out.rfind(validated);
    if (std::filesystem::exists(model)) {
        ASSERT_NE(last, std::string::npos) << run.out;
        const auto from = last + validated.size();
        const std::string step = run.out.substr(from, run.out.find(':', from) - from);
        EXPECT_NE(run.err.find("keeps the model of step " + step), std::string::npos)
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

// The training state a checkpoint records (JSON).
std::string training_state(const std::string& model) {
    const auto file = hdf5::File::open_read(model);
    return hdf5::read_string_attribute(file, "/", "tomodenoise_training_state");
}

std::int64_t checkpoint_step(const std::string& model) {
    Network net = load_network(model);
    Adam adam(named_parameters(net));
    load_optimizer_state(model, net, adam);
    return adam.iterations();
}

// `a` and `b` hold the same weights and Adam state, bit for bit, for the network at `group`
// ("" for the model).
void expect_same_network_and_state(const std::string& a, const std::string& b,
                                   const std::string& group) {
    Network net_a = load_network(a, group), net_b = load_network(b, group);
    const auto pa = net_a.parameters(), pb = net_b.parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (std::size_t k = 0; k < pa.size(); ++k)
        ASSERT_EQ(std::vector<float>(pa[k]->value(), pa[k]->value() + pa[k]->size()),
                  std::vector<float>(pb[k]->value(), pb[k]->value() + pb[k]->size()))
            << group << " parameter " << k;
    Adam adam_a(named_parameters(net_a)), adam_b(named_parameters(net_b));
    load_optimizer_state(a, net_a, adam_a, group);
    load_optimizer_state(b, net_b, adam_b, group);
    const auto sa = adam_a.state(), sb = adam_b.state();
    ASSERT_EQ(sa.size(), sb.size());
    for (std::size_t k = 0; k < sa.size(); ++k)
        ASSERT_EQ(sa[k].values, sb[k].values) << group << " " << sa[k].name;
}

// Starts train_denoiser on `data` with `options` (far more steps than run before the signal,
// checkpoints every `checkpoint_every` steps), sends it SIGTERM once `model` exists and returns
// the step its checkpoint holds (0 after a failure).
std::int64_t train_until_sigterm(const std::filesystem::path& tool, const std::string& data,
                                 const std::string& model, const std::string& options,
                                 int checkpoint_every, const std::string& err_file) {
    const pid_t pid =
        start_tool(tool,
                   "--data " + quoted(data) + " --out " + quoted(model) + options +
                       " --iters 100000 --checkpoint-every " + std::to_string(checkpoint_every) +
                       " --val-every 100000 --max-seconds 120",
                   err_file);
    for (int waited_ms = 0; waited_ms < 120000 && !std::filesystem::exists(model); ++waited_ms)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!std::filesystem::exists(model)) {
        ADD_FAILURE() << "no checkpoint: " << file_bytes(err_file);
        kill(pid, SIGKILL);
        wait_for_tool(pid);
        return 0;
    }
    kill(pid, SIGTERM);
    const int status = wait_for_tool(pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM)
        << "status " << status << ": " << file_bytes(err_file);
    return checkpoint_step(model);
}

// Resumes `model` to `total` steps, trains `straight` to the same total from the start, and
// expects the same weights and Adam state of the network at each of `groups`, bit for bit.
void expect_resumed_as_uninterrupted(const std::filesystem::path& tool, const std::string& data,
                                     const std::string& model, const std::string& straight,
                                     const std::string& options, std::int64_t total,
                                     const std::vector<std::string>& groups) {
    const std::string iters = " --iters " + std::to_string(total);
    const ToolRun resumed = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                               " --resume " + quoted(model) + options + iters);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output();
    const ToolRun uninterrupted =
        run_tool(tool, "--data " + quoted(data) + " --out " + quoted(straight) + options + iters);
    ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.output();
    for (const std::string& group : groups) expect_same_network_and_state(model, straight, group);
}

TEST(TrainDenoiser, SigtermCheckpointsAndAResumedRunEndsAsAnUninterruptedOne) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = dir.file("data.h5"), model = dir.file("model.h5");
    write_simulated_dataset(data, small_data());
    // The interrupted run's total (100000, or its time limit) is not the resumed one's: a
    // constant learning rate, since the cosine schedule's depends on the total (resuming to the
    // same total under it: TrainApi.ResumedRunsEndBitForBitAsUninterruptedOnes).
    const std::string common =
        " --threads 2 --batch 2 --patch 16 --seed 5 --arch unet --levels 2 --lr-schedule constant";
    const std::int64_t stopped = train_until_sigterm(tool, data, model, common, 3, dir.file("err"));
    ASSERT_GE(stopped, 3);
    EXPECT_NE(training_state(model).find("\"iteration\":" + std::to_string(stopped)),
              std::string::npos)
        << training_state(model);
    EXPECT_EQ(folder_entries(dir.path()), (std::vector<std::string>{"data.h5", "err", "model.h5"}));
    // Resumed to a total a few steps on, and the same total straight from the start.
    expect_resumed_as_uninterrupted(tool, data, model, dir.file("straight.h5"), common, stopped + 4,
                                    {""});
}

TEST(TrainDenoiser, GanSigtermCheckpointsBothNetworksAndAResumedRunEndsAsAnUninterruptedOne) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = dir.file("data.h5"), model = dir.file("model.h5");
    write_simulated_dataset(data, small_data());
    const std::string common =
        " --mode gan --lperc 0 --threads 2 --batch 2 --patch 16 --seed 5 --levels 2 "
        "--lr-schedule constant --itd 2";
    const std::int64_t stopped = train_until_sigterm(tool, data, model, common, 1, dir.file("err"));
    ASSERT_GE(stopped, 1);
    expect_resumed_as_uninterrupted(tool, data, model, dir.file("straight.h5"), common, stopped + 2,
                                    {"", "tomodenoise_discriminator"});
}

TEST(TrainDenoiser, ModesFindTheirDatasetsAndBadOptionsAreNamed) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = small_training_file(dir), model = dir.file("model.h5");
    const std::string base =
        "--data " + quoted(data) + " --out " + quoted(model) + " --iters 2 --batch 1";
    struct Case {
        std::string arguments;
        int exit_code;
        std::vector<std::string> named;
    };
    const Case cases[] = {
        {" --mode seg --patch 16", 1, {"data.h5", "/train_labels"}},
        {" --mode n2n --patch 16", 1, {"data.h5", "/train_a"}},
        {" --patch 64", 1, {"patch 64", "/train_ns", "(2, 32, 32)"}},
        {" --depth 2 --patch 16", 2, {"--depth 2", "odd"}},
        {" --depth 3 --patch 16", 1, {"depth", "/train_ns", "got 3"}},
        {" --mode seg --classes 3 --class-weights 1,2 --patch 16",
         2,
         {"--class-weights", "--classes 3"}},
        {" --mode fancy --patch 16", 2, {"--mode"}},
        {" --mask-mode blur --patch 16", 2, {"--mask-mode"}},
        {" --precision fp16 --patch 16", 2, {"--precision", "fp16"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.arguments);
        const ToolRun run = run_tool(tool, base + c.arguments);
        EXPECT_EQ(run.exit_code, c.exit_code) << run.output();
        for (const std::string& part : c.named)
            EXPECT_NE(run.err.find(part), std::string::npos) << run.err;
        EXPECT_FALSE(std::filesystem::exists(model));
    }
    // n2s trains on /train_ns alone; seg on simulate_dataset's segmentation layout.
    ToolRun run =
        run_tool(tool, base + " --patch 16 --mode n2s --mask-width 3 --mask-mode interpolate");
    EXPECT_EQ(run.exit_code, 0) << run.output();
    // bf16 trains, and says once when this CPU has no fast bf16.
    run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(dir.file("bf16.h5")) +
                             " --iters 2 --batch 1 --patch 16 --arch unet --levels 2 "
                             "--precision bf16");
    EXPECT_EQ(run.exit_code, 0) << run.output();
    const std::string note = "train_denoiser: note: this CPU has no fast bf16";
    EXPECT_EQ(run.err.find(note) != std::string::npos, cpu_bf16_support() != Bf16Support::native)
        << run.err;
    SimulationOptions sim;
    sim.kind = SimulationKind::seg;
    sim.count = 2;
    sim.test_count = 1;
    sim.size = 32;
    const std::string seg = dir.file("seg.h5");
    write_simulated_dataset(seg, simulate(sim));
    run = run_tool(tool, "--data " + quoted(seg) + " --out " + quoted(model) +
                             " --mode seg --classes 4 --class-weights 1,2,2,2 --iters 2 "
                             "--batch 1 --patch 16 --arch tomogan --levels 2");
    EXPECT_EQ(run.exit_code, 0) << run.output();
    EXPECT_NE(run.out.find("mean IoU"), std::string::npos) << run.out;
    run = run_tool(tool, "--data " + quoted(seg) + " --out " + quoted(dir.file("m2.h5")) +
                             " --mode seg --classes 3 --iters 2 --batch 1 --patch 16");
    EXPECT_EQ(run.exit_code, 1) << run.output();
    EXPECT_NE(run.err.find("seg.h5:/train_labels"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("label 3"), std::string::npos) << run.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("m2.h5")));
}

TEST(TrainDenoiser, GanTrainsWithTheVgg19FileAndBadGanOptionsAreNamed) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = small_training_file(dir), model = dir.file("model.h5");
    const std::string vgg = dir.file("vgg19_notop.h5");
    write_random_vgg19_notop(vgg, true);
    const std::string base = "--data " + quoted(data) + " --out " + quoted(model) +
                             " --mode gan --iters 2 --batch 1 --levels 2";
    ToolRun run = run_tool(tool, base + " --patch 32 --vgg19 " + quoted(vgg) +
                                     " --itg 1 --itd 1 --ladv 10 --lmse 1 --lperc 1 --val-every 2");
    ASSERT_EQ(run.exit_code, 0) << run.output();
    EXPECT_NE(run.out.find("training unet (gan)"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("discriminator loss"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("high-frequency ratio"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("perceptual"), std::string::npos) << run.out;
    // What denoise_stack applies: the generator, recording mode gan.
    Model loaded = Model::load(model);
    EXPECT_EQ(loaded.recipe().mode, TrainingMode::gan);
    EXPECT_EQ(loaded.input_channels(), 1);
    EXPECT_EQ(loaded.output_channels(), 1);
    std::filesystem::remove(model);

    struct Case {
        std::string arguments;
        int exit_code;
        std::vector<std::string> named;
    };
    const Case cases[] = {
        {" --patch 32",
         2,
         {"--lperc", "--vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"}},
        {" --patch 32 --lperc 0 --gan-loss hinge", 2, {"--gan-loss"}},
        {" --patch 32 --lperc 0 --itg 0", 2, {"--itg"}},
        {" --patch 32 --lperc 0 --clip 0", 2, {"--clip"}},
        {" --patch 32 --lperc 0 --discriminator dense", 2, {"--discriminator"}},
        {" --patch 32 --lperc 0 --lr-discriminator 0", 2, {"--lr-discriminator"}},
        {" --patch 32 --lperc 0 --arch cnn", 1, {"architecture", "unet"}},
        {" --patch 32 --vgg19 " + quoted(data), 1, {"data.h5", "layer_names"}},
        {" --vgg19 " + quoted(vgg) + " --patch 16", 1, {"patch", "32"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.arguments);
        run = run_tool(tool, base + c.arguments);
        EXPECT_EQ(run.exit_code, c.exit_code) << run.output();
        for (const std::string& part : c.named)
            EXPECT_NE(run.err.find(part), std::string::npos) << run.err;
        EXPECT_FALSE(std::filesystem::exists(model));
    }
    // wgan without the perceptual term needs no VGG19 file.
    run = run_tool(tool, base + " --patch 16 --lperc 0 --gan-loss wgan --clip 0.05");
    EXPECT_EQ(run.exit_code, 0) << run.output();
    // The patch discriminator at its own rate; resumed, it stays one.
    std::filesystem::remove(model);
    run = run_tool(tool, base +
                             " --patch 16 --lperc 0 --discriminator patch --lr-discriminator "
                             "4e-4");
    EXPECT_EQ(run.exit_code, 0) << run.output();
    run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(dir.file("more.h5")) +
                             " --resume " + quoted(model) +
                             " --mode gan --iters 3 --batch 1 --patch 16 --lperc 0"
                             " --discriminator tomogan");
    EXPECT_EQ(run.exit_code, 1) << run.output();
    EXPECT_NE(run.err.find("a patch one"), std::string::npos) << run.err;
}

}  // namespace
