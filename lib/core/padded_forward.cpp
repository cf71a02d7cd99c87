#include "core/padded_forward.hpp"

#include <algorithm>
#include <vector>

#include "core/reflect_padding.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

// Probe size for measuring a network's downsampling: a power of two deep enough for any
// U-Net this library builds or loads.
constexpr std::int64_t probe_size = 256;

}  // namespace

std::int64_t downsampling_factor(Network& network) {
    std::vector<Dims> probe;
    for (std::size_t i = 0; i < network.input_names().size(); ++i)
        probe.push_back(Dims{1, network.input_channels(i), probe_size, probe_size});
    network.build(probe);
    std::int64_t smallest = probe_size;
    for (const auto& node : network.nodes())
        if (node.dims.h > 1) smallest = std::min(smallest, node.dims.h);
    return probe_size / smallest;
}

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
