// Denoising a stored stack (include/tomodenoise/infer.hpp): the model, its tiles and its
// network copies set up for the tiled pipeline of lib/infer over a StackReader and a resumable
// StackWriter, the volume's normalization (the model's recipe or the options) and its inverse,
// conversion to the output type, the checks on integer outputs, and the run's signature.

#include "tomodenoise/infer.hpp"

#include <omp.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "api/model_impl.hpp"
#include "infer/receptive_field.hpp"
#include "infer/stack_job.hpp"
#include "infer/stack_pipeline.hpp"
#include "infer/volume_statistics.hpp"
#include "keras/model_file.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/reconstruct.hpp"
#include "tomodenoise/version.hpp"
#include "train/noise2inverse.hpp"

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

// The slices denoised of the input, as the stack the pipeline sees.
class ReaderSliceSource : public SliceSource {
public:
    ReaderSliceSource(StackReader& reader, const SliceRange& slices)
        : reader_(reader), slices_(slices) {}
    StackShape shape() const override {
        const StackShape whole = reader_.shape();
        return {slices_.count, whole.h, whole.w};
    }
    std::string name() const override { return reader_.location(); }
    void read(std::int64_t first, std::int64_t count, float* values) override {
        const std::int64_t stored = slices_.first + first;
        const std::vector<float> slab =
            reader_.read(stored, count)
                .to_float("slices " + std::to_string(stored) + ".." +
                          std::to_string(stored + count - 1) + " of '" + name() + "'");
        std::copy(slab.begin(), slab.end(), values);
    }

private:
    StackReader& reader_;
    SliceRange slices_;
};

// Noise2Inverse's inputs: slice i K + j is the mean of the K sub-reconstructions but split j,
// at slice i of the range, so that the K inputs of a slice follow each other.
class Noise2InverseSliceSource : public SliceSource {
public:
    Noise2InverseSliceSource(std::vector<StackReader>& splits, const SliceRange& slices)
        : splits_(splits), slices_(slices), k_(std::int64_t(splits.size())) {}
    StackShape shape() const override {
        const StackShape whole = splits_[0].shape();
        return {slices_.count * k_, whole.h, whole.w};
    }
    std::string name() const override {
        return "the means of " + std::to_string(k_ - 1) + " of the " + std::to_string(k_) +
               " sub-reconstructions '" + splits_[0].location() + "', ...";
    }
    void read(std::int64_t first, std::int64_t count, float* values) override {
        const StackShape whole = splits_[0].shape();
        const std::int64_t plane = whole.h * whole.w;
        const std::int64_t i0 = first / k_, slab = (first + count - 1) / k_ - i0 + 1;
        // The K inputs of a slice come in consecutive reads (a batch of one each, by default):
        // the splits' slices are read, and their K means made, once for all of them.
        if (i0 != cached_first_ || slab != cached_count_) {
            const std::int64_t stored = slices_.first + i0;
            means_.clear();
            for (StackReader& split : splits_)
                means_.push_back(split.read(stored, slab)
                                     .to_float("slices " + std::to_string(stored) + ".." +
                                               std::to_string(stored + slab - 1) + " of '" +
                                               split.location() + "'"));
            std::vector<const float*> split_values;
            std::vector<float*> means;
            for (std::vector<float>& values : means_) {
                split_values.push_back(values.data());
                means.push_back(values.data());
            }
            means_of_other_splits(split_values, slab * plane, means);  // in place
            cached_first_ = i0;
            cached_count_ = slab;
        }
        for (std::int64_t s = first; s < first + count; ++s)
            std::copy_n(means_[std::size_t(s % k_)].data() + (s / k_ - i0) * plane, plane,
                        values + (s - first) * plane);
    }

private:
    std::vector<StackReader>& splits_;
    SliceRange slices_;
    std::int64_t k_;
    std::int64_t cached_first_ = -1, cached_count_ = 0;  // the slab of slices held below
    std::vector<std::vector<float>> means_;  // for each j, the mean of the others over that slab
};

// Averages each run of `k` consecutive slices (the K predictions of one Noise2Inverse slice)
// into one slice of `target`.
class AveragingSliceSink : public SliceSink {
public:
    AveragingSliceSink(SliceSink& target, std::int64_t k, std::int64_t plane)
        : target_(target), k_(k), plane_(plane), sum_(std::size_t(plane)) {}
    void write(std::int64_t first, std::int64_t count, const float* values) override {
        for (std::int64_t s = first; s < first + count; ++s) {
            const float* v = values + (s - first) * plane_;
            if (s % k_ == 0) std::fill(sum_.begin(), sum_.end(), 0.0f);
            for (std::int64_t p = 0; p < plane_; ++p) sum_[std::size_t(p)] += v[p];
            if (s % k_ != k_ - 1) continue;
            for (float& x : sum_) x /= float(k_);
            target_.write(s / k_, 1, sum_.data());
        }
    }

private:
    SliceSink& target_;
    std::int64_t k_, plane_;
    std::vector<float> sum_;
};

class WriterSliceSink : public SliceSink {
public:
    explicit WriterSliceSink(StackWriter& writer) : writer_(writer) {}
    void write(std::int64_t first, std::int64_t count, const float* values) override {
        const StackShape shape = writer_.shape();
        writer_.write(first, Stack::from_float({count, shape.h, shape.w}, values, writer_.type()));
    }

private:
    StackWriter& writer_;
};

// The shape of the finished, readable stack at `location`, if there is one.
std::optional<StackShape> finished_stack(const std::string& location) {
    try {
        return StackReader(location).shape();
    } catch (const Error&) {
        return std::nullopt;  // nothing there, or something StackWriter judges and names
    }
}

// CRC-32 (zlib's) of a file's bytes, as 8 hex digits: enough to tell another model file from
// the one an unfinished output was started with.
std::string file_crc32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot read model file '" + path + "' for its checksum");
    std::vector<char> buffer(std::size_t(1) << 20);
    uLong crc = crc32(0L, Z_NULL, 0);
    while (in) {
        in.read(buffer.data(), std::streamsize(buffer.size()));
        crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), uInt(in.gcount()));
    }
    if (in.bad()) throw IoError("cannot read model file '" + path + "' for its checksum");
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc & 0xffffffffUL));
    return hex;
}

// What the output records, and what a resumed run must match: everything that shapes the
// values written (threads too: the tiles' float sums may round differently with another count).
std::map<std::string, std::string> run_attributes(const DenoiseStackOptions& options,
                                                  const SliceRange& slices,
                                                  const NormalizationSpec& recorded,
                                                  InferenceMethod inference) {
    const NormalizeOptions& n = options.normalization;
    nlohmann::json json;
    json["input"] = options.input;
    json["slices"] = {slices.first, slices.first + slices.count};
    json["tile"] = options.tile;
    json["threads"] = options.apply.threads;
    json["parallel_images"] = options.apply.parallel_images;
    json["precision"] = to_string(options.apply.precision);
    json["threading"] = int(options.threading);
    json["output_type"] = to_string(options.output_type);
    if (options.output_scale)
        json["output_scale"] = {options.output_scale->from_low, options.output_scale->from_high};
    json["non_finite"] = n.non_finite == NonFinitePolicy::error ? "error" : "replace";
    if (n.non_finite == NonFinitePolicy::replace) json["replacement"] = n.replacement;
    if (recorded.method != NormalizationMethod::none) {
        json["normalization"] = to_string(recorded.method);
        json["percentiles"] = {recorded.low_percent, recorded.high_percent};
    } else {
        json["normalization"] = n.scaling == Scaling::min_max    ? "minmax"
                                : n.scaling == Scaling::mean_std ? "meanstd"
                                                                 : "none";
        if (n.clip) json["clip_percentiles"] = {n.clip_low, n.clip_high};
    }
    json["inference"] = to_string(inference);
    if (inference == InferenceMethod::j_invariant)
        json["mask_mode"] = options.mask_mode == MaskMode::zero ? "zero" : "interpolate";
    return {{"tomodenoise_model", options.model},
            {"tomodenoise_model_crc32", file_crc32(options.model)},
            {"tomodenoise_options", json.dump()},
            {"tomodenoise_version", version()}};
}

// TileThreading::automatic runs as many network copies side by side as threads while their
// activations fit in this, and fewer (down to one copy on all threads) when they do not.
// Measured on an idle 2-core Zen 5 (README, Benchmarks): side by side was as fast or faster
// (10% for TomoGAN.h5 at a 512 tile, up to 35% for the plain CNN), but a TomoGAN copy at a 512
// tile holds its layer outputs (256-384 MiB by this count) and scratch besides: two
// copies took a 2048x2048 stack to 1.06 GiB resident, one copy 0.68 GiB. The plain CNN's
// copies are small (38 planes).
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
    const PixelType output_type = options.output_type;
    if (options.threading == TileThreading::in_turn && options.apply.parallel_images != 1)
        throw InvalidArgument(
            "DenoiseStackOptions::apply.parallel_images must be 1 when tiles run in turn, got " +
            std::to_string(options.apply.parallel_images));
    ApplyOptions one_copy = options.apply;
    one_copy.parallel_images = 1;
    Model model = Model::load(options.model, one_copy);
    check_model_fits(model, options);
    const ModelRecipe recipe = model.recipe();
    const std::int64_t channels = model.input_channels();
    if (options.depth != 0 && options.depth != channels)
        throw InvalidArgument("DenoiseStackOptions::depth " + std::to_string(options.depth) +
                              " does not match model '" + options.model + "', which takes " +
                              std::to_string(channels) + " adjacent slices");
    const NormalizeOptions& n = options.normalization;
    const NormalizationSpec& recorded = recipe.normalization;
    if (recorded.method != NormalizationMethod::none && (n.clip || n.scaling != Scaling::none))
        throw InvalidArgument("DenoiseStackOptions::normalization: model '" + options.model +
                              "' records its normalization (" + to_string(recorded.method) +
                              "), which it is applied with; clipping or scaling asked besides "
                              "would contradict it");

    const InferenceMethod inference = options.inference.value_or(recipe.inference);
    if (inference == InferenceMethod::j_invariant && recipe.mask_width < 2)
        throw InvalidArgument(
            "DenoiseStackOptions::inference j_invariant needs a Noise2Self "
            "model; model '" +
            options.model + "' records no mask width (mode " + to_string(recipe.mode) + ")");

    StackReader reader(options.input);
    const StackShape stored = reader.shape();
    if (stored.pixels() == 0)
        throw ShapeError("'" + options.input + "' has dims " + stored.to_string() +
                         ": there is nothing to denoise");
    const SliceRange slices =
        options.slices.empty()
            ? SliceRange{0, stored.n}
            : parse_slice_range(options.slices, stored.n, "DenoiseStackOptions::slices");
    const StackShape shape{slices.count, stored.h, stored.w};
    if (channels > shape.n)
        throw ShapeError("model '" + options.model + "' takes " + std::to_string(channels) +
                         " adjacent slices, more than the " + std::to_string(shape.n) +
                         " denoised of '" + options.input + "' " + stored.to_string());

    // Noise2Inverse: the pipeline sees K inputs per slice (see Noise2InverseSliceSource).
    const std::int64_t splits = recipe.mode == TrainingMode::n2i ? recipe.splits : 1;
    std::vector<StackReader> split_readers;
    if (splits > 1) {
        if (options.distributed)
            throw InvalidArgument("DenoiseStackOptions::distributed: model '" + options.model +
                                  "' is a Noise2Inverse model, which runs in one process");
        for (std::int64_t k = 0; k < splits; ++k) {
            const std::string location = split_location(options.input, int(k));
            try {
                split_readers.emplace_back(location);
            } catch (const IoError& e) {
                throw IoError(std::string(e.what()) + " (model '" + options.model +
                              "' is a Noise2Inverse model of " + std::to_string(splits) +
                              " splits: it denoises the sub-reconstructions reconstruct_stack "
                              "--splits " +
                              std::to_string(splits) + " writes beside '" + options.input + "')");
            }
            if (split_readers.back().shape() != stored)
                throw ShapeError("'" + location + "' is " +
                                 split_readers.back().shape().to_string() + " but '" +
                                 options.input + "' is " + stored.to_string() +
                                 ": the sub-reconstructions have the reconstruction's shape");
        }
    }

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
    ModelAccess::Impl& impl = model_impl(model);
    if (copies > 1) {
        std::vector<Network> more;
        for (int i = 1; i < copies; ++i) more.push_back(load_network(options.model));
        impl.add_copies(std::move(more), options.apply);
    }
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
    if (inference == InferenceMethod::j_invariant) {
        pipeline.mask_width = int(recipe.mask_width);
        pipeline.mask_mode = options.mask_mode;
    }

    // A finished output is refused rather than counted as done (as StackWriter's resume would
    // count one of the same signature): the signature does not cover the input's data, which
    // may have changed since.
    if (const auto existing = finished_stack(options.output); existing && !options.overwrite)
        throw IoError("--output '" + options.output + "' exists, finished, " +
                      existing->to_string() + (*existing == shape ? "" : ", not ") +
                      (*existing == shape ? "" : shape.to_string()) +
                      ", and overwriting is off (--overwrite replaces it)");
    StackWriteOptions write_options;
    write_options.overwrite = options.overwrite;
    // Overwriting starts over: the input's data may have changed since the unfinished run.
    write_options.resume = options.resume && !options.overwrite;
    write_options.attributes = run_attributes(options, slices, recorded, inference);
    write_options.option = "--output";
    write_options.inputs = {{"--model", options.model, ""},
                            StackLocation::parse(options.input).tool_file("--input")};
    std::optional<StackWriter> writer;  // in a distributed run, rank 0's only
    std::optional<WriterSliceSink> sink;
    std::optional<AveragingSliceSink> averaging_sink;
    try {
        ReaderSliceSource reader_source(reader, slices);
        std::optional<Noise2InverseSliceSource> split_source;
        if (splits > 1) split_source.emplace(split_readers, slices);
        SliceSource& source = split_source ? static_cast<SliceSource&>(*split_source)
                                           : static_cast<SliceSource&>(reader_source);
        IntegerOutputCheck integer_output_check(output_type, callbacks.on_integer_output_warning);
        auto start = std::chrono::steady_clock::now();
        StackJob job;
        job.source = &source;
        job.pipeline = &pipeline;
        job.open_output = [&]() -> SliceSink& {
            writer.emplace(options.output, shape, output_type,
                           reader.two_dimensional() && shape.n == 1, write_options);
            if (splits > 1)
                return averaging_sink.emplace(sink.emplace(*writer), splits, shape.h * shape.w);
            return sink.emplace(*writer);
        };
        job.commit = [&] { writer->commit(); };
        job.on_start = [&] {
            if (callbacks.on_start) callbacks.on_start(shape);
            if (writer->resumed_count() > 0 && callbacks.on_resume)
                callbacks.on_resume(writer->resumed_count());
            start = std::chrono::steady_clock::now();
        };
        if (recorded.method != NormalizationMethod::none)
            job.statistics = [&] { return volume_normalization(source, recorded, n); };
        else if (n.clip || n.scaling != Scaling::none)
            job.statistics = [&] { return volume_normalization(source, n); };
        pipeline.finish = [&](float* output, std::int64_t first, std::int64_t count) {
            const std::size_t values = std::size_t(count * shape.h * shape.w);
            pipeline.map.inverse(output, values);
            if (options.output_scale)
                apply_output_scale(*options.output_scale, output, values, pixel_range(output_type));
            else
                integer_output_check.update(output, values, first);
        };
        // Slices a resumed output holds are skipped (under MPI, rank 0 tells the others which).
        pipeline.skip = [&](std::int64_t slice) {
            return writer && writer->written(slice / splits);
        };
        pipeline.on_progress = callbacks.on_progress;
        if (splits > 1 && callbacks.on_progress)
            pipeline.on_progress = [&](std::int64_t done, std::int64_t) {
                callbacks.on_progress(done / splits, shape.n);
            };
        run_stack_job(job, options.distributed);

        DenoiseStackResult result;
        result.shape = shape;
        result.resumed = writer ? writer->resumed_count() : 0;
        result.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return result;
    } catch (const IoError&) {
        // A read or write that failed (a full disk, a lost mount) may pass on a rerun, which
        // resumes what was written; nothing written is nothing to resume.
        if (writer && writer->written_count() == 0) writer->discard();
        throw;
    } catch (...) {
        // Bad data (a NaN), bad options or a callback's exception: a rerun of the same command
        // fails the same way, and a corrected one has another signature.
        if (writer) writer->discard();
        throw;
    }
}

}  // namespace tomodenoise
