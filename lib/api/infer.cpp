// Denoising a stored stack (include/tomodenoise/infer.hpp): the model, its tiles and its
// network copies set up for the tiled pipeline of lib/infer over the HDF5 input and output,
// the volume's normalization and its inverse, conversion to the output type, and the checks on
// integer outputs.

#include "tomodenoise/infer.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "api/model_impl.hpp"
#include "infer/receptive_field.hpp"
#include "infer/stack_job.hpp"
#include "infer/stack_pipeline.hpp"
#include "infer/volume_statistics.hpp"
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

// The input dataset, slice by slice.
class Hdf5SliceSource : public SliceSource {
public:
    Hdf5SliceSource(const DatasetAddress& address, const StackShape& shape)
        : address_(address), shape_(shape) {}
    StackShape shape() const override { return shape_; }
    std::string name() const override { return address_.to_string(); }
    void read(std::int64_t first, std::int64_t count, float* values) override {
        const std::vector<float> slab =
            read_hdf5_slab(address_, first, count)
                .to_float("slices " + std::to_string(first) + ".." +
                          std::to_string(first + count - 1) + " of '" + name() + "'");
        std::copy(slab.begin(), slab.end(), values);
    }

private:
    DatasetAddress address_;
    StackShape shape_;
};

class Hdf5SliceSink : public SliceSink {
public:
    Hdf5SliceSink(Hdf5StackWriter& writer, const StackShape& shape, PixelType type)
        : writer_(writer), shape_(shape), type_(type) {}
    void write(std::int64_t first, std::int64_t count, const float* values) override {
        writer_.write_slab(first, Stack::from_float({count, shape_.h, shape_.w}, values, type_));
    }

private:
    Hdf5StackWriter& writer_;
    StackShape shape_;
    PixelType type_;
};

// TileThreading::automatic runs as many network copies side by side as threads while their
// activations fit in this, and fewer (down to one copy on all threads) when they do not.
// Measured on a 2-core Zen 5 (README, Benchmarks): side by side was as fast or faster (up to
// 11% for TomoGAN.h5, 30% for the plain CNN on small tiles), while a TomoGAN copy's
// activations at a 512 tile (about 410 float planes, 270-390 MiB) would make two copies the
// larger part of a stack's memory; the plain CNN's copies are small (38 planes).
constexpr std::int64_t side_by_side_activation_budget = std::int64_t(512) << 20;

int thread_count(const ApplyOptions& apply) {
    return apply.threads > 0 ? apply.threads : omp_get_max_threads();
}

int network_copies(const DenoiseStackOptions& options, std::int64_t bytes_per_copy) {
    const int threads = thread_count(options.apply);
    if (options.threading == TileThreading::in_turn) return 1;
    if (options.apply.parallel_images > 1) return options.apply.parallel_images;
    if (options.threading == TileThreading::side_by_side) return threads;
    return int(
        std::clamp<std::int64_t>(side_by_side_activation_budget / bytes_per_copy, 1, threads));
}

}  // namespace

DenoiseStackResult denoise_stack(const DenoiseStackOptions& options,
                                 const DenoiseCallbacks& callbacks) {
    check_options(options);
    const DatasetAddress& input = options.input;
    const PixelType output_type = options.output_type;
    if (options.threading == TileThreading::in_turn && options.apply.parallel_images != 1)
        throw InvalidArgument(
            "DenoiseStackOptions::apply.parallel_images must be 1 when tiles run in turn, got " +
            std::to_string(options.apply.parallel_images));
    ApplyOptions one_copy = options.apply;
    one_copy.parallel_images = 1;
    Model model = Model::load(options.model, one_copy);
    check_model_fits(model, options);

    const StackShape shape = hdf5_stack_shape(input);
    if (shape.pixels() == 0)
        throw ShapeError("'" + input.to_string() + "' has dims " + shape.to_string() +
                         ": there is nothing to denoise");
    const std::int64_t channels = model.input_channels();
    if (channels > shape.n)
        throw ShapeError("model '" + options.model + "' takes " + std::to_string(channels) +
                         " adjacent slices, more than the " + std::to_string(shape.n) + " of '" +
                         input.to_string() + "' " + shape.to_string());

    StackPipeline pipeline;
    try {
        ModelAccess::Impl& impl = model_impl(model);
        pipeline.plan = plan_tiles(shape.h, shape.w, options.tile, impl.multiple,
                                   receptive_field(impl.network));
    } catch (const InvalidArgument& e) {
        throw InvalidArgument("DenoiseStackOptions::tile: model '" + options.model +
                              "': " + e.what());
    }
    // Side by side: copies of the network, each on threads / copies OpenMP threads; in turn:
    // one copy on all of them.
    const Dims window{1, channels, pipeline.plan.window_height, pipeline.plan.window_width};
    const int copies = network_copies(options, activation_bytes(model_impl(model).network, window));
    if (copies > 1) {
        ApplyOptions apply = options.apply;
        apply.parallel_images = copies;
        model = Model::load(options.model, apply);
    }
    ModelAccess::Impl& impl = model_impl(model);
    pipeline.channels = channels;
    pipeline.batch = options.batch;
    pipeline.cleaning = options.normalization;
    std::vector<ModelReplica*> replicas{&impl};
    for (auto& copy : impl.copies) replicas.push_back(copy.get());
    for (ModelReplica* replica : replicas)
        pipeline.networks.push_back([replica, &impl](const float* in, const Dims& d, float* out) {
            replica->apply(in, d.n, d.c, d.h, d.w, 1, impl.multiple, out);
        });
    pipeline.threads_per_network = std::max(1, thread_count(options.apply) / copies);

    Hdf5WriteOptions write_options;
    write_options.overwrite = options.overwrite;
    std::optional<Hdf5StackWriter> writer;  // in a distributed run, rank 0's only
    std::optional<Hdf5SliceSink> sink;
    Hdf5SliceSource source(input, shape);
    IntegerOutputCheck integer_output_check(output_type, callbacks.on_integer_output_warning);
    auto start = std::chrono::steady_clock::now();
    StackJob job;
    job.source = &source;
    job.pipeline = &pipeline;
    job.open_output = [&]() -> SliceSink& {
        writer.emplace(options.output, shape, output_type, write_options);
        return sink.emplace(*writer, shape, output_type);
    };
    job.commit = [&] { writer->commit(); };
    job.on_start = [&] {
        if (callbacks.on_start) callbacks.on_start(shape);
        start = std::chrono::steady_clock::now();
    };
    const NormalizeOptions& n = options.normalization;
    if (n.clip || n.scaling != Scaling::none)
        job.statistics = [&] { return volume_normalization(source, n); };
    pipeline.finish = [&](float* output, std::int64_t first, std::int64_t count) {
        const std::size_t values = std::size_t(count * shape.h * shape.w);
        pipeline.map.inverse(output, values);
        if (options.output_scale)
            apply_output_scale(*options.output_scale, output, values, pixel_range(output_type));
        else
            integer_output_check.update(output, values, first);
    };
    pipeline.on_progress = callbacks.on_progress;
    run_stack_job(job, options.distributed);

    DenoiseStackResult result;
    result.shape = shape;
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

}  // namespace tomodenoise
