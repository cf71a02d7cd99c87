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

}  // namespace

Network build_vgg19_features(const Vgg19Config& config) {
    constexpr std::int64_t narrowest = 64;
    if (config.filters_divisor < 1 || config.filters_divisor > narrowest ||
        narrowest % config.filters_divisor != 0)
        throw InvalidArgument("VGG19 filters_divisor must divide 64, got " +
                              std::to_string(config.filters_divisor));
    Network network;
    network.add_input(keras_first_input_name, rgb_channels);
    std::string previous = keras_first_input_name;
    for (std::size_t b = 0; b < std::size(blocks); ++b) {
        const std::string block = "block" + std::to_string(b + 1);
        for (std::int64_t k = 1; k <= blocks[b].convolutions; ++k) {
            ConvolutionConfig c;
            c.filters = blocks[b].filters / config.filters_divisor;
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

}  // namespace tomodenoise
