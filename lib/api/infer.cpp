// Denoising a stored stack slab by slab (include/tomodenoise/infer.hpp): neighbour slices for
// models of several input channels, per-slice normalization and its inverse, conversion to the
// output type, and the checks on integer outputs.

#include "tomodenoise/infer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

void apply_output_scale(const OutputScale& scale, float* values, std::size_t count,
                        const PixelRange& to) {
    const double factor = (to.highest - to.lowest) / (scale.from_high - scale.from_low);
    for (std::size_t i = 0; i < count; ++i)
        values[i] = static_cast<float>(to.lowest + (values[i] - scale.from_low) * factor);
}

bool is_integer(PixelType type) {
    return type != PixelType::float32 && type != PixelType::float64;
}

// Integer outputs round and saturate, which silently ruins data in another range (0..1 data
// written as uint8 keeps two levels). Reports once per kind of loss, from the values written.
class IntegerOutputCheck {
public:
    // Fewer distinct levels than this across the values written is "most of the range lost".
    static constexpr int min_levels = 16;

    IntegerOutputCheck(PixelType type, std::function<void(const IntegerOutputWarning&)> report)
        : type_(type),
          range_(pixel_range(type)),
          integer_(is_integer(type)),
          report_(std::move(report)) {}

    void update(const float* values, std::size_t count, std::int64_t first_slice) {
        if (!integer_ || count == 0) return;
        const auto [low, high] = std::minmax_element(values, values + count);
        low_ = std::min(low_, double(*low));
        high_ = std::max(high_, double(*high));
        if (!warned_levels_ && high_ > low_ && high_ - low_ < min_levels) {
            warned_levels_ = true;
            warn(IntegerOutputWarning::Kind::few_levels, first_slice);
        }
        if (!warned_saturation_ && (low_ < range_.lowest - 0.5 || high_ > range_.highest + 0.5)) {
            warned_saturation_ = true;
            warn(IntegerOutputWarning::Kind::saturated, first_slice);
        }
    }

private:
    void warn(IntegerOutputWarning::Kind kind, std::int64_t first_slice) const {
        if (!report_) return;
        IntegerOutputWarning warning;
        warning.kind = kind;
        warning.low = low_;
        warning.high = high_;
        warning.first_slice = first_slice;
        warning.type = type_;
        warning.range = range_;
        warning.levels = min_levels;
        report_(warning);
    }

    PixelType type_;
    PixelRange range_;
    bool integer_;
    std::function<void(const IntegerOutputWarning&)> report_;
    double low_ = std::numeric_limits<double>::infinity();
    double high_ = -std::numeric_limits<double>::infinity();
    bool warned_levels_ = false, warned_saturation_ = false;
};

void check_options(const DenoiseStackOptions& options) {
    const auto invalid = [](const std::string& field, const std::string& what) {
        return InvalidArgument("DenoiseStackOptions::" + field + " " + what);
    };
    if (options.batch < 1)
        throw invalid("batch", "must be at least 1, got " + std::to_string(options.batch));
    const NormalizeOptions& n = options.normalization;
    if (n.clip && !(0 <= n.clip_low && n.clip_low < n.clip_high && n.clip_high <= 100))
        throw invalid("normalization", "clips at percentiles " + std::to_string(n.clip_low) +
                                           " and " + std::to_string(n.clip_high) +
                                           ": they must be 0 <= low < high <= 100");
    if (options.output_scale) {
        const OutputScale& scale = *options.output_scale;
        if (!is_integer(options.output_type))
            throw invalid("output_scale",
                          "is for an integer output_type, not " + to_string(options.output_type));
        if (!(std::isfinite(scale.from_low) && std::isfinite(scale.from_high) &&
              scale.from_low < scale.from_high))
            throw invalid("output_scale", std::to_string(scale.from_low) + ":" +
                                              std::to_string(scale.from_high) +
                                              " must be finite numbers, low < high");
    }
}

void check_model_fits(const Model& model, const DenoiseStackOptions& options) {
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

}  // namespace

DenoiseStackResult denoise_stack(const DenoiseStackOptions& options,
                                 const DenoiseCallbacks& callbacks) {
    check_options(options);
    const DatasetAddress& input = options.input;
    const DatasetAddress& output = options.output;
    const PixelType output_type = options.output_type;
    Model model = Model::load(options.model, options.apply);
    check_model_fits(model, options);

    const StackShape shape = hdf5_stack_shape(input);
    if (shape.pixels() == 0)
        throw ShapeError("'" + input.to_string() + "' has dims " + shape.to_string() +
                         ": there is nothing to denoise");

    NormalizeOptions clean;  // non-finite values only: identity map
    clean.scaling = Scaling::none;
    clean.non_finite = options.normalization.non_finite;
    clean.replacement = options.normalization.replacement;
    NormalizeOptions scale = options.normalization;  // applied to clean values

    const std::int64_t channels = model.input_channels(), half = channels / 2;
    const std::int64_t plane = shape.h * shape.w;
    const StackShape one_slice{1, shape.h, shape.w};
    const auto slice_name = [&](std::int64_t slice) {
        return "'" + input.to_string() + "' slice " + std::to_string(slice);
    };

    Hdf5WriteOptions write_options;
    write_options.overwrite = options.overwrite;
    Hdf5StackWriter writer(output, shape, output_type, write_options);
    IntegerOutputCheck integer_output_check(output_type, callbacks.on_integer_output_warning);
    std::vector<float> model_input, model_output;
    std::vector<Normalization> maps;
    if (callbacks.on_start) callbacks.on_start(shape);
    const auto start = std::chrono::steady_clock::now();

    for (std::int64_t first = 0; first < shape.n; first += options.batch) {
        const std::int64_t count = std::min(options.batch, shape.n - first);
        // The slab read holds the batch and the neighbours its first and last slices need.
        const std::int64_t low = std::max<std::int64_t>(0, first - half);
        const std::int64_t high = std::min(shape.n, first + count + half);
        std::vector<float> slab =
            read_hdf5_slab(input, low, high - low)
                .to_float("the slab of slices " + std::to_string(low) + ".." +
                          std::to_string(high - 1) + " of '" + input.to_string() + "'");
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
            apply_output_scale(*options.output_scale, model_output.data(), model_output.size(),
                               pixel_range(output_type));
        else
            integer_output_check.update(model_output.data(), model_output.size(), first);
        writer.write_slab(
            first, Stack::from_float({count, shape.h, shape.w}, model_output.data(), output_type));
        if (callbacks.on_progress) callbacks.on_progress(first + count, shape.n);
    }
    writer.commit();

    DenoiseStackResult result;
    result.shape = shape;
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

}  // namespace tomodenoise
