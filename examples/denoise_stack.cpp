// denoise_stack: applies a denoising model to an (N, H, W) stack in an HDF5 file, slab by slab,
// so that memory holds one batch of slices and the model whatever the stack's size.
//
//   denoise_stack --model MODEL.h5 --input IN.h5:/noisy --output OUT.h5:/denoised
//
// Values go to the model as stored, converted to float32, unless --normalize or
// --clip-percentiles ask otherwise. Normalization is per slice: each slice's percentiles and
// min-max or mean/std are its own, and the model's output for that slice is mapped back to the
// input's units with that slice's inverse (clipping cannot be undone). Per slice, because
// statistics of a whole stack would need the stack in memory or a second pass over it.
//
// A model of C > 1 input channels (TomoGAN's depth, C odd) gets slices i - C/2 .. i + C/2 for
// output slice i, clamped at the stack's ends (slice 0 of a C = 3 model gets slices 0, 0, 1),
// all normalized with slice i's map.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/stack.hpp"
#include "tomodenoise/threads.hpp"
#include "tool_main.hpp"

using namespace tomodenoise;

namespace {

// --output-scale A:B: output values A..B map linearly onto an integer type's whole range.
struct OutputScale {
    double from_low = 0, from_high = 1;

    static OutputScale parse(const std::string& text) {
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

    void apply(float* values, std::size_t count, const PixelRange& to) const {
        const double factor = (to.highest - to.lowest) / (from_high - from_low);
        for (std::size_t i = 0; i < count; ++i)
            values[i] = static_cast<float>(to.lowest + (values[i] - from_low) * factor);
    }
};

// Integer outputs round and saturate, which silently ruins data in another range (0..1 data
// written as uint8 keeps two levels). Warns once per kind of loss, from the values written.
class IntegerOutputCheck {
public:
    // Fewer distinct levels than this across the values written is "most of the range lost".
    static constexpr double min_levels = 16;

    explicit IntegerOutputCheck(PixelType type)
        : type_(type), range_(pixel_range(type)),
          integer_(type != PixelType::float32 && type != PixelType::float64) {}

    void update(const float* values, std::size_t count, std::int64_t first_slice) {
        if (!integer_ || count == 0) return;
        const auto [low, high] = std::minmax_element(values, values + count);
        low_ = std::min(low_, double(*low));
        high_ = std::max(high_, double(*high));
        if (!warned_levels_ && high_ > low_ && high_ - low_ < min_levels) {
            warned_levels_ = true;
            std::fprintf(stderr,
                         "denoise_stack: warning: the output values span %g to %g (slices from "
                         "%lld), which %s keeps as %d or fewer levels of its %g to %g; give "
                         "--output-scale with the data's range (e.g. --output-scale %g:%g) to "
                         "use the type's whole range, or a float --output-type\n",
                         low_, high_, static_cast<long long>(first_slice),
                         to_string(type_).c_str(), static_cast<int>(min_levels), range_.lowest,
                         range_.highest, low_, high_);
        }
        if (!warned_saturation_ && (low_ < range_.lowest - 0.5 || high_ > range_.highest + 0.5)) {
            warned_saturation_ = true;
            std::fprintf(stderr,
                         "denoise_stack: warning: output values from %g to %g (slices from %lld) "
                         "are saturated at %s's %g to %g; give --output-scale A:B to map a "
                         "range A..B onto the type's range\n",
                         low_, high_, static_cast<long long>(first_slice),
                         to_string(type_).c_str(), range_.lowest, range_.highest);
        }
    }

private:
    PixelType type_;
    PixelRange range_;
    bool integer_;
    double low_ = std::numeric_limits<double>::infinity();
    double high_ = -std::numeric_limits<double>::infinity();
    bool warned_levels_ = false, warned_saturation_ = false;
};

struct ToolOptions {
    std::string model, input, output;
    std::string output_type = "float32";
    Scaling scaling = Scaling::none;
    std::vector<double> clip_percentiles;  // empty or {low, high}
    std::optional<OutputScale> output_scale;
    std::optional<float> non_finite_replacement;
    int threads = 0;
    std::int64_t batch = 1;
    int parallel_images = 1;
    bool overwrite = false;
};

// Progress on stderr: a bar redrawn in place on a terminal; in a log (not a terminal), one
// line each time another tenth of the slices is done, so that logs stay short.
class ProgressReport {
public:
    explicit ProgressReport(std::int64_t total) : total_(total), terminal_(isatty(STDERR_FILENO)) {}

    void update(std::int64_t done) {
        if (terminal_) {
            constexpr int width = 40;
            const int filled = static_cast<int>(width * done / total_);
            std::fprintf(stderr, "\r[%s%s] %3d%% (%lld/%lld slices)",
                         std::string(static_cast<std::size_t>(filled), '#').c_str(),
                         std::string(static_cast<std::size_t>(width - filled), '.').c_str(),
                         static_cast<int>(100 * done / total_), static_cast<long long>(done),
                         static_cast<long long>(total_));
            if (done == total_) std::fputc('\n', stderr);
            std::fflush(stderr);
            return;
        }
        while (next_tenth_ <= 10 && done * 10 >= next_tenth_ * total_) {
            std::fprintf(stderr, "denoise_stack: %d%% (%lld/%lld slices)\n", next_tenth_ * 10,
                         static_cast<long long>(done), static_cast<long long>(total_));
            ++next_tenth_;
        }
    }

private:
    std::int64_t total_;
    bool terminal_;
    int next_tenth_ = 1;
};

void check_model_fits(const Model& model, const ToolOptions& options) {
    if (model.output_channels() != 1)
        throw ShapeError("model '" + options.model + "' has " +
                         std::to_string(model.output_channels()) +
                         " output channels; denoising writes one image per slice, so it needs 1");
    if (model.input_channels() % 2 == 0)
        throw ShapeError("model '" + options.model + "' has " +
                         std::to_string(model.input_channels()) +
                         " input channels; it must take 1 slice or an odd number of adjacent "
                         "slices centred on the one it denoises");
}

void denoise(const ToolOptions& options) {
    const DatasetAddress input = DatasetAddress::parse(options.input);
    const DatasetAddress output = DatasetAddress::parse(options.output);
    const PixelType output_type = parse_pixel_type(options.output_type);
    check_output_is_not_an_input({"--output", output.file, output.dataset},
                                 {{"--model", options.model, ""},
                                  {"--input", input.file, input.dataset}});

    ApplyOptions apply_options;
    apply_options.threads = options.threads;
    apply_options.parallel_images = options.parallel_images;
    tool::doing("loading the model '" + options.model + "'");
    Model model = Model::load(options.model, apply_options);
    check_model_fits(model, options);

    const StackShape shape = hdf5_stack_shape(input);
    if (shape.pixels() == 0)
        throw ShapeError("'" + input.to_string() + "' has dims " + shape.to_string() +
                         ": there is nothing to denoise");

    NormalizeOptions clean;  // non-finite values only: identity map
    clean.scaling = Scaling::none;
    if (options.non_finite_replacement) {
        clean.non_finite = NonFinitePolicy::replace;
        clean.replacement = *options.non_finite_replacement;
    }
    NormalizeOptions scale;  // applied to clean values
    scale.scaling = options.scaling;
    scale.clip = !options.clip_percentiles.empty();
    if (scale.clip) {
        scale.clip_low = options.clip_percentiles[0];
        scale.clip_high = options.clip_percentiles[1];
    }

    const std::int64_t channels = model.input_channels(), half = channels / 2;
    const std::int64_t plane = shape.h * shape.w;
    const StackShape one_slice{1, shape.h, shape.w};
    const auto slice_name = [&](std::int64_t slice) {
        return "'" + input.to_string() + "' slice " + std::to_string(slice);
    };

    Hdf5WriteOptions write_options;
    write_options.overwrite = options.overwrite;
    Hdf5StackWriter writer(output, shape, output_type, write_options);
    ProgressReport progress(shape.n);
    IntegerOutputCheck integer_output_check(output_type);
    std::vector<float> model_input, model_output;
    std::vector<Normalization> maps;
    const auto start = std::chrono::steady_clock::now();
    tool::doing("denoising '" + input.to_string() + "' " + shape.to_string());

    for (std::int64_t first = 0; first < shape.n; first += options.batch) {
        const std::int64_t count = std::min(options.batch, shape.n - first);
        // The slab read holds the batch and the neighbours its first and last slices need.
        const std::int64_t low = std::max<std::int64_t>(0, first - half);
        const std::int64_t high = std::min(shape.n, first + count + half);
        std::vector<float> slab = read_hdf5_slab(input, low, high - low)
                                      .to_float("the slab of slices " + std::to_string(low) +
                                                ".." + std::to_string(high - 1) + " of '" +
                                                input.to_string() + "'");
        for (std::int64_t s = low; s < high; ++s)
            normalize(slab.data() + (s - low) * plane, one_slice, clean, slice_name(s));
        const auto slab_slice = [&](std::int64_t s) {
            return slab.data() + (std::clamp<std::int64_t>(s, 0, shape.n - 1) - low) * plane;
        };

        model_input.resize(static_cast<std::size_t>(count * channels * plane));
        model_output.resize(static_cast<std::size_t>(count * plane));
        maps.resize(static_cast<std::size_t>(count));
        for (std::int64_t b = 0; b < count; ++b) {
            const std::int64_t slice = first + b;
            float* image = model_input.data() + b * channels * plane;
            float* centre = image + half * plane;
            std::copy_n(slab_slice(slice), plane, centre);
            maps[b] = normalize(centre, one_slice, scale, slice_name(slice));
            for (std::int64_t k = 0; k < channels; ++k) {
                if (k == half) continue;
                float* neighbour = image + k * plane;
                std::copy_n(slab_slice(slice - half + k), plane, neighbour);
                maps[b].apply(neighbour, static_cast<std::size_t>(plane));
            }
        }

        model.apply(model_input.data(), count, shape.h, shape.w, model_output.data());
        for (std::int64_t b = 0; b < count; ++b)
            maps[b].inverse(model_output.data() + b * plane, static_cast<std::size_t>(plane));
        if (options.output_scale)
            options.output_scale->apply(model_output.data(), model_output.size(),
                                        pixel_range(output_type));
        else
            integer_output_check.update(model_output.data(), model_output.size(), first);
        writer.write_slab(first, Stack::from_float({count, shape.h, shape.w},
                                                   model_output.data(), output_type));
        progress.update(first + count);
    }
    writer.commit();

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("denoise_stack: %lld slices of %lldx%lld in %.3f s, %.2f slices/s -> %s\n",
                static_cast<long long>(shape.n), static_cast<long long>(shape.h),
                static_cast<long long>(shape.w), seconds,
                static_cast<double>(shape.n) / std::max(seconds, 1e-9),
                output.to_string().c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Denoises an (N, H, W) HDF5 stack with a Keras model file, slab by slab."};
    app.footer(
        "Datasets are FILE.h5:/path/to/dataset; an (H, W) dataset is one slice. Input pixels\n"
        "are uint8, uint16, int16, float32 or float64 and reach the model as float32 values.\n"
        "Normalization (--normalize, --clip-percentiles) is computed per slice and undone on\n"
        "the model's output with that slice's inverse, so the output is in input units.\n"
        "A model of C input channels (C odd) gets slices i-C/2 .. i+C/2 for slice i, clamped\n"
        "at the stack's ends, normalized with slice i's map. NaN or infinite input values are\n"
        "an error unless --replace-non-finite is given. The output appears only once complete.");
    ToolOptions options;
    app.add_option("--model", options.model, "Keras HDF5 model file")->required();
    app.add_option("--input", options.input, "input stack, FILE.h5:/dataset")->required();
    app.add_option("--output", options.output,
                   "output stack, FILE.h5:/dataset (may be in --input's file)")
        ->required();
    app.add_option("--output-type", options.output_type,
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
                   "per-slice scaling before the model: none, minmax (to 0..1) or meanstd "
                   "(to mean 0, deviation 1)")
        ->check(CLI::IsMember({"none", "minmax", "meanstd"}))
        ->capture_default_str();
    app.add_option("--clip-percentiles", options.clip_percentiles,
                   "clip each slice at these percentiles before scaling, e.g. 0.05 99.95")
        ->expected(2)
        ->check(CLI::Range(0.0, 100.0));
    app.add_option("--replace-non-finite", options.non_finite_replacement,
                   "replace NaN and infinite input values by this value");
    const std::string max_threads = std::to_string(tomodenoise::max_threads());
    app.add_option("--threads", options.threads,
                   "threads for the model; 0: all cores (at most " + max_threads +
                       ", 4 x the hardware threads)")
        ->check(CLI::Range(0, tomodenoise::max_threads()))
        ->capture_default_str();
    app.add_option("--batch", options.batch, "slices per model call")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--parallel-images", options.parallel_images,
                   "slices of a batch computed side by side, each by threads/P threads on its "
                   "own copy of the network (more throughput, P times the activation memory); "
                   "at most the thread count")
        ->check(CLI::Range(1, tomodenoise::max_threads()))
        ->capture_default_str();
    app.add_flag("--overwrite", options.overwrite, "replace an existing output dataset");

    return tool::run_tool("denoise_stack", app, argc, argv, [&] {
        options.scaling = scaling == "minmax"    ? Scaling::min_max
                          : scaling == "meanstd" ? Scaling::mean_std
                                                 : Scaling::none;
        remove_temporaries_on_signal();
        if (!options.clip_percentiles.empty() &&
            !(options.clip_percentiles[0] < options.clip_percentiles[1]))
            throw CLI::ValidationError("--clip-percentiles " +
                                       std::to_string(options.clip_percentiles[0]) + " " +
                                       std::to_string(options.clip_percentiles[1]) +
                                       ": the low percentile must be below the high one");
        if (options.threads > 0 && options.parallel_images > options.threads)
            throw CLI::ValidationError("--parallel-images " +
                                       std::to_string(options.parallel_images) +
                                       " is more than --threads " +
                                       std::to_string(options.threads) +
                                       ": each image needs a thread of its own");
        if (!output_scale.empty()) {
            if (options.output_type == "float32" || options.output_type == "float64")
                throw CLI::ValidationError("--output-scale", "is for an integer --output-type, "
                                           "not " + options.output_type);
            options.output_scale = OutputScale::parse(output_scale);
        }
        denoise(options);
    });
}
