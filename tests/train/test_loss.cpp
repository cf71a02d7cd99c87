#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "layer_check.hpp"
#include "tomodenoise/error.hpp"
#include "train/loss.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

// Awkward small dims, and dims large enough for the losses' parallel path.
const Dims small_dims{2, 3, 5, 7};
const Dims large_dims{2, 3, 129, 67};

// Gradients of means are O(1 / count); compared times `count`, near_all's tolerance is relative.
std::vector<double> times(std::vector<double> v, double factor) {
    for (auto& x : v) x *= factor;
    return v;
}
std::vector<double> times(const Tensor& t, double factor) {
    return times(std::vector<double>(t.data(), t.data() + t.dims().count()), factor);
}

// Compares `analytic` with central differences of `loss` over every entry of `x`:
// ||analytic - numeric|| / ||analytic + numeric|| < bound. The step actually taken in float is
// the denominator, so rounding of x +- epsilon does not count as error.
void expect_gradient_matches(Tensor& x, const Tensor& analytic, const std::function<double()>& loss,
                             double epsilon = 1e-3, double bound = 1e-4) {
    ASSERT_EQ(x.dims(), analytic.dims());
    double diff2 = 0, sum2 = 0;
    for (std::int64_t i = 0; i < x.dims().count(); ++i) {
        const float saved = x.data()[i];
        const float up = saved + float(epsilon), down = saved - float(epsilon);
        x.data()[i] = up;
        const double plus = loss();
        x.data()[i] = down;
        const double minus = loss();
        x.data()[i] = saved;
        const double numeric = (plus - minus) / (double(up) - double(down));
        const double a = analytic.data()[i];
        diff2 += (a - numeric) * (a - numeric);
        sum2 += (a + numeric) * (a + numeric);
    }
    ASSERT_GT(sum2, 0.0) << "all gradients are zero";
    EXPECT_LT(std::sqrt(diff2 / sum2), bound);
}

Tensor blocked_tensor(const Dims& dims) {
    return Tensor(dnnl::memory::desc(dims.to_dnnl(), dnnl::memory::data_type::f32,
                                     dnnl::memory::format_tag::nChw8c));
}

// ---- mean squared error ----

TEST(MeanSquaredError, MatchesNaiveReferenceOnSmallAndLargeTensors) {
    for (const Dims& dims : {small_dims, large_dims}) {
        SCOPED_TRACE(dims.to_string());
        const Tensor p = random_tensor(dims, 1), t = random_tensor(dims, 2);
        double want = 0;
        std::vector<double> want_grad(dims.count());
        for (std::int64_t i = 0; i < dims.count(); ++i) {
            const double d = double(p.data()[i]) - t.data()[i];
            want += d * d;
            want_grad[i] = 2 * d / double(dims.count());
        }
        want /= double(dims.count());
        Tensor grad;
        EXPECT_NEAR(mean_squared_error_loss(p, t, &grad), want, 1e-10 * want);
        EXPECT_EQ(grad.dims(), dims);
        const double count = double(dims.count());
        EXPECT_TRUE(near_all(times(grad, count), times(want_grad, count), 1e-6));
        EXPECT_EQ(mean_squared_error_loss(p, t, nullptr), mean_squared_error_loss(p, t, &grad));
    }
}

TEST(MeanSquaredError, GradientMatchesFiniteDifferences) {
    Tensor p = random_tensor(small_dims, 3);
    const Tensor t = random_tensor(small_dims, 4);
    Tensor grad;
    mean_squared_error_loss(p, t, &grad);
    expect_gradient_matches(p, grad, [&] { return mean_squared_error_loss(p, t, nullptr); });
}

TEST(MeanSquaredError, ReusesGradientStorage) {
    const Tensor p = random_tensor(small_dims, 5), t = random_tensor(small_dims, 6);
    Tensor grad(Dims{1, 1, 1, small_dims.count() + 10});
    const float* storage = grad.data();
    mean_squared_error_loss(p, t, &grad);
    EXPECT_EQ(grad.data(), storage);
    EXPECT_EQ(grad.dims(), small_dims);
}

TEST(MeanSquaredError, RejectsMismatchedEmptyAndBlockedTensors) {
    const Tensor p = random_tensor(small_dims, 1);
    const Tensor t = random_tensor(Dims{2, 3, 5, 8}, 2);
    expect_error_naming<ShapeError>([&] { mean_squared_error_loss(p, t, nullptr); },
                                    {"mean_squared_error", "[2, 3, 5, 7]", "[2, 3, 5, 8]"});
    expect_error_naming<ShapeError>(
        [&] {
            mean_squared_error_loss(Tensor(Dims{0, 3, 5, 7}), p, nullptr);
        },
        {"mean_squared_error", "empty", "[0, 3, 5, 7]"});
    expect_error_naming<ShapeError>(
        [&] { mean_squared_error_loss(blocked_tensor(small_dims), p, nullptr); },
        {"mean_squared_error", "nChw8c", "[2, 3, 5, 7]"});
}

// ---- mean absolute error ----

TEST(MeanAbsoluteError, MatchesNaiveReferenceAndFiniteDifferences) {
    Tensor p = random_tensor(small_dims, 7);
    // Targets at least 0.1 from the prediction keep the finite differences off the kink.
    Tensor t(small_dims);
    const auto offsets = random_values(small_dims.count(), 8, 0.1f, 1.f);
    for (std::int64_t i = 0; i < small_dims.count(); ++i)
        t.data()[i] = p.data()[i] + (i % 3 ? offsets[i] : -offsets[i]);
    double want = 0;
    for (std::int64_t i = 0; i < small_dims.count(); ++i)
        want += std::abs(double(p.data()[i]) - t.data()[i]);
    want /= double(small_dims.count());
    Tensor grad;
    EXPECT_NEAR(mean_absolute_error_loss(p, t, &grad), want, 1e-12);
    expect_gradient_matches(p, grad, [&] { return mean_absolute_error_loss(p, t, nullptr); });
}

TEST(MeanAbsoluteError, SubgradientIsZeroWhereEqual) {
    const Tensor p = random_tensor(small_dims, 9);
    Tensor t = random_tensor(small_dims, 10);
    t.data()[4] = p.data()[4];
    Tensor grad;
    mean_absolute_error_loss(p, t, &grad);
    EXPECT_EQ(grad.data()[4], 0.f);
    const float step = 1.f / float(small_dims.count());
    EXPECT_FLOAT_EQ(std::abs(grad.data()[5]), step);
}

// ---- masked mean squared error ----

Tensor random_mask(const Dims& dims, std::uint32_t seed) {
    Tensor m(dims);
    const auto u = random_values(dims.count(), seed, 0.f, 1.f);
    for (std::int64_t i = 0; i < dims.count(); ++i) m.data()[i] = u[i] < 0.4f ? 1.f : 0.f;
    return m;
}

TEST(MaskedMeanSquaredError, MatchesNaiveReferenceAndFiniteDifferences) {
    for (const Dims& dims : {small_dims, large_dims}) {
        SCOPED_TRACE(dims.to_string());
        Tensor p = random_tensor(dims, 11);
        const Tensor t = random_tensor(dims, 12), m = random_mask(dims, 13);
        double want = 0, masked = 0;
        for (std::int64_t i = 0; i < dims.count(); ++i)
            if (m.data()[i] == 1.f) {
                const double d = double(p.data()[i]) - t.data()[i];
                want += d * d;
                ++masked;
            }
        ASSERT_GT(masked, 0);
        want /= masked;
        Tensor grad;
        EXPECT_NEAR(masked_mean_squared_error_loss(p, t, m, &grad), want, 1e-10 * want);
        for (std::int64_t i = 0; i < dims.count(); ++i) {
            const double d = double(p.data()[i]) - t.data()[i];
            const double expected = m.data()[i] == 1.f ? 2 * d / masked : 0.0;
            ASSERT_NEAR(grad.data()[i], expected, 1e-6 * std::abs(expected) + 1e-12) << i;
        }
        if (dims == small_dims)
            expect_gradient_matches(
                p, grad, [&] { return masked_mean_squared_error_loss(p, t, m, nullptr); });
    }
}

TEST(MaskedMeanSquaredError, EmptyMaskGivesZeroValueAndGradient) {
    const Tensor p = random_tensor(small_dims, 14), t = random_tensor(small_dims, 15);
    const Tensor m(small_dims);
    Tensor grad = random_tensor(small_dims, 16);  // stale values must be cleared
    EXPECT_EQ(masked_mean_squared_error_loss(p, t, m, &grad), 0.0);
    for (std::int64_t i = 0; i < small_dims.count(); ++i) ASSERT_EQ(grad.data()[i], 0.f) << i;
}

TEST(MaskedMeanSquaredError, RejectsNonBinaryMaskAndMismatchedDims) {
    const Tensor p = random_tensor(small_dims, 17), t = random_tensor(small_dims, 18);
    Tensor m = random_mask(small_dims, 19);
    m.at(1, 2, 3, 4) = 0.5f;
    expect_error_naming<InvalidArgument>(
        [&] { masked_mean_squared_error_loss(p, t, m, nullptr); },
        {"masked_mean_squared_error", "mask", "0.5", "[1, 2, 3, 4]"});
    const Tensor small_mask(Dims{2, 1, 5, 7});
    expect_error_naming<ShapeError>(
        [&] { masked_mean_squared_error_loss(p, t, small_mask, nullptr); },
        {"mask", "[2, 1, 5, 7]", "[2, 3, 5, 7]"});
}

// ---- binary cross-entropy on logits ----

TEST(BinaryCrossentropyFromLogits, MatchesNaiveReferenceAndFiniteDifferences) {
    Tensor x = random_tensor(small_dims, 20, -4.f, 4.f);
    const Tensor z = random_tensor(small_dims, 21, 0.f, 1.f);
    // The textbook form, fine for moderate logits: -(z log s + (1 - z) log(1 - s)).
    double want = 0;
    for (std::int64_t i = 0; i < small_dims.count(); ++i) {
        const double s = 1 / (1 + std::exp(-double(x.data()[i])));
        const double zi = z.data()[i];
        want -= zi * std::log(s) + (1 - zi) * std::log(1 - s);
    }
    want /= double(small_dims.count());
    Tensor grad;
    EXPECT_NEAR(binary_crossentropy_from_logits(x, z, &grad), want, 1e-9 * want);
    expect_gradient_matches(x, grad,
                            [&] { return binary_crossentropy_from_logits(x, z, nullptr); });
}

TEST(BinaryCrossentropyFromLogits, LargeLogitsStayFinite) {
    const Dims dims{1, 1, 1, 6};
    Tensor x(dims), z(dims);
    const float logits[] = {1e4f, 1e4f, -1e4f, -1e4f, 100.f, -100.f};
    const float targets[] = {1.f, 0.f, 1.f, 0.f, 0.f, 0.f};
    std::copy(logits, logits + 6, x.data());
    std::copy(targets, targets + 6, z.data());
    Tensor grad;
    const double value = binary_crossentropy_from_logits(x, z, &grad);
    // Per element: 0, 1e4, 1e4, 0, 100, 0 (up to exp(-100)).
    EXPECT_NEAR(value, (2e4 + 100) / 6, 1e-9);
    const float want_grad[] = {0.f, 1.f, -1.f, 0.f, 1.f, 0.f};
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(grad.data()[i], want_grad[i] / 6, 1e-7) << i;
}

// ---- Wasserstein ----

TEST(Wasserstein, CriticLossMatchesReferenceAndFiniteDifferences) {
    Tensor fake = random_tensor(Dims{3, 1, 1, 1}, 22, -3.f, 3.f);
    Tensor real = random_tensor(Dims{5, 1, 1, 1}, 23, -3.f, 3.f);
    double fake_mean = 0, real_mean = 0;
    for (int i = 0; i < 3; ++i) fake_mean += fake.data()[i] / 3.0;
    for (int i = 0; i < 5; ++i) real_mean += real.data()[i] / 5.0;
    Tensor grad_fake, grad_real;
    EXPECT_NEAR(wasserstein_critic_loss(fake, real, &grad_fake, &grad_real), fake_mean - real_mean,
                1e-12);
    auto value = [&] { return wasserstein_critic_loss(fake, real, nullptr, nullptr); };
    expect_gradient_matches(fake, grad_fake, value);
    expect_gradient_matches(real, grad_real, value);
    EXPECT_FLOAT_EQ(grad_fake.data()[0], 1.f / 3);
    EXPECT_FLOAT_EQ(grad_real.data()[0], -1.f / 5);
}

TEST(Wasserstein, GeneratorLossMatchesReferenceAndFiniteDifferences) {
    Tensor fake = random_tensor(Dims{4, 1, 2, 3}, 24, -3.f, 3.f);
    double mean = 0;
    for (int i = 0; i < 24; ++i) mean += fake.data()[i] / 24.0;
    Tensor grad;
    EXPECT_NEAR(wasserstein_generator_loss(fake, &grad), -mean, 1e-12);
    expect_gradient_matches(fake, grad, [&] { return wasserstein_generator_loss(fake, nullptr); });
}

TEST(Wasserstein, RejectsEmptyCriticOutput) {
    const Tensor real = random_tensor(Dims{2, 1, 1, 1}, 25);
    expect_error_naming<ShapeError>(
        [&] {
            wasserstein_critic_loss(Tensor(Dims{0, 1, 1, 1}), real, nullptr, nullptr);
        },
        {"wasserstein_critic_loss", "fake", "[0, 1, 1, 1]"});
}

// ---- softmax cross-entropy over channels ----

Tensor random_labels(const Dims& logits, std::uint32_t seed) {
    Tensor labels(Dims{logits.n, 1, logits.h, logits.w});
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> dist(0, int(logits.c) - 1);
    for (std::int64_t i = 0; i < labels.dims().count(); ++i) labels.data()[i] = float(dist(gen));
    return labels;
}

// Naive per-pixel softmax in double, with weights (empty: all 1), divided by the pixel count;
// `grad` receives w[label] (softmax - one_hot(label)) / pixels in NCHW order.
double reference_softmax_crossentropy(const Tensor& x, const Tensor& labels,
                                      const std::vector<float>& weights,
                                      std::vector<double>& grad) {
    const Dims d = x.dims();
    const double pixels = double(d.n * d.h * d.w);
    grad.assign(d.count(), 0.0);
    double sum = 0;
    for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t h = 0; h < d.h; ++h)
            for (std::int64_t w = 0; w < d.w; ++w) {
                const auto l = std::int64_t(labels.at(n, 0, h, w));
                const double weight = weights.empty() ? 1.0 : weights[l];
                double z = 0;
                for (std::int64_t k = 0; k < d.c; ++k) z += std::exp(double(x.at(n, k, h, w)));
                sum += weight * -std::log(std::exp(double(x.at(n, l, h, w))) / z);
                for (std::int64_t k = 0; k < d.c; ++k)
                    grad[((n * d.c + k) * d.h + h) * d.w + w] =
                        weight * (std::exp(double(x.at(n, k, h, w))) / z - (k == l)) / pixels;
            }
    return sum / pixels;
}

TEST(SparseSoftmaxCrossentropy, MatchesNaiveReferenceWithAndWithoutWeights) {
    for (const Dims& dims : {Dims{2, 3, 5, 7}, Dims{2, 13, 3, 5}, Dims{2, 4, 129, 67}}) {
        SCOPED_TRACE(dims.to_string());
        const Tensor x = random_tensor(dims, 26, -3.f, 3.f);
        const Tensor labels = random_labels(dims, 27);
        std::vector<float> weights;
        for (std::int64_t k = 0; k < dims.c; ++k) weights.push_back(0.5f + 0.25f * float(k));
        for (const auto& w : {std::vector<float>{}, weights}) {
            SCOPED_TRACE(w.empty() ? "unweighted" : "weighted");
            std::vector<double> want_grad;
            const double want = reference_softmax_crossentropy(x, labels, w, want_grad);
            Tensor grad;
            EXPECT_NEAR(sparse_softmax_crossentropy(x, labels, w, &grad), want, 1e-9 * want);
            EXPECT_EQ(grad.dims(), dims);
            const double pixels = double(dims.n * dims.h * dims.w);
            EXPECT_TRUE(near_all(times(grad, pixels), times(want_grad, pixels), 1e-6));
        }
    }
}

TEST(SparseSoftmaxCrossentropy, GradientMatchesFiniteDifferences) {
    for (const Dims& dims : {Dims{2, 3, 5, 7}, Dims{2, 17, 3, 3}}) {
        SCOPED_TRACE(dims.to_string());
        Tensor x = random_tensor(dims, 28, -3.f, 3.f);
        const Tensor labels = random_labels(dims, 29);
        std::vector<float> weights;
        for (std::int64_t k = 0; k < dims.c; ++k) weights.push_back(2.f - 0.1f * float(k));
        for (const auto& w : {std::vector<float>{}, weights}) {
            SCOPED_TRACE(w.empty() ? "unweighted" : "weighted");
            Tensor grad;
            sparse_softmax_crossentropy(x, labels, w, &grad);
            expect_gradient_matches(
                x, grad, [&] { return sparse_softmax_crossentropy(x, labels, w, nullptr); });
        }
    }
}

TEST(SparseSoftmaxCrossentropy, LargeLogitsStayFinite) {
    const Dims dims{1, 3, 1, 2};
    Tensor x(dims), labels(Dims{1, 1, 1, 2});
    // Pixel 0: the labelled class wins by 2e4; pixel 1: it loses by 2e4.
    const float logits[] = {1e4f, 1e4f, -1e4f, -1e4f, 0.f, 0.f};  // NCHW: class-major
    std::copy(logits, logits + 6, x.data());
    labels.data()[0] = 0.f;
    labels.data()[1] = 1.f;
    Tensor grad;
    EXPECT_NEAR(sparse_softmax_crossentropy(x, labels, {}, &grad), 2e4 / 2, 1e-6);
    const double want_grad[] = {0, 0.5, 0, -0.5, 0, 0};
    for (int i = 0; i < 6; ++i) {
        ASSERT_TRUE(std::isfinite(grad.data()[i])) << i;
        EXPECT_NEAR(grad.data()[i], want_grad[i], 1e-7) << i;
    }
}

TEST(SparseSoftmaxCrossentropy, RejectsBadLabelsWeightsAndDims) {
    const Dims dims{2, 3, 5, 7};
    const Tensor x = random_tensor(dims, 30);
    for (float bad : {3.f, -1.f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
        Tensor labels = random_labels(dims, 31);
        labels.at(1, 0, 2, 6) = bad;
        expect_error_naming<InvalidArgument>(
            [&] { sparse_softmax_crossentropy(x, labels, {}, nullptr); },
            {"sparse_softmax_crossentropy", "labels", "[1, 0, 2, 6]", "0..2"});
    }
    const Tensor labels = random_labels(dims, 32);
    expect_error_naming<InvalidArgument>(
        [&] {
            sparse_softmax_crossentropy(x, labels, {1.f, 2.f}, nullptr);
        },
        {"2 class weights", "3 classes", "[2, 3, 5, 7]"});
    expect_error_naming<InvalidArgument>(
        [&] {
            sparse_softmax_crossentropy(x, labels, {1.f, -2.f, 1.f}, nullptr);
        },
        {"class weight 1", "-2"});
    const Tensor wide_labels(Dims{2, 2, 5, 7});
    expect_error_naming<ShapeError>(
        [&] { sparse_softmax_crossentropy(x, wide_labels, {}, nullptr); },
        {"[2, 2, 5, 7]", "[2, 3, 5, 7]", "[2, 1, 5, 7]"});
}

}  // namespace
