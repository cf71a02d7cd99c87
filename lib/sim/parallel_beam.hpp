#pragma once
// Parallel-beam geometry and filtered back-projection.
//
// A size x size image with unit pixels on the grid of `size` detector bins of unit width: at
// angle 0 image column c lies over detector bin c. The rotation axis is at detector position
// `center` (bins from the first bin's centre) and at image pixel (row, column) = (center,
// center); (size - 1) / 2 puts it in the middle. The ray of view angle theta at detector offset
// s from the axis is the line x cos(theta) + y sin(theta) = s, with x to the right and y up,
// both from the axis. Sinograms are (views, bins), row-major, holding line integrals in pixel
// units.

#include <vector>

#include "tomodenoise/simulate.hpp"

namespace tomodenoise::sim {

struct ParallelGeometry {
    int size = 0;                ///< image side and number of detector bins
    std::vector<double> angles;  ///< radians
    double angle_step = 0;       ///< angular weight of each view in the back-projection
    double center = 0;           ///< rotation axis on the detector and in the image (see above)

    /// `views` angles evenly spread over [0, pi).
    static ParallelGeometry full(int size, int views);
    /// Of `full_views` angles over [0, pi), every `step`-th one below pi - `wedge` radians:
    /// sparse views and a missing wedge. Each kept view weighs the `step` angles it stands
    /// for; the wedge is not compensated, so missing angles stay missing.
    static ParallelGeometry degraded(int size, int full_views, int step, double wedge);
    /// Measured angles (radians) evenly covering 180 or 360 degrees in any order, each view
    /// weighing pi / views (as scikit-image's iradon), with the rotation axis at `center`.
    static ParallelGeometry measured(int size, std::vector<double> angles, double center);
};

/// The convolution kernel of a projection filter for `bins` detector bins, indexed by
/// (n - k) + bins - 1 for output bin n and input bin k. It is the kernel that zero-padded
/// FFT filtering applies (scikit-image's iradon): the ramp built in the spatial domain
/// (Kak & Slaney, eq. 61) and windowed in the frequency domain. Computed once per (bins,
/// filter) and cached.
const std::vector<double>& filter_kernel(int bins, FbpFilter filter);

/// Filtered back-projection of a (views, bins) sinogram into a size x size image.
std::vector<float> filtered_back_projection(const std::vector<float>& sinogram,
                                            const ParallelGeometry& geometry, FbpFilter filter);

}  // namespace tomodenoise::sim
