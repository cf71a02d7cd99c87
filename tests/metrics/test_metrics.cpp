#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace {

using tomodenoise::testing::random_values;

// Naive SSIM: every window position evaluated on its own in double, with the two-pass
// (mean, then centred moments) form rather than the library's separable moment differences.
double naive_ssim(const std::vector<float>& x, const std::vector<float>& y, int h, int w,
                  const std::vector<double>& taps, bool sample_covariance, double range) {
    const int size = int(taps.size());
    double tap_sum = 0;
    for (double t : taps) tap_sum += t;
    const double c1 = std::pow(0.01 * range, 2), c2 = std::pow(0.03 * range, 2);
    const double n = double(size) * size;
    const double norm = sample_covariance ? n / (n - 1) : 1.0;
    double total = 0;
    for (int i = 0; i + size <= h; ++i)
        for (int j = 0; j + size <= w; ++j) {
            double mx = 0, my = 0;
            for (int u = 0; u < size; ++u)
                for (int v = 0; v < size; ++v) {
                    const double wt = taps[u] * taps[v] / (tap_sum * tap_sum);
                    mx += wt * x[(i + u) * w + j + v];
                    my += wt * y[(i + u) * w + j + v];
                }
            double vx = 0, vy = 0, vxy = 0;
            for (int u = 0; u < size; ++u)
                for (int v = 0; v < size; ++v) {
                    const double wt = taps[u] * taps[v] / (tap_sum * tap_sum);
                    const double dx = x[(i + u) * w + j + v] - mx;
                    const double dy = y[(i + u) * w + j + v] - my;
                    vx += wt * dx * dx;
                    vy += wt * dy * dy;
                    vxy += wt * dx * dy;
                }
            vx *= norm;
            vy *= norm;
            vxy *= norm;
            total +=
                (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    return total / (double(h - size + 1) * (w - size + 1));
}

std::vector<double> gaussian_taps() {
    std::vector<double> taps;
    for (int i = -5; i <= 5; ++i) taps.push_back(std::exp(-i * i / (2 * 1.5 * 1.5)));
    return taps;
}

// A smooth image plus noise, so SSIM lies well inside (0, 1).
std::vector<float> noisy_copy(const std::vector<float>& clean, std::uint32_t seed, float amount) {
    const auto noise = random_values(clean.size(), seed, -amount, amount);
    std::vector<float> out(clean.size());
    for (std::size_t i = 0; i < clean.size(); ++i) out[i] = clean[i] + noise[i];
    return out;
}

std::vector<float> smooth_image(int h, int w) {
    std::vector<float> img(std::size_t(h) * w);
    for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j)
            img[i * w + j] = 0.5f + 0.3f * std::sin(0.21f * i) * std::cos(0.13f * j + 0.4f);
    return img;
}

TEST(Metrics, ErrorMetricsMatchNaiveSums) {
    const auto a = random_values(997, 1, 0.f, 1.f), b = random_values(997, 2, 0.f, 1.f);
    double se = 0, ae = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        se += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        ae += std::abs(double(a[i]) - b[i]);
    }
    const double mse = se / a.size();
    EXPECT_NEAR(tomodenoise::mean_squared_error(a.data(), b.data(), a.size()), mse, 1e-12);
    EXPECT_NEAR(tomodenoise::mean_absolute_error(a.data(), b.data(), a.size()), ae / a.size(),
                1e-12);
    EXPECT_NEAR(tomodenoise::psnr(a.data(), b.data(), a.size(), 2.0), 10 * std::log10(4.0 / mse),
                1e-9);
    EXPECT_EQ(tomodenoise::psnr(a.data(), a.data(), a.size(), 1.0),
              std::numeric_limits<double>::infinity());
    EXPECT_THROW(tomodenoise::psnr(a.data(), b.data(), a.size(), 0.0),
                 tomodenoise::InvalidArgument);
}

TEST(Metrics, SsimMatchesNaiveReferenceOnOddShapes) {
    // 77 rows: more than two of the library's row blocks, the last one partial.
    for (auto [h, w] : {std::pair{11, 11}, std::pair{23, 17}, std::pair{77, 31}}) {
        const auto x = smooth_image(h, w);
        const auto y = noisy_copy(x, 7 + h, 0.2f);
        const double gauss = naive_ssim(x, y, h, w, gaussian_taps(), false, 1.0);
        const double uni = naive_ssim(x, y, h, w, std::vector<double>(7, 1.0), true, 1.0);
        EXPECT_GT(gauss, 0.05);
        EXPECT_LT(gauss, 0.95);
        EXPECT_NEAR(tomodenoise::ssim_gaussian(x.data(), y.data(), h, w, 1.0), gauss, 1e-9)
            << h << "x" << w;
        EXPECT_NEAR(tomodenoise::ssim_uniform7(x.data(), y.data(), h, w, 1.0), uni, 1e-9)
            << h << "x" << w;
        // The data range enters only through C1 and C2.
        EXPECT_NEAR(tomodenoise::ssim_gaussian(x.data(), y.data(), h, w, 3.0),
                    naive_ssim(x, y, h, w, gaussian_taps(), false, 3.0), 1e-9);
    }
}

TEST(Metrics, SsimOfIdenticalImagesIsOne) {
    const auto x = smooth_image(20, 30);
    EXPECT_NEAR(tomodenoise::ssim_gaussian(x.data(), x.data(), 20, 30, 1.0), 1.0, 1e-12);
    EXPECT_NEAR(tomodenoise::ssim_uniform7(x.data(), x.data(), 20, 30, 1.0), 1.0, 1e-12);
}

TEST(Metrics, SsimRejectsTooSmallImages) {
    const auto x = smooth_image(10, 40);
    try {
        tomodenoise::ssim_gaussian(x.data(), x.data(), 10, 40, 1.0);
        FAIL() << "a 10x40 image has no 11x11 window";
    } catch (const tomodenoise::ShapeError& e) {
        EXPECT_NE(std::string(e.what()).find("10x40"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(tomodenoise::ssim_uniform7(x.data(), x.data(), 10, 40, 1.0));
    EXPECT_THROW(tomodenoise::ssim_uniform7(x.data(), x.data(), 6, 40, 1.0),
                 tomodenoise::ShapeError);
    EXPECT_THROW(tomodenoise::ssim_uniform7(x.data(), x.data(), 10, 40, -1.0),
                 tomodenoise::InvalidArgument);
}

TEST(Metrics, CompareStacksGivesPerSliceAndMeans) {
    const int n = 3, h = 24, w = 19;
    std::vector<float> ref, test;
    for (int i = 0; i < n; ++i) {
        const auto x = smooth_image(h, w);
        const auto y = noisy_copy(x, 100 + i, 0.05f * (i + 1));
        ref.insert(ref.end(), x.begin(), x.end());
        test.insert(test.end(), y.begin(), y.end());
    }
    const auto m = tomodenoise::compare_stacks(ref.data(), test.data(), {n, h, w}, 1.0);
    ASSERT_EQ(m.per_slice.size(), std::size_t(n));
    double psnr_sum = 0, ssim_sum = 0;
    for (int i = 0; i < n; ++i) {
        const float* r = ref.data() + i * h * w;
        const float* t = test.data() + i * h * w;
        const auto& s = m.per_slice[i];
        EXPECT_DOUBLE_EQ(s.mse, tomodenoise::mean_squared_error(r, t, h * w));
        EXPECT_DOUBLE_EQ(s.mae, tomodenoise::mean_absolute_error(r, t, h * w));
        EXPECT_DOUBLE_EQ(s.psnr, tomodenoise::psnr(r, t, h * w, 1.0));
        EXPECT_DOUBLE_EQ(s.ssim, tomodenoise::ssim_gaussian(r, t, h, w, 1.0));
        EXPECT_DOUBLE_EQ(s.ssim_uniform7, tomodenoise::ssim_uniform7(r, t, h, w, 1.0));
        psnr_sum += s.psnr;
        ssim_sum += s.ssim;
        if (i > 0) {
            EXPECT_LT(s.psnr, m.per_slice[i - 1].psnr);  // more noise per slice
        }
    }
    EXPECT_NEAR(m.mean.psnr, psnr_sum / n, 1e-12);
    EXPECT_NEAR(m.mean.ssim, ssim_sum / n, 1e-12);
    EXPECT_THROW(tomodenoise::compare_stacks(ref.data(), test.data(), {0, h, w}, 1.0),
                 tomodenoise::ShapeError);
}

// The fixture holds a reference image, distorted versions and their metrics from an
// independent implementation.
std::vector<float> read_image(hid_t file, const std::string& name, hsize_t dims[2]) {
    const hid_t dataset = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
    EXPECT_GE(dataset, 0) << name;
    const hid_t space = H5Dget_space(dataset);
    EXPECT_EQ(H5Sget_simple_extent_ndims(space), 2) << name;
    H5Sget_simple_extent_dims(space, dims, nullptr);
    std::vector<float> values(dims[0] * dims[1]);
    EXPECT_GE(H5Dread(dataset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Sclose(space);
    H5Dclose(dataset);
    return values;
}

double read_attribute(hid_t file, const std::string& group, const std::string& name) {
    double value = std::numeric_limits<double>::quiet_NaN();
    const hid_t attr = H5Aopen_by_name(file, group.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(attr, 0) << group << "@" << name;
    EXPECT_GE(H5Aread(attr, H5T_NATIVE_DOUBLE, &value), 0);
    H5Aclose(attr);
    return value;
}

TEST(Metrics, MatchPublishedFixture) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "fixtures/metrics_reference.h5");
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0) << path;
    hsize_t dims[2] = {0, 0};
    const auto reference = read_image(file, "/reference", dims);
    ASSERT_EQ(dims[0], 200u);
    ASSERT_EQ(dims[1], 173u);
    const double range = read_attribute(file, "/", "data_range");
    for (const std::string group : {"noisy", "blurred", "offset"}) {
        hsize_t idims[2] = {0, 0};
        const auto image = read_image(file, "/" + group + "/image", idims);
        ASSERT_EQ(idims[0], dims[0]);
        ASSERT_EQ(idims[1], dims[1]);
        const auto m =
            tomodenoise::compare_stacks(reference.data(), image.data(),
                                        {1, std::int64_t(dims[0]), std::int64_t(dims[1])}, range);
        EXPECT_NEAR(m.mean.psnr, read_attribute(file, group, "psnr"), 1e-3) << group;
        EXPECT_NEAR(m.mean.ssim, read_attribute(file, group, "ssim_gaussian"), 1e-3) << group;
        EXPECT_NEAR(m.mean.ssim_uniform7, read_attribute(file, group, "ssim_uniform7"), 1e-3)
            << group;
    }
    H5Fclose(file);
}

}  // namespace

namespace {

TEST(Metrics, EmptyImagesAndNonFiniteDataRangesAreErrorsNotNumbers) {
    const auto x = smooth_image(16, 16);
    // A mean over no values used to come out as 0 (and PSNR as +infinity).
    for (auto metric :
         {+[](const float*a, std::size_t n) { return tomodenoise::mean_squared_error(a, a, n); },
          +[](const float*a, std::size_t n) { return tomodenoise::mean_absolute_error(a, a, n); },
          +[](const float*a, std::size_t n) { return tomodenoise::psnr(a, a, n, 1.0); }})
        EXPECT_THROW(metric(x.data(), 0), tomodenoise::ShapeError);
    for (const auto shape : {tomodenoise::StackShape{0, 16, 16}, tomodenoise::StackShape{1, 0, 16},
                             tomodenoise::StackShape{1, 16, 0}})
        tomodenoise::testing::expect_error_naming<tomodenoise::ShapeError>(
            [&] { tomodenoise::compare_stacks(x.data(), x.data(), shape, 1.0); },
            {shape.to_string()});
    const double bad_ranges[] = {std::numeric_limits<double>::infinity(),
                                 std::numeric_limits<double>::quiet_NaN(), -1.0, 0.0};
    for (const double range : bad_ranges) {
        EXPECT_THROW(tomodenoise::psnr(x.data(), x.data(), x.size(), range),
                     tomodenoise::InvalidArgument)
            << range;
        EXPECT_THROW(tomodenoise::ssim_gaussian(x.data(), x.data(), 16, 16, range),
                     tomodenoise::InvalidArgument)
            << range;
        EXPECT_THROW(tomodenoise::ssim_uniform7(x.data(), x.data(), 16, 16, range),
                     tomodenoise::InvalidArgument)
            << range;
    }
}

}  // namespace
