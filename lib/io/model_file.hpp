#pragma once
// Networks saved and loaded in the one model format of the project: Keras's HDF5 layout
// (root attributes model_config, keras_version, backend; weights under
// model_weights/<layer>/<layer>/<weight>:0 in Keras's axis order; optimizer state under
// optimizer_weights, as Keras does), so Keras loads what we save and we load Keras models.

#include <cstdint>
#include <string>
#include <vector>

#include "core/network.hpp"

namespace tomodenoise {

namespace hdf5 {
class File;
}

/// A named float array: an optimizer's state slot, in Keras's optimizer_weights naming.
struct NamedArray {
    std::string name;
    std::vector<std::int64_t> dims;
    std::vector<float> values;
};

/// Writes `network` (architecture and weights) and, when given, the optimizer state to
/// `path`. The file appears only once complete: it is written under a temporary name in the
/// same folder and renamed.
void save_network(const std::string& path, Network& network,
                  const std::vector<NamedArray>* optimizer_state = nullptr);

/// Reads a network saved by save_network or by Keras (2.2.4-tf, 2.3.0-tf, 2.4). Its parameters
/// are allocated for the input size in the file (or 64x64 when the size is free) and hold the
/// stored weights. Fills `optimizer_state` when given (empty when the file has none). Throws
/// FormatError naming the file, layer, weight and dims for anything that does not fit, and
/// IoError for a missing or unreadable file.
Network load_network(const std::string& path, std::vector<NamedArray>* optimizer_state = nullptr);

/// Reads the weights of `layer` from the Keras weights group `group` of `file` (absolute
/// path): its `weight_names` attribute lists the datasets, relative to the group, in the order
/// of layer.parameters(), stored in Keras's axis order. Throws FormatError naming the file, the
/// layer, the weight and the dims for anything that does not fit.
void read_keras_layer_weights(const hdf5::File& file, const std::string& group, Layer& layer);

/// Keras's channels_last dims of `network`'s input `i` as stored (H and W 0 when free).
struct KerasInputShape {
    std::int64_t h = 0, w = 0, c = 0;
};
KerasInputShape keras_input_shape(const std::string& path, std::size_t i = 0);

}  // namespace tomodenoise
