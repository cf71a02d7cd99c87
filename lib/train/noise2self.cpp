#include "train/noise2self.hpp"

#include <algorithm>
#include <vector>

namespace tomodenoise {

void hide_grid(const float* src, std::int64_t h, std::int64_t w, std::int64_t row0,
               std::int64_t col0, int phase_row, int phase_col, int width, MaskMode mode,
               float* dst, float* mask) {
    std::copy(src, src + h * w, dst);
    if (mask) std::fill(mask, mask + h * w, 0.0f);
    for (std::int64_t r = 0; r < h; ++r) {
        if ((row0 + r) % width != phase_row) continue;
        for (std::int64_t c = 0; c < w; ++c) {
            if (!is_masked(row0 + r, col0 + c, phase_row, phase_col, width)) continue;
            if (mask) mask[r * w + c] = 1.0f;
            if (mode == MaskMode::zero) {
                dst[r * w + c] = 0.0f;
                continue;
            }
            double sum = 0;
            int count = 0;
            // Reflected: the neighbour beyond an edge is the one on the other side.
            if (h > 1) {
                sum += src[(r > 0 ? r - 1 : r + 1) * w + c];
                sum += src[(r + 1 < h ? r + 1 : r - 1) * w + c];
                count += 2;
            }
            if (w > 1) {
                sum += src[r * w + (c > 0 ? c - 1 : c + 1)];
                sum += src[r * w + (c + 1 < w ? c + 1 : c - 1)];
                count += 2;
            }
            dst[r * w + c] = count ? float(sum / count) : 0.0f;
        }
    }
}

void j_invariant_inference(const std::function<void(const float*, float*)>& apply,
                           const float* input, std::int64_t n, std::int64_t channels,
                           std::int64_t out_channels, std::int64_t h, std::int64_t w, int width,
                           MaskMode mode, std::int64_t row0, std::int64_t col0, float* output) {
    const std::int64_t plane = h * w, middle = channels / 2;
    std::vector<float> hidden(input, input + n * channels * plane);
    std::vector<float> pass(std::size_t(n * out_channels * plane));
    for (int pr = 0; pr < width; ++pr) {
        for (int pc = 0; pc < width; ++pc) {
            for (std::int64_t i = 0; i < n; ++i) {
                const std::int64_t at = (i * channels + middle) * plane;
                hide_grid(input + at, h, w, row0, col0, pr, pc, width, mode, hidden.data() + at,
                          nullptr);
            }
            apply(hidden.data(), pass.data());
            for (std::int64_t i = 0; i < n * out_channels; ++i)
                for (std::int64_t r = 0; r < h; ++r) {
                    if ((row0 + r) % width != pr) continue;
                    for (std::int64_t c = 0; c < w; ++c)
                        if (is_masked(row0 + r, col0 + c, pr, pc, width))
                            output[i * plane + r * w + c] =
                                pass[std::size_t(i * plane + r * w + c)];
                }
        }
    }
}

}  // namespace tomodenoise
