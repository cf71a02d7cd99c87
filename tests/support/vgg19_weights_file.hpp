#pragma once
// Keras's VGG19 without top in the layout of its ImageNet weights file
// (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5: save_weights at the root), written with
// random weights: the file is not available offline, tests build one of the same layout.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "test_support.hpp"

namespace tomodenoise::testing {

struct KerasConv {
    std::string name;
    std::int64_t in, out;
};

inline constexpr std::int64_t block_convolutions[] = {2, 2, 4, 4, 4};
inline constexpr std::int64_t block_filters[] = {64, 128, 256, 512, 512};

// Keras's VGG19 convolutions, block by block.
inline std::vector<KerasConv> vgg19_convolutions() {
    std::vector<KerasConv> convs;
    std::int64_t in = 3;
    for (int b = 0; b < 5; ++b)
        for (std::int64_t k = 1; k <= block_convolutions[b]; ++k) {
            convs.push_back({"block" + std::to_string(b + 1) + "_conv" + std::to_string(k), in,
                             block_filters[b]});
            in = block_filters[b];
        }
    return convs;
}

// Keras's VGG19(include_top=False) layers, in order.
inline std::vector<std::string> vgg19_layer_names() {
    std::vector<std::string> names{"input_1"};
    for (int b = 1; b <= 5; ++b) {
        const std::string block = "block" + std::to_string(b);
        for (std::int64_t k = 1; k <= block_convolutions[b - 1]; ++k)
            names.push_back(block + "_conv" + std::to_string(k));
        names.push_back(block + "_pool");
    }
    return names;
}

// A layer of a Keras save_weights file: its weight datasets (name, dims, values).
struct StoredLayer {
    std::string name;
    std::vector<hdf5::FloatArray> weights;  // kernel then bias, empty for pooling and input
};

// Writes `layers` in the layout of Keras's save_weights under `root` ("" for the file's root):
// attribute layer_names, and per layer a group with weight_names and <layer>/<weight>:0.
inline void write_keras_weights(const std::string& path, const std::string& root,
                                const std::vector<StoredLayer>& layers) {
    auto file = hdf5::File::create(path);
    const std::string root_path = root.empty() ? "/" : root;
    if (!root.empty()) hdf5::create_groups(file, root);
    std::vector<std::string> names;
    for (const auto& layer : layers) names.push_back(layer.name);
    hdf5::write_string_list_attribute(file, root_path, "layer_names", names);
    for (const auto& layer : layers) {
        const std::string group = root + "/" + layer.name;
        hdf5::create_groups(file, group);
        std::vector<std::string> weight_names;
        for (std::size_t k = 0; k < layer.weights.size(); ++k) {
            const std::string weight = layer.name + (k == 0 ? "/kernel:0" : "/bias:0");
            hdf5::write_float_dataset(file, group + "/" + weight, layer.weights[k].dims,
                                      layer.weights[k].values.data());
            weight_names.push_back(weight);
        }
        hdf5::write_string_list_attribute(file, group, "weight_names", weight_names);
    }
    file.close();
}

inline hdf5::FloatArray random_array(const std::vector<std::int64_t>& dims, std::uint32_t seed) {
    std::int64_t count = 1;
    for (auto d : dims) count *= d;
    return {dims, random_values(static_cast<std::size_t>(count), seed, -0.1f, 0.1f)};
}

// Keras's layers with random weights: kernels (3, 3, in, out), biases (out), uniform in
// +-0.1, or with `he_scaled` in +-sqrt(6 / fan_in) and biases 0, which keeps the activations'
// scale through the 16 ReLU convolutions (features a training run can use).
inline std::vector<StoredLayer> random_vgg19_layers(bool he_scaled = false) {
    std::vector<StoredLayer> layers;
    std::uint32_t seed = 100;
    const auto convs = vgg19_convolutions();
    for (const auto& name : vgg19_layer_names()) {
        StoredLayer layer{name, {}};
        for (const auto& c : convs)
            if (c.name == name) {
                layer.weights.push_back(random_array({3, 3, c.in, c.out}, seed++));
                layer.weights.push_back(random_array({c.out}, seed++));
                if (he_scaled) {
                    const float scale = std::sqrt(6.f / float(9 * c.in)) / 0.1f;
                    for (float& v : layer.weights[0].values) v *= scale;
                    std::fill(layer.weights[1].values.begin(), layer.weights[1].values.end(), 0.f);
                }
            }
        layers.push_back(std::move(layer));
    }
    return layers;
}

// A file of the exact layout of Keras's vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
// (save_weights at the root) with random weights (random_vgg19_layers).
inline void write_random_vgg19_notop(const std::string& path, bool he_scaled = false) {
    write_keras_weights(path, "", random_vgg19_layers(he_scaled));
}

}  // namespace tomodenoise::testing
