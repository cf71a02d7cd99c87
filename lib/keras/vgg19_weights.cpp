#include "keras/vgg19_weights.hpp"

#include <set>
#include <vector>

#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

// Where Keras's save_weights layout starts in `file`: the root, or /model_weights in a file
// saved with the whole model.
std::string weights_root(const hdf5::File& file) {
    if (hdf5::attribute_exists(file, "/", "layer_names")) return "";
    if (hdf5::link_exists(file, "/model_weights") &&
        hdf5::attribute_exists(file, "/model_weights", "layer_names"))
        return "/model_weights";
    throw FormatError(file.path() +
                      ": no 'layer_names' attribute at the root or in /model_weights: not a "
                      "Keras weights file");
}

}  // namespace

void load_vgg19_weights(Network& vgg, const std::string& path) {
    const auto file = hdf5::File::open_read(path);
    const std::string root = weights_root(file);
    const auto file_layers =
        hdf5::read_string_list_attribute(file, root.empty() ? "/" : root, "layer_names");
    const std::set<std::string> in_file(file_layers.begin(), file_layers.end());

    const auto has_parameters = [&vgg](const std::string& name) {
        for (const auto& node : vgg.nodes())
            if (node.name == name) return node.layer && !node.layer->parameters().empty();
        return false;
    };
    for (const auto& name : file_layers) {
        const std::string group = root + "/" + name;
        const bool has_weights =
            hdf5::link_exists(file, group) &&
            !hdf5::read_string_list_attribute(file, group, "weight_names").empty();
        if (has_weights && !has_parameters(name))
            throw FormatError(path + ": layer '" + name +
                              "' has weights, but VGG19 without top has no such layer (is this "
                              "the notop file?)");
    }
    for (const auto& node : vgg.nodes()) {
        if (!node.layer || node.layer->parameters().empty()) continue;
        if (!in_file.count(node.name))
            throw FormatError(path + ": layer '" + node.name +
                              "' is not in the file's layer_names: not VGG19 weights");
        read_keras_layer_weights(file, root + "/" + node.name, *node.layer);
    }
}

}  // namespace tomodenoise
