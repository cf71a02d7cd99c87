#include "models/tomogan_discriminator.hpp"

#include <string>

#include "layers/activation_layer.hpp"
#include "layers/convolution.hpp"
#include "layers/dense.hpp"
#include "layers/flatten.hpp"
#include "models/builder_options.hpp"
#include "models/keras_names.hpp"

namespace tomodenoise {

namespace {

constexpr const char* builder = "TomoGAN discriminator";

struct ConvolutionStep {
    std::int64_t filters, stride;
};
constexpr ConvolutionStep convolutions[] = {{64, 1}, {64, 2}, {128, 1}, {128, 2}, {128, 1}, {4, 2}};
constexpr std::int64_t hidden_units = 64;
constexpr float patch_leaky_slope = 0.2f;

}  // namespace

Network build_tomogan_discriminator(const TomoGanDiscriminatorConfig& config) {
    expect_option_in_range(builder, "input_channels", config.input_channels, 1);
    expect_option_in_range(builder, "height", config.height, 1);
    expect_option_in_range(builder, "width", config.width, 1);

    Network network;
    KerasNames names;
    const bool dense = config.head == DiscriminatorHead::dense;
    // Only the dense head fixes the size; the patch head's input is declared of any size.
    network.add_input(keras_first_input_name, config.input_channels, dense ? config.height : 0,
                      dense ? config.width : 0);
    std::string previous = keras_first_input_name;
    for (const auto& step : convolutions) {
        ConvolutionConfig c;
        c.filters = step.filters;
        c.kernel = 3;
        c.stride = step.stride;
        c.padding = Padding::same;
        // The patch head's leaky ReLUs are layers of their own, as Keras writes them.
        c.activation = dense ? Activation::relu() : Activation::linear();
        if (!dense) c.kernel_initializer = Initializer::he_normal;
        previous = network.add<ConvolutionLayer>({previous}, names.next("conv2d"), c).name();
        if (!dense)
            previous = network
                           .add<ActivationLayer>({previous}, names.next("leaky_re_lu"),
                                                 Activation::leaky_relu(patch_leaky_slope))
                           .name();
    }
    if (dense) {
        previous = network.add<FlattenLayer>({previous}, names.next("flatten")).name();
        DenseConfig hidden;
        hidden.units = hidden_units;
        hidden.activation = Activation::relu();
        previous = network.add<DenseLayer>({previous}, names.next("dense"), hidden).name();
        DenseConfig logit;
        logit.units = 1;
        network.add<DenseLayer>({previous}, names.next("dense"), logit);
    } else {
        ConvolutionConfig logits;
        logits.filters = 1;
        logits.kernel = 3;
        network.add<ConvolutionLayer>({previous}, names.next("conv2d"), logits);
    }

    network.build({Dims{1, config.input_channels, config.height, config.width}});
    network.initialize(config.seed);
    return network;
}

}  // namespace tomodenoise
