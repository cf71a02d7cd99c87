#include "models/vgg19.hpp"

#include <vector>

#include "layers/convolution.hpp"
#include "layers/max_pooling.hpp"
#include "models/keras_names.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

struct Block {
    std::int64_t convolutions, filters;
};
constexpr Block blocks[] = {{2, 64}, {2, 128}, {4, 256}, {4, 512}, {4, 512}};
constexpr std::int64_t rgb_channels = 3;
// The smallest size every pooling of the five blocks accepts.
constexpr std::int64_t smallest_input = 32;

void expect_plain(const Tensor& t, const std::string& what) {
    if (!t.is_plain())
        throw InvalidArgument(what + " must be plain NCHW, got layout " + layout_name(t.desc()));
}

}  // namespace

Network build_vgg19_features(const Vgg19Config& config) {
    Network network;
    network.add_input(keras_first_input_name, rgb_channels);
    std::string previous = keras_first_input_name;
    for (std::size_t b = 0; b < std::size(blocks); ++b) {
        const std::string block = "block" + std::to_string(b + 1);
        for (std::int64_t k = 1; k <= blocks[b].convolutions; ++k) {
            ConvolutionConfig c;
            c.filters = blocks[b].filters;
            c.kernel = 3;
            c.padding = Padding::same;
            c.activation = Activation::relu();
            const std::string name = block + "_conv" + std::to_string(k);
            network.add<ConvolutionLayer>({previous}, name, c);
            previous = name;
        }
        const std::string pool = block + "_pool";
        network.add<MaxPoolingLayer>({previous}, pool, MaxPoolingConfig{});
        previous = pool;
    }
    network.build({Dims{1, rgb_channels, smallest_input, smallest_input}});
    network.initialize(config.seed);
    return network;
}

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
