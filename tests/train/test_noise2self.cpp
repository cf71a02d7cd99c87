// Noise2Self: the grid mask (zeroed or interpolated pixels, the loss on hidden pixels only)
// and J-invariant inference against a naive loop, whole and in tiles.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/context.hpp"
#include "core/padded_forward.hpp"
#include "models/cnn_denoiser.hpp"
#include "test_support.hpp"
#include "train/loss.hpp"
#include "train/noise2self.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TEST(Noise2Self, HidesOneGridPhaseZeroedOrByTheNeighbourMean) {
    const std::int64_t h = 7, w = 9;
    const auto src = random_values(std::size_t(h * w), 3, 1.f, 2.f);
    for (const MaskMode mode : {MaskMode::zero, MaskMode::interpolate}) {
        std::vector<float> dst(src.size()), mask(src.size());
        hide_grid(src.data(), h, w, 0, 0, 2, 1, 3, mode, dst.data(), mask.data());
        int hidden = 0;
        for (std::int64_t r = 0; r < h; ++r)
            for (std::int64_t c = 0; c < w; ++c) {
                const auto at = std::size_t(r * w + c);
                const bool masked = r % 3 == 2 && c % 3 == 1;
                ASSERT_EQ(mask[at], masked ? 1.f : 0.f) << r << ", " << c;
                hidden += masked;
                if (!masked) {
                    ASSERT_EQ(dst[at], src[at]);
                    continue;
                }
                // Reflected neighbours: beyond the last row is the row before it.
                const auto value = [&](std::int64_t rr, std::int64_t cc) {
                    rr = rr < 0 ? -rr : rr >= h ? 2 * (h - 1) - rr : rr;
                    cc = cc < 0 ? -cc : cc >= w ? 2 * (w - 1) - cc : cc;
                    return double(src[std::size_t(rr * w + cc)]);
                };
                const double mean =
                    (value(r - 1, c) + value(r + 1, c) + value(r, c - 1) + value(r, c + 1)) / 4;
                EXPECT_NEAR(dst[at], mode == MaskMode::zero ? 0.0 : mean, 1e-6) << r << ", " << c;
            }
        EXPECT_EQ(hidden, 2 * 3);  // rows 2, 5; columns 1, 4, 7
    }
}

TEST(Noise2Self, TheMaskedLossLearnsFromHiddenPixelsOnly) {
    const Dims dims{1, 1, 8, 8};
    Tensor prediction(dims), target(dims), mask(dims), grad;
    const auto p = random_values(64, 1), t = random_values(64, 2);
    std::copy(p.begin(), p.end(), prediction.data());
    std::copy(t.begin(), t.end(), target.data());
    std::vector<float> hidden(64);
    hide_grid(t.data(), 8, 8, 0, 0, 1, 3, 4, MaskMode::zero, hidden.data(), mask.data());
    const double loss = masked_mean_squared_error_loss(prediction, target, mask, &grad);
    double want = 0;
    for (std::size_t i = 0; i < 64; ++i) {
        if (mask.data()[i] == 0) {
            EXPECT_EQ(grad.data()[i], 0.f) << i;
            continue;
        }
        want += (double(p[i]) - t[i]) * (double(p[i]) - t[i]);
        EXPECT_NE(grad.data()[i], 0.f) << i;
    }
    EXPECT_NEAR(loss, want / 4, 1e-6 * want);  // 4 hidden pixels of 64
}

class JInvariant : public ::testing::Test {
protected:
    void SetUp() override {
        CnnDenoiserConfig config;
        config.input_channels = 3;
        config.widths = {4};
        config.seed = 9;
        network_ = build_cnn_denoiser(config);
    }
    // The network on n images of 3 x h x w.
    std::vector<float> run(const std::vector<float>& input, std::int64_t n, std::int64_t h,
                           std::int64_t w) {
        std::vector<float> out(std::size_t(n * h * w));
        Tensor padded;
        forward_padded(ctx_, network_, input.data(), Dims{n, 3, h, w}, 1, 1, padded, out.data());
        return out;
    }
    std::vector<float> j_invariant(const std::vector<float>& input, std::int64_t n, std::int64_t h,
                                   std::int64_t w, MaskMode mode, std::int64_t row0,
                                   std::int64_t col0) {
        std::vector<float> out(std::size_t(n * h * w));
        j_invariant_inference(
            [&](const float* in, float* o) {
                const auto got = run(std::vector<float>(in, in + n * 3 * h * w), n, h, w);
                std::copy(got.begin(), got.end(), o);
            },
            input.data(), n, 3, 1, h, w, 3, mode, row0, col0, out.data());
        return out;
    }
    Context ctx_{1};
    Network network_;
};

TEST_F(JInvariant, EveryPixelComesFromThePassThatHidItAsANaiveLoopComputesIt) {
    const std::int64_t n = 2, h = 10, w = 11, plane = h * w;
    const auto input = random_values(std::size_t(n * 3 * plane), 4);
    for (const MaskMode mode : {MaskMode::zero, MaskMode::interpolate}) {
        const auto got = j_invariant(input, n, h, w, mode, 0, 0);
        // Naive: for each pixel, its own phase hidden in the middle channel of its image.
        for (std::int64_t r = 0; r < h; ++r)
            for (std::int64_t c = 0; c < w; ++c) {
                std::vector<float> hidden = input;
                for (std::int64_t i = 0; i < n; ++i)
                    hide_grid(input.data() + (i * 3 + 1) * plane, h, w, 0, 0, int(r % 3),
                              int(c % 3), 3, mode, hidden.data() + (i * 3 + 1) * plane, nullptr);
                const auto out = run(hidden, n, h, w);
                for (std::int64_t i = 0; i < n; ++i)
                    ASSERT_EQ(got[std::size_t(i * plane + r * w + c)],
                              out[std::size_t(i * plane + r * w + c)])
                        << "image " << i << " pixel " << r << ", " << c;
            }
        // Not the plain output: the hidden pixel changes what the network sees.
        EXPECT_NE(got, run(input, n, h, w));
    }
}

TEST_F(JInvariant, TilesAtAnyOffsetAgreeWithTheWholeImageAwayFromTheirEdges) {
    const std::int64_t h = 16, w = 17, plane = h * w;
    const auto input = random_values(std::size_t(3 * plane), 6);
    const auto whole = j_invariant(input, 1, h, w, MaskMode::zero, 0, 0);
    const std::int64_t row0 = 5, col0 = 4, th = 9, tw = 10;
    std::vector<float> tile(std::size_t(3 * th * tw));
    for (std::int64_t ch = 0; ch < 3; ++ch)
        for (std::int64_t r = 0; r < th; ++r)
            for (std::int64_t c = 0; c < tw; ++c)
                tile[std::size_t((ch * th + r) * tw + c)] =
                    input[std::size_t(ch * plane + (row0 + r) * w + col0 + c)];
    const auto part = j_invariant(tile, 1, th, tw, MaskMode::zero, row0, col0);
    // Two 3x3 convolutions see 2 pixels around: inside that margin the tile is exact.
    for (std::int64_t r = 2; r < th - 2; ++r)
        for (std::int64_t c = 2; c < tw - 2; ++c)
            ASSERT_NEAR(part[std::size_t(r * tw + c)],
                        whole[std::size_t((row0 + r) * w + col0 + c)], 1e-5)
                << r << ", " << c;
}

}  // namespace
