#pragma once
// Networks saved and loaded in the one model format of the project: Keras's HDF5 layout
// (root attributes model_config, keras_version, backend; weights under
// model_weights/<layer>/<layer>/<weight>:0 in Keras's axis order; optimizer state under
// optimizer_weights, as Keras does), so Keras loads what we save and we load Keras models.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/network.hpp"
#include "tomodenoise/recipe.hpp"
#include "train/optimizer.hpp"

namespace tomodenoise {

namespace hdf5 {
class File;
}

/// The root attribute holding a model's ModelRecipe as JSON (beside Keras's model_config, which
/// Keras reads without minding it), and the version of its layout this library writes and reads.
constexpr const char* recipe_attribute = "tomodenoise_recipe";
constexpr std::int64_t recipe_version = 1;

/// A second network saved in the same file as the main one (the GAN's discriminator beside its
/// generator): the same Keras layout (root attributes, model_weights, optimizer_weights) inside
/// the group /<group>, which Keras ignores.
struct EmbeddedNetwork {
    std::string group;
    Network* network = nullptr;
    const Optimizer* optimizer = nullptr;  ///< its state is saved too when not null
};

/// Writes `network` (architecture and weights) and, when given, `optimizer`'s configuration
/// (root attribute training_config) and state (optimizer_weights/<Type>/<layer>/<weight>/<slot>:0
/// in Keras's axis order, and optimizer_weights/<Type>/iter:0), `recipe` (root attribute
/// recipe_attribute) and `root_attributes` (name -> text, string attributes of the file's root:
/// what a caller records beside the model, such as a training state) and the `embedded`
/// networks to `path`. The file appears
/// only once complete: it is written under a temporary name in the same folder and renamed.
/// InvalidArgument naming the field, before anything is written, for a recipe check_recipe
/// refuses for this network.
void save_network(const std::string& path, Network& network, const Optimizer* optimizer = nullptr,
                  const ModelRecipe* recipe = nullptr,
                  const std::map<std::string, std::string>& root_attributes = {},
                  const std::vector<EmbeddedNetwork>& embedded = {});

/// The recipe stored in `path` for `network` (as loaded from it), or default_recipe for a file
/// without one (Keras's own, the published TomoGAN models). Throws FormatError naming the file
/// and the field for a recipe that is not valid JSON, lacks a field, has a field of the wrong
/// type or an unknown name, a newer version, or values check_recipe refuses for `network`.
ModelRecipe read_recipe(const std::string& path, const Network& network);

/// Channels of `network`'s output `i`, as last built.
std::int64_t output_channels(const Network& network, std::size_t i = 0);

/// Reads a network saved by save_network or by Keras (2.2.4-tf, 2.3.0-tf, 2.4). Its parameters
/// are allocated for the input size in the file (or 64x64 when the size is free) and hold the
/// stored weights. Throws FormatError naming the file, layer, weight and dims for anything
/// that does not fit (config sizes are checked against limits and against the stored weights
/// before any parameter is allocated; NaN or infinite weights are refused), and IoError for a
/// missing or unreadable file. With `embedded_group`, the network save_network embedded there
/// (FormatError naming the file and group when it has none).
Network load_network(const std::string& path, const std::string& embedded_group = "");

/// Restores `optimizer` (over `network`'s parameters, as loaded from `path`) to the state
/// save_network stored. Throws FormatError naming the file when it holds no state for this
/// optimizer type, or state that does not fit its parameters. With `embedded_group`, the state
/// of the network embedded there.
void load_optimizer_state(const std::string& path, Network& network, Optimizer& optimizer,
                          const std::string& embedded_group = "");

/// Reads the weights of `layer` from the Keras weights group `group` of `file` (absolute
/// path): its `weight_names` attribute lists the datasets, relative to the group, in the order
/// of layer.parameters(), stored in Keras's axis order. Throws FormatError naming the file, the
/// layer, the weight and the dims for anything that does not fit, and for NaN or infinite
/// values.
void read_keras_layer_weights(const hdf5::File& file, const std::string& group, Layer& layer);

/// Keras's channels_last dims of `network`'s input `i` as stored (H and W 0 when free).
struct KerasInputShape {
    std::int64_t h = 0, w = 0, c = 0;
};
KerasInputShape keras_input_shape(const std::string& path, std::size_t i = 0);

}  // namespace tomodenoise
