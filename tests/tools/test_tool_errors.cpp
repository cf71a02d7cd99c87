// What every tool shares (examples/tool_main.hpp): --version, the `TOOL: error: ...` format,
// exit 2 for a bad command line and 1 for bad input, never a crash or an uncaught exception;
// and the bad inputs that used to crash or hang a tool.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "test_support.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/threads.hpp"
#include "tomodenoise/version.hpp"
#include "tool_runner.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

const char* const all_tools[] = {"simulate_dataset", "train_denoiser", "denoise_stack",
                                 "compare_images", "reconstruct_stack"};

std::string quoted(const std::string& s) {
    return "'" + s + "'";
}

// One line on stderr, `TOOL: error: ` first, naming every one of `parts`; nothing on stdout
// that looks like a result.
void expect_error(const ToolRun& run, const std::string& tool, int exit_code,
                  const std::vector<std::string>& parts, const std::string& context) {
    EXPECT_EQ(run.exit_code, exit_code) << context << ": " << run.output();
    EXPECT_EQ(run.err.rfind(tool + ": error: ", 0), 0u) << context << ": " << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << context << ": " << run.err;
    for (const std::string& part : parts)
        EXPECT_NE(run.err.find(part), std::string::npos)
            << context << ": '" << part << "' not in " << run.err;
}

// A float32 dataset of `shape` with nothing written: how a zero-size stack arrives.
void create_empty_dataset(const std::string& file, const std::string& path,
                          const StackShape& shape) {
    const hdf5::File h5 = std::filesystem::exists(file) ? hdf5::File::open_read_write(file)
                                                        : hdf5::File::create(file);
    hdf5::Dataset::create(h5, path, H5T_IEEE_F32LE, {shape.n, shape.h, shape.w});
}

// A small training file in the TomoGAN layout with test images of `test_shape`.
std::string write_training_file(const ScratchDir& dir, const StackShape& test_shape) {
    const std::string file = dir.file("data-" + std::to_string(test_shape.h) + "x" +
                                      std::to_string(test_shape.w) + ".h5");
    const StackShape train_shape{4, 32, 32};
    const auto values = random_values(static_cast<std::size_t>(train_shape.pixels()), 2, 0.f, 1.f);
    for (const char* name : {"/train_ns", "/train_gt"})
        write_hdf5_stack({file, name}, Stack::from_float(train_shape, values.data()));
    for (const char* name : {"/test_ns", "/test_gt"}) {
        if (test_shape.pixels() == 0) {
            create_empty_dataset(file, name, test_shape);
            continue;
        }
        const auto test = random_values(static_cast<std::size_t>(test_shape.pixels()), 3);
        write_hdf5_stack({file, name}, Stack::from_float(test_shape, test.data()));
    }
    return file;
}

TEST(ToolErrors, EveryToolPrintsItsVersion) {
    for (const char* name : all_tools) {
        TOMODENOISE_TOOL_OR_SKIP(tool, name);
        const ToolRun run = run_tool(tool, "--version");
        EXPECT_EQ(run.exit_code, 0) << name << ": " << run.output();
        EXPECT_NE(run.out.find(name), std::string::npos) << run.out;
        EXPECT_NE(run.out.find(version()), std::string::npos) << run.out;
    }
}

TEST(ToolErrors, EveryToolDocumentsTheErrorFormatAndExitStatusInItsHelp) {
    for (const char* name : all_tools) {
        TOMODENOISE_TOOL_OR_SKIP(tool, name);
        const ToolRun run = run_tool(tool, "--help");
        EXPECT_EQ(run.exit_code, 0) << name << ": " << run.output();
        EXPECT_NE(run.out.find(std::string(name) + ": error:"), std::string::npos) << run.out;
        EXPECT_NE(run.out.find("2 bad command line"), std::string::npos) << run.out;
        EXPECT_NE(run.out.find("--version"), std::string::npos) << run.out;
    }
}

TEST(ToolErrors, BadCommandLinesExitTwoWithTheToolsPrefix) {
    // CLI11_PARSE used to exit with CLI11's own codes (105-114) and unprefixed messages.
    const std::pair<const char*, const char*> cases[] = {
        {"simulate_dataset", "--out x.h5 --no-such-option"},
        {"simulate_dataset", "--kind ct"},  // --out missing
        {"simulate_dataset", "--out x.h5 --size ten"},
        {"train_denoiser", "--data d.h5"},
        {"train_denoiser", "--data d.h5 --out m.h5 --epochs 0"},
        {"denoise_stack", "--model m.h5 --input a.h5:/x"},
        {"denoise_stack", "--model m.h5 --input a.h5:/x --output b.h5:/y --output-type int32"},
        {"compare_images", "a.h5:/x"},
        {"compare_images", "a.h5:/x b.h5:/y c.h5:/z"},
    };
    for (const auto& [name, arguments] : cases) {
        TOMODENOISE_TOOL_OR_SKIP(tool, name);
        const ToolRun run = run_tool(tool, arguments);
        expect_error(run, name, 2, {"--help"}, std::string(name) + " " + arguments);
        EXPECT_TRUE(run.out.empty()) << run.out;
    }
}

TEST(ToolErrors, BadInputExitsOneWithTheToolsPrefix) {
    // simulate_dataset and compare_images printed `TOOL: MESSAGE`, without `error:`.
    ScratchDir dir;
    const std::string absent = dir.file("absent.h5");
    const std::pair<const char*, std::string> cases[] = {
        {"simulate_dataset", "--size 16 --count 1 --out " + quoted(dir.file("no/such/dir.h5"))},
        {"compare_images", quoted(absent + ":/x") + " " + quoted(absent + ":/y")},
        {"train_denoiser", "--data " + quoted(absent) + " --out " + quoted(dir.file("m.h5"))},
        {"denoise_stack", "--model " + quoted(absent) + " --input " + quoted(absent + ":/x") +
                              " --output " + quoted(dir.file("out.h5") + ":/y")},
    };
    for (const auto& [name, arguments] : cases) {
        TOMODENOISE_TOOL_OR_SKIP(tool, name);
        const ToolRun run = run_tool(tool, arguments);
        EXPECT_EQ(run.exit_code, 1) << name << ": " << run.output();
        EXPECT_EQ(run.err.rfind(std::string(name) + ": error: ", 0), 0u) << run.err;
    }
    EXPECT_TRUE(folder_entries(dir.path()).empty());
}

TEST(ToolErrors, ThreadCountsAreBoundedOnTheCommandLine) {
    // --threads 100000 crashed inside libgomp; --parallel-images 10000 allocated 10000 networks.
    ScratchDir dir;
    const std::string max = std::to_string(max_threads());
    const std::string files = " --model " + quoted(dir.file("m.h5")) + " --input " +
                              quoted(dir.file("in.h5") + ":/x") + " --output " +
                              quoted(dir.file("out.h5") + ":/y");
    const std::pair<const char*, std::string> cases[] = {
        {"denoise_stack", files + " --threads 100000"},
        {"denoise_stack", files + " --parallel-images 10000"},
        {"denoise_stack", files + " --threads 2 --parallel-images 3"},
        {"train_denoiser", "--data " + quoted(dir.file("d.h5")) + " --out " +
                               quoted(dir.file("m.h5")) + " --threads 100000"},
    };
    for (const auto& [name, arguments] : cases) {
        TOMODENOISE_TOOL_OR_SKIP(tool, name);
        const ToolRun run = run_tool(tool, arguments);
        const bool parallel = arguments.find("--parallel-images") != std::string::npos;
        expect_error(run, name, 2, {parallel ? "--parallel-images" : "--threads"}, arguments);
        if (arguments.find("10000") != std::string::npos) {
            EXPECT_NE(run.err.find(max), std::string::npos) << run.err;
        }
    }
    EXPECT_TRUE(folder_entries(dir.path()).empty());  // no temporary output left behind
    for (const char* name : {"denoise_stack", "train_denoiser"}) {
        TOMODENOISE_TOOL_OR_SKIP(tool, name);
        EXPECT_NE(run_tool(tool, "--help").out.find("at most " + max), std::string::npos) << name;
    }
}

TEST(ToolErrors, CompareImagesRefusesEmptyStacksNamingThem) {
    // Zero-size datasets crashed compare_images (min/max of no values).
    TOMODENOISE_TOOL_OR_SKIP(tool, "compare_images");
    ScratchDir dir;
    const std::string file = dir.file("empty.h5");
    for (const StackShape shape :
         {StackShape{0, 64, 64}, StackShape{4, 0, 64}, StackShape{4, 64, 0}}) {
        const std::string dataset = "/empty_" + std::to_string(shape.n) + "_" +
                                    std::to_string(shape.h) + "_" + std::to_string(shape.w);
        create_empty_dataset(file, dataset, shape);
        for (const std::string extra : {"", " --data-range 1"}) {
            const ToolRun run = run_tool(
                tool, quoted(file + ":" + dataset) + " " + quoted(file + ":" + dataset) + extra);
            expect_error(run, "compare_images", 1, {file + ":" + dataset, shape.to_string()},
                         shape.to_string() + extra);
        }
    }
}

TEST(ToolErrors, CompareImagesDataRangeMustBeFiniteAndPositive) {
    // --data-range inf printed null PSNR and SSIM and exited 0.
    TOMODENOISE_TOOL_OR_SKIP(tool, "compare_images");
    ScratchDir dir;
    const std::string file = dir.file("pair.h5");
    const auto values = random_values(2 * 16 * 16, 3, 0.f, 1.f);
    write_hdf5_stack({file, "/a"}, Stack::from_float({2, 16, 16}, values.data()));
    for (const char* range : {"inf", "-inf", "nan", "0", "-1", "1e999", "abc"}) {
        const ToolRun run = run_tool(
            tool, quoted(file + ":/a") + " " + quoted(file + ":/a") + " --data-range " + range);
        expect_error(run, "compare_images", 2, {"--data-range"}, range);
        EXPECT_TRUE(run.out.empty()) << run.out;
    }
    const ToolRun fine =
        run_tool(tool, quoted(file + ":/a") + " " + quoted(file + ":/a") + " --data-range 1e-3");
    EXPECT_EQ(fine.exit_code, 0) << fine.output();
}

TEST(ToolErrors, Float64BeyondFloat32IsNamedAsSuch) {
    // 1e300 in a float64 dataset was reported as "NaN or infinite".
    TOMODENOISE_TOOL_OR_SKIP(tool, "compare_images");
    ScratchDir dir;
    const std::string file = dir.file("big.h5");
    Stack big({1, 16, 16}, PixelType::float64);
    big.as<double>()[17] = 1e300;
    write_hdf5_stack({file, "/big"}, big);
    const ToolRun run = run_tool(tool, quoted(file + ":/big") + " " + quoted(file + ":/big"));
    expect_error(run, "compare_images", 1,
                 {file + ":/big", "1e+300", "float32's range", "(0, 1, 1)"}, "1e300");
    EXPECT_EQ(run.err.find("NaN"), std::string::npos) << run.err;
}

TEST(ToolErrors, TrainDenoiserRefusesEmptyTestImagesNamingThem) {
    // Test images of height 0 crashed train_denoiser.
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    for (const StackShape shape : {StackShape{2, 0, 32}, StackShape{2, 32, 0}}) {
        const std::string data = write_training_file(dir, shape), model = dir.file("m.h5");
        const ToolRun run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                               " --epochs 1 --steps 1 --batch 1 --patch 16");
        expect_error(run, "train_denoiser", 1, {":/test_", shape.to_string()}, shape.to_string());
        EXPECT_FALSE(std::filesystem::exists(model));
    }
}

TEST(ToolErrors, TrainDenoiserChecksTheSnapshotFolderBeforeTraining) {
    // An unwritable --snapshots aborted (uncaught filesystem_error) after the first epoch.
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = write_training_file(dir, {1, 32, 32}), model = dir.file("m.h5");
    const std::string snapshots = data + "/snapshots";  // below a file: cannot be created
    const ToolRun run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                           " --epochs 1 --steps 1 --batch 1 --patch 16" +
                                           " --snapshots " + quoted(snapshots));
    expect_error(run, "train_denoiser", 1, {"--snapshots", snapshots}, "snapshots");
    EXPECT_EQ(run.out.find("epoch 1"), std::string::npos) << run.out;
    EXPECT_FALSE(std::filesystem::exists(model));
}

TEST(ToolErrors, OutOfMemoryIsReportedNotAborted) {
    // std::bad_alloc escaped main (exit 134) for a huge --batch.
    TOMODENOISE_TOOL_OR_SKIP(tool, "train_denoiser");
    ScratchDir dir;
    const std::string data = write_training_file(dir, {1, 32, 32}), model = dir.file("m.h5");
    const ToolRun run = run_tool(tool, "--data " + quoted(data) + " --out " + quoted(model) +
                                           " --epochs 1 --steps 1 --patch 16 --batch 1000000000");
    expect_error(run, "train_denoiser", 1, {}, "--batch 1000000000");
    EXPECT_FALSE(std::filesystem::exists(model));
}

TEST(ToolErrors, SimulateDatasetBoundsSizesBeforeAllocating) {
    // --size or --count 1000000000 aborted with std::bad_alloc; --i0 1e19 hung.
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    const std::string out = dir.file("sim.h5");
    const std::pair<std::string, const char*> refused[] = {
        {"--size 1000000000", "--size"},
        {"--count 1000000000", "--count"},
        {"--test-count 1000000000", "--test-count"},
        {"--kind ct --full-views 1000000000", "--full-views"},
        {"--kind ct --i0 1e31", "--i0"},
        {"--kind ct --i0 inf", "--i0"},
        {"--noise poisson --peak nan", "--peak"},
        {"--sigma inf", "--sigma"},
        {"--kind mri", "--kind"},
    };
    for (const auto& [arguments, option] : refused) {
        const ToolRun run = run_tool(tool, arguments + " --out " + quoted(out));
        expect_error(run, "simulate_dataset", 2, {option}, arguments);
    }
    const ToolRun too_big = run_tool(tool, "--count 1000000 --size 8192 --out " + quoted(out));
    expect_error(too_big, "simulate_dataset", 1, {"--count", "--size", "GiB", "memory"},
                 "1000000 x 8192^2");
    EXPECT_TRUE(folder_entries(dir.path()).empty());

    for (const std::string arguments : {"--kind ct --i0 1e19", "--noise poisson --peak 1e30"}) {
        const ToolRun run =
            run_tool(tool, arguments + " --count 1 --test-count 0 --size 16 --out " + quoted(out));
        ASSERT_EQ(run.exit_code, 0) << arguments << ": " << run.output();
        const std::vector<float> noisy = read_hdf5_stack({out, "/train_ns"}).to_float();
        EXPECT_TRUE(std::all_of(noisy.begin(), noisy.end(), [](float v) {
            return std::isfinite(v);
        })) << arguments;
    }
}

}  // namespace
