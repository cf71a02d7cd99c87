#include "infer/padded_forward.hpp"

#include "infer/reflect_padding.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

void forward_padded(Context& ctx, Network& network, const float* input, const Dims& src,
                    std::int64_t output_channels, std::int64_t multiple, Tensor& padded,
                    float* output) {
    const auto round_up = [&](std::int64_t v) { return (v + multiple - 1) / multiple * multiple; };
    const Dims padded_dims{src.n, src.c, round_up(src.h), round_up(src.w)};
    const Tensor* net_input;
    Tensor view;
    if (padded_dims == src) {
        view = Tensor::view(const_cast<float*>(input), src);  // read only: layers never write src
        net_input = &view;
    } else {
        padded.reshape(padded_dims);
        reflect_pad(input, src, padded);
        net_input = &padded;
    }
    const Tensor& result = network.forward(ctx, *net_input, Mode::inference);
    const Dims window{src.n, output_channels, src.h, src.w};
    try {
        crop(result, window, output);
    } catch (const ShapeError& e) {
        throw ShapeError("the network's output for input " + net_input->dims().to_string() +
                         " does not hold the " + window.to_string() + " expected: " + e.what());
    }
}

}  // namespace tomodenoise
