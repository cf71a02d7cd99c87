#include "models/cnn_denoiser.hpp"

#include "layers/convolution.hpp"
#include "models/builder_options.hpp"
#include "models/keras_names.hpp"

namespace tomodenoise {

namespace {

constexpr const char* builder = "CNN denoiser";

ConvolutionConfig conv3x3(std::int64_t filters, Activation activation) {
    ConvolutionConfig c;
    c.filters = filters;
    c.kernel = 3;
    c.padding = Padding::same;
    c.activation = activation;
    return c;
}

}  // namespace

Network build_cnn_denoiser(const CnnDenoiserConfig& config) {
    expect_option_in_range(builder, "input_channels", config.input_channels, 1);
    expect_option_in_range(builder, "output_channels", config.output_channels, 1);
    for (std::size_t i = 0; i < config.widths.size(); ++i)
        expect_option_in_range(builder, "widths[" + std::to_string(i) + "]", config.widths[i], 1);

    Network network;
    KerasNames names;
    std::string previous = keras_first_input_name;
    network.add_input(previous, config.input_channels);
    for (const auto width : config.widths) {
        const std::string name = names.next("conv2d");
        network.add<ConvolutionLayer>({previous}, name, conv3x3(width, Activation::relu()));
        previous = name;
    }
    network.add<ConvolutionLayer>({previous}, names.next("conv2d"),
                                  conv3x3(config.output_channels, Activation::linear()));
    // Convolutions' parameters do not depend on the image size: any size allocates them.
    network.build({Dims{1, config.input_channels, 8, 8}});
    network.initialize(config.seed);
    return network;
}

}  // namespace tomodenoise
