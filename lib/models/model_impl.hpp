#pragma once
// What a tomodenoise::Model holds: its network, the execution context, and the padded input
// buffer reused across calls.

#include "core/context.hpp"
#include "core/network.hpp"
#include "tomodenoise/model.hpp"

namespace tomodenoise {

struct Model::Impl {
    Impl(Network net, const ApplyOptions& options);

    Network network;
    Context context;
    std::int64_t multiple = 1;
    Tensor padded;  // the input, reflect-padded to the network's multiple
};

/// A Model around a network built here (by a model builder or a trainer).
Model make_model(Network network, const ApplyOptions& options = {});

/// The height and width divisor of `network`: how much its deepest feature map is downsampled.
std::int64_t downsampling_factor(Network& network);

}  // namespace tomodenoise
