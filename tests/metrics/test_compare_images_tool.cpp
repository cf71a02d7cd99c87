#include <gtest/gtest.h>
#include <hdf5.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/metrics.hpp"
#include "tool_runner.hpp"

namespace {

using tomodenoise::Stack;
using tomodenoise::StackShape;
using tomodenoise::testing::random_values;
using tomodenoise::testing::run_tool;
using tomodenoise::testing::ScratchDir;

// A smooth reference in [0.2, 0.8] and a noisy version whose noise grows with the slice.
struct Pair {
    std::vector<float> reference, test;
};

Pair make_images(const StackShape& shape) {
    Pair p;
    for (std::int64_t i = 0; i < shape.n; ++i)
        for (std::int64_t r = 0; r < shape.h; ++r)
            for (std::int64_t c = 0; c < shape.w; ++c)
                p.reference.push_back(0.5f + 0.3f * std::sin(0.2f * r + 0.1f * c + float(i)));
    const auto noise = random_values(p.reference.size(), 5, -0.1f, 0.1f);
    for (std::size_t k = 0; k < noise.size(); ++k)
        p.test.push_back(p.reference[k] + noise[k] * float(1 + k / (shape.h * shape.w)));
    return p;
}

TEST(CompareImagesTool, PrintsTheLibraryMetricsAsJson) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "compare_images");
    ScratchDir dir;
    const StackShape shape{3, 21, 30};
    const Pair p = make_images(shape);
    const std::string file = dir.file("pair.h5");
    tomodenoise::write_hdf5_stack({file, "/clean"}, Stack::from_float(shape, p.reference.data()));
    tomodenoise::write_hdf5_stack({file, "/noisy"}, Stack::from_float(shape, p.test.data()));

    const auto result = run_tool(tool, "'" + file + ":/clean' '" + file + ":/noisy'");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    // Default data range: the reference's max - min.
    const auto [lo, hi] = std::minmax_element(p.reference.begin(), p.reference.end());
    const double range = double(*hi) - double(*lo);
    EXPECT_NEAR(json.at("data_range").get<double>(), range, 1e-9);
    const auto want = tomodenoise::compare_stacks(p.reference.data(), p.test.data(), shape, range);
    EXPECT_NEAR(json.at("psnr").get<double>(), want.mean.psnr, 1e-9);
    EXPECT_NEAR(json.at("ssim").get<double>(), want.mean.ssim, 1e-9);
    EXPECT_NEAR(json.at("ssim_uniform7").get<double>(), want.mean.ssim_uniform7, 1e-9);
    EXPECT_NEAR(json.at("mse").get<double>(), want.mean.mse, 1e-12);
    EXPECT_NEAR(json.at("mae").get<double>(), want.mean.mae, 1e-12);
    for (const char* metric : {"psnr", "ssim", "ssim_uniform7", "mse", "mae"})
        ASSERT_EQ(json.at("per_slice").at(metric).size(), 3u) << metric;
    for (int i = 0; i < 3; ++i) {
        EXPECT_NEAR(json["per_slice"]["psnr"][i].get<double>(), want.per_slice[i].psnr, 1e-9);
        EXPECT_NEAR(json["per_slice"]["ssim"][i].get<double>(), want.per_slice[i].ssim, 1e-9);
    }
    EXPECT_GT(json["per_slice"]["mse"][0].get<double>(), 0.0);
    EXPECT_NEAR(json.at("high_frequency_ratio").get<double>(),
                tomodenoise::high_frequency_power_ratio(p.reference.data(), p.test.data(), shape),
                1e-9);
    EXPECT_GT(json.at("high_frequency_ratio").get<double>(), 1.0);  // noise added power

    const auto ranged =
        run_tool(tool, "'" + file + ":/clean' '" + file + ":/noisy' --data-range 2");
    ASSERT_EQ(ranged.exit_code, 0) << ranged.err;
    EXPECT_NEAR(
        nlohmann::json::parse(ranged.out).at("psnr").get<double>(),
        tomodenoise::compare_stacks(p.reference.data(), p.test.data(), shape, 2.0).mean.psnr, 1e-9);
}

// Power scales with the square of the amplitude: a test of half the reference's deviation from
// zero has a quarter of its high-frequency power.
TEST(CompareImagesTool, HighFrequencyRatioIsTheBandPowerRatioAndNullWhereUndefined) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "compare_images");
    ScratchDir dir;
    const StackShape shape{2, 16, 24};
    const Pair p = make_images(shape);
    std::vector<float> half(p.test);
    for (float& v : half) v *= 0.5f;
    const std::string file = dir.file("scaled.h5");
    tomodenoise::write_hdf5_stack({file, "/noisy"}, Stack::from_float(shape, p.test.data()));
    tomodenoise::write_hdf5_stack({file, "/half"}, Stack::from_float(shape, half.data()));
    const auto result = run_tool(tool, "'" + file + ":/noisy' '" + file + ":/half'");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NEAR(nlohmann::json::parse(result.out).at("high_frequency_ratio").get<double>(), 0.25,
                1e-6);

    // A constant reference has no power in the band: no ratio, the other metrics still print.
    const std::vector<float> constant(std::size_t(shape.pixels()), 0.5f);
    tomodenoise::write_hdf5_stack({file, "/constant"}, Stack::from_float(shape, constant.data()));
    const auto flat =
        run_tool(tool, "'" + file + ":/constant' '" + file + ":/half' --data-range 1");
    ASSERT_EQ(flat.exit_code, 0) << flat.err;
    EXPECT_TRUE(nlohmann::json::parse(flat.out).at("high_frequency_ratio").is_null());
    EXPECT_TRUE(nlohmann::json::parse(flat.out).at("psnr").is_number());
}

TEST(CompareImagesTool, AcceptsTwoDimensionalDatasets) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "compare_images");
    ScratchDir dir;
    const StackShape shape{1, 16, 16};
    const Pair p = make_images(shape);
    const std::string file = dir.file("slice.h5");
    tomodenoise::write_hdf5_stack({file, "/a"}, Stack::from_float(shape, p.reference.data()));
    tomodenoise::write_hdf5_stack({file, "/b"}, Stack::from_float(shape, p.test.data()));
    // A rank-2 copy of /a, written with the HDF5 C API.
    {
        const hid_t h5 = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        const hsize_t dims[2] = {16, 16};
        const hid_t space = H5Screate_simple(2, dims, nullptr);
        const hid_t set =
            H5Dcreate2(h5, "/a2d", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.reference.data());
        H5Dclose(set);
        H5Sclose(space);
        H5Fclose(h5);
    }
    const auto a = run_tool(tool, "'" + file + ":/a' '" + file + ":/b'");
    const auto a2d = run_tool(tool, "'" + file + ":/a2d' '" + file + ":/b'");
    ASSERT_EQ(a2d.exit_code, 0) << a2d.err;
    EXPECT_EQ(nlohmann::json::parse(a2d.out).at("psnr"), nlohmann::json::parse(a.out).at("psnr"));
}

TEST(CompareImagesTool, AcceptsTiffFoldersAndMultiPageTiffsAsEitherInput) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "compare_images");
    ScratchDir dir;
    const StackShape shape{3, 18, 20};
    const Pair p = make_images(shape);
    const Stack reference = Stack::from_float(shape, p.reference.data());
    const Stack test = Stack::from_float(shape, p.test.data());
    const std::string file = dir.file("pair.h5");
    tomodenoise::write_hdf5_stack({file, "/clean"}, reference);
    tomodenoise::write_hdf5_stack({file, "/noisy"}, test);
    tomodenoise::TiffSeries series;
    series.folder = dir.file("clean_tiffs");
    series.prefix = "clean_";
    tomodenoise::write_tiff_series(series, reference);
    tomodenoise::write_multipage_tiff(dir.file("noisy.tif"), test);
    series.folder = dir.file("noisy_tiffs");
    tomodenoise::write_tiff_series(series, test);

    const auto hdf5 = run_tool(tool, "'" + file + ":/clean' '" + file + ":/noisy'");
    ASSERT_EQ(hdf5.exit_code, 0) << hdf5.err;
    const auto want = nlohmann::json::parse(hdf5.out);
    for (const auto& [ref, tst] : {std::make_pair(dir.file("clean_tiffs"), dir.file("noisy.tif")),
                                   std::make_pair(file + ":/clean", dir.file("noisy_tiffs")),
                                   std::make_pair(dir.file("clean_tiffs"), file + ":/noisy")}) {
        const auto r = run_tool(tool, "'" + ref + "' '" + tst + "'");
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const auto json = nlohmann::json::parse(r.out);
        EXPECT_EQ(json.at("test"), tst);
        for (const char* metric : {"psnr", "ssim", "ssim_uniform7", "mse", "mae", "data_range"})
            EXPECT_EQ(json.at(metric), want.at(metric)) << ref << " " << tst << " " << metric;
    }

    // A TIFF folder with a gap is named with its missing file.
    std::filesystem::remove(std::filesystem::path(dir.file("noisy_tiffs")) / "clean_00001.tiff");
    const auto gap = run_tool(tool, "'" + file + ":/clean' '" + dir.file("noisy_tiffs") + "'");
    EXPECT_NE(gap.exit_code, 0);
    EXPECT_NE(gap.err.find("clean_00001.tiff"), std::string::npos) << gap.err;
    EXPECT_EQ(std::count(gap.err.begin(), gap.err.end(), '\n'), 1) << gap.err;
}

TEST(CompareImagesTool, ErrorsAreOneLineNamingTheFile) {
    TOMODENOISE_TOOL_OR_SKIP(tool, "compare_images");
    ScratchDir dir;
    const std::string file = dir.file("shapes.h5");
    const auto big = random_values(2 * 16 * 16, 1, 0.f, 1.f);
    tomodenoise::write_hdf5_stack({file, "/two"}, Stack::from_float({2, 16, 16}, big.data()));
    tomodenoise::write_hdf5_stack({file, "/one"}, Stack::from_float({1, 16, 16}, big.data()));

    auto expect_one_line_error = [&](const std::string& args, const std::string& named) {
        const auto r = run_tool(tool, args);
        EXPECT_NE(r.exit_code, 0) << args;
        EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    };
    expect_one_line_error("'" + file + ":/two' '" + file + ":/one'", "shapes.h5:/one");
    expect_one_line_error("'" + file + ":/two' '" + dir.file("missing.h5") + ":/x'", "missing.h5");
    expect_one_line_error("'" + file + ":/two' '" + file + ":/nothing'", "/nothing");
    expect_one_line_error("'" + file + ":/two' '" + file + ":/two' --data-range 0", "--data-range");
}

}  // namespace
