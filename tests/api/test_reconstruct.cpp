#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/metrics.hpp"
#include "tomodenoise/reconstruct.hpp"
#include "tomodenoise/simulate.hpp"

namespace {

using namespace tomodenoise;
using tomodenoise::testing::expect_error_naming;
using tomodenoise::testing::folder_entries;
using tomodenoise::testing::ScratchDir;

const std::string k_fixture = "fixtures/fbp_reference.h5";

// PSNR of `got` against `want` (n x n) over the circle of radius n/2 around (n//2, n//2), the
// one iradon reconstructs, with the reference's range there as the peak.
double psnr_in_circle(const float* got, const float* want, int n) {
    const int c = n / 2;
    double se = 0, lo = 1e300, hi = -1e300;
    std::int64_t count = 0;
    for (int r = 0; r < n; ++r)
        for (int col = 0; col < n; ++col) {
            if ((r - c) * (r - c) + (col - c) * (col - c) > 0.25 * n * n) continue;
            const double w = want[r * n + col], d = got[r * n + col] - w;
            se += d * d;
            lo = std::min(lo, w);
            hi = std::max(hi, w);
            ++count;
        }
    return 10 * std::log10((hi - lo) * (hi - lo) / (se / double(count)));
}

std::vector<float> read_all(const std::string& location) {
    StackReader reader(location);
    return reader.read(0, reader.shape().n).to_float();
}

void write_1d(const std::string& file, const std::string& path, const std::vector<float>& v) {
    const hdf5::File f = std::filesystem::exists(file) ? hdf5::File::open_read_write(file)
                                                       : hdf5::File::create(file);
    hdf5::write_float_dataset(f, path, {std::int64_t(v.size())}, v.data());
}

// A Data Exchange file of a sinogram stack (rows, angles, columns) of line integrals p: counts
// dark + (white - dark) exp(-mu p), white and dark varying over the detector.
struct DataExchangeFile {
    std::string file;
    StackShape projections;             // (angles, rows, columns)
    std::vector<float> line_integrals;  // (angles, rows, columns)

    DataExchangeFile(const std::string& name, const Stack& sinograms,
                     const std::vector<float>& degrees, double mu = 1.0)
        : file(name) {
        const StackShape s = sinograms.shape();
        projections = {s.h, s.n, s.w};
        const std::vector<float> p = sinograms.to_float();
        line_integrals.resize(p.size());
        std::vector<float> data(p.size()), white(2 * s.n * s.w), dark(3 * s.n * s.w);
        for (std::int64_t i = 0; i < 2 * s.n * s.w; ++i) white[i] = 1000.0f + float(i % 7);
        for (std::int64_t i = 0; i < 3 * s.n * s.w; ++i) dark[i] = 90.0f + float(i % 5);
        const auto mean = [&](const std::vector<float>& f, int images, std::int64_t plane_index) {
            double sum = 0;
            for (int i = 0; i < images; ++i) sum += f[i * s.n * s.w + plane_index];
            return sum / images;
        };
        for (std::int64_t r = 0; r < s.n; ++r)
            for (std::int64_t a = 0; a < s.h; ++a)
                for (std::int64_t c = 0; c < s.w; ++c) {
                    const float value = p[(r * s.h + a) * s.w + c];
                    const std::int64_t q = r * s.w + c;
                    const double w = mean(white, 2, q), d = mean(dark, 3, q);
                    const std::int64_t at = (a * s.n + r) * s.w + c;
                    data[at] = float(d + (w - d) * std::exp(-mu * double(value)));
                    line_integrals[at] = value;
                }
        write_hdf5_stack({file, "/exchange/data"}, Stack::from_float(projections, data.data()));
        write_hdf5_stack({file, "/exchange/data_white"},
                         Stack::from_float({2, s.n, s.w}, white.data()));
        write_hdf5_stack({file, "/exchange/data_dark"},
                         Stack::from_float({3, s.n, s.w}, dark.data()));
        write_1d(file, "/exchange/theta", degrees);
    }
};

struct Fixture {
    std::string file;
    std::string sinograms() const { return file + ":/sinogram"; }
    std::string theta() const { return file + ":/theta_degrees"; }
};

TEST(Reconstruct, AgreesWithScikitImageIradonAbove45dB) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, k_fixture);
    ScratchDir dir;
    ReconstructOptions o;
    o.input = fixture.string() + ":/sinogram";
    o.layout = ProjectionLayout::rows_angles_columns;
    o.angles_dataset = fixture.string() + ":/theta_degrees";
    o.center = 128;  // the fixture's: detector index size // 2
    o.output = dir.file("rec.h5") + ":/rec";
    const ReconstructSummary summary = reconstruct_stack(o);
    EXPECT_EQ(summary.shape, (StackShape{3, 256, 256}));
    const std::vector<float> got = read_all(o.output);
    const std::vector<float> want = read_all(fixture.string() + ":/fbp_ramp");
    ASSERT_EQ(got.size(), want.size());
    for (int i = 0; i < 3; ++i) {
        const double psnr = psnr_in_circle(got.data() + i * 65536, want.data() + i * 65536, 256);
        RecordProperty("psnr_db_" + std::to_string(i), std::to_string(psnr));
        std::printf("slice %d: %.2f dB against iradon inside the circle\n", i, psnr);
        EXPECT_GE(psnr, 45.0) << "slice " << i;
    }
}

// FBP is linear and each of K subsets of N/K angles weighs pi / (N/K) per view, so the mean of
// the K sub-reconstructions is the full one.
TEST(Reconstruct, SplitsAverageToTheFullReconstruction) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, k_fixture);
    ScratchDir dir;
    ReconstructOptions o;
    o.input = fixture.string() + ":/sinogram";
    o.layout = ProjectionLayout::rows_angles_columns;
    o.angles_dataset = fixture.string() + ":/theta_degrees";
    o.output = dir.file("rec.h5") + ":/rec";
    o.splits = 4;
    o.threads = 2;
    const ReconstructSummary summary = reconstruct_stack(o);
    ASSERT_EQ(summary.split_outputs.size(), 4u);
    EXPECT_EQ(summary.split_outputs[1], dir.file("rec.split1.h5") + ":/rec");
    const std::vector<float> full = read_all(o.output);
    std::vector<float> mean(full.size(), 0.0f);
    std::vector<std::vector<float>> splits;
    for (const std::string& location : summary.split_outputs) {
        splits.push_back(read_all(location));
        for (std::size_t i = 0; i < full.size(); ++i) mean[i] += 0.25f * splits.back()[i];
    }
    EXPECT_TRUE(tomodenoise::testing::within_fraction_of_range(mean, full, 1e-5));
    // The splits differ from one another (independent angle subsets), not copies.
    double differ = 0;
    for (std::size_t i = 0; i < full.size(); ++i) differ += std::abs(splits[0][i] - splits[1][i]);
    EXPECT_GT(differ / double(full.size()), 1e-4);
}

TEST(Reconstruct, DataExchangeIsFlatDarkCorrected) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, k_fixture);
    ScratchDir dir;
    const Stack sinograms = read_hdf5_slab({fixture.string(), "/sinogram"}, 0, 2);
    const std::vector<float> theta =
        hdf5::read_float_dataset(hdf5::File::open_read(fixture.string()), "/theta_degrees").values;
    // The fixture's line integrals are in pixels (up to ~60): attenuated as by mu = 0.02.
    const double mu = 0.02;
    const DataExchangeFile dx(dir.file("scan.h5"), sinograms, theta, mu);
    ReconstructOptions corrected;
    corrected.input = fixture.string() + ":/sinogram";
    corrected.layout = ProjectionLayout::rows_angles_columns;
    corrected.angles_degrees = parse_angle_range("0:180:360");
    corrected.output = dir.file("corrected.h5") + ":/rec";
    ReconstructOptions exchange;
    exchange.input = dx.file;
    exchange.output = dir.file("exchange.tif");
    reconstruct_stack(corrected);
    reconstruct_stack(exchange);
    const std::vector<float> want = read_all(corrected.output);
    std::vector<float> got = read_all(exchange.output);
    ASSERT_EQ(got.size(), 2u * 256 * 256);
    for (float& v : got) v = float(v / mu);
    EXPECT_TRUE(tomodenoise::testing::within_fraction_of_range(
        got, std::vector<float>(want.begin(), want.begin() + got.size()), 1e-3));
}

TEST(Reconstruct, AngleRangesAndSplitLocations) {
    const std::vector<double> a = parse_angle_range("0:180:4");
    EXPECT_EQ(a, (std::vector<double>{0, 45, 90, 135}));
    for (const char* bad : {"0:180", "0:180:0", "0:x:4", "5:5:3", "0:180:4:1", "nan:1:2"})
        expect_error_naming<InvalidArgument>([&] { parse_angle_range(bad); }, {"--angles", bad});
    EXPECT_EQ(split_location("a/rec.h5:/g/rec", 2), "a/rec.split2.h5:/g/rec");
    EXPECT_EQ(split_location("out/tiffs/", 0), "out/tiffs.split0");
    EXPECT_EQ(split_location("v.1/stack.tif", 3), "v.1/stack.split3.tif");
    EXPECT_EQ(split_location("v.1/folder", 3), "v.1/folder.split3");
}

// simulate --kind projections writes a Data Exchange scan whose reconstruction is its
// /simulation/clean without noise, and a noisy one at a dose.
TEST(Reconstruct, SimulatedProjectionsReconstructToTheirCleanImage) {
    ScratchDir dir;
    SimulationOptions sim;
    sim.kind = SimulationKind::projections;
    sim.count = 3;
    sim.size = 64;
    sim.full_views = 180;
    sim.views = 180;
    sim.texture = 0.1;
    sim.phantom = PhantomKind::ellipses;
    EXPECT_EQ(parse_simulation_kind("projections"), SimulationKind::projections);
    double psnr_at[2];
    for (int noisy = 0; noisy < 2; ++noisy) {
        sim.i0 = noisy ? 2000.0 : 0.0;
        const std::string scan = dir.file("scan" + std::to_string(noisy) + ".h5");
        write_simulated_dataset(scan, simulate(sim));
        EXPECT_EQ(hdf5_stack_shape({scan, "/exchange/data"}), (StackShape{180, 3, 64}));
        EXPECT_EQ(hdf5_stack_shape({scan, "/exchange/data_white"}),
                  (StackShape{SimulationOptions::white_frames, 3, 64}));
        ReconstructOptions o;
        o.input = scan;
        o.output = dir.file("rec" + std::to_string(noisy) + ".h5") + ":/rec";
        reconstruct_stack(o);
        const std::vector<float> clean = read_all(scan + ":/simulation/clean");
        const std::vector<float> rec = read_all(o.output);
        const auto [lo, hi] = std::minmax_element(clean.begin(), clean.end());
        ASSERT_GT(*hi - *lo, 0.01f);  // attenuation per pixel: the phantom x 4 / 64
        psnr_at[noisy] =
            compare_stacks(clean.data(), rec.data(), {3, 64, 64}, double(*hi - *lo)).mean.psnr;
        RecordProperty(noisy ? "psnr_db_i0_2000" : "psnr_db_noise_free",
                       std::to_string(psnr_at[noisy]));
    }
    EXPECT_GT(psnr_at[0], 60.0);
    EXPECT_GT(psnr_at[1], 15.0);
    EXPECT_LT(psnr_at[1], 40.0);
}

// Each bad input: the error names the dataset (or option) and dims, and nothing is written.
class ReconstructBadInput : public ::testing::Test {
protected:
    ScratchDir dir;
    std::string scan = dir.file("scan.h5");
    ReconstructOptions options;

    void SetUp() override {
        std::vector<float> sino(2 * 8 * 16);
        for (std::size_t i = 0; i < sino.size(); ++i) sino[i] = 0.01f * float(i % 16);
        std::vector<float> theta(8);
        for (int i = 0; i < 8; ++i) theta[i] = 22.5f * float(i);
        DataExchangeFile(scan, Stack::from_float({2, 8, 16}, sino.data()), theta);
        options.input = scan;
        options.output = dir.file("out.h5") + ":/rec";
        options.splits = 2;
    }
    template <typename E>
    void expect_refused(const std::vector<std::string>& parts) {
        const auto before = folder_entries(dir.path());
        expect_error_naming<E>([&] { reconstruct_stack(options); }, parts);
        EXPECT_EQ(folder_entries(dir.path()), before);
    }
    void replace(const std::string& path, StackShape shape, float value) {
        {
            const hdf5::File f = hdf5::File::open_read_write(scan);
            hdf5::unlink(f, path);
        }
        write_hdf5_stack(
            {scan, path},
            Stack::from_float(shape, std::vector<float>(shape.pixels(), value).data()));
    }
};

TEST_F(ReconstructBadInput, ValidInputWorks) {
    reconstruct_stack(options);
    EXPECT_EQ(read_all(options.output).size(), 2u * 16 * 16);
}

// The full reconstruction and its K sub-reconstructions are published as one set: a run that
// fails while publishing them (another process put something where one goes) takes back the
// ones it published, so no set looks complete, and leaves no unfinished output behind; once
// the obstacle is gone a rerun writes them all. For each kind of output and each of the three.
TEST_F(ReconstructBadInput, AFailureWhilePublishingTheSplitsLeavesNoneOfThem) {
    namespace fs = std::filesystem;
    const std::vector<std::string> kinds{dir.file("out.h5") + ":/rec", dir.file("out") + "/",
                                         dir.file("out.tif")};
    for (const std::string& output : kinds)
        for (int blocked = 0; blocked < 3; ++blocked) {
            SCOPED_TRACE(output + ", obstacle at output " + std::to_string(blocked));
            options.output = output;
            const std::vector<std::string> outputs{split_location(output, 0),
                                                   split_location(output, 1), output};
            const auto path_of = [](const std::string& location) {
                std::string path = StackLocation::parse(location).path;
                if (path.back() == '/') path.pop_back();
                return path;
            };
            const std::string obstacle = path_of(outputs[std::size_t(blocked)]);
            const auto before = folder_entries(dir.path());
            options.progress = [&](std::int64_t done, std::int64_t total) {
                if (done < total) return;
                if (output.back() == '/') {  // a folder another run filled
                    fs::create_directories(obstacle);
                    std::ofstream(fs::path(obstacle) / "slice_00000.tiff") << "not ours";
                } else if (StackLocation::parse(output).format == StackFormat::hdf5) {
                    write_hdf5_stack({obstacle, "/rec"},
                                     Stack::from_float({1, 1, 1}, std::vector<float>{7}.data()));
                } else {  // a TIFF file is replaced, but never a folder
                    fs::create_directories(obstacle);
                }
            };
            expect_error_naming<IoError>([&] { reconstruct_stack(options); },
                                         {fs::path(obstacle).filename().string()});
            std::vector<std::string> after_failure = before;
            after_failure.push_back(fs::path(obstacle).filename().string());
            std::sort(after_failure.begin(), after_failure.end());
            EXPECT_EQ(folder_entries(dir.path()), after_failure);
            if (StackLocation::parse(output).format == StackFormat::hdf5) {
                EXPECT_EQ(read_all(obstacle + ":/rec"), std::vector<float>{7});  // untouched
            }

            fs::remove_all(obstacle);
            options.progress = nullptr;
            const ReconstructSummary summary = reconstruct_stack(options);
            EXPECT_EQ(summary.split_outputs,
                      std::vector<std::string>(outputs.begin(), outputs.end() - 1));
            for (const std::string& location : outputs)
                EXPECT_EQ(read_all(location).size(), 2u * 16 * 16) << location;
            for (const std::string& location : outputs) fs::remove_all(path_of(location));
        }
}

// With overwrite, the outputs an earlier run left are removed before any is published, so that
// a run failing (or killed) while publishing never leaves a set mixing its outputs with theirs.
TEST_F(ReconstructBadInput, OverwritingRemovesTheEarlierSetBeforePublishingAny) {
    namespace fs = std::filesystem;
    reconstruct_stack(options);
    const std::string full = dir.file("out.h5"), split0 = dir.file("out.split0.h5"),
                      split1 = dir.file("out.split1.h5");
    fs::remove(split1);
    options.overwrite = true;
    options.progress = [&](std::int64_t done, std::int64_t total) {
        if (done == total) fs::create_directory(split1);  // overwriting never replaces a folder
    };
    expect_error_naming<IoError>([&] { reconstruct_stack(options); }, {split1});
    for (const std::string& file : {full, split0})
        EXPECT_FALSE(hdf5::link_exists(hdf5::File::open_read(file), "/rec")) << file;

    fs::remove(split1);
    options.progress = nullptr;
    reconstruct_stack(options);
    for (const std::string& file : {full, split0, split1})
        EXPECT_EQ(read_all(file + ":/rec").size(), 2u * 16 * 16) << file;
}

TEST_F(ReconstructBadInput, AnglesNotMatchingProjections) {
    options.angles_degrees = parse_angle_range("0:180:7");
    expect_refused<ShapeError>({"7 angles", "/exchange/data", "(8, 2, 16)", "8 projections"});
    options.angles_degrees.clear();
    options.angles_dataset.clear();
    {
        const hdf5::File f = hdf5::File::open_read_write(scan);
        hdf5::unlink(f, "/exchange/theta");
    }
    write_1d(scan, "/exchange/theta", std::vector<float>(9, 1.0f));
    expect_refused<ShapeError>({"/exchange/theta", "9 angles", "(8, 2, 16)"});
}

TEST_F(ReconstructBadInput, WhiteOrDarkOfAnotherShape) {
    replace("/exchange/data_white", {2, 2, 15}, 1000.0f);
    expect_refused<ShapeError>({"/exchange/data_white", "(2, 2, 15)", "(8, 2, 16)"});
    replace("/exchange/data_white", {2, 2, 16}, 1000.0f);
    replace("/exchange/data_dark", {1, 3, 16}, 10.0f);
    expect_refused<ShapeError>({"/exchange/data_dark", "(1, 3, 16)", "(8, 2, 16)"});
}

TEST_F(ReconstructBadInput, NonPositiveTransmission) {
    replace("/exchange/data_dark", {3, 2, 16}, 2000.0f);  // above the white field
    expect_refused<NumericalError>(
        {"/exchange/data", "(8, 2, 16)", "angle 0, row 0, column 0", "--min-transmission"});
    // The documented clamp instead of the error.
    replace("/exchange/data_dark", {3, 2, 16}, 10.0f);
    replace("/exchange/data", {8, 2, 16}, 5.0f);  // below the dark field
    expect_refused<NumericalError>({"/exchange/data", "not a positive transmission"});
    options.min_transmission = 1e-3;
    reconstruct_stack(options);
    const std::vector<float> rec = read_all(options.output);
    for (float v : rec) ASSERT_TRUE(std::isfinite(v));
}

TEST_F(ReconstructBadInput, MoreSplitsThanAngles) {
    options.splits = 9;
    expect_refused<InvalidArgument>({"--splits 9", "8 angles", "/exchange/data", "(8, 2, 16)"});
    options.splits = 1;
    expect_refused<InvalidArgument>({"--splits 1"});
}

TEST_F(ReconstructBadInput, CentreOutsideTheDetector) {
    for (double centre : {-0.5, 15.5, 1e9}) {
        options.center = centre;
        expect_refused<InvalidArgument>({"--center", "/exchange/data", "(8, 2, 16)", "0 to 15"});
    }
}

TEST_F(ReconstructBadInput, ThreadsOutOfRange) {
    options.threads = -1;
    expect_refused<InvalidArgument>({"--threads -1"});
}

TEST_F(ReconstructBadInput, CorrectedInputWithoutAngles) {
    options.input = scan + ":/exchange/data";
    expect_refused<InvalidArgument>({"no angles", "/exchange/data", "--angles"});
}

}  // namespace
