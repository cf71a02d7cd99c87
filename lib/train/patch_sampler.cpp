#include "train/patch_sampler.hpp"

#include <tbb/parallel_for.h>

#include "core/reflect_padding.hpp"

namespace tomodenoise {

namespace {

// SplitMix64 (Steele, Lea, Flood 2014): a counter-based stream, so any batch's draws are
// computed from (seed, batch, patch) alone.
std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Uniform in 0..n-1 (n >= 1) from the top 53 bits: no modulo bias worth the name.
std::int64_t uniform_below(std::uint64_t& state, std::int64_t n) {
    const double u = double(splitmix64(state) >> 11) * 0x1p-53;
    return std::min<std::int64_t>(n - 1, std::int64_t(u * double(n)));
}

void copy_transformed(const float* slice, std::int64_t width, const PatchDraw& d,
                      std::int64_t patch, float* dst) {
    for (std::int64_t r = 0; r < patch; ++r)
        for (std::int64_t c = 0; c < patch; ++c) {
            std::int64_t row, col;
            dihedral_source(d.transform, patch, r, c, row, col);
            dst[r * patch + c] = slice[(d.row + row) * width + d.col + col];
        }
}

}  // namespace

void dihedral_source(int transform, std::int64_t patch, std::int64_t r, std::int64_t c,
                     std::int64_t& row, std::int64_t& col) {
    row = (transform & 4) ? c : r;
    col = (transform & 4) ? r : c;
    if (transform & 1) row = patch - 1 - row;
    if (transform & 2) col = patch - 1 - col;
}

PatchSampler::PatchSampler(const Stack& inputs, const Stack* targets,
                           const PatchSamplerConfig& config)
    : inputs_(inputs), targets_(targets), config_(config) {}

PatchDraw PatchSampler::draw(std::int64_t index, int k) const {
    const auto& sh = inputs_.shape();
    std::uint64_t state = std::uint64_t(config_.seed);
    state = splitmix64(state) ^ std::uint64_t(index);
    state = splitmix64(state) ^ std::uint64_t(k);
    PatchDraw d;
    d.slice = uniform_below(state, sh.n);
    d.row = uniform_below(state, sh.h - config_.patch + 1);
    d.col = uniform_below(state, sh.w - config_.patch + 1);
    d.transform = int(uniform_below(state, 8));
    if (config_.mask_width > 0) {
        d.phase_row = int(uniform_below(state, config_.mask_width));
        d.phase_col = int(uniform_below(state, config_.mask_width));
    }
    return d;
}

void PatchSampler::fill(std::int64_t index, PatchBatch& batch) const {
    const auto& sh = inputs_.shape();
    const std::int64_t p = config_.patch, plane = p * p;
    const Dims input_dims{config_.batch, config_.depth, p, p};
    if (batch.input.dims() != input_dims) batch.input = Tensor(input_dims);
    if (targets_ && batch.target.dims() != Dims{config_.batch, 1, p, p})
        batch.target = Tensor(Dims{config_.batch, 1, p, p});
    batch.draws.resize(std::size_t(config_.batch));
    const int half = config_.depth / 2;
    tbb::parallel_for(0, config_.batch, [&](int k) {
        const PatchDraw d = draw(index, k);
        batch.draws[std::size_t(k)] = d;
        for (int c = 0; c < config_.depth; ++c) {
            const std::int64_t s = reflect_index(d.slice + c - half, sh.n);
            copy_transformed(inputs_.as<float>() + s * sh.h * sh.w, sh.w, d, p,
                             batch.input.data() + (std::int64_t(k) * config_.depth + c) * plane);
        }
        if (targets_)
            copy_transformed(targets_->as<float>() + d.slice * sh.h * sh.w, sh.w, d, p,
                             batch.target.data() + std::int64_t(k) * plane);
    });
}

}  // namespace tomodenoise
