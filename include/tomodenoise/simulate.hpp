#pragma once
/// @file
/// Synthetic training data: noisy/clean image pairs of random shapes, simulated low-dose,
/// sparse-view and limited-angle CT, Noise2Noise pairs and segmentation maps.
///
/// Output is deterministic for a seed, whatever the number of threads: every image draws from
/// its own random stream derived from (seed, split, index), so the test images also stay the
/// same when only `count` changes.
///
/// File layouts written by write_simulated_dataset (every dataset (N, size, size)):
/// - `shapes`, `ct`: the TomoGAN layout, float32 `train_ns`, `train_gt`, `test_ns`, `test_gt`
///   (ns = noisy input, gt = clean label).
/// - `n2n`: float32 `train_a`, `train_b` (two independent noisy realizations of each scene;
///   with ct scenes two independent low-dose scans of one phantom at one dose),
///   `train_clean` (the noise-free scene, for evaluation only), and `test_a`, `test_b`,
///   `test_clean`.
/// - `n2s` (Noise2Self): float32 `train_ns` (noisy images only), and for evaluation `test_ns`,
///   `test_gt`.
/// - `seg`: float32 `train_ns` (noisy images), uint8 `train_labels` (0 background, materials
///   1, 2, 3; where shapes overlap, the one drawn last), `test_ns`, `test_labels`.
/// - `projections`: an APS Data Exchange file of one scan whose detector rows are the `count`
///   CT phantoms of `ct` (no test split: `test_count` is not used), for reconstruct_stack:
///   float32 counts `/exchange/data` (angles, count, size) over the scan of `ct` (`full_views`,
///   `views`, `wedge_degrees`), `/exchange/data_white` (20, count, size) and
///   `/exchange/data_dark` (10, count, size), `/exchange/theta` (angles,) in degrees, and for
///   evaluation `/simulation/clean` (count, size, size): the FBP (`filter`) of the full-view,
///   noise-free line integrals in reconstruct_stack's units (attenuation per pixel, the phantom
///   times mu_scale / size). Counts: the open beam of a row is its i0 times a smooth gain
///   (0.8 to 1.2) across the detector; a ray counts Poisson(open exp(-mu p) + dark) and every
///   white and dark frame Poisson(open + dark), Poisson(dark) with dark = dark_counts; with
///   i0 0, no noise anywhere (expected counts).
///
/// Kinds:
/// - `seg`: scenes of materials: 3 to 8 disks and rotated rectangles, each of one of 3
///   materials of nominal values 0.35, 0.6 and 0.85 (+-0.04 from shape to shape, uniform inside
///   it but for the texture), on a background of 0 to 0.1; noise as for `shapes`.
/// - `shapes` (also the scenes of `n2n` and `n2s` unless `scene` is ct):
///   random disks, rotated rectangles and thick lines, each of a constant or linearly graded
///   value, on a linearly graded background; clean values in [0, 1] (clipped there after
///   texturing). Noise: Gaussian (`sigma`), or Poisson with `peak` counts at value 1 (noisy =
///   Poisson(peak * clean) / peak). Noisy values are not clipped, so the noise stays zero-mean.
///   Poisson means above 1e12 (here and for `ct`) are drawn from the normal approximation
///   N(m, m), rounded: its skewness is then 1e-6 or less.
/// - `ct` (also the scenes of `n2n` and `n2s` with `scene` ct, and of `projections`): a 2D phantom
/// (`phantom`), its
///   exact parallel-beam projections over `full_views` angles in [0, 180) degrees, degraded by
///   keeping every (full_views / views)-th angle, by dropping the angles at or above 180 -
///   `wedge_degrees` (missing wedge), and by photon noise: counts ~ Poisson(i0 exp(-p mu)), p_noisy
///   = -log(max(counts, 1) / i0) / mu, with p the line integral in units of the image width (so
///   `mu_scale` is the optical depth of a ray that crosses the whole width through value 1). The
///   input is the filtered back-projection (FBP) of the degraded sinogram; the label is the FBP of
///   the full-view, noise-free sinogram (not the phantom), so a network learns to remove what the
///   degradation adds, not the FBP's own blur. Values are attenuation per pixel, around the
///   phantom's [0, 1].
///
/// Noise levels (`sigma`, `peak`, `i0`) are ranges: each image draws its own level,
/// log-uniformly between the bounds (so every octave of dose gets as many images), from its own
/// random stream; a range of one value gives every image that value. The test split may have
/// levels of its own (`test_sigma`, `test_peak`, `test_i0`), so a model trained over a range of
/// doses can be evaluated at one dose. The scenes (and textures) of image i of a split do not
/// depend on the noise options: data sets that differ only in them hold the same scenes, and
/// the test split never holds a training scene.
///
/// Texture (`texture` > 0): every shape (shapes) and every ellipse or sphere (ct) carries its
/// own band-limited random field: value x (1 + texture x f(x)), f a sum of texture_waves
/// plane waves of random direction and phase with wavelengths log-uniform in
/// [min_texture_wavelength, max_texture_wavelength] pixels, scaled to unit RMS. So
/// `texture` is the texture's RMS as a fraction of the shape's value; the background carries
/// none. Where ellipses overlap, values and textures add; CT projections of textured ellipses
/// stay exact line integrals (each wave integrates in closed form along a chord).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// What to simulate.
enum class SimulationKind { shapes, ct, n2n, n2s, seg, projections };
/// Scenes of the `n2n` and `n2s` kinds: shape images with image noise, or CT phantoms through
/// the scan of `ct` (low dose, sparse views, missing wedge).
enum class SceneKind { shapes, ct };
/// Noise of the shape images.
enum class NoiseModel { gaussian, poisson };
/// CT phantoms: the modified Shepp-Logan head, random ellipses, a slice through random spheres
/// in a cylinder, or per image a random choice of the last two.
enum class PhantomKind { shepp_logan, ellipses, spheres, mixed };
/// Projection filters of the filtered back-projection: ramp, ramp x sinc (Shepp-Logan),
/// ramp x Hann window.
enum class FbpFilter { ramp, shepp_logan, hann };

/// A closed interval [min, max] of a per-image noise level. Converts implicitly from one value,
/// so `options.sigma = 0.1` keeps meaning "every image at 0.1".
struct ValueRange {
    double min = 0, max = 0;
    ValueRange() = default;
    ValueRange(double value) : min(value), max(value) {}
    ValueRange(double lo, double hi) : min(lo), max(hi) {}
    bool single() const { return min == max; }
    bool operator==(const ValueRange& other) const { return min == other.min && max == other.max; }
};

/// Parses "A" or "A:B" (numbers as strtod reads them); InvalidArgument naming `option` for
/// anything else. The bounds are checked by SimulationOptions::validate().
ValueRange parse_value_range(const std::string& text, const std::string& option);
/// "A" or "A:B" with the numbers as %g prints them, for messages.
std::string to_string(const ValueRange& range);

/// Parsers for the names used on the command line ("shapes", "ct", "n2n", "n2s", "seg",
/// "projections";
/// scenes "shapes", "ct";
/// "gaussian", "poisson"; "shepp-logan", "ellipses", "spheres", "mixed"; "ramp",
/// "shepp-logan", "hann"). Throw InvalidArgument naming `option` and the accepted values.
SimulationKind parse_simulation_kind(const std::string& name, const std::string& option = "kind");
SceneKind parse_scene_kind(const std::string& name, const std::string& option = "scene");
NoiseModel parse_noise_model(const std::string& name, const std::string& option = "noise");
PhantomKind parse_phantom_kind(const std::string& name, const std::string& option = "phantom");
FbpFilter parse_fbp_filter(const std::string& name, const std::string& option = "filter");
/// The names the parsers accept.
std::string to_string(SimulationKind kind);
std::string to_string(FbpFilter filter);

/// Everything that shapes a simulated data set.
struct SimulationOptions {
    /// Bounds of the options: far beyond any useful data set, and small enough that sizes
    /// cannot overflow and noisy values stay within float32.
    static constexpr std::int64_t max_images = 1'000'000;  ///< count, test_count
    static constexpr std::int64_t max_size = 8192;
    static constexpr int max_views = 8192;  ///< full_views
    static constexpr double max_sigma = 1e6;
    static constexpr double max_counts = 1e30;  ///< peak, i0
    static constexpr double min_mu_scale = 1e-6, max_mu_scale = 1e6;
    static constexpr double max_texture = 1.0;
    static constexpr int texture_waves = 16;
    static constexpr double min_texture_wavelength = 4, max_texture_wavelength = 32;  ///< pixels
    static constexpr int white_frames = 20, dark_frames = 10;  ///< projections
    static constexpr double dark_counts = 100;  ///< projections: dark current per pixel and frame

    SimulationKind kind = SimulationKind::shapes;
    SceneKind scene = SceneKind::shapes;  ///< n2n, n2s (the other kinds name their scene)
    std::int64_t count = 64;              ///< training images, [1, max_images]
    std::int64_t test_count = 8;          ///< test images, [0, max_images]
    std::int64_t size = 256;              ///< images are size x size, [8, max_size]
    std::uint64_t seed = 0;

    NoiseModel noise = NoiseModel::gaussian;  ///< shapes, n2n, n2s, seg
    ValueRange sigma = 0.1;  ///< Gaussian standard deviation, within (0, max_sigma]
    ValueRange peak = 20.0;  ///< Poisson counts at value 1, within (0, max_counts]
    /// RMS of the texture inside shapes, ellipses and spheres as a fraction of their value,
    /// [0, max_texture]; 0: piecewise constant (or graded) as without texture.
    double texture = 0;

    PhantomKind phantom = PhantomKind::mixed;  ///< ct
    /// Incident photons per ray, within (0, max_counts]; the single value 0: no photon noise.
    ValueRange i0 = 1e4;
    double mu_scale = 4.0;     ///< optical depth of a full-width ray through value 1
    int full_views = 360;      ///< angles of the full scan over 180 degrees, [1, max_views]
    int views = 360;           ///< angles kept; must divide full_views
    double wedge_degrees = 0;  ///< missing wedge, [0, 180)
    FbpFilter filter = FbpFilter::ramp;

    /// Noise levels of the test split; unset: the training ones above.
    std::optional<ValueRange> test_sigma, test_peak, test_i0;

    /// Whether the images are CT phantoms: kinds ct and projections, or n2n and n2s with ct
    /// scenes.
    bool ct_scenes() const;
    /// Throws InvalidArgument naming the first option out of range (NaN is out of every range).
    void validate() const;
    /// Bytes of the images simulate() returns (after validate()).
    std::int64_t bytes() const;
};

/// Images of one split (train or test), each (N, size, size). Which members are filled
/// depends on the kind; the others stay empty.
struct SimulatedSplit {
    Stack noisy;    ///< shapes, ct, n2s, seg: the noisy input; n2n: the first realization
    Stack noisy_b;  ///< n2n: the second, independent realization
    Stack clean;    ///< every kind: the label (ct: full-view noise-free FBP; n2s: not written
                    ///< for training)
    Stack labels;   ///< seg: uint8 class per pixel
    /// projections (train split only): counts (angles, count, size), the white and dark frames
    /// (frames, count, size) and the angles in degrees; `clean` is the reconstruction.
    Stack projections, white, dark;
    std::vector<double> angles_degrees;
    /// The noise level each image drew: i0 (ct), sigma or peak (the others, by `noise`).
    std::vector<double> noise_levels;
};

/// A simulated data set: what simulate() returns and write_simulated_dataset() stores.
struct SimulatedDataset {
    SimulationKind kind = SimulationKind::shapes;
    SimulatedSplit train, test;
};

/// Simulates the data set `options` describe, images in parallel. Validates the options first,
/// and throws InvalidArgument naming count, test count and size when the images would not fit
/// in this machine's memory.
SimulatedDataset simulate(const SimulationOptions& options);

/// Writes `data` in the layout of its kind (see above) to a new HDF5 file, replacing any
/// regular file of that name (IoError for a folder, FIFO or device; a symbolic link to a
/// regular file is written through); a failed write leaves no file behind.
void write_simulated_dataset(const std::string& file, const SimulatedDataset& data);

}  // namespace tomodenoise
