#include <tbb/parallel_for.h>

#include <string>

#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace tomodenoise {

StackMetrics compare_stacks(const float* reference, const float* test, const StackShape& shape,
                            double data_range) {
    if (shape.n <= 0 || shape.h <= 0 || shape.w <= 0)
        throw ShapeError("compare_stacks: empty stack (" + std::to_string(shape.n) + ", " +
                         std::to_string(shape.h) + ", " + std::to_string(shape.w) + ")");
    StackMetrics result;
    result.per_slice.resize(shape.n);
    const std::int64_t slice = shape.h * shape.w;
    tbb::parallel_for(std::int64_t(0), shape.n, [&](std::int64_t i) {
        const float* r = reference + i * slice;
        const float* t = test + i * slice;
        SliceMetrics& m = result.per_slice[i];
        m.mse = mean_squared_error(r, t, slice);
        m.mae = mean_absolute_error(r, t, slice);
        m.psnr = psnr(r, t, slice, data_range);
        m.ssim = ssim_gaussian(r, t, shape.h, shape.w, data_range);
        m.ssim_uniform7 = ssim_uniform7(r, t, shape.h, shape.w, data_range);
    });
    for (const SliceMetrics& m : result.per_slice) {
        result.mean.psnr += m.psnr;
        result.mean.ssim += m.ssim;
        result.mean.ssim_uniform7 += m.ssim_uniform7;
        result.mean.mse += m.mse;
        result.mean.mae += m.mae;
    }
    const double n = double(shape.n);
    result.mean.psnr /= n;
    result.mean.ssim /= n;
    result.mean.ssim_uniform7 /= n;
    result.mean.mse /= n;
    result.mean.mae /= n;
    return result;
}

StackMetrics compare_stacks(const Stack& reference, const Stack& test, double data_range) {
    if (reference.shape() != test.shape())
        throw ShapeError("compare_stacks: reference " + reference.shape().to_string() +
                         " and test " + test.shape().to_string() + " differ in shape");
    const std::vector<float> r = reference.to_float("the reference"),
                             t = test.to_float("the test stack");
    return compare_stacks(r.data(), t.data(), reference.shape(), data_range);
}

}  // namespace tomodenoise
