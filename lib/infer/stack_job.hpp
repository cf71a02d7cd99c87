#pragma once
// The steps of denoising a stack around its pipeline (open the output, the volume's statistics,
// the pipeline, commit), run in one process or split among the ranks of an MPI job.
//
// Across ranks (MPI slab inference): rank r computes the contiguous slab of slices
// [r * n / R, (r + 1) * n / R) (sizes differing by at most one), reading the depth halo around
// it from the input; every rank runs its pipeline with its own threads. Serial HDF5 with
// coordinated writes: rank 0 alone opens, writes and commits the output; the other ranks send it
// their finished slices one at a time (before `finish`, which rank 0 applies to every slice), so
// that no rank holds more than its pipeline's few batches whatever the number of ranks. The
// statistics pass runs on rank 0 over the whole volume and its map is broadcast: exactly the
// single-process map, hence output identical bit for bit to a single process with the same
// threads per process. Errors: a failure while opening the output or in the statistics pass
// fails every rank (with the first failing rank's message); a failure in a rank's pipeline is
// sent to rank 0, which stops the others, drains what they still send, discards the output and
// throws that rank's error on every rank. Rank 0 alone calls on_start, finish and on_progress
// (counting every rank's slices); every rank returns only once rank 0 has committed. Resuming:
// the slices rank 0's output already holds (pipeline->skip there, once the output is open) are
// sent to every rank, which skips them in its slab.

#include <functional>

#include "infer/slice_stream.hpp"
#include "infer/stack_pipeline.hpp"
#include "tomodenoise/normalize.hpp"

namespace tomodenoise {

struct StackJob {
    SliceSource* source = nullptr;
    /// Its finish and on_progress are for the whole stack's output.
    StackPipeline* pipeline = nullptr;
    std::function<SliceSink&()> open_output;  ///< creates the output (rank 0 only)
    std::function<void()> commit;             ///< publishes it once every slice is written
    std::function<void()> on_start;           ///< once the output is open, before the statistics
    /// The volume's normalization map for pipeline->map; empty: none is needed.
    std::function<Normalization()> statistics;
};

/// Runs `job` in this process, or, when `distributed` and MPI runs with more than one rank,
/// split among the ranks of MPI_COMM_WORLD as the file comment says (collective: every rank
/// calls it with the same job).
void run_stack_job(const StackJob& job, bool distributed);

}  // namespace tomodenoise
