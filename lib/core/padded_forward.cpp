#include "core/padded_forward.hpp"

#include "core/reflect_padding.hpp"

namespace tomodenoise {

void forward_padded(Context& ctx, Network& network, const float* input, const Dims& src,
                    std::int64_t multiple, Tensor& padded, float* output) {
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
    crop(network.forward(ctx, *net_input, Mode::inference), src.h, src.w, output);
}

}  // namespace tomodenoise
