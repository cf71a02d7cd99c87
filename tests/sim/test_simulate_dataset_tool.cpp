#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/io.hpp"
#include "tool_runner.hpp"

namespace {

using tomodenoise::PixelType;
using tomodenoise::StackShape;
using tomodenoise::testing::run_tool;
using tomodenoise::testing::ScratchDir;

StackShape shape_of(const std::string& file, const std::string& dataset, PixelType* type) {
    return tomodenoise::hdf5_stack_shape({file, dataset}, type);
}

TEST(SimulateDatasetTool, WritesTheLayoutOfEachKind) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    struct Layout {
        const char* kind;
        std::vector<std::pair<const char*, PixelType>> datasets;
    };
    const Layout layouts[] = {
        {"shapes",
         {{"train_ns", PixelType::float32},
          {"train_gt", PixelType::float32},
          {"test_ns", PixelType::float32},
          {"test_gt", PixelType::float32}}},
        {"ct",
         {{"train_ns", PixelType::float32},
          {"train_gt", PixelType::float32},
          {"test_ns", PixelType::float32},
          {"test_gt", PixelType::float32}}},
        {"n2n",
         {{"train_a", PixelType::float32},
          {"train_b", PixelType::float32},
          {"train_clean", PixelType::float32},
          {"test_a", PixelType::float32},
          {"test_b", PixelType::float32},
          {"test_clean", PixelType::float32}}},
        {"n2s",
         {{"train_ns", PixelType::float32},
          {"test_ns", PixelType::float32},
          {"test_gt", PixelType::float32}}},
        {"n2n --scene ct",
         {{"train_a", PixelType::float32},
          {"train_b", PixelType::float32},
          {"train_clean", PixelType::float32},
          {"test_a", PixelType::float32},
          {"test_b", PixelType::float32},
          {"test_clean", PixelType::float32}}},
        {"n2s --scene ct",
         {{"train_ns", PixelType::float32},
          {"test_ns", PixelType::float32},
          {"test_gt", PixelType::float32}}},
        {"seg",
         {{"train_ns", PixelType::float32},
          {"train_labels", PixelType::uint8},
          {"test_ns", PixelType::float32},
          {"test_labels", PixelType::uint8}}},
    };
    for (const Layout& layout : layouts) {
        const std::string file = dir.file(std::to_string(&layout - layouts) + ".h5");
        const auto r = run_tool(tool, std::string("--kind ") + layout.kind + " --out '" + file +
                                          "' --count 3 --test-count 2 --size 24 --views 90");
        ASSERT_EQ(r.exit_code, 0) << layout.kind << ": " << r.err;
        EXPECT_NE(r.out.find(file), std::string::npos) << r.out;
        EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
        for (const auto& [name, want_type] : layout.datasets) {
            PixelType type = PixelType::float64;
            const StackShape shape = shape_of(file, std::string("/") + name, &type);
            const std::int64_t n = std::string(name).rfind("train", 0) == 0 ? 3 : 2;
            EXPECT_EQ(shape, (StackShape{n, 24, 24})) << layout.kind << " " << name;
            EXPECT_EQ(type, want_type) << layout.kind << " " << name;
        }
    }
}

TEST(SimulateDatasetTool, SameSeedSameFileContents) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    auto simulate = [&](const std::string& name, int seed) {
        const std::string file = dir.file(name);
        const auto r = run_tool(tool, "--kind ct --out '" + file + "' --count 2 --size 32 --seed " +
                                          std::to_string(seed));
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return tomodenoise::read_hdf5_stack({file, "/train_ns"});
    };
    const auto a = simulate("a.h5", 4), b = simulate("b.h5", 4), c = simulate("c.h5", 5);
    ASSERT_EQ(a.bytes(), b.bytes());
    ASSERT_GT(a.bytes(), 0u);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.bytes()), 0);
    ASSERT_EQ(a.bytes(), c.bytes());
    EXPECT_NE(std::memcmp(a.data(), c.data(), a.bytes()), 0);
}

TEST(SimulateDatasetTool, BadOptionsAreNamedAndLeaveNoFile) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "simulate_dataset");
    ScratchDir dir;
    const std::string file = dir.file("bad.h5");
    for (const auto& [args, option] : {std::pair<std::string, std::string>{"--kind mri", "--kind"},
                                       {"--size 4", "--size"},
                                       {"--count 0", "--count"},
                                       {"--kind ct --views 7", "--views"},
                                       {"--kind ct --filter cosine", "--filter"}}) {
        const auto r = run_tool(tool, args + " --out '" + file + "'");
        EXPECT_NE(r.exit_code, 0) << args;
        EXPECT_NE(r.err.find(option), std::string::npos) << args << ": " << r.err;
        EXPECT_FALSE(std::filesystem::exists(file)) << args;
    }
}

}  // namespace
