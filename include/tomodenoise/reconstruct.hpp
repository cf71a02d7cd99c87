#pragma once
/// @file
/// Parallel-beam filtered back-projection (FBP) of a stack of sinograms, row by row, and the
/// interleaved-angle sub-reconstructions of Noise2Inverse.
///
/// Geometry: detector columns of unit width; the reconstruction of detector row r is slice r,
/// columns x columns pixels on the detector's grid (at angle 0, image column c lies over
/// detector column c). The rotation axis is at detector position `center` (columns from the
/// first column's centre; default (columns - 1) / 2) and at image pixel (center, center), so
/// the reconstruction circle (radius the distance from the axis to the nearer detector end) is
/// inside the image. Each view weighs pi / angles, right for angles evenly covering 180 or 360
/// degrees. The filters and the linear interpolation are those of scikit-image's `iradon`
/// (rotation centre `columns // 2` there).
///
/// Inputs:
/// - an APS Data Exchange file (`FILE.h5`, no dataset named): `/exchange/data` projections
///   (angles, rows, columns), `/exchange/data_white` and `/exchange/data_dark` (any count,
///   rows, columns; averaged over their first axis) and `/exchange/theta` (degrees). Each
///   projection becomes line integrals -log((data - dark) / (white - dark)).
/// - already corrected line integrals (`FILE.h5:/dataset`) in (angles, rows, columns) or
///   (rows, angles, columns) layout.
/// Rows are read in slabs (bounded memory whatever the stack's size) and reconstructed in
/// parallel on TBB; the output goes through a StackWriter (complete or not at all), and with
/// splits the K + 1 outputs are published as one set (StackWriter::commit_together).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tomodenoise/simulate.hpp"
#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// Axis order of a corrected projection dataset.
enum class ProjectionLayout { angles_rows_columns, rows_angles_columns };
/// "angles-rows-columns" or "rows-angles-columns"; InvalidArgument naming `option` otherwise.
ProjectionLayout parse_projection_layout(const std::string& name,
                                         const std::string& option = "--layout");
std::string to_string(ProjectionLayout layout);

/// "START:STOP:COUNT" in degrees: COUNT angles START + i (STOP - START) / COUNT, STOP excluded
/// (0:180:720 is every quarter degree of a half turn). InvalidArgument naming `option` for a
/// malformed text, a non-finite bound, STOP equal to START or COUNT outside [1, 1'000'000].
std::vector<double> parse_angle_range(const std::string& text,
                                      const std::string& option = "--angles");

/// Where sub-reconstruction `k` (0-based) of an output goes: ".splitK" inserted before the
/// extension of the file, folder or TIFF file ("rec.h5:/data" -> "rec.split0.h5:/data",
/// "rec/" -> "rec.split0", "rec.tif" -> "rec.split0.tif"). denoise_stack finds a
/// Noise2Inverse model's inputs by the same rule.
std::string split_location(const std::string& location, int k);

struct ReconstructOptions {
    static constexpr int max_splits = 256;
    /// The input (see the file comment): a Data Exchange file "FILE.h5" or a corrected
    /// dataset "FILE.h5:/path".
    std::string input;
    /// The reconstruction, a stack location (FILE.h5:/dataset, TIFF folder, multi-page TIFF):
    /// (rows, columns, columns) float32.
    std::string output;
    ProjectionLayout layout = ProjectionLayout::angles_rows_columns;  ///< corrected input only
    /// Angles in degrees, one per projection; empty: read from `angles_dataset`.
    std::vector<double> angles_degrees;
    /// "FILE.h5:/path", a 1D dataset of angles in degrees; empty: the Data Exchange input's
    /// /exchange/theta.
    std::string angles_dataset;
    FbpFilter filter = FbpFilter::ramp;
    std::optional<double> center;  ///< within [0, columns - 1]; default (columns - 1) / 2
    /// K >= 2: also writes the K sub-reconstructions of the angles i with i mod K = k (in the
    /// stored order), to split_location(output, k); 0: none. At most the number of angles.
    /// The K splits are published first and `output` last, once all are in place; a failure
    /// while publishing takes back those already published (with `overwrite`, the outputs of an
    /// earlier run are removed before any is published), so that no set looks complete unless
    /// this run wrote all of it.
    int splits = 0;
    /// 0: a flat/dark-corrected transmission <= 0 (or white <= dark) is an error naming the
    /// dataset, angle, row and column; > 0: transmissions below it are raised to it.
    double min_transmission = 0;
    int threads = 0;  ///< TBB threads, at most max_threads(); 0: all
    bool overwrite = false;
    /// Called after each slab of rows with (rows done, rows in total).
    std::function<void(std::int64_t, std::int64_t)> progress;
};

struct ReconstructSummary {
    StackShape shape;         ///< of the output: (rows, columns, columns)
    std::int64_t angles = 0;  ///< projections
    double center = 0;        ///< the rotation axis used
    std::vector<std::string> split_outputs;
};

/// Reconstructs `options.input` into `options.output` (and the splits). Everything that can be
/// checked before reading the projections is checked first: the datasets' shapes (angles
/// against projections, white/dark fields against them), `splits` against the angles,
/// `center` against the detector; ShapeError or InvalidArgument naming the datasets and dims.
/// A failure later (a non-positive transmission, a non-finite value) leaves no output.
ReconstructSummary reconstruct_stack(const ReconstructOptions& options);

}  // namespace tomodenoise
