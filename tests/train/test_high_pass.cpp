// The patch discriminator's high-pass residual against naive double-precision loops, and the
// self-adjointness the GAN's generator gradient relies on.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "layer_check.hpp"
#include "train/high_pass.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TEST(HighPassResidual, MatchesNaiveLoopsWithZerosOutsideTheImage) {
    const Dims dims{2, 3, 5, 7};
    const Tensor in = random_tensor(dims, 31, -2.f, 3.f);
    Tensor out;
    high_pass_residual(in, out);
    ASSERT_EQ(out.dims(), dims);
    double worst = 0;
    for (std::int64_t n = 0; n < dims.n; ++n)
        for (std::int64_t c = 0; c < dims.c; ++c)
            for (std::int64_t y = 0; y < dims.h; ++y)
                for (std::int64_t x = 0; x < dims.w; ++x) {
                    double sum = 0;
                    for (std::int64_t dy = -1; dy <= 1; ++dy)
                        for (std::int64_t dx = -1; dx <= 1; ++dx) {
                            const std::int64_t yy = y + dy, xx = x + dx;
                            if (yy >= 0 && yy < dims.h && xx >= 0 && xx < dims.w)
                                sum += in.at(n, c, yy, xx);
                        }
                    const double expected = high_pass_gain * (in.at(n, c, y, x) - sum / 9);
                    worst = std::max(worst, std::abs(expected - out.at(n, c, y, x)));
                }
    EXPECT_LT(worst, 1e-5);
}

TEST(HighPassResidual, IsSelfAdjointSoItCarriesGradientsBack) {
    const Dims dims{2, 1, 6, 9};
    const Tensor x = random_tensor(dims, 41), y = random_tensor(dims, 42);
    Tensor hx, hy;
    high_pass_residual(x, hx);
    high_pass_residual(y, hy);
    double hx_y = 0, x_hy = 0, scale = 0;
    for (std::int64_t i = 0; i < dims.count(); ++i) {
        hx_y += double(hx.data()[i]) * y.data()[i];
        x_hy += double(x.data()[i]) * hy.data()[i];
        scale += std::abs(double(hx.data()[i]) * y.data()[i]);
    }
    EXPECT_NEAR(hx_y, x_hy, 1e-6 * scale);
    EXPECT_GT(scale, 0.0);
}

TEST(HighPassResidual, IsZeroInsideAConstantImage) {
    Tensor in(Dims{1, 1, 4, 4});
    std::fill(in.data(), in.data() + 16, 2.5f);
    Tensor out;
    high_pass_residual(in, out);
    EXPECT_FLOAT_EQ(out.at(0, 0, 1, 1), 0.f);
    EXPECT_FLOAT_EQ(out.at(0, 0, 2, 2), 0.f);
    // A corner sees 4 of 9 neighbours: 10 * (2.5 - 4 * 2.5 / 9).
    EXPECT_NEAR(out.at(0, 0, 0, 0), 10 * (2.5 - 10.0 / 9), 1e-5);
}

}  // namespace
