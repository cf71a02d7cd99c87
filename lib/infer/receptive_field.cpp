#include "infer/receptive_field.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

// Pixel q of a node depends on network-input pixels step * q + low .. step * q + high.
struct Reach {
    double step = 1, low = 0, high = 0;
};

// Strides and upsampling factors are small integers, so steps are exact binary fractions;
// this only absorbs the rounding of the offsets.
constexpr double tolerance = 1e-9;

std::string layer_name(const Network::Node& node) {
    return "layer '" + node.name + "' (" + node.layer->type() + ")";
}

}  // namespace

ReceptiveField receptive_field(const Network& network) {
    const auto& nodes = network.nodes();
    std::vector<Reach> reach(nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const Network::Node& node = nodes[i];
        if (!node.layer) continue;  // a network input reads itself
        const SpatialFootprint f = node.layer->spatial_footprint();
        if (!f.bounded)
            throw InvalidArgument(layer_name(node) +
                                  " may read every input pixel for each output pixel, so the "
                                  "network cannot be run tile by tile");
        Reach in = reach[node.inputs.at(0)];
        for (std::size_t k = 1; k < node.inputs.size(); ++k) {
            const Reach& other = reach[node.inputs[k]];
            if (std::abs(other.step - in.step) > tolerance)
                throw InvalidArgument(layer_name(node) +
                                      " joins inputs of different resolutions "
                                      "(steps " +
                                      std::to_string(in.step) + " and " +
                                      std::to_string(other.step) + " input pixels per pixel)");
            in.low = std::min(in.low, other.low);
            in.high = std::max(in.high, other.high);
        }
        // q reads inputs p in [f.step q + f.low, f.step q + f.high], each of which depends on
        // network pixels in [in.step p + in.low, in.step p + in.high].
        reach[i] = {in.step * f.step, in.low + in.step * f.low, in.high + in.step * f.high};
    }
    const auto outputs = network.output_names();
    if (outputs.empty()) throw InvalidArgument("the network has no output");
    std::size_t out = 0;
    while (nodes[out].name != outputs[0]) ++out;
    const Reach& r = reach[out];
    ReceptiveField field;
    field.before = std::max<std::int64_t>(0, std::int64_t(std::ceil(-r.low - tolerance)));
    field.after = std::max<std::int64_t>(0, std::int64_t(std::ceil(r.high - tolerance)));
    return field;
}

}  // namespace tomodenoise
