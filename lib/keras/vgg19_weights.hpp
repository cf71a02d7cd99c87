#pragma once
// Keras's ImageNet weights of VGG19 without top
// (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5), read into the feature extractor that
// models/vgg19.hpp builds.

#include <string>

#include "core/network.hpp"

namespace tomodenoise {

/// Loads the weights of Keras's VGG19 `notop` file (the layout of Keras's save_weights: the
/// root attribute `layer_names`, each layer's group with a `weight_names` attribute and the
/// datasets `/<layer>/<layer>/kernel:0` and `bias:0`; or a whole-model file with the same under
/// `/model_weights`) into `vgg`, a network from build_vgg19_features. Layers are matched by
/// name. Throws IoError when the file cannot be read and FormatError naming the file and the
/// layer when a layer's weights are missing or of other dims, or when the file holds weights
/// of layers VGG19 without top does not have (such as a top classifier's fc1).
void load_vgg19_weights(Network& vgg, const std::string& path);

}  // namespace tomodenoise
