#include "train/vgg19_preprocess.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

constexpr std::int64_t rgb_channels = 3;

void expect_plain(const Tensor& t, const std::string& what) {
    if (!t.is_plain())
        throw InvalidArgument(what + " must be plain NCHW, got layout " + layout_name(t.desc()));
}

}  // namespace

void vgg19_preprocess_gray(const Tensor& gray, Tensor& bgr) {
    expect_plain(gray, "vgg19_preprocess_gray input");
    const Dims& d = gray.dims();
    if (d.c != 1)
        throw ShapeError("vgg19_preprocess_gray needs one gray channel (N, 1, H, W), got " +
                         d.to_string());
    bgr.reshape(Dims{d.n, rgb_channels, d.h, d.w});
    for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t c = 0; c < rgb_channels; ++c)
            for (std::int64_t y = 0; y < d.h; ++y)
                for (std::int64_t x = 0; x < d.w; ++x)
                    bgr.at(n, c, y, x) = gray.at(n, 0, y, x) - vgg19_bgr_mean[c];
}

void vgg19_preprocess_gray_backward(const Tensor& diff_bgr, Tensor& diff_gray) {
    expect_plain(diff_bgr, "vgg19_preprocess_gray_backward gradient");
    const Dims& d = diff_bgr.dims();
    if (d.c != rgb_channels)
        throw ShapeError(
            "vgg19_preprocess_gray_backward needs a gradient of 3 channels "
            "(N, 3, H, W), got " +
            d.to_string());
    diff_gray.reshape(Dims{d.n, 1, d.h, d.w});
    for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t y = 0; y < d.h; ++y)
            for (std::int64_t x = 0; x < d.w; ++x)
                diff_gray.at(n, 0, y, x) =
                    diff_bgr.at(n, 0, y, x) + diff_bgr.at(n, 1, y, x) + diff_bgr.at(n, 2, y, x);
}

}  // namespace tomodenoise
