#include "models/segmentation_unet.hpp"

#include "layers/softmax.hpp"
#include "models/builder_options.hpp"

namespace tomodenoise {

Network build_segmentation_unet(const SegmentationUnetConfig& config) {
    expect_option_in_range("segmentation U-Net", "classes", config.classes, 2);
    TomoGanGeneratorConfig generator;
    generator.depth = config.depth;
    generator.levels = config.levels;
    generator.upsampling = config.upsampling;
    generator.output_channels = config.classes;
    generator.seed = config.seed;
    Network network = build_tomogan_generator(generator);
    if (config.with_softmax) {
        const std::string logits = network.output_names().at(0);
        // Keras's name for the first Activation layer of a session: this network's only one.
        const std::string softmax = "activation";
        network.add<SoftmaxLayer>({logits}, softmax);
        network.set_outputs({softmax});
    }
    return network;
}

}  // namespace tomodenoise
