// denoise_stack: applies a denoising model to an (N, H, W) stack (HDF5 dataset, TIFF folder or
// multi-page TIFF), tile by tile through a pipeline that overlaps reading and writing with
// compute, so that memory holds a few slices and the tile buffers whatever the stack's size;
// a rerun after a crash or kill resumes.
//
//   denoise_stack --model MODEL.h5 --input IN.h5:/noisy --output OUT.h5:/denoised
//
// The work (tiles, neighbour slices, the volume's normalization and its inverse, output
// conversion) is
// the library's denoise_stack (include/tomodenoise/infer.hpp, which says how it normalizes);
// this tool reads the command line and prints progress, warnings and the summary.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tomodenoise/distributed.hpp"
#include "tomodenoise/infer.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/precision.hpp"
#include "tomodenoise/stack.hpp"
#include "tomodenoise/threads.hpp"
#include "tool_main.hpp"

using namespace tomodenoise;

namespace {

// --output-scale A:B, the values A..B to map onto an integer type's whole range.
OutputScale parse_output_scale(const std::string& text) {
    const std::size_t colon = text.find(':', 1);
    OutputScale scale;
    char* end_low = nullptr;
    char* end_high = nullptr;
    if (colon != std::string::npos) {
        const std::string low = text.substr(0, colon), high = text.substr(colon + 1);
        scale.from_low = std::strtod(low.c_str(), &end_low);
        scale.from_high = std::strtod(high.c_str(), &end_high);
        if (*end_low == '\0' && *end_high == '\0' && !high.empty() &&
            std::isfinite(scale.from_low) && std::isfinite(scale.from_high) &&
            scale.from_low < scale.from_high)
            return scale;
    }
    throw CLI::ValidationError("--output-scale",
                               "'" + text + "' is not A:B with finite numbers A < B");
}

// The library's warning about integer output values, in this tool's terms.
void print_warning(const IntegerOutputWarning& w) {
    if (w.kind == IntegerOutputWarning::Kind::few_levels)
        std::fprintf(stderr,
                     "denoise_stack: warning: the output values span %g to %g (slices from "
                     "%lld), which %s keeps as %d or fewer levels of its %g to %g; give "
                     "--output-scale with the data's range (e.g. --output-scale %g:%g) to "
                     "use the type's whole range, or a float --output-type\n",
                     w.low, w.high, static_cast<long long>(w.first_slice),
                     to_string(w.type).c_str(), w.levels, w.range.lowest, w.range.highest, w.low,
                     w.high);
    else
        std::fprintf(stderr,
                     "denoise_stack: warning: output values from %g to %g (slices from %lld) "
                     "are saturated at %s's %g to %g; give --output-scale A:B to map a "
                     "range A..B onto the type's range\n",
                     w.low, w.high, static_cast<long long>(w.first_slice),
                     to_string(w.type).c_str(), w.range.lowest, w.range.highest);
}

// Progress on stderr with the rate and the time left, both from the slices computed in this
// run (a resumed run's skipped slices took no time; the statistics passes count in the first
// batch's time): a bar redrawn in place on a terminal; in a log (not a terminal), one line each
// time another tenth of the slices is done, so that logs stay short.
class ProgressReport {
public:
    explicit ProgressReport(std::int64_t total)
        : total_(total), terminal_(isatty(STDERR_FILENO)), start_(Clock::now()) {}

    // Slices an earlier run wrote: done already, in no time.
    void resumed(std::int64_t done) {
        skipped_ = done;
        report(done, "");
    }

    void update(std::int64_t done) {
        const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
        const double rate = seconds > 0 ? double(done - skipped_) / seconds : 0;
        char speed[96] = "";
        if (rate > 0) {
            const long long left = static_cast<long long>(double(total_ - done) / rate + 0.5);
            std::snprintf(speed, sizeof speed, ", %.2f slices/s, ETA %lld:%02lld:%02lld", rate,
                          left / 3600, left / 60 % 60, left % 60);
        }
        report(done, speed);
    }

private:
    using Clock = std::chrono::steady_clock;

    void report(std::int64_t done, const char* speed) {
        if (terminal_) {
            constexpr int width = 40;
            const int filled = static_cast<int>(width * done / total_);
            std::fprintf(stderr, "\r[%s%s] %3d%% (%lld/%lld slices%s)   ",
                         std::string(static_cast<std::size_t>(filled), '#').c_str(),
                         std::string(static_cast<std::size_t>(width - filled), '.').c_str(),
                         static_cast<int>(100 * done / total_), static_cast<long long>(done),
                         static_cast<long long>(total_), speed);
            if (done == total_) std::fputc('\n', stderr);
            std::fflush(stderr);
            return;
        }
        while (next_tenth_ <= 10 && done * 10 >= next_tenth_ * total_) {
            std::fprintf(stderr, "denoise_stack: %d%% (%lld/%lld slices)%s\n", next_tenth_ * 10,
                         static_cast<long long>(done), static_cast<long long>(total_), speed);
            ++next_tenth_;
        }
    }

    std::int64_t total_;
    bool terminal_;
    Clock::time_point start_;
    std::int64_t skipped_ = 0;
    int next_tenth_ = 1;
};

void denoise(const DenoiseStackOptions& options, bool is_rank_zero) {
    std::optional<ProgressReport> progress;
    DenoiseCallbacks callbacks;
    callbacks.on_start = [&](const StackShape& shape) {
        progress.emplace(shape.n);
        tool::doing("denoising '" + options.input + "' " + shape.to_string());
    };
    callbacks.on_resume = [&](std::int64_t written) {
        std::fprintf(stderr,
                     "denoise_stack: resuming '%s': %lld slices written by an earlier run\n",
                     options.output.c_str(), static_cast<long long>(written));
        progress->resumed(written);
    };
    callbacks.on_progress = [&](std::int64_t done, std::int64_t) { progress->update(done); };
    callbacks.on_integer_output_warning = print_warning;
    tool::doing("loading the model '" + options.model + "'");
    const DenoiseStackResult result = denoise_stack(options, callbacks);
    if (!is_rank_zero) return;

    const StackShape& shape = result.shape;
    const std::int64_t computed = shape.n - result.resumed;
    std::printf(
        "denoise_stack: %lld slices of %lldx%lld (%lld resumed) in %.3f s, %.2f slices/s "
        "-> %s\n",
        static_cast<long long>(shape.n), static_cast<long long>(shape.h),
        static_cast<long long>(shape.w), static_cast<long long>(result.resumed), result.seconds,
        static_cast<double>(computed) / std::max(result.seconds, 1e-9), options.output.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Denoises an (N, H, W) stack with a Keras model file, tile by tile."};
    app.footer(
        "Stacks are FILE.h5:/path/to/dataset, a folder of TIFFs (one per slice) or a multi-page\n"
        "TIFF, in any combination; an (H, W) input gives an (H, W) output. Input pixels are\n"
        "uint8, uint16, int16, float32 or float64 and reach the model as float32 values.\n"
        "Normalization is over the whole stack (the slices denoised), in passes before the\n"
        "denoising one, and undone on the model's output, so the output is in input units: the\n"
        "model's recorded normalization when it has one (then --normalize and\n"
        "--clip-percentiles are errors), else --normalize and --clip-percentiles.\n"
        "A model of depth C (C odd) gets slices i-C/2 .. i+C/2 for slice i, reflected at the\n"
        "ends of the slices denoised (slice -1 is slice 1). Slices run tile by tile (--tile):\n"
        "the result equals whole-slice inference. NaN or infinite input values are an error\n"
        "unless --replace-non-finite is given.\n"
        "The output appears only once complete, recording the model file, its CRC-32, the\n"
        "options and the library version (HDF5 attributes; TIFF: ImageDescription JSON).\n"
        "Resuming: after a crash or kill, rerunning the same command continues the unfinished\n"
        "output (kept hidden beside it as .NAME.partial), skipping the slices written, and ends\n"
        "with the output an uninterrupted run writes. Another model, options or library\n"
        "version refuse to resume; --overwrite starts over (also after changing the input's\n"
        "data, which the record does not cover).\n"
        "Noise2Self models run as their file records (--n2s-inference to choose); j-invariant\n"
        "tiles equal whole-slice j-invariant inference.\n"
        "Under mpirun (mpirun -np R denoise_stack ...), with a library built with MPI, ranks\n"
        "denoise contiguous slabs of the stack, each with --threads threads; rank 0 writes the\n"
        "one output (identical to one process's) and alone prints progress and errors.");
    DenoiseStackOptions options;
    std::string output_type = "float32";
    app.add_option("--model", options.model, "Keras HDF5 model file")->required();
    app.add_option("--input", options.input,
                   "input stack: FILE.h5:/dataset, a TIFF folder or a multi-page TIFF. A "
                   "Noise2Inverse model (train_denoiser --mode n2i --splits K) takes the "
                   "reconstruction that reconstruct_stack --splits K wrote: it denoises the mean "
                   "of each K-1 of the K sub-reconstructions beside it (OUT.splitK...) and "
                   "writes the mean of the K predictions")
        ->required();
    app.add_option("--output", options.output,
                   "output stack, in any of the input's forms (a dataset may be in --input's "
                   "file; a name not ending in .tif/.tiff is a TIFF folder)")
        ->required();
    app.add_option("--slices", options.slices,
                   "A:B: denoise slices A..B-1 only (Python slice: negative counts from the end, "
                   "empty means the start or end); the output holds B-A slices");
    app.add_option("--depth", options.depth,
                   "adjacent slices per input; default the model's, which it must equal")
        ->check(CLI::PositiveNumber);
    app.add_option("--output-type", output_type,
                   "pixel type written; integers are rounded and saturated (see --output-scale)")
        ->check(CLI::IsMember({"uint8", "uint16", "int16", "float32", "float64"}))
        ->capture_default_str();
    std::string output_scale;
    app.add_option("--output-scale", output_scale,
                   "A:B: for an integer --output-type, map output values A..B linearly onto the "
                   "type's whole range (uint8 0..255, uint16 0..65535, int16 -32768..32767), "
                   "e.g. 0:1 for data in 0..1; default: values written as they are");
    std::string scaling = "none";
    app.add_option("--normalize", scaling,
                   "scaling of the whole stack before the model: none, minmax (to 0..1) or meanstd "
                   "(to mean 0, deviation 1)")
        ->check(CLI::IsMember({"none", "minmax", "meanstd"}))
        ->capture_default_str();
    std::vector<double> clip_percentiles;  // empty or {low, high}
    app.add_option("--clip-percentiles", clip_percentiles,
                   "clip at these percentiles of the whole stack before scaling, e.g. 0.05 99.95")
        ->expected(2)
        ->check(CLI::Range(0.0, 100.0));
    std::optional<float> non_finite_replacement;
    app.add_option("--replace-non-finite", non_finite_replacement,
                   "replace NaN and infinite input values by this value");
    const std::string max_threads = std::to_string(tomodenoise::max_threads());
    app.add_option("--threads", options.apply.threads,
                   "threads for the model; 0: all cores (at most " + max_threads +
                       ", 4 x the hardware threads)")
        ->check(CLI::Range(0, tomodenoise::max_threads()))
        ->capture_default_str();
    app.add_option("--tile", options.tile,
                   "tile side in pixels, halo included (0: whole slices); at least the model's "
                   "minimum (twice its receptive-field radius plus its size multiple), which an "
                   "error names; memory per network copy grows with its area")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    std::string n2s_inference, mask_mode = "zero";
    app.add_option(
           "--n2s-inference", n2s_inference,
           "for a Noise2Self model: single-pass (one pass) or j-invariant (one pass per phase "
           "of its mask grid, each pixel from the pass that hid it); default the model's "
           "recorded inference")
        ->check(CLI::IsMember({"single-pass", "j-invariant"}));
    app.add_option("--mask-mode", mask_mode,
                   "how j-invariant inference hides pixels: zero or interpolate, as the model was "
                   "trained (--mask-mode of train_denoiser; not recorded in the model file)")
        ->check(CLI::IsMember({"zero", "interpolate"}))
        ->capture_default_str();
    std::string tile_threading = "auto";
    app.add_option("--tile-threading", tile_threading,
                   "side-by-side: one network copy per thread, a tile each, single-threaded; "
                   "in-turn: one tile after another on all threads; auto: side-by-side "
                   "(measured faster) with as many copies as fit in 512 MiB of activations")
        ->check(CLI::IsMember({"auto", "side-by-side", "in-turn"}))
        ->capture_default_str();
    std::string precision = "f32";
    app.add_option("--precision", precision,
                   "what the model computes in: f32, or bf16 (bfloat16 activations and weights "
                   "through oneDNN; about 3 significant digits; several times faster on CPUs "
                   "with AMX, slower than f32 on CPUs without AVX-512 BF16 or AMX)")
        ->check(CLI::IsMember({"f32", "bf16"}))
        ->capture_default_str();
    app.add_option("--batch", options.batch, "slices per pipeline step (read, computed, written)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--parallel-images", options.apply.parallel_images,
                   "network copies running tiles side by side, each by threads/P threads "
                   "(P times the activation memory); 1: one per thread with side-by-side "
                   "threading; at most the thread count")
        ->check(CLI::Range(1, tomodenoise::max_threads()))
        ->capture_default_str();
    app.add_flag("--overwrite", options.overwrite,
                 "replace an existing output, finished or not, starting over");

    // Before anything prints: ranks other than 0 stay silent, since every error of a
    // distributed run reaches rank 0, which prints it.
    DistributedSession session;
    options.distributed = session.is_distributed();
    if (session.rank() != 0 &&
        (!std::freopen("/dev/null", "w", stdout) || !std::freopen("/dev/null", "w", stderr)))
        return tool::exit_bad_input;
    const int status = tool::run_tool("denoise_stack", app, argc, argv, [&] {
        NormalizeOptions& normalization = options.normalization;
        normalization.scaling = scaling == "minmax"    ? Scaling::min_max
                                : scaling == "meanstd" ? Scaling::mean_std
                                                       : Scaling::none;
        options.threading = tile_threading == "side-by-side" ? TileThreading::side_by_side
                            : tile_threading == "in-turn"    ? TileThreading::in_turn
                                                             : TileThreading::automatic;
        if (!n2s_inference.empty())
            options.inference = n2s_inference == "single-pass" ? InferenceMethod::single_pass
                                                               : InferenceMethod::j_invariant;
        options.mask_mode = mask_mode == "zero" ? MaskMode::zero : MaskMode::interpolate;
        remove_temporaries_on_signal();
        if (!clip_percentiles.empty() && !(clip_percentiles[0] < clip_percentiles[1]))
            throw CLI::ValidationError("--clip-percentiles " + std::to_string(clip_percentiles[0]) +
                                       " " + std::to_string(clip_percentiles[1]) +
                                       ": the low percentile must be below the high one");
        const ApplyOptions& apply = options.apply;
        if (apply.threads > 0 && apply.parallel_images > apply.threads)
            throw CLI::ValidationError("--parallel-images " +
                                       std::to_string(apply.parallel_images) +
                                       " is more than --threads " + std::to_string(apply.threads) +
                                       ": each image needs a thread of its own");
        if (!output_scale.empty()) {
            if (output_type == "float32" || output_type == "float64")
                throw CLI::ValidationError("--output-scale",
                                           "is for an integer --output-type, "
                                           "not " +
                                               output_type);
            options.output_scale = parse_output_scale(output_scale);
        }
        normalization.clip = !clip_percentiles.empty();
        if (normalization.clip) {
            normalization.clip_low = clip_percentiles[0];
            normalization.clip_high = clip_percentiles[1];
        }
        if (non_finite_replacement) {
            normalization.non_finite = NonFinitePolicy::replace;
            normalization.replacement = *non_finite_replacement;
        }
        options.output_type = parse_pixel_type(output_type);
        options.apply.precision = parse_precision(precision);
        if (options.apply.precision == Precision::bf16) tool::note_bf16_support("denoise_stack");
        denoise(options, session.rank() == 0);
    });
    // A failure on one rank only must not leave the others waiting for it.
    // Every failure of a distributed run reaches rank 0, which prints it and ends the job. Another
    // rank ends it only if rank 0 has not within a few seconds (it failed alone, before the ranks
    // met), so that its abort never cuts off rank 0's message.
    if (status != tool::exit_success && session.is_distributed()) {
        if (session.rank() != 0) std::this_thread::sleep_for(std::chrono::seconds(5));
        session.abort(status);
    }
    return status;
}
