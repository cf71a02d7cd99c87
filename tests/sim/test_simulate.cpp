#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sim/noise.hpp"
#include "sim/shapes.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"
#include "tomodenoise/simulate.hpp"

namespace {

using tomodenoise::SimulationKind;
using tomodenoise::SimulationOptions;
using tomodenoise::Stack;

bool same_pixels(const Stack& a, const Stack& b) {
    return a.shape() == b.shape() && a.type() == b.type() && a.bytes() > 0 &&
           std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

SimulationOptions small(SimulationKind kind) {
    SimulationOptions o;
    o.kind = kind;
    o.count = 3;
    o.test_count = 2;
    o.size = 40;
    o.seed = 11;
    return o;
}

SimulationOptions shepp_logan_scan(double i0, int views) {
    SimulationOptions o;
    o.kind = SimulationKind::ct;
    o.phantom = tomodenoise::PhantomKind::shepp_logan;
    o.count = 2;
    o.test_count = 0;
    o.size = 96;
    o.i0 = i0;
    o.views = views;
    return o;
}

// PSNR of the noisy input against the label, data range 1 (the phantom's).
double input_psnr(const SimulationOptions& o) {
    const auto data = tomodenoise::simulate(o);
    return tomodenoise::compare_stacks(data.train.clean, data.train.noisy, 1.0).mean.psnr;
}

TEST(Simulate, CtLowerDoseGivesLowerPsnr) {
    const double high = input_psnr(shepp_logan_scan(1e6, 360));
    const double mid = input_psnr(shepp_logan_scan(1e4, 360));
    const double low = input_psnr(shepp_logan_scan(1e2, 360));
    EXPECT_GT(high, mid);
    EXPECT_GT(mid, low);
    EXPECT_GT(high, 25.0);  // the label is the full-dose FBP: little noise at a high dose
}

TEST(Simulate, CtFewerViewsGiveLowerPsnr) {
    // Without photon noise the full scan reproduces the label exactly (infinite PSNR).
    double previous = input_psnr(shepp_logan_scan(0, 360));
    EXPECT_EQ(previous, std::numeric_limits<double>::infinity());
    for (int views : {180, 90, 45}) {
        const double psnr = input_psnr(shepp_logan_scan(0, views));
        EXPECT_LT(psnr, previous) << views << " views";
        previous = psnr;
    }
}

TEST(Simulate, CtNoiseFreeFullScanInputEqualsLabel) {
    const auto data = tomodenoise::simulate(shepp_logan_scan(0, 360));
    EXPECT_TRUE(same_pixels(data.train.noisy, data.train.clean));
    float peak = 0;
    const float* label = data.train.clean.as<float>();
    for (std::int64_t i = 0; i < data.train.clean.shape().pixels(); ++i)
        peak = std::max(peak, label[i]);
    EXPECT_NEAR(peak, 1.0, 0.2);  // attenuation per pixel, the phantom's scale
}

TEST(Simulate, CtMissingWedgeLowersPsnr) {
    auto o = shepp_logan_scan(0, 360);
    o.wedge_degrees = 30;
    EXPECT_LT(input_psnr(o), 30.0);
    o.wedge_degrees = 60;
    const double wide = input_psnr(o);
    o.wedge_degrees = 30;
    EXPECT_LT(wide, input_psnr(o));
}

TEST(Simulate, SameSeedSameOutputDifferentSeedDiffers) {
    for (auto kind :
         {SimulationKind::shapes, SimulationKind::ct, SimulationKind::n2n, SimulationKind::seg}) {
        auto o = small(kind);
        const auto a = tomodenoise::simulate(o);
        const auto b = tomodenoise::simulate(o);
        EXPECT_TRUE(same_pixels(a.train.noisy, b.train.noisy)) << to_string(kind);
        EXPECT_TRUE(same_pixels(a.test.clean, b.test.clean)) << to_string(kind);
        o.seed = 12;
        const auto c = tomodenoise::simulate(o);
        EXPECT_FALSE(same_pixels(a.train.noisy, c.train.noisy)) << to_string(kind);
        EXPECT_FALSE(same_pixels(a.train.clean, c.train.clean)) << to_string(kind);
    }
}

TEST(Simulate, OutputDoesNotDependOnThreadsOrTrainCount) {
    auto plain = small(SimulationKind::ct);
    auto textured_ct = plain;
    textured_ct.texture = 0.3;
    textured_ct.i0 = {1000, 50000};
    auto textured_shapes = small(SimulationKind::shapes);
    textured_shapes.texture = 0.3;
    textured_shapes.sigma = {0.01, 0.3};
    for (SimulationOptions o : {plain, textured_ct, textured_shapes}) {
        const auto parallel = tomodenoise::simulate(o);
        {
            tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
            const auto serial = tomodenoise::simulate(o);
            EXPECT_TRUE(same_pixels(parallel.train.noisy, serial.train.noisy));
            EXPECT_TRUE(same_pixels(parallel.train.clean, serial.train.clean));
            EXPECT_TRUE(same_pixels(parallel.test.noisy, serial.test.noisy));
            EXPECT_EQ(parallel.train.noise_levels, serial.train.noise_levels);
        }
        o.count = 1;
        const auto fewer = tomodenoise::simulate(o);
        EXPECT_TRUE(same_pixels(parallel.test.noisy, fewer.test.noisy));
        EXPECT_EQ(fewer.train.noisy.shape().n, 1);
    }
}

TEST(Simulate, NoiseLevelRangesAreDrawnLogUniformlyPerImage) {
    auto o = small(SimulationKind::shapes);
    o.count = 400;
    o.test_count = 0;
    o.size = 8;
    o.sigma = {0.01, 1.0};
    const auto data = tomodenoise::simulate(o);
    const std::vector<double>& levels = data.train.noise_levels;
    ASSERT_EQ(levels.size(), 400u);
    // Log-uniform over two decades: about half below the geometric mean 0.1, a quarter in
    // each half-decade; a uniform draw would put 9% below 0.1.
    int below_mean = 0, lowest_quarter = 0;
    for (double level : levels) {
        EXPECT_GE(level, 0.01);
        EXPECT_LE(level, 1.0);
        below_mean += level < 0.1;
        lowest_quarter += level < std::sqrt(0.1 * 0.01);
    }
    EXPECT_NEAR(below_mean / 400.0, 0.5, 0.1);
    EXPECT_NEAR(lowest_quarter / 400.0, 0.25, 0.08);
}

TEST(Simulate, EachImageCarriesTheNoiseOfItsOwnLevel) {
    auto gaussian = small(SimulationKind::shapes);
    gaussian.count = 12;
    gaussian.size = 48;
    gaussian.sigma = {0.02, 0.5};
    auto poisson = gaussian;
    poisson.noise = tomodenoise::NoiseModel::poisson;
    poisson.peak = {5, 500};
    for (const SimulationOptions& o : {gaussian, poisson}) {
        const auto data = tomodenoise::simulate(o);
        const auto pixels = o.size * o.size;
        for (std::int64_t i = 0; i < o.count; ++i) {
            const float* clean = data.train.clean.as<float>() + i * pixels;
            const float* noisy = data.train.noisy.as<float>() + i * pixels;
            // Gaussian: variance sigma^2; Poisson: variance clean / peak.
            double variance = 0, expected = 0;
            for (std::int64_t p = 0; p < pixels; ++p) {
                variance += (noisy[p] - clean[p]) * double(noisy[p] - clean[p]);
                const double level = data.train.noise_levels[std::size_t(i)];
                expected +=
                    o.noise == tomodenoise::NoiseModel::gaussian ? level * level : clean[p] / level;
            }
            EXPECT_NEAR(variance / expected, 1.0, 0.15) << "image " << i;
        }
        const auto [lo, hi] =
            std::minmax_element(data.train.noise_levels.begin(), data.train.noise_levels.end());
        EXPECT_GT(*hi / *lo, 2.0);  // the images do differ in level
    }
}

TEST(Simulate, TestSplitLevelsAreTheirOwnAndScenesDoNotDependOnThem) {
    auto o = small(SimulationKind::ct);
    o.texture = 0.2;
    o.i0 = {1000, 50000};
    o.test_i0 = 2000;
    const auto low = tomodenoise::simulate(o);
    for (double level : low.test.noise_levels) EXPECT_EQ(level, 2000.0);
    for (double level : low.train.noise_levels) {
        EXPECT_GE(level, 1000.0);
        EXPECT_LE(level, 50000.0);
    }
    o.test_i0 = 50000;
    const auto high = tomodenoise::simulate(o);
    EXPECT_TRUE(same_pixels(low.test.clean, high.test.clean));
    EXPECT_TRUE(same_pixels(low.train.clean, high.train.clean));
    EXPECT_FALSE(same_pixels(low.test.noisy, high.test.noisy));
    EXPECT_LT(tomodenoise::compare_stacks(low.test.clean, low.test.noisy, 1.0).mean.psnr,
              tomodenoise::compare_stacks(high.test.clean, high.test.noisy, 1.0).mean.psnr);
    // Held-out scenes are not training scenes.
    const auto pixels = o.size * o.size;
    for (std::int64_t t = 0; t < o.test_count; ++t)
        for (std::int64_t i = 0; i < o.count; ++i)
            EXPECT_NE(std::memcmp(low.test.clean.as<float>() + t * pixels,
                                  low.train.clean.as<float>() + i * pixels,
                                  std::size_t(pixels) * sizeof(float)),
                      0)
                << "test image " << t << " is training image " << i;
}

TEST(Simulate, TextureChangesShapeImagesOnlyInsideTheShapes) {
    auto o = small(SimulationKind::seg);
    o.size = 64;
    const auto plain = tomodenoise::simulate(o);
    o.texture = 0.2;
    const auto textured = tomodenoise::simulate(o);
    ASSERT_TRUE(same_pixels(plain.train.labels, textured.train.labels));
    const std::uint8_t* labels = plain.train.labels.as<std::uint8_t>();
    const float* a = plain.train.clean.as<float>();
    const float* b = textured.train.clean.as<float>();
    double change2 = 0, value2 = 0;
    std::int64_t inside = 0;
    for (std::int64_t i = 0; i < plain.train.clean.shape().pixels(); ++i) {
        if (labels[i] == 0) {
            ASSERT_EQ(a[i], b[i]) << "background pixel " << i << " changed";
            continue;
        }
        change2 += (b[i] - a[i]) * double(b[i] - a[i]);
        value2 += a[i] * double(a[i]);
        ++inside;
    }
    ASSERT_GT(inside, 0);
    // The texture's RMS is about 0.2 of the shapes' values (less where clipped at 1).
    EXPECT_NEAR(std::sqrt(change2 / value2), 0.2, 0.07);
}

// Segmentation labels are materials: every labelled pixel of an untextured clean image holds
// its material's value (within the shape-to-shape variation), the background stays below them.
TEST(Simulate, SegLabelsAreMaterialsOfDistinctValues) {
    auto o = small(SimulationKind::seg);
    o.size = 64;
    o.count = 16;
    const auto data = tomodenoise::simulate(o);
    const std::uint8_t* labels = data.train.labels.as<std::uint8_t>();
    const float* clean = data.train.clean.as<float>();
    std::set<int> seen;
    for (std::int64_t i = 0; i < data.train.clean.shape().pixels(); ++i) {
        const int label = labels[i];
        seen.insert(label);
        ASSERT_LE(label, tomodenoise::sim::material_count) << "pixel " << i;
        if (label == 0)
            ASSERT_LE(clean[i], 0.2f) << "background pixel " << i;
        else
            ASSERT_NEAR(clean[i], tomodenoise::sim::material_value(label), 0.04 + 1e-6)
                << "pixel " << i << " of material " << label;
    }
    EXPECT_EQ(seen, (std::set<int>{0, 1, 2, 3}));
}

TEST(Simulate, TextureChangesCtLabelsInsideThePhantomOnly) {
    auto o = small(SimulationKind::ct);
    o.phantom = tomodenoise::PhantomKind::spheres;  // a cylinder of radius 0.85
    o.size = 64;
    o.i0 = 0;
    const auto plain = tomodenoise::simulate(o);
    o.texture = 0.3;
    const auto textured = tomodenoise::simulate(o);
    const int size = int(o.size);
    double inside2 = 0, outside2 = 0;
    int inside = 0, outside = 0;
    for (std::int64_t n = 0; n < o.count; ++n)
        for (int r = 0; r < size; ++r)
            for (int c = 0; c < size; ++c) {
                const double x = (c + 0.5) * 2 / size - 1, y = (r + 0.5) * 2 / size - 1;
                const std::int64_t i = (n * size + r) * size + c;
                const double d =
                    textured.train.clean.as<float>()[i] - plain.train.clean.as<float>()[i];
                if (x * x + y * y < 0.6 * 0.6) {
                    inside2 += d * d;
                    ++inside;
                } else if (x * x + y * y > 0.95 * 0.95) {
                    outside2 += d * d;
                    ++outside;
                }
            }
    const double inside_rms = std::sqrt(inside2 / inside),
                 outside_rms = std::sqrt(outside2 / outside);
    EXPECT_GT(inside_rms, 0.01);
    EXPECT_LT(outside_rms, 0.1 * inside_rms);  // FBP blur leaks a little, no more
}

TEST(Simulate, Noise2SelfKindHasNoisyTrainingImagesAndCleanTestImages) {
    const auto data = tomodenoise::simulate(small(SimulationKind::n2s));
    EXPECT_EQ(data.train.noisy.shape(), (tomodenoise::StackShape{3, 40, 40}));
    EXPECT_EQ(data.test.clean.shape(), (tomodenoise::StackShape{2, 40, 40}));
    EXPECT_FALSE(same_pixels(data.test.noisy, data.test.clean));
    EXPECT_EQ(data.train.labels.bytes(), 0u);
    EXPECT_EQ(data.train.noisy_b.bytes(), 0u);
}

TEST(Simulate, CtScenesGiveNoise2NoisePairsAndNoise2SelfImagesOfTheCtScan) {
    auto ct = small(SimulationKind::ct);
    ct.texture = 0.2;
    ct.i0 = {1000, 5000};
    auto n2n = ct;
    n2n.kind = SimulationKind::n2n;
    n2n.scene = tomodenoise::SceneKind::ct;
    auto n2s = n2n;
    n2s.kind = SimulationKind::n2s;
    const auto supervised = tomodenoise::simulate(ct);
    const auto pairs = tomodenoise::simulate(n2n);
    const auto noisy_only = tomodenoise::simulate(n2s);
    // One phantom, scan and dose per image, whatever the kind.
    EXPECT_TRUE(same_pixels(pairs.train.clean, supervised.train.clean));
    EXPECT_TRUE(same_pixels(pairs.train.noisy, supervised.train.noisy));
    EXPECT_TRUE(same_pixels(noisy_only.train.noisy, supervised.train.noisy));
    EXPECT_EQ(pairs.train.noise_levels, supervised.train.noise_levels);
    // The second scan's noise is independent of the first one's, and as strong.
    const float* clean = pairs.train.clean.as<float>();
    const float* a = pairs.train.noisy.as<float>();
    const float* b = pairs.train.noisy_b.as<float>();
    double ab = 0, aa = 0, bb = 0;
    for (std::int64_t i = 0; i < pairs.train.clean.shape().pixels(); ++i) {
        ab += (a[i] - clean[i]) * double(b[i] - clean[i]);
        aa += (a[i] - clean[i]) * double(a[i] - clean[i]);
        bb += (b[i] - clean[i]) * double(b[i] - clean[i]);
    }
    EXPECT_GT(aa, 0.0);
    EXPECT_NEAR(bb / aa, 1.0, 0.2);
    EXPECT_LT(std::abs(ab / std::sqrt(aa * bb)), 0.05);
    // Shapes and seg have no ct scenes.
    for (SimulationKind kind : {SimulationKind::shapes, SimulationKind::seg}) {
        auto o = small(kind);
        o.scene = tomodenoise::SceneKind::ct;
        tomodenoise::testing::expect_error_naming<tomodenoise::InvalidArgument>(
            [&] { tomodenoise::simulate(o); }, {"--scene", to_string(kind)});
    }
}

TEST(Simulate, BadRangesAndTexturesNameTheOption) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    struct Case {
        const char* option;
        void (*set)(SimulationOptions&, tomodenoise::ValueRange);
        tomodenoise::ValueRange value;
    };
    const auto i0 = [](SimulationOptions& o, tomodenoise::ValueRange v) { o.i0 = v; };
    const auto sigma = [](SimulationOptions& o, tomodenoise::ValueRange v) { o.sigma = v; };
    const auto peak = [](SimulationOptions& o, tomodenoise::ValueRange v) { o.peak = v; };
    const auto test_i0 = [](SimulationOptions& o, tomodenoise::ValueRange v) { o.test_i0 = v; };
    const auto test_sigma = [](SimulationOptions& o, tomodenoise::ValueRange v) {
        o.test_sigma = v;
    };
    const auto test_peak = [](SimulationOptions& o, tomodenoise::ValueRange v) { o.test_peak = v; };
    const auto texture = [](SimulationOptions& o, tomodenoise::ValueRange v) { o.texture = v.min; };
    const Case cases[] = {
        {"--i0", i0, {5000, 1000}},
        {"--i0", i0, {0, 10}},
        {"--i0", i0, {nan, 10}},
        {"--i0", i0, {10, nan}},
        {"--sigma", sigma, {0.5, 0.1}},
        {"--sigma", sigma, {0, 0.1}},
        {"--sigma", sigma, nan},
        {"--peak", peak, {-1, 10}},
        {"--peak", peak, {10, 1e31}},
        {"--test-i0", test_i0, {5, 1}},
        {"--test-sigma", test_sigma, {0, 1}},
        {"--test-peak", test_peak, nan},
        {"--texture", texture, -0.1},
        {"--texture", texture, 1.5},
        {"--texture", texture, nan},
    };
    for (const Case& c : cases) {
        SimulationOptions o = small(SimulationKind::ct);
        c.set(o, c.value);
        tomodenoise::testing::expect_error_naming<tomodenoise::InvalidArgument>(
            [&] { tomodenoise::simulate(o); }, {c.option});
    }
    for (const char* text : {"", ":", "1:", ":2", "1:2:3", "a", "1e4x", "1:x"})
        tomodenoise::testing::expect_error_naming<tomodenoise::InvalidArgument>(
            [&] { tomodenoise::parse_value_range(text, "i0"); }, {"--i0", text});
    EXPECT_EQ(tomodenoise::parse_value_range("1000:50000", "i0"),
              tomodenoise::ValueRange(1000, 50000));
    EXPECT_EQ(tomodenoise::parse_value_range("0.1", "sigma"), tomodenoise::ValueRange(0.1));
    EXPECT_EQ(tomodenoise::to_string(tomodenoise::ValueRange(1000, 50000)), "1000:50000");
}

TEST(Simulate, ShapesGaussianNoiseHasTheRequestedSigma) {
    auto o = small(SimulationKind::shapes);
    o.size = 64;
    o.sigma = 0.05;
    const auto data = tomodenoise::simulate(o);
    const float* clean = data.train.clean.as<float>();
    const float* noisy = data.train.noisy.as<float>();
    const auto n = data.train.clean.shape().pixels();
    double sum = 0, sum2 = 0, lo = 1, hi = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double d = double(noisy[i]) - clean[i];
        sum += d;
        sum2 += d * d;
        lo = std::min(lo, double(clean[i]));
        hi = std::max(hi, double(clean[i]));
    }
    EXPECT_NEAR(sum / n, 0.0, 0.002);
    EXPECT_NEAR(std::sqrt(sum2 / n), 0.05, 0.0025);
    EXPECT_GE(lo, 0.0);
    EXPECT_LE(hi, 1.0);
    EXPECT_GT(hi - lo, 0.3);  // shapes stand out from the background
}

TEST(Simulate, ShapesPoissonNoiseVarianceIsValueOverPeak) {
    auto o = small(SimulationKind::shapes);
    o.size = 64;
    o.noise = tomodenoise::NoiseModel::poisson;
    o.peak = 50;
    const auto data = tomodenoise::simulate(o);
    const float* clean = data.train.clean.as<float>();
    const float* noisy = data.train.noisy.as<float>();
    double residual = 0, variance = 0, expected = 0;
    const auto n = data.train.clean.shape().pixels();
    for (std::int64_t i = 0; i < n; ++i) {
        const double d = double(noisy[i]) - clean[i];
        residual += d;
        variance += d * d;
        expected += clean[i] / o.peak.min;
    }
    EXPECT_NEAR(residual / n, 0.0, 0.003);
    EXPECT_NEAR(variance / expected, 1.0, 0.05);
}

TEST(Simulate, Noise2NoiseRealizationsAreIndependent) {
    auto o = small(SimulationKind::n2n);
    o.size = 64;
    const auto data = tomodenoise::simulate(o);
    ASSERT_EQ(data.train.noisy_b.shape(), data.train.noisy.shape());
    const float* clean = data.train.clean.as<float>();
    const float* a = data.train.noisy.as<float>();
    const float* b = data.train.noisy_b.as<float>();
    double ab = 0, aa = 0, bb = 0;
    for (std::int64_t i = 0; i < data.train.clean.shape().pixels(); ++i) {
        const double da = a[i] - clean[i], db = b[i] - clean[i];
        ab += da * db;
        aa += da * da;
        bb += db * db;
    }
    EXPECT_GT(aa, 0.0);
    EXPECT_LT(std::abs(ab / std::sqrt(aa * bb)), 0.03);
}

TEST(Simulate, SegmentationLabelsAreShapeClasses) {
    auto o = small(SimulationKind::seg);
    o.count = 8;
    o.size = 64;
    const auto data = tomodenoise::simulate(o);
    ASSERT_EQ(data.train.labels.type(), tomodenoise::PixelType::uint8);
    ASSERT_EQ(data.train.labels.shape(), data.train.noisy.shape());
    const std::uint8_t* labels = data.train.labels.as<std::uint8_t>();
    const float* clean = data.train.clean.as<float>();
    std::set<int> classes;
    std::int64_t background = 0;
    const auto n = data.train.labels.shape().pixels();
    for (std::int64_t i = 0; i < n; ++i) {
        classes.insert(labels[i]);
        background += labels[i] == 0;
    }
    EXPECT_EQ(classes, (std::set<int>{0, 1, 2, 3}));
    EXPECT_GT(background, n / 5);
    EXPECT_LT(background, n);
    // The background is a gentle ramp with values at most 0.3 + 0.2, shapes are at least 0.2
    // before grading: labels and image disagree if a labelled pixel is just background.
    double background_max = 0;
    for (std::int64_t i = 0; i < n; ++i)
        if (labels[i] == 0) background_max = std::max(background_max, double(clean[i]));
    EXPECT_LE(background_max, 0.5 + 1e-6);
}

TEST(Simulate, PhotonNoiseMatchesPoissonStatistics) {
    // counts ~ Poisson(N), N = i0 exp(-p mu): p' has mean ~p and variance ~1 / (N mu^2).
    const double p = 20, mu = 4.0 / 256, i0 = 1e4;
    const std::vector<float> line(20000, float(p));
    std::mt19937_64 rng(3);
    const auto noisy = tomodenoise::sim::photon_noise(line, i0, mu, rng);
    double sum = 0, sum2 = 0;
    for (float v : noisy) {
        sum += v;
        sum2 += (v - p) * (v - p);
    }
    const double expected_counts = i0 * std::exp(-p * mu);
    EXPECT_NEAR(sum / noisy.size(), p, 0.05);
    EXPECT_NEAR(sum2 / noisy.size() * expected_counts * mu * mu, 1.0, 0.05);
}

TEST(Simulate, BadOptionsNameTheOption) {
    auto expect_error = [](SimulationOptions o, const std::string& option) {
        try {
            tomodenoise::simulate(o);
            ADD_FAILURE() << "no error for " << option;
        } catch (const tomodenoise::InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
        }
    };
    auto o = small(SimulationKind::ct);
    o.count = 0;
    expect_error(o, "--count");
    o = small(SimulationKind::ct);
    o.size = 7;
    expect_error(o, "--size");
    o = small(SimulationKind::ct);
    o.views = 7;
    expect_error(o, "--views");
    o = small(SimulationKind::ct);
    o.wedge_degrees = 180;
    expect_error(o, "--wedge");
    o = small(SimulationKind::shapes);
    o.sigma = 0;
    expect_error(o, "--sigma");
    try {
        tomodenoise::parse_simulation_kind("mri");
        ADD_FAILURE() << "unknown kind accepted";
    } catch (const tomodenoise::InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("--kind"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("mri"), std::string::npos) << e.what();
    }
    EXPECT_EQ(tomodenoise::parse_fbp_filter("shepp-logan"), tomodenoise::FbpFilter::shepp_logan);
    EXPECT_THROW(tomodenoise::parse_phantom_kind("cube"), tomodenoise::InvalidArgument);
}

}  // namespace

namespace {

// Sample mean and variance of `draws` draws of poisson_sample(mean).
std::pair<double, double> poisson_moments(double mean, int draws, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    double sum = 0, sum2 = 0;
    for (int i = 0; i < draws; ++i) {
        const double centred = tomodenoise::sim::poisson_sample(mean, rng) - mean;
        sum += centred;
        sum2 += centred * centred;
    }
    return {mean + sum / draws, sum2 / draws - (sum / draws) * (sum / draws)};
}

}  // namespace

TEST(Simulate, PoissonSamplesHaveThePoissonMeanAndVarianceOnBothSidesOfTheApproximation) {
    // Mean and variance of Poisson(m) are both m. With n draws the sample mean deviates by
    // sqrt(m / n) and the sample variance by about m sqrt(2 / n): 6 of those is a bound that a
    // correct sampler misses with negligible probability and a wrong variance fails.
    constexpr int draws = 20000;
    const double threshold = tomodenoise::sim::k_poisson_normal_approximation_mean;
    for (const double mean :
         {3.0, 1e4, threshold, threshold * 10, 1e19, SimulationOptions::max_counts}) {
        const auto [sample_mean, sample_variance] = poisson_moments(mean, draws, 5);
        EXPECT_NEAR(sample_mean, mean, 6 * std::sqrt(mean / draws)) << mean;
        EXPECT_NEAR(sample_variance / mean, 1.0, 6 * std::sqrt(2.0 / draws)) << mean;
    }
    std::mt19937_64 rng(1);
    EXPECT_EQ(tomodenoise::sim::poisson_sample(0.0, rng), 0.0);
    for (int i = 0; i < 1000; ++i) {  // integer counts near the switch, never negative
        const double v = tomodenoise::sim::poisson_sample(threshold * 1.5, rng);
        EXPECT_EQ(v, std::round(v));
        EXPECT_GE(v, 0.0);
    }
}

TEST(Simulate, HugeDosesAndPeaksFinishWithFiniteImages) {
    // std::poisson_distribution<int64_t> never returned for means beyond the int64 range.
    auto ct = small(SimulationKind::ct);
    ct.i0 = 1e19;
    auto shapes = small(SimulationKind::shapes);
    shapes.noise = tomodenoise::NoiseModel::poisson;
    shapes.peak = SimulationOptions::max_counts;
    for (const SimulationOptions& o : {ct, shapes}) {
        const auto data = tomodenoise::simulate(o);
        const std::vector<float> noisy = data.train.noisy.to_float();
        for (float v : noisy) ASSERT_TRUE(std::isfinite(v)) << tomodenoise::to_string(o.kind);
        // So many counts leave the input all but noise-free.
        EXPECT_GT(tomodenoise::compare_stacks(data.train.clean, data.train.noisy, 1.0).mean.psnr,
                  40.0)
            << tomodenoise::to_string(o.kind);
    }
}

TEST(Simulate, OptionsBeyondTheirBoundsAreRefusedBeforeAllocating) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    struct Case {
        const char* option;
        void (*set)(SimulationOptions&, double);
        double value;
    };
    const Case cases[] = {
        {"--size", [](SimulationOptions& o, double v) { o.size = std::int64_t(v); }, 1e9},
        {"--count", [](SimulationOptions& o, double v) { o.count = std::int64_t(v); }, 1e9},
        {"--test-count", [](SimulationOptions& o, double v) { o.test_count = std::int64_t(v); },
         1e18},
        {"--full-views", [](SimulationOptions& o, double v) { o.full_views = int(v); }, 1e9},
        {"--i0", [](SimulationOptions& o, double v) { o.i0 = v; }, 1e31},
        {"--i0", [](SimulationOptions& o, double v) { o.i0 = v; }, inf},
        {"--i0", [](SimulationOptions& o, double v) { o.i0 = v; }, nan},
        {"--peak", [](SimulationOptions& o, double v) { o.peak = v; }, inf},
        {"--sigma", [](SimulationOptions& o, double v) { o.sigma = v; }, inf},
        {"--mu-scale", [](SimulationOptions& o, double v) { o.mu_scale = v; }, inf},
        {"--mu-scale", [](SimulationOptions& o, double v) { o.mu_scale = v; }, 1e-300},
        {"--wedge", [](SimulationOptions& o, double v) { o.wedge_degrees = v; }, nan},
    };
    for (const Case& c : cases) {
        SimulationOptions o = small(SimulationKind::ct);
        c.set(o, c.value);
        tomodenoise::testing::expect_error_naming<tomodenoise::InvalidArgument>(
            [&] { tomodenoise::simulate(o); }, {c.option});
    }
}

TEST(Simulate, DataSetsLargerThanMemoryAreRefusedNamingTheirSize) {
    SimulationOptions o = small(SimulationKind::shapes);
    o.count = SimulationOptions::max_images;
    o.size = SimulationOptions::max_size;  // 1e6 x 8192^2 x 8 bytes: 500 TiB
    tomodenoise::testing::expect_error_naming<tomodenoise::InvalidArgument>(
        [&] { tomodenoise::simulate(o); }, {"--count", "--size", "GiB", "memory"});
}
