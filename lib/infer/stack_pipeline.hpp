#pragma once
// Denoising a stack as a TBB pipeline: read a batch of slices (with the neighbours a model of
// several input channels needs, reflected at the stack's ends) -> normalize with the volume's
// map -> tiles through the network copies -> stitch -> finish (inverse map, output type) ->
// write. Reading and writing overlap with compute, and memory holds a few batches, the depth
// halo and one set of window buffers per network copy, whatever the stack's length.

#include <cstdint>
#include <functional>
#include <vector>

#include "infer/slice_stream.hpp"
#include "infer/tiling.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/train.hpp"

namespace tomodenoise {

struct StackPipeline {
    TilePlan plan;              ///< the windows of one slice
    std::int64_t channels = 1;  ///< network input channels: 1 or an odd depth of slices
    std::int64_t batch = 1;     ///< slices per pipeline token
    /// The slices computed, [begin, end) (end -1: to the stack's end): a rank's slab; their
    /// neighbours are read from the whole stack, reflected at its ends.
    std::int64_t begin = 0, end = -1;
    NormalizeOptions cleaning;  ///< the NaN/Inf policy applied to every slice read
    Normalization map;          ///< the volume's, applied to every slice after cleaning
    /// Network copies; windows run on them side by side, each with threads_per_network OpenMP
    /// threads (one copy: windows in turn, on all of them).
    std::vector<WindowNetwork> networks;
    int threads_per_network = 1;
    /// Noise2Self J-invariant inference with a grid of this width (0: one pass): the batch runs
    /// once per grid phase with that phase's pixels of the middle channel hidden (mask_mode)
    /// over the whole slice before padding and tiling, so that the result equals whole-image
    /// apply_j_invariant; each output pixel comes from the pass that hid it.
    int mask_width = 0;
    MaskMode mask_mode = MaskMode::zero;
    /// Called in slice order on each batch's output (count x h x w) before it is written.
    std::function<void(float* output, std::int64_t first, std::int64_t count)> finish;
    /// Slices the sink already holds (a resumed output), skipped; empty: none.
    std::function<bool(std::int64_t slice)> skip;
    /// After each batch is written: `done` of `total` slices (of [begin, end)), skipped ones
    /// included.
    std::function<void(std::int64_t done, std::int64_t total)> on_progress;
};

/// Runs the pipeline over every slice of `source` into `sink`, in a TBB arena of as many
/// threads as network copies (one copy: two, compute and I/O), so that OpenMP inside never
/// runs more threads than asked. The first exception (a reader's, a network's, a callback's)
/// stops it and is rethrown.
void run_stack_pipeline(SliceSource& source, SliceSink& sink, const StackPipeline& pipeline);

}  // namespace tomodenoise
