#include "core/reflect_padding.hpp"

#include <algorithm>
#include <cstring>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

std::int64_t reflect_index(std::int64_t i, std::int64_t n) {
    if (n == 1) return 0;
    const std::int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

void reflect_pad(const float* src, const Dims& s, Tensor& dst) {
    const Dims& d = dst.dims();
    if (!dst.is_plain() || d.n != s.n || d.c != s.c || d.h < s.h || d.w < s.w)
        throw ShapeError("cannot reflect-pad " + s.to_string() + " into " + d.to_string());
#pragma omp parallel for collapse(2)
    for (std::int64_t img = 0; img < s.n * s.c; ++img) {
        for (std::int64_t y = 0; y < d.h; ++y) {
            const float* row = src + (img * s.h + reflect_index(y, s.h)) * s.w;
            float* out = dst.data() + (img * d.h + y) * d.w;
            std::memcpy(out, row, sizeof(float) * s.w);
            for (std::int64_t x = s.w; x < d.w; ++x) out[x] = row[reflect_index(x, s.w)];
        }
    }
}

void crop(const Tensor& src, const Dims& window, float* dst) {
    const Dims& d = src.dims();
    if (!src.is_plain() || d.n != window.n || d.c != window.c || d.h < window.h || d.w < window.w)
        throw ShapeError("cannot crop " + window.to_string() + " from " + d.to_string() +
                         (src.is_plain() ? "" : " (not plain NCHW)"));
    const std::int64_t h = window.h, w = window.w;
#pragma omp parallel for collapse(2)
    for (std::int64_t img = 0; img < d.n * d.c; ++img)
        for (std::int64_t y = 0; y < h; ++y)
            std::memcpy(dst + (img * h + y) * w, src.data() + (img * d.h + y) * d.w,
                        sizeof(float) * w);
}

}  // namespace tomodenoise
