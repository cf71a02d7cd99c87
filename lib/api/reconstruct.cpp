#include "tomodenoise/reconstruct.hpp"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include "io/hdf5.hpp"
#include "io/hdf5_stack.hpp"
#include "sim/parallel_beam.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/threads.hpp"
#include "tomodenoise/version.hpp"

namespace tomodenoise {
namespace {

constexpr double k_pi = 3.14159265358979323846;
constexpr std::int64_t k_max_angles = 1'000'000;
// A 16384^2 float slice is 1 GiB; wider detectors would need slices beyond any machine's memory.
constexpr std::int64_t k_max_columns = 16384;
// Bytes of projections and reconstructions held at once; a slab has at least one row.
constexpr std::int64_t k_slab_bytes = std::int64_t(256) << 20;

std::string dims_of(const StackShape& s) {
    return "(" + std::to_string(s.n) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) +
           ")";
}

std::string format_number(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

// A dataset of projections or of flat/dark fields: (images, rows, columns) whatever the
// layout on file.
struct ProjectionSource {
    DatasetAddress address;
    StoredStack stored;
    ProjectionLayout layout = ProjectionLayout::angles_rows_columns;
    std::int64_t images = 0, rows = 0, columns = 0;

    ProjectionSource(DatasetAddress where, ProjectionLayout how)
        : address(std::move(where)), stored(open_stored_stack(address)), layout(how) {
        const StackShape s = stored.shape;
        images = layout == ProjectionLayout::angles_rows_columns ? s.n : s.h;
        rows = layout == ProjectionLayout::angles_rows_columns ? s.h : s.n;
        columns = s.w;
    }
    std::string name() const { return "'" + address.to_string() + "' " + dims_of(stored.shape); }

    // Rows [first, first + count) of every image as (image, row, column) floats.
    std::vector<float> read_rows(std::int64_t first, std::int64_t count) const {
        const bool angles_first = layout == ProjectionLayout::angles_rows_columns;
        const Stack slab =
            angles_first ? read_stored_tile(stored, address, 0, images, first, 0, count, columns)
                         : read_stored_tile(stored, address, first, count, 0, 0, images, columns);
        std::vector<float> values = slab.to_float("'" + address.to_string() + "'");
        if (angles_first) return values;
        std::vector<float> reordered(values.size());
        for (std::int64_t r = 0; r < count; ++r)
            for (std::int64_t a = 0; a < images; ++a)
                std::copy_n(values.data() + (r * images + a) * columns, columns,
                            reordered.data() + (a * count + r) * columns);
        return reordered;
    }
};

// The mean over the images of rows [first, first + count), as (row, column).
std::vector<double> mean_field(const ProjectionSource& field, std::int64_t first,
                               std::int64_t count) {
    const std::vector<float> values = field.read_rows(first, count);
    const std::size_t plane = std::size_t(count * field.columns);
    std::vector<double> mean(plane, 0.0);
    for (std::int64_t i = 0; i < field.images; ++i)
        for (std::size_t p = 0; p < plane; ++p) mean[p] += values[i * plane + p];
    for (double& m : mean) m /= double(field.images);
    return mean;
}

std::vector<double> read_angles_dataset(const DatasetAddress& address) {
    const hdf5::File file = hdf5::File::open_read(address.file);
    const hdf5::FloatArray array = hdf5::read_float_dataset(file, address.dataset);
    if (array.dims.size() != 1)
        throw ShapeError("angles '" + address.to_string() + "' have dims " +
                         hdf5::dims_to_string(array.dims) +
                         "; expected one angle per projection "
                         "(angles,)");
    return {array.values.begin(), array.values.end()};
}

bool is_data_exchange_file(const std::string& input) {
    if (input.find(":/") != std::string::npos) return false;
    for (const char* ext : {".h5", ".hdf5", ".hdf", ".he5", ".nxs"}) {
        const std::string e = ext;
        if (input.size() > e.size() && input.compare(input.size() - e.size(), e.size(), e) == 0)
            return true;
    }
    return false;
}

}  // namespace

ProjectionLayout parse_projection_layout(const std::string& name, const std::string& option) {
    if (name == "angles-rows-columns") return ProjectionLayout::angles_rows_columns;
    if (name == "rows-angles-columns") return ProjectionLayout::rows_angles_columns;
    throw InvalidArgument(option + " '" + name +
                          "': expected angles-rows-columns or rows-angles-columns");
}

std::string to_string(ProjectionLayout layout) {
    return layout == ProjectionLayout::angles_rows_columns ? "angles-rows-columns"
                                                           : "rows-angles-columns";
}

std::vector<double> parse_angle_range(const std::string& text, const std::string& option) {
    const std::string what = option + " '" + text + "'";
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t colon; (colon = text.find(':', start)) != std::string::npos; start = colon + 1)
        parts.push_back(text.substr(start, colon - start));
    parts.push_back(text.substr(start));
    if (parts.size() != 3) throw InvalidArgument(what + " is not START:STOP:COUNT (degrees)");
    double bounds[2];
    for (int i = 0; i < 2; ++i) {
        char* end = nullptr;
        bounds[i] = std::strtod(parts[i].c_str(), &end);
        if (parts[i].empty() || *end != '\0' || !std::isfinite(bounds[i]))
            throw InvalidArgument(what + ": '" + parts[i] + "' is not a finite number");
    }
    char* end = nullptr;
    const long long count = std::strtoll(parts[2].c_str(), &end, 10);
    if (parts[2].empty() || *end != '\0' || count < 1 || count > k_max_angles)
        throw InvalidArgument(what + ": COUNT must be an integer in [1, " +
                              std::to_string(k_max_angles) + "]");
    if (bounds[0] == bounds[1]) throw InvalidArgument(what + ": STOP equals START");
    std::vector<double> angles(static_cast<std::size_t>(count));
    for (long long i = 0; i < count; ++i)
        angles[std::size_t(i)] = bounds[0] + double(i) * (bounds[1] - bounds[0]) / double(count);
    return angles;
}

std::string split_location(const std::string& location, int k) {
    const std::string tag = ".split" + std::to_string(k);
    const std::size_t colon = location.find(":/");
    std::string path = colon == std::string::npos ? location : location.substr(0, colon);
    const std::string rest = colon == std::string::npos ? "" : location.substr(colon);
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    const std::size_t slash = path.rfind('/');
    const std::size_t dot = path.rfind('.');
    const bool has_extension =
        dot != std::string::npos && dot > 0 && (slash == std::string::npos || dot > slash + 1);
    if (has_extension)
        path.insert(dot, tag);
    else
        path += tag;
    return path + rest;
}

ReconstructSummary reconstruct_stack(const ReconstructOptions& options) {
    const bool data_exchange = is_data_exchange_file(options.input);
    const StackLocation input_location =
        data_exchange ? StackLocation{StackFormat::hdf5, options.input, "/exchange/data"}
                      : StackLocation::parse(options.input);
    if (input_location.format != StackFormat::hdf5)
        throw InvalidArgument("--input '" + options.input +
                              "': projections are read from HDF5 (a Data Exchange file FILE.h5 "
                              "or a corrected dataset FILE.h5:/path)");
    const DatasetAddress data_address{input_location.path, input_location.dataset};
    const ProjectionSource data(
        data_address, data_exchange ? ProjectionLayout::angles_rows_columns : options.layout);
    if (data.images < 1 || data.rows < 1 || data.columns < 2)
        throw ShapeError(data.name() + " holds no projections to reconstruct (angles " +
                         std::to_string(data.images) + ", rows " + std::to_string(data.rows) +
                         ", columns " + std::to_string(data.columns) + ")");
    if (data.columns > k_max_columns)
        throw ShapeError(data.name() + " has " + std::to_string(data.columns) +
                         " detector columns; at most " + std::to_string(k_max_columns) +
                         " are reconstructed (a slice is columns x columns floats)");

    std::optional<ProjectionSource> white, dark;
    if (data_exchange) {
        for (const auto& [field, path] :
             {std::pair{&white, "/exchange/data_white"}, std::pair{&dark, "/exchange/data_dark"}}) {
            field->emplace(DatasetAddress{options.input, path},
                           ProjectionLayout::angles_rows_columns);
            const ProjectionSource& f = **field;
            if (f.images < 1 || f.rows != data.rows || f.columns != data.columns)
                throw ShapeError(f.name() + " does not match the projections " + data.name() +
                                 ": flat and dark fields are (count >= 1, " +
                                 std::to_string(data.rows) + ", " + std::to_string(data.columns) +
                                 ")");
        }
    }

    std::vector<double> degrees = options.angles_degrees;
    std::string angles_source = "--angles";
    if (degrees.empty()) {
        std::string dataset = options.angles_dataset;
        if (dataset.empty() && data_exchange) dataset = options.input + ":/exchange/theta";
        if (dataset.empty())
            throw InvalidArgument("no angles for " + data.name() +
                                  ": give --angles START:STOP:COUNT or --theta FILE.h5:/dataset");
        degrees = read_angles_dataset(DatasetAddress::parse(dataset));
        angles_source = "'" + dataset + "'";
    }
    if (std::int64_t(degrees.size()) != data.images)
        throw ShapeError(angles_source + " gives " + std::to_string(degrees.size()) +
                         " angles but " + data.name() + " holds " + std::to_string(data.images) +
                         " projections (" + to_string(data.layout) + ")");
    for (double d : degrees)
        if (!std::isfinite(d)) throw FormatError(angles_source + " holds a non-finite angle");

    if (options.splits != 0 && (options.splits < 2 || options.splits > data.images ||
                                options.splits > ReconstructOptions::max_splits))
        throw InvalidArgument(
            "--splits " + std::to_string(options.splits) + ": must be in [2, " +
            std::to_string(std::min<std::int64_t>(data.images, ReconstructOptions::max_splits)) +
            "] for the " + std::to_string(data.images) + " angles of " + data.name());
    const double center = options.center.value_or(0.5 * double(data.columns - 1));
    if (!(center >= 0 && center <= double(data.columns - 1)))
        throw InvalidArgument("--center " + format_number(center) + " is outside the detector of " +
                              data.name() + ": columns 0 to " + std::to_string(data.columns - 1));
    if (options.threads < 0 || options.threads > max_threads())
        throw InvalidArgument("--threads " + std::to_string(options.threads) +
                              " must be between 0 (all cores) and " +
                              std::to_string(max_threads()));
    if (!(options.min_transmission >= 0 && options.min_transmission < 1))
        throw InvalidArgument("--min-transmission " + format_number(options.min_transmission) +
                              ": must be in [0, 1)");

    const int size = int(data.columns);
    std::vector<double> radians(degrees.size());
    for (std::size_t a = 0; a < degrees.size(); ++a) radians[a] = degrees[a] * k_pi / 180.0;
    const int splits = options.splits;
    std::vector<sim::ParallelGeometry> geometries{
        sim::ParallelGeometry::measured(size, radians, center)};
    for (int k = 0; k < splits; ++k) {
        std::vector<double> subset;
        for (std::size_t a = std::size_t(k); a < radians.size(); a += std::size_t(splits))
            subset.push_back(radians[a]);
        geometries.push_back(sim::ParallelGeometry::measured(size, std::move(subset), center));
    }

    const StackShape out_shape{data.rows, data.columns, data.columns};
    std::map<std::string, std::string> attributes = {
        {"tomodenoise_input", options.input},
        {"tomodenoise_filter", to_string(options.filter)},
        {"tomodenoise_center", format_number(center)},
        {"tomodenoise_version", version()}};
    std::vector<StackWriter> writers;
    std::vector<std::string> outputs{options.output};
    for (int k = 0; k < splits; ++k) outputs.push_back(split_location(options.output, k));
    const ToolFile input_file{"--input", options.input, data_exchange ? "" : data_address.dataset};
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        StackWriteOptions write;
        write.overwrite = options.overwrite;
        write.attributes = attributes;
        if (i > 0)
            write.attributes["tomodenoise_split"] =
                std::to_string(i - 1) + "/" + std::to_string(splits);
        write.inputs = {input_file};
        writers.emplace_back(outputs[i], out_shape, PixelType::float32, false, write);
    }
    const auto discard_all = [&] {
        for (StackWriter& w : writers) w.discard();
    };

    const std::int64_t per_row_bytes = std::int64_t(sizeof(float)) * data.columns *
                                       (data.images + std::int64_t(splits + 1) * data.columns);
    const std::int64_t slab_rows =
        std::clamp<std::int64_t>(k_slab_bytes / per_row_bytes, 1, data.rows);
    tbb::task_arena arena(options.threads > 0 ? options.threads : tbb::task_arena::automatic);
    const std::int64_t plane = data.columns * data.columns;
    try {
        for (std::int64_t first = 0; first < data.rows; first += slab_rows) {
            const std::int64_t count = std::min(slab_rows, data.rows - first);
            std::vector<float> line_integrals = data.read_rows(first, count);
            if (data_exchange) {
                const std::vector<double> white_mean = mean_field(*white, first, count);
                const std::vector<double> dark_mean = mean_field(*dark, first, count);
                const std::size_t image_plane = std::size_t(count * data.columns);
                for (std::size_t i = 0; i < line_integrals.size(); ++i) {
                    const std::size_t p = i % image_plane;
                    const double open = white_mean[p] - dark_mean[p];
                    double transmission = (double(line_integrals[i]) - dark_mean[p]) / open;
                    if (!(open > 0 && transmission > 0) || !std::isfinite(transmission)) {
                        if (options.min_transmission > 0 && std::isfinite(open) &&
                            std::isfinite(transmission)) {
                            transmission = options.min_transmission;
                        } else {
                            const std::int64_t angle = std::int64_t(i / image_plane);
                            const std::int64_t row = first + std::int64_t(p) / data.columns;
                            const std::int64_t column = std::int64_t(p) % data.columns;
                            throw NumericalError(
                                data.name() + " at angle " + std::to_string(angle) + ", row " +
                                std::to_string(row) + ", column " + std::to_string(column) +
                                ": (data - dark) / (white - dark) = (" +
                                format_number(line_integrals[i]) + " - " +
                                format_number(dark_mean[p]) + ") / (" +
                                format_number(white_mean[p]) + " - " + format_number(dark_mean[p]) +
                                ") is not a positive transmission (white and dark are the means "
                                "of /exchange/data_white and /exchange/data_dark); "
                                "--min-transmission T raises such values to T");
                        }
                    }
                    line_integrals[i] =
                        float(-std::log(std::max(transmission, options.min_transmission)));
                }
            } else {
                const auto bad = std::find_if(line_integrals.begin(), line_integrals.end(),
                                              [](float v) { return !std::isfinite(v); });
                if (bad != line_integrals.end())
                    throw NumericalError(data.name() + " holds a non-finite value in rows " +
                                         std::to_string(first) + " to " +
                                         std::to_string(first + count - 1));
            }

            std::vector<std::vector<float>> slices(geometries.size(),
                                                   std::vector<float>(std::size_t(count * plane)));
            arena.execute([&] {
                tbb::parallel_for(std::int64_t(0), count, [&](std::int64_t r) {
                    for (std::size_t g = 0; g < geometries.size(); ++g) {
                        const std::size_t stride = g == 0 ? 1 : std::size_t(splits);
                        const std::size_t offset = g == 0 ? 0 : g - 1;
                        std::vector<float> sinogram;
                        sinogram.reserve(geometries[g].angles.size() * std::size_t(size));
                        for (std::size_t a = offset; a < std::size_t(data.images); a += stride) {
                            const float* row =
                                line_integrals.data() + (std::int64_t(a) * count + r) * size;
                            sinogram.insert(sinogram.end(), row, row + size);
                        }
                        const std::vector<float> image =
                            sim::filtered_back_projection(sinogram, geometries[g], options.filter);
                        std::copy(image.begin(), image.end(), slices[g].begin() + r * plane);
                    }
                });
            });
            for (std::size_t g = 0; g < geometries.size(); ++g)
                writers[g].write(first, Stack::from_float({count, data.columns, data.columns},
                                                          slices[g].data()));
            if (options.progress) options.progress(first + count, data.rows);
        }
        // The full reconstruction last: whoever finds it finds the K splits of this run.
        std::rotate(writers.begin(), writers.begin() + 1, writers.end());
        StackWriter::commit_together(writers);
    } catch (...) {
        discard_all();
        throw;
    }
    ReconstructSummary summary;
    summary.shape = out_shape;
    summary.angles = data.images;
    summary.center = center;
    summary.split_outputs.assign(outputs.begin() + 1, outputs.end());
    return summary;
}

}  // namespace tomodenoise
