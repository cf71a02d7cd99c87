#pragma once
// What a tomodenoise::Model holds: its network, the execution context, and the padded input
// buffer reused across calls.

#include <tbb/task_arena.h>

#include "core/context.hpp"
#include "core/network.hpp"
#include "core/padded_forward.hpp"

#include <memory>
#include <vector>
#include "tomodenoise/model.hpp"

namespace tomodenoise {

/// One copy of the network with what running it needs; copies run side by side.
struct ModelReplica {
    /// Runs with `threads` threads (0: the caller's) and `options`' convolution algorithm and
    /// precision (its thread count is the caller's business).
    ModelReplica(Network net, int threads, const ApplyOptions& options);
    /// Applies the network to `n` images of `c` x `h` x `w`, padded to `multiple`, writing `n`
    /// images of `output_channels` x `h` x `w`.
    void apply(const float* input, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
               std::int64_t output_channels, std::int64_t multiple, float* output);

    Network network;
    Context context;
    Tensor padded;  // the input, reflect-padded to the network's multiple
};

struct Model::Impl : ModelReplica {
    /// `copies` more networks (parallel_images - 1 of them, loaded from the same file) run
    /// images side by side with this one.
    Impl(Network net, const ApplyOptions& options, std::vector<Network> copies = {});
    /// Adds `more` copies of the network (the same weights) to run side by side.
    void add_copies(std::vector<Network> more, const ApplyOptions& options);

    std::int64_t multiple = 1;
    ModelRecipe recipe;         // default_recipe of the network until loaded or set
    int threads_per_image = 0;  // 0: the default (all cores), for single-image calls
    std::vector<std::unique_ptr<ModelReplica>> copies;
    std::unique_ptr<tbb::task_arena> arena;  // one worker per replica
};

/// The library's way into a Model, whose public header keeps its implementation private: for
/// the facade (training, inference) and for tests and benchmarks that look inside.
struct ModelAccess {
    using Impl = Model::Impl;
    static Impl& impl(Model& model) { return *model.impl_; }
    static Model wrap(std::unique_ptr<Impl> impl) { return Model(std::move(impl)); }
};

/// What `model` holds: its network, context and buffers.
inline ModelAccess::Impl& model_impl(Model& model) {
    return ModelAccess::impl(model);
}

/// A Model around a network built here (by a model builder or a trainer).
Model make_model(Network network, const ApplyOptions& options = {});

}  // namespace tomodenoise
