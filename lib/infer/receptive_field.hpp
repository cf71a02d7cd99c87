#pragma once
// How far a network looks: the receptive-field radius that tiles must carry as a halo so that
// their centres equal whole-image inference.

#include <cstdint>

#include "core/network.hpp"

namespace tomodenoise {

/// Output pixel q of the network (its first output) depends on input pixels q - before ..
/// q + after along each spatial axis; radius is the larger of the two.
struct ReceptiveField {
    std::int64_t before = 0, after = 0;
    std::int64_t radius() const { return before > after ? before : after; }
};

/// Composes every layer's SpatialFootprint from the network's first input to its first output.
/// Throws InvalidArgument naming the layer when one reads unboundedly (dense, flatten, or a
/// layer that does not say), or when the inputs of a layer sit on different grids.
ReceptiveField receptive_field(const Network& network);

}  // namespace tomodenoise
