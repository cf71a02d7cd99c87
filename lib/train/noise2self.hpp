#pragma once
// Noise2Self (Batson and Royer 2019): the network predicts a grid of hidden pixels from the
// others, so it cannot learn the identity and, with pixel-independent noise, learns the clean
// signal. Pixel (row, col) is hidden at phase (pr, pc) of a grid of width w when
// row % w == pr and col % w == pc, with (row, col) global coordinates so that tiles of one
// image agree.

#include <cstdint>
#include <functional>

#include "tomodenoise/train.hpp"

namespace tomodenoise {

inline bool is_masked(std::int64_t row, std::int64_t col, int phase_row, int phase_col, int width) {
    return row % width == phase_row && col % width == phase_col;
}

/// Writes to `dst` the (h x w) image `src` with the pixels of phase (phase_row, phase_col)
/// hidden: zeroed, or replaced by the mean of their 4 neighbours in `src` (reflected at the
/// image's edges; a neighbour beyond a side of 1 pixel is left out). (row0, col0) are the
/// global coordinates of src's first pixel. `mask` (nullable; h x w) gets 1 at hidden pixels, 0
/// elsewhere. `src` and `dst` must not overlap.
void hide_grid(const float* src, std::int64_t h, std::int64_t w, std::int64_t row0,
               std::int64_t col0, int phase_row, int phase_col, int width, MaskMode mode,
               float* dst, float* mask);

/// J-invariant inference: for each of the width^2 phases, `input` (n x channels x h x w) with
/// that phase hidden in channel `channels / 2` goes through `apply` (n images in, n x
/// out_channels x h x w out), and every output pixel is taken from the pass that hid it.
void j_invariant_inference(const std::function<void(const float*, float*)>& apply,
                           const float* input, std::int64_t n, std::int64_t channels,
                           std::int64_t out_channels, std::int64_t h, std::int64_t w, int width,
                           MaskMode mode, std::int64_t row0, std::int64_t col0, float* output);

}  // namespace tomodenoise
