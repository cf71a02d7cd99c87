#include "models/tomogan_generator.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "layers/add.hpp"
#include "layers/concatenation.hpp"
#include "layers/convolution.hpp"
#include "layers/convolution_transpose.hpp"
#include "layers/max_pooling.hpp"
#include "layers/upsampling.hpp"
#include "models/builder_options.hpp"
#include "models/keras_names.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

// Deeper U-Nets would need images over 2^10 pixels wide just to reach the bottleneck.
constexpr std::int64_t max_levels = 10;
constexpr std::int64_t first_filters = 8, box_base_filters = 32, head_filters = 16;

constexpr const char* builder = "TomoGAN generator";

ConvolutionConfig conv(std::int64_t filters, std::int64_t kernel, Activation activation) {
    ConvolutionConfig c;
    c.filters = filters;
    c.kernel = kernel;
    // TomoGAN's 1x1 convolutions are 'valid' (the same thing for a 1x1 kernel), its 3x3 'same'.
    c.padding = kernel == 1 ? Padding::valid : Padding::same;
    c.activation = activation;
    return c;
}

// Builds the layers onto `network`, remembering the last one added.
class UnetWriter {
public:
    UnetWriter(Network& network, std::string input) : network_(network), last_(std::move(input)) {}

    const std::string& last() const { return last_; }

    void convolution(std::int64_t filters, std::int64_t kernel, Activation activation) {
        add<ConvolutionLayer>("conv2d", {last_}, conv(filters, kernel, activation));
    }
    void box(std::int64_t filters) {
        convolution(filters, 3, Activation::relu());
        convolution(filters, 3, Activation::relu());
    }
    void max_pool() {
        MaxPoolingConfig c;
        c.pool = 2;
        c.stride = 2;
        c.padding = Padding::same;
        add<MaxPoolingLayer>("max_pooling2d", {last_}, c);
    }
    void upsample(UnetUpsampling mode, std::int64_t channels) {
        if (mode == UnetUpsampling::transposed) {
            ConvolutionConfig c;
            c.filters = channels;
            c.kernel = 2;
            c.stride = 2;
            c.padding = Padding::same;
            add<ConvolutionTransposeLayer>("conv2d_transpose", {last_}, c);
            return;
        }
        UpsamplingConfig c;
        c.factor = 2;
        c.interpolation =
            mode == UnetUpsampling::bilinear ? Interpolation::bilinear : Interpolation::nearest;
        add<UpsamplingLayer>("up_sampling2d", {last_}, c);
    }
    void concatenate_after(const std::string& skip) {
        add<ConcatenationLayer>("concatenate", {skip, last_});
    }
    void add_to(const std::string& other) { add<AddLayer>("add", {other, last_}); }

private:
    template <typename L, typename... Args>
    void add(const std::string& kind, const std::vector<std::string>& inputs, Args&&... args) {
        const std::string name = names_.next(kind);
        network_.add<L>(inputs, name, std::forward<Args>(args)...);
        last_ = name;
    }

    Network& network_;
    KerasNames names_;
    std::string last_;
};

}  // namespace

Network build_tomogan_generator(const TomoGanGeneratorConfig& config) {
    expect_option_in_range(builder, "depth", config.depth, 1);
    expect_option_in_range(builder, "levels", config.levels, 1, max_levels);
    expect_option_in_range(builder, "output_channels", config.output_channels, 1);
    if (config.residual && (config.depth != 1 || config.output_channels != 1))
        throw InvalidArgument(std::string(builder) +
                              ": residual needs depth 1 and output_channels 1, got depth " +
                              std::to_string(config.depth) + " and output_channels " +
                              std::to_string(config.output_channels));

    const auto encoder_filters = [](std::int64_t level) { return box_base_filters << level; };
    const auto decoder_filters = [](std::int64_t level) {
        return box_base_filters << std::max<std::int64_t>(level - 1, 0);
    };

    Network network;
    network.add_input(keras_first_input_name, config.depth);
    UnetWriter unet(network, keras_first_input_name);
    std::vector<std::string> skips;
    unet.convolution(first_filters, 1, Activation::relu());
    unet.box(encoder_filters(0));
    skips.push_back(unet.last());
    for (std::int64_t level = 1; level < config.levels; ++level) {
        unet.max_pool();
        unet.box(encoder_filters(level));
        skips.push_back(unet.last());
    }
    unet.max_pool();
    const std::int64_t bottleneck = encoder_filters(config.levels - 1);
    unet.convolution(bottleneck, 3, Activation::relu());
    std::int64_t channels = bottleneck;
    for (std::int64_t level = config.levels - 1; level >= 0; --level) {
        unet.upsample(config.upsampling, channels);
        unet.concatenate_after(skips[static_cast<std::size_t>(level)]);
        channels = decoder_filters(level);
        unet.box(channels);
    }
    unet.convolution(head_filters, 1, Activation::relu());
    unet.convolution(config.output_channels, 1, Activation::linear());
    if (config.residual) unet.add_to(keras_first_input_name);

    const std::int64_t size = std::int64_t{1} << config.levels;
    network.build({Dims{1, config.depth, size, size}});
    network.initialize(config.seed);
    return network;
}

}  // namespace tomodenoise
