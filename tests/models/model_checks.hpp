#pragma once
// Checks shared by the model builder tests: a built network against a published Keras file
// (layer classes, names, order, configs, connections, parameter shapes), running networks, and
// the Keras-layout export round trip.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "core/network.hpp"
#include "io/hdf5.hpp"
#include "keras/keras_layers.hpp"
#include "keras/model_file.hpp"
#include "layer_check.hpp"
#include "test_support.hpp"

namespace tomodenoise::testing {

/// The `config.layers` list of a Keras file's model_config.
inline nlohmann::json keras_file_layers(const std::string& path) {
    const auto file = hdf5::File::open_read(path);
    return nlohmann::json::parse(hdf5::read_string_attribute(file, "/", "model_config"))
        .at("config")
        .at("layers");
}

/// Keys newer Keras versions write, with the value that older files (which omit them) mean.
inline bool is_implied_by_older_keras(const std::string& key, const nlohmann::json& value) {
    return (key == "groups" && value == 1) || (key == "interpolation" && value == "nearest");
}

/// Every layer of `built`, in order, has the class, name, inputs and config (initializers
/// aside) of the corresponding entry of the Keras file's model_config.
inline void expect_keras_architecture(const Network& built, const std::string& path) {
    const nlohmann::json layers = keras_file_layers(path);
    const auto& nodes = built.nodes();
    ASSERT_EQ(nodes.size(), layers.size()) << path;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const auto& node = nodes[i];
        const nlohmann::json& want = layers[i];
        const nlohmann::json& want_config = want.at("config");
        const std::string name = want_config.at("name");
        ASSERT_EQ(node.name, name) << "layer " << i << " of " << path;
        if (!node.layer) {
            EXPECT_EQ(want.at("class_name"), "InputLayer") << name;
            EXPECT_EQ(want_config.at("batch_input_shape").at(3), node.channels) << name;
            continue;
        }
        EXPECT_EQ(want.at("class_name"), node.layer->type()) << name;
        const nlohmann::json ours = keras_layer_config(*node.layer);
        for (const auto& [key, value] : want_config.items()) {
            if (key == "kernel_initializer" || key == "bias_initializer") continue;
            ASSERT_TRUE(ours.contains(key)) << name << " has no '" << key << "'";
            EXPECT_EQ(ours.at(key), value) << name << "." << key;
        }
        for (const auto& [key, value] : ours.items()) {
            if (!want_config.contains(key)) {
                EXPECT_TRUE(is_implied_by_older_keras(key, value))
                    << name << "." << key << " = " << value << " is not in " << path;
            }
        }
        std::vector<std::string> inbound, ours_inbound;
        for (const auto& in : want.at("inbound_nodes").at(0)) inbound.push_back(in.at(0));
        for (auto k : node.inputs) ours_inbound.push_back(nodes[k].name);
        EXPECT_EQ(ours_inbound, inbound) << name;
    }
}

/// Same parameters, in order: Keras weight names and shapes.
inline void expect_same_parameter_shapes(Network& a, Network& b) {
    const auto pa = a.parameters(), pb = b.parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (std::size_t k = 0; k < pa.size(); ++k) {
        EXPECT_EQ(pa[k]->name(), pb[k]->name()) << "parameter " << k;
        EXPECT_EQ(pa[k]->shape(), pb[k]->shape()) << "parameter " << k;
    }
}

/// Copies every parameter value of `from` into `to`, in order (shapes must agree).
inline void copy_parameters(Network& from, Network& to) {
    const auto pf = from.parameters(), pt = to.parameters();
    ASSERT_EQ(pf.size(), pt.size());
    for (std::size_t k = 0; k < pf.size(); ++k) {
        ASSERT_EQ(pf[k]->shape(), pt[k]->shape()) << "parameter " << k;
        std::copy(pf[k]->value(), pf[k]->value() + pf[k]->size(), pt[k]->value());
        pt[k]->mark_changed();
    }
}

/// The network's (first) output for `input`, in plain NCHW order.
inline std::vector<float> run(Network& network, const Tensor& input) {
    // One context for every run: networks of the same layers reuse each other's primitives
    // instead of compiling their own.
    static Context ctx;
    const Tensor& out = network.forward(ctx, input, Mode::inference);
    return std::vector<float>(out.data(), out.data() + out.dims().count());
}

/// Whether `values` are not all the same: an output a test compares must be able to differ.
inline bool varies(const std::vector<float>& values) {
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    return !values.empty() && *low < *high;
}

/// save_network then load_network gives the same layers (names, classes, configs), the same
/// parameter values and bit-identical outputs for `input`.
inline void expect_export_round_trip(Network& network, const Tensor& input) {
    ScratchDir dir;
    const std::string path = dir.file("model.h5");
    save_network(path, network);
    Network loaded = load_network(path);
    ASSERT_EQ(loaded.nodes().size(), network.nodes().size());
    for (std::size_t i = 0; i < network.nodes().size(); ++i) {
        const auto& a = network.nodes()[i];
        const auto& b = loaded.nodes()[i];
        EXPECT_EQ(a.name, b.name);
        ASSERT_EQ(bool(a.layer), bool(b.layer)) << a.name;
        if (a.layer) {
            EXPECT_EQ(keras_layer_config(*a.layer), keras_layer_config(*b.layer)) << a.name;
        }
    }
    EXPECT_EQ(loaded.output_names(), network.output_names());
    const auto pa = network.parameters(), pb = loaded.parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (std::size_t k = 0; k < pa.size(); ++k)
        ASSERT_TRUE(std::equal(pa[k]->value(), pa[k]->value() + pa[k]->size(), pb[k]->value()))
            << "parameter " << k;
    const auto want = run(network, input);
    EXPECT_TRUE(varies(want));
    EXPECT_EQ(run(loaded, input), want);
}

}  // namespace tomodenoise::testing
