#pragma once
// Random training patches from (N, H, W) stacks: position, one of the 8 flips and rotations
// (the same for input and target), and `depth` adjacent slices as input channels (reflected at
// the stack's ends) around the slice whose target is learned. Batch `index` depends only on
// the seed and the index (a counter-based generator), not on the batches drawn before it nor
// on threads, so a resumed run draws the patches an uninterrupted one would.

#include <cstdint>
#include <vector>

#include "core/tensor.hpp"
#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// Where one patch comes from and how it is turned; also the patch's Noise2Self grid phase.
struct PatchDraw {
    std::int64_t slice = 0, row = 0, col = 0;  ///< top-left corner in the stack
    /// Dihedral transform 0..7: bit 2 transposes, bit 0 flips rows, bit 1 flips columns (in
    /// that order, applied to the source window).
    int transform = 0;
    int phase_row = 0, phase_col = 0;  ///< in 0..mask_width-1 (0 without a mask width)
};

/// Position (row, col) of the source window that pixel (r, c) of a `patch`-sided patch shows
/// under `transform`.
void dihedral_source(int transform, std::int64_t patch, std::int64_t r, std::int64_t c,
                     std::int64_t& row, std::int64_t& col);

struct PatchSamplerConfig {
    int batch = 8;
    std::int64_t patch = 64;
    int depth = 1;           ///< odd: input channels
    std::uint64_t seed = 0;  ///< of every draw
    int mask_width = 0;      ///< range of the drawn grid phases; 0: none drawn
};

/// A batch: inputs (batch, depth, patch, patch) and, with targets, (batch, 1, patch, patch);
/// `mask` is the Noise2Self trainer's (hidden pixels), the sampler leaves it alone.
struct PatchBatch {
    Tensor input, target, mask;
    std::vector<PatchDraw> draws;
};

class PatchSampler {
public:
    /// `inputs` and `targets` (null for none) float32 of one shape, `targets` outliving this
    /// sampler as `inputs` must; the patch fits the images (checked by the caller).
    PatchSampler(const Stack& inputs, const Stack* targets, const PatchSamplerConfig& config);

    /// The draw of patch `k` of batch `index`.
    PatchDraw draw(std::int64_t index, int k) const;
    /// Fills `batch` (allocated on first use) with batch `index`; patches in parallel (TBB).
    void fill(std::int64_t index, PatchBatch& batch) const;

private:
    const Stack& inputs_;
    const Stack* targets_;
    PatchSamplerConfig config_;
};

}  // namespace tomodenoise
