#pragma once
// Reflection padding (numpy's 'reflect': the edge pixel is not repeated) used to bring images
// to the size a network needs, and the crop that undoes it.

#include <cstdint>

#include "core/tensor.hpp"

namespace tomodenoise {

/// Index of `i` in [0, n) after reflecting across the edges (n >= 1; any i).
std::int64_t reflect_index(std::int64_t i, std::int64_t n);

/// Writes the plain (n, c, h, w) image `src` into the plain tensor `dst` (larger or equal in h
/// and w): top-left aligned, the extra rows and columns filled by reflection.
void reflect_pad(const float* src, const Dims& src_dims, Tensor& dst);

/// Copies the top-left (window.h, window.w) window of each image of the plain tensor `src` into
/// `dst`, which holds window.count() values. Throws ShapeError unless `src` is plain, has
/// window.n images of window.c channels and is at least as high and wide as the window.
void crop(const Tensor& src, const Dims& window, float* dst);

}  // namespace tomodenoise
