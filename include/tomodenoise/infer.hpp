#pragma once
/// @file
/// Denoising a stack (an HDF5 dataset, a TIFF folder or a multi-page TIFF) with a model file into
/// another, streamed through a pipeline (read -> tiles -> network -> stitch -> write, reading and
/// writing overlapping with compute) so that memory holds a few slices, the depth halo and the
/// tile buffers of each network copy, whatever the stack's size; what examples/denoise_stack
/// runs.
///
/// Tiles: each slice is reflect-padded to the network's size multiple as whole-image inference
/// pads it and cut into windows of `tile` pixels whose halo is at least the network's
/// receptive-field radius and whose origins are multiples of its downsampling factor; the
/// windows' centres are stitched. The result equals whole-image inference up to rounding
/// (within 1e-5 of the output's range) for every tile size.
///
/// Normalization is over the whole volume (the slices denoised), never per slice or tile
/// (per-tile statistics make seams): statistics passes read the stack first, and the denoising
/// pass applies that one map to every slice and its inverse to every output (clipping cannot be
/// undone), so the output is in the input's units. The map is the model's recorded one
/// (ModelRecipe::normalization, fitted to this volume's own statistics) when it records one;
/// otherwise DenoiseStackOptions::normalization's (default: values as stored, as float32).
///
/// A model of depth C > 1 (input channels, C odd) gets slices i - C/2 .. i + C/2 for output
/// slice i, reflected at the ends of the slices denoised without repeating the end slice (slice
/// 0 of a C = 3 model gets slices 1, 0, 1; the last, n-1, gets n-2, n-1, n-2).
///
/// Resuming: the output is written through StackWriter, with attributes that record the model
/// file, its CRC-32, the options that shape the values (JSON) and the library version. They are
/// the run's signature: with `resume` (the default) a rerun of the same work after a crash or
/// kill finds the unfinished output, re-runs the statistics passes (deterministic), skips the
/// slices already written and ends with the output an uninterrupted run writes; a different
/// model, option or version is refused with an IoError that says to use `overwrite`.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tomodenoise/io.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/recipe.hpp"
#include "tomodenoise/stack.hpp"
#include "tomodenoise/train.hpp"

namespace tomodenoise {

/// Output values from_low..from_high mapped linearly onto an integer pixel type's whole range
/// (uint8 0..255, uint16 0..65535, int16 -32768..32767), before rounding and saturation.
struct OutputScale {
    double from_low = 0, from_high = 1;  ///< finite, from_low < from_high
};

/// How the tiles of a slice share the threads.
enum class TileThreading {
    /// side_by_side while the copies' activations fit in 512 MiB, fewer copies (down to
    /// in_turn) when they do not: on 2 cores side by side measured as fast or faster (up to
    /// 11% for TomoGAN.h5, 30% for the plain CNN on small tiles), but TomoGAN's copies at a
    /// 512 tile hold 270-390 MiB each
    automatic,
    side_by_side,  ///< one network copy per thread, one tile each, single-threaded primitives
    in_turn,       ///< one network, one tile after another on all threads (OpenMP)
};

/// The tile side DenoiseStackOptions::tile defaults to, from bench/bench_tiled_inference on a
/// 2-core Zen 5 (README's Benchmarks): the plain CNN runs as fast at 128..1024 as on whole
/// slices; TomoGAN.h5 (halo 48) computes 1.4x the pixels of a 1024 or 2048 slice at 512 while
/// a network copy holds under 400 MiB of activations, where whole 2048 slices would need
/// 6.4 GiB.
constexpr std::int64_t default_tile = 512;

/// What to denoise, with what, and where the result goes. denoise_stack throws
/// InvalidArgument naming the field for a value outside the bounds given here.
struct DenoiseStackOptions {
    std::string model;  ///< Keras HDF5 model file: 1 output channel, 1 or odd C inputs
    /// A StackLocation ("FILE.h5:/dataset", a TIFF folder, a multi-page TIFF): an (N, H, W) or
    /// (H, W) stack of any stored pixel type. Never written. For a Noise2Inverse model (recipe
    /// mode n2i, K splits) the full reconstruction that reconstruct_stack --splits K wrote: the
    /// model is applied to the mean of each K-1 of the K sub-reconstructions beside it
    /// (split_location(input, k), each of the input's shape) and the output is the mean of the K
    /// predictions; the normalization statistics are those of the K inputs together. Not with
    /// `distributed`.
    std::string input;
    /// A StackLocation, any of the three forms whatever the input's; an (H, W) input gives an
    /// (H, W) output. Written complete or not at all (StackWriter); may be a new dataset in the
    /// input's HDF5 file.
    std::string output;
    /// The slices denoised, "A:B" as parse_slice_range reads it (InvalidArgument naming
    /// "DenoiseStackOptions::slices" outside the stack); empty: all. They are the volume the
    /// statistics and the neighbour reflection see; the output holds B - A slices.
    std::string slices;
    /// Adjacent slices per input: 0, the model's; otherwise it must be the model's depth
    /// (InvalidArgument naming both).
    std::int64_t depth = 0;
    /// Single pass, or for a Noise2Self model (one recording a mask_width) J-invariant: the
    /// network once per phase of the model's mask grid (mask_width^2 passes) with that phase's
    /// pixels hidden in the whole slice before tiling, each output pixel from the pass that hid
    /// it; equal to apply_j_invariant on whole slices for every tile size. Empty: the model's
    /// ModelRecipe::inference. j_invariant for a model without a mask_width: InvalidArgument.
    std::optional<InferenceMethod> inference;
    /// How J-invariant inference hides pixels: as the model was trained (the model file does
    /// not record it).
    MaskMode mask_mode = MaskMode::zero;
    /// Threads and convolution algorithm (as Model::load takes them). With side_by_side
    /// threading, parallel_images sets the network copies (default 1: one per thread); with
    /// in_turn it must be 1.
    ApplyOptions apply;
    /// Tile side in pixels (windows of at most tile x tile, halo included, rounded down to
    /// the network's size multiple); 0: whole slices. Below the model's minimum (twice its
    /// receptive-field radius plus its size multiple, rounded up): InvalidArgument naming the
    /// minimum. Memory per network copy grows with the tile's area.
    std::int64_t tile = default_tile;
    TileThreading threading = TileThreading::automatic;
    /// NaN and +-Inf (an error naming the slice and pixel, or replaced) in every slice read.
    /// For a model without a recorded normalization: clipping at the volume's percentiles and
    /// scaling by the volume's min-max or mean/std (default: neither). A model that records one
    /// is normalized its way; clipping or scaling asked here as well is an InvalidArgument
    /// naming both, since two maps cannot both hold.
    NormalizeOptions normalization = [] {
        NormalizeOptions values_as_stored;
        values_as_stored.scaling = Scaling::none;
        return values_as_stored;
    }();
    /// Pixel type written; integer types round and saturate (see output_scale and
    /// DenoiseCallbacks::on_integer_output_warning).
    PixelType output_type = PixelType::float32;
    /// For an integer output_type only: the output values mapped onto its whole range. None:
    /// values written as they are.
    std::optional<OutputScale> output_scale;
    std::int64_t batch = 1;  ///< slices per pipeline step (read, computed, written), at least 1
    /// Replace an existing output (when the new one commits) and start over, resuming nothing.
    bool overwrite = false;
    /// Continue an unfinished output of the same signature (see the file's comment). Off: an
    /// unfinished output is discarded and the work starts over. A finished output is never
    /// resumed (IoError without `overwrite`). The signature does not cover the input's data:
    /// after changing the input, overwrite.
    bool resume = true;
    /// Split the stack among the ranks of the process's DistributedSession (distributed.hpp;
    /// every rank calls denoise_stack with the same options): contiguous slabs with their depth
    /// halo, each rank on its own threads (apply.threads), one output written by rank 0 (resumed as
    /// one process's is), identical bit for bit to one process's with the same threads, the
    /// normalization statistics of the whole volume. Rank 0 alone calls the callbacks (progress
    /// counts every rank's slices); every rank returns once the output is committed, and throws
    /// when any rank failed (its own error, or the failing rank's message). Without a session of
    /// several ranks, the run is one process's.
    bool distributed = false;
};

/// Values written to an integer type that lose most of what they hold; reported once per kind.
struct IntegerOutputWarning {
    enum class Kind {
        few_levels,  ///< the values written span fewer than `levels` steps of the type
        saturated,   ///< values beyond the type's range were clamped to it
    };
    Kind kind = Kind::few_levels;
    double low = 0, high = 0;      ///< the output values written so far span low..high
    std::int64_t first_slice = 0;  ///< the first slice of the batch that showed it
    PixelType type = PixelType::uint8;
    PixelRange range;  ///< type's
    int levels = 0;    ///< few_levels: the number of steps below which it warns
};

/// What denoise_stack reports while it runs; each may be empty. An exception from a callback
/// stops the run and leaves no output.
struct DenoiseCallbacks {
    /// Once the model is loaded and checked and the output prepared, before the first slice;
    /// with the input's shape.
    std::function<void(const StackShape& input)> on_start;
    /// Right after on_start when resuming an unfinished output: the slices an earlier run
    /// wrote, which are skipped.
    std::function<void(std::int64_t written)> on_resume;
    /// After each batch is written: `done` of `total` slices, skipped ones included.
    std::function<void(std::int64_t done, std::int64_t total)> on_progress;
    /// Without an output_scale, when integer output values lose most of their levels or
    /// saturate.
    std::function<void(const IntegerOutputWarning&)> on_integer_output_warning;
};

/// What denoise_stack did.
struct DenoiseStackResult {
    StackShape shape;          ///< the output's: the slices denoised
    std::int64_t resumed = 0;  ///< slices an earlier run had written, skipped
    double seconds = 0;        ///< from the statistics pass's first read to the output's commit
};

/// Denoises `options.input` into `options.output`. Throws, before any output exists: IoError or
/// FormatError naming the model or stack that cannot be read (a 1-D or 4-D dataset, a TIFF
/// folder with a gap or mixed sizes) or the output that cannot be written (or exists, finished,
/// without `overwrite`); ShapeError naming a model that does not denoise slices (output channels
/// other than 1, an even number of input channels, a depth beyond the slices denoised) or an
/// empty input; InvalidArgument naming an option out of bounds. While running: FormatError
/// naming the slice and pixel of a NaN or infinite input value (unless replaced). The output
/// appears only once complete. A run failing with an IoError after writing slices (a full disk)
/// keeps them, hidden, for `resume`; any other failure removes the unfinished output, since a
/// rerun would fail the same way.
DenoiseStackResult denoise_stack(const DenoiseStackOptions& options,
                                 const DenoiseCallbacks& callbacks = {});

}  // namespace tomodenoise
