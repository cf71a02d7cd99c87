#pragma once
// A segmentation U-Net: the TomoGAN generator (see tomogan_generator.hpp) whose last 1x1
// convolution gives one logit per class, optionally followed by a softmax over channels.
//
// Which output: with_softmax (the default) ends in a Keras Activation("softmax") layer, so a
// saved model gives class probabilities, as Keras users expect. To train with
// sparse_softmax_crossentropy, which applies the softmax itself in a numerically stable way,
// build it with with_softmax = false: the network then outputs the logits.

#include <cstdint>

#include "core/network.hpp"
#include "models/tomogan_generator.hpp"

namespace tomodenoise {

struct SegmentationUnetConfig {
    /// Input channels, as the generator's depth.
    std::int64_t depth = 1;
    std::int64_t levels = 3;
    UnetUpsampling upsampling = UnetUpsampling::nearest;
    /// Number of classes: output channels.
    std::int64_t classes = 2;
    /// End in a channel softmax (probabilities) rather than the logits.
    bool with_softmax = true;
    std::uint32_t seed = 1;
};

/// The U-Net, named as Keras names its layers (the softmax is "activation"), parameters
/// allocated and initialized. Throws InvalidArgument naming the option for fewer than two
/// classes and for generator options out of range.
Network build_segmentation_unet(const SegmentationUnetConfig& config = {});

}  // namespace tomodenoise
