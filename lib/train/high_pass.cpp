#include "train/high_pass.hpp"

#include <algorithm>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

void high_pass_residual(const Tensor& in, Tensor& out) {
    if (!in.is_plain())
        throw InvalidArgument("high_pass_residual input must be plain NCHW, got layout " +
                              layout_name(in.desc()));
    const Dims& d = in.dims();
    out.reshape(d);
    const float* src = in.data();
    float* dst = out.data();
    const std::int64_t planes = d.n * d.c;
    for (std::int64_t p = 0; p < planes; ++p) {
        const float* plane = src + p * d.h * d.w;
        float* residual = dst + p * d.h * d.w;
        for (std::int64_t y = 0; y < d.h; ++y)
            for (std::int64_t x = 0; x < d.w; ++x) {
                float sum = 0;
                for (std::int64_t yy = std::max<std::int64_t>(y - 1, 0);
                     yy <= std::min<std::int64_t>(y + 1, d.h - 1); ++yy)
                    for (std::int64_t xx = std::max<std::int64_t>(x - 1, 0);
                         xx <= std::min<std::int64_t>(x + 1, d.w - 1); ++xx)
                        sum += plane[yy * d.w + xx];
                residual[y * d.w + x] = high_pass_gain * (plane[y * d.w + x] - sum / 9.f);
            }
    }
}

}  // namespace tomodenoise
