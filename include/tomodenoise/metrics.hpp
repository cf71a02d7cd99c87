#pragma once
/// @file
/// Image quality metrics: PSNR, SSIM (Gaussian and 7x7 uniform windows), MSE and MAE, per
/// slice of float images (N, H, W) and averaged over the slices; IoU and Dice of segmentations.
///
/// Every metric compares a `test` image against a `reference` (the clean image). PSNR and
/// SSIM need the data range R of the images (for images in [0, 1], R = 1); identical images
/// have an infinite PSNR.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// Mean squared error over `count` values, accumulated in double precision. Throws ShapeError
/// for `count` 0 (as do the other metrics: a mean over no values is no answer).
double mean_squared_error(const float* reference, const float* test, std::size_t count);
/// Mean absolute error over `count` values.
double mean_absolute_error(const float* reference, const float* test, std::size_t count);
/// 10 log10(R^2 / MSE) in dB; +infinity when the images are identical. Throws
/// InvalidArgument when `data_range` is not finite and positive.
double psnr(const float* reference, const float* test, std::size_t count, double data_range);

/// SSIM of one (height, width) image as in Wang et al. 2004: Gaussian window (sigma 1.5,
/// 11x11), population covariance, K1 = 0.01, K2 = 0.03, averaged over the window positions
/// that lie wholly inside the image (a border of 5 pixels is excluded). Throws ShapeError for
/// images smaller than 11x11 and InvalidArgument when `data_range` is not finite and positive.
double ssim_gaussian(const float* reference, const float* test, std::int64_t height,
                     std::int64_t width, double data_range);
/// SSIM with a 7x7 uniform window and sample covariance (scikit-image's default
/// `structural_similarity`), averaged over the wholly-inside window positions (a border of 3
/// is excluded). Throws ShapeError for images smaller than 7x7.
double ssim_uniform7(const float* reference, const float* test, std::int64_t height,
                     std::int64_t width, double data_range);

/// All metrics of one slice.
struct SliceMetrics {
    double psnr = 0;           ///< dB
    double ssim = 0;           ///< ssim_gaussian
    double ssim_uniform7 = 0;  ///< ssim_uniform7
    double mse = 0;
    double mae = 0;
};

/// Metrics of a stack: per slice and the mean of each metric over the slices.
struct StackMetrics {
    SliceMetrics mean;
    std::vector<SliceMetrics> per_slice;
};

/// Compares two float stacks of the same `shape`, slice by slice (slices in parallel).
/// Throws ShapeError for empty shapes or slices smaller than 11x11.
StackMetrics compare_stacks(const float* reference, const float* test, const StackShape& shape,
                            double data_range);
/// The same for stacks of any pixel type (converted to float). Throws ShapeError naming both
/// shapes when they differ.
StackMetrics compare_stacks(const Stack& reference, const Stack& test, double data_range);

/// Sharpness of `test` against `reference` (float stacks of `shape`): the high-frequency power
/// ratio. Each slice's power spectrum |DFT|^2 (periodic, no window) is averaged radially over
/// rings of width 1/m cycles/pixel, m = min(H, W) (frequency (fy, fx) = (ky/H, kx/W), ring
/// round(m * |f|)); the ring averages between 0.25 and 0.5 cycles/pixel (rings m/4 to m/2) are
/// summed, over all slices, for test and for reference, and divided: 1 is the reference's
/// sharpness, an oversmoothed test gives less, added noise more. Computed in double. Throws
/// ShapeError for an empty shape or slices smaller than 4x4, NumericalError when the
/// reference has no power in the band (a constant image).
double high_frequency_power_ratio(const float* reference, const float* test,
                                  const StackShape& shape);

/// Overlap of a segmentation (`test`) with its reference, per class c in 0..classes-1, where
/// R and T are the pixels each map labels c: IoU = |R and T| / |R or T|, Dice = 2 |R and T| /
/// (|R| + |T|). A class in neither map has NaN in `iou` and `dice` and is left out of the
/// means.
struct SegmentationMetrics {
    std::vector<double> iou, dice;                            ///< per class
    std::vector<std::int64_t> reference_pixels, test_pixels;  ///< per class
    double mean_iou = 0, mean_dice = 0;  ///< over the classes present in either map
};

/// IoU and Dice of `count` labels of each map, counted exactly. Throws ShapeError for `count`
/// 0, InvalidArgument for `classes` outside 1..65536 and for a label outside 0..classes-1,
/// naming the map (reference or test), the flat index and the label.
SegmentationMetrics segmentation_metrics(const std::uint8_t* reference, const std::uint8_t* test,
                                         std::size_t count, std::int64_t classes);
SegmentationMetrics segmentation_metrics(const std::int32_t* reference, const std::int32_t* test,
                                         std::size_t count, std::int64_t classes);
/// The same for label stacks of an integer pixel type (uint8, uint16, int16; InvalidArgument
/// for a float type), a label outside the classes named by (slice, row, col). Throws ShapeError
/// naming both shapes when they differ.
SegmentationMetrics segmentation_metrics(const Stack& reference, const Stack& test,
                                         std::int64_t classes);

}  // namespace tomodenoise
