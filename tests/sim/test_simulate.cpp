#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sim/noise.hpp"
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
    auto o = small(SimulationKind::ct);
    const auto parallel = tomodenoise::simulate(o);
    {
        tbb::global_control one_thread(tbb::global_control::max_allowed_parallelism, 1);
        const auto serial = tomodenoise::simulate(o);
        EXPECT_TRUE(same_pixels(parallel.train.noisy, serial.train.noisy));
        EXPECT_TRUE(same_pixels(parallel.test.noisy, serial.test.noisy));
    }
    o.count = 1;
    const auto fewer = tomodenoise::simulate(o);
    EXPECT_TRUE(same_pixels(parallel.test.noisy, fewer.test.noisy));
    EXPECT_EQ(fewer.train.noisy.shape().n, 1);
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
        expected += clean[i] / o.peak;
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
