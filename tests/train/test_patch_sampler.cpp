// The patch sampler: the 8 flips and rotations (the same for input and target), depth slices
// reflected at the stack's ends, and batches that depend on the seed and their index only.

#include <gtest/gtest.h>

#include <tbb/global_control.h>

#include <set>
#include <vector>

#include "test_support.hpp"
#include "train/patch_sampler.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

// Slice s, row r, column c holds 10000 s + 100 r + c: every value says where it came from.
Stack coded_stack(std::int64_t n, std::int64_t h, std::int64_t w, float offset = 0) {
    Stack s({n, h, w}, PixelType::float32);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t r = 0; r < h; ++r)
            for (std::int64_t c = 0; c < w; ++c)
                s.as<float>()[(i * h + r) * w + c] = float(10000 * i + 100 * r + c) + offset;
    return s;
}

std::vector<float> values(const Tensor& t) {
    return std::vector<float>(t.data(), t.data() + t.dims().count());
}

TEST(PatchSampler, TransformsAreTheEightDihedralOnes) {
    // The 8 maps of a 3x3 patch, compared as images with the rotations and flips built by hand.
    const std::int64_t p = 3;
    std::set<std::vector<int>> got;
    for (int t = 0; t < 8; ++t) {
        std::vector<int> image(9);
        for (std::int64_t r = 0; r < p; ++r)
            for (std::int64_t c = 0; c < p; ++c) {
                std::int64_t row, col;
                dihedral_source(t, p, r, c, row, col);
                ASSERT_GE(row, 0);
                ASSERT_LT(row, p);
                ASSERT_GE(col, 0);
                ASSERT_LT(col, p);
                image[std::size_t(r * p + c)] = int(row * p + col);
            }
        got.insert(image);
    }
    std::set<std::vector<int>> want;
    std::vector<int> image{0, 1, 2, 3, 4, 5, 6, 7, 8};
    const auto rotate = [](const std::vector<int>& a) {  // 90 degrees clockwise
        std::vector<int> b(9);
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 3; ++c) b[std::size_t(r * 3 + c)] = a[std::size_t((2 - c) * 3 + r)];
        return b;
    };
    const auto mirror = [](const std::vector<int>& a) {
        std::vector<int> b(9);
        for (int r = 0; r < 3; ++r)
            for (int c = 0; c < 3; ++c) b[std::size_t(r * 3 + c)] = a[std::size_t(r * 3 + 2 - c)];
        return b;
    };
    for (int k = 0; k < 4; ++k) {
        want.insert(image);
        want.insert(mirror(image));
        image = rotate(image);
    }
    ASSERT_EQ(want.size(), 8u);
    EXPECT_EQ(got, want);
}

TEST(PatchSampler, InputAndTargetShareThePatchAndItsTransform) {
    const Stack inputs = coded_stack(4, 12, 10), targets = coded_stack(4, 12, 10, 0.5f);
    PatchSamplerConfig config;
    config.batch = 16;
    config.patch = 5;
    config.seed = 3;
    const PatchSampler sampler(inputs, &targets, config);
    PatchBatch batch;
    sampler.fill(0, batch);
    std::set<int> transforms;
    for (int k = 0; k < config.batch; ++k) {
        const PatchDraw& d = batch.draws[std::size_t(k)];
        transforms.insert(d.transform);
        for (std::int64_t r = 0; r < 5; ++r)
            for (std::int64_t c = 0; c < 5; ++c) {
                std::int64_t row, col;
                dihedral_source(d.transform, 5, r, c, row, col);
                const float want = float(10000 * d.slice + 100 * (d.row + row) + d.col + col);
                ASSERT_EQ(batch.input.at(k, 0, r, c), want) << "patch " << k;
                ASSERT_EQ(batch.target.at(k, 0, r, c), want + 0.5f) << "patch " << k;
            }
    }
    EXPECT_GT(transforms.size(), 4u);  // 16 draws of 8 transforms
}

TEST(PatchSampler, DepthSlicesAreReflectedAtTheStacksEnds) {
    const Stack inputs = coded_stack(3, 6, 6);
    PatchSamplerConfig config;
    config.batch = 64;
    config.patch = 6;
    config.depth = 5;
    config.seed = 1;
    const PatchSampler sampler(inputs, &inputs, config);
    PatchBatch batch;
    sampler.fill(0, batch);
    ASSERT_EQ(batch.input.dims(), (Dims{64, 5, 6, 6}));
    // Slices -2..2 around slice s of 3 (0 1 2): reflected without repeating the end slice.
    const std::int64_t expected[3][5] = {{2, 1, 0, 1, 2}, {1, 0, 1, 2, 1}, {0, 1, 2, 1, 0}};
    std::set<std::int64_t> centres;
    for (int k = 0; k < 64; ++k) {
        const PatchDraw& d = batch.draws[std::size_t(k)];
        centres.insert(d.slice);
        for (int c = 0; c < 5; ++c) {
            std::int64_t row, col;
            dihedral_source(d.transform, 6, 0, 0, row, col);
            EXPECT_EQ(batch.input.at(k, c, 0, 0),
                      float(10000 * expected[d.slice][c] + 100 * row + col))
                << "patch " << k << " channel " << c;
        }
        EXPECT_EQ(batch.input.at(k, 2, 3, 4), batch.target.at(k, 0, 3, 4));  // middle = label
    }
    EXPECT_EQ(centres.size(), 3u);
}

TEST(PatchSampler, BatchesDependOnTheSeedAndIndexOnlyWhateverTheThreads) {
    const Stack inputs = coded_stack(5, 40, 40);
    PatchSamplerConfig config;
    config.batch = 32;
    config.patch = 8;
    config.depth = 3;
    config.seed = 11;
    config.mask_width = 4;
    const PatchSampler sampler(inputs, &inputs, config);
    PatchBatch one_thread, many, after_others;
    {
        tbb::global_control serial(tbb::global_control::max_allowed_parallelism, 1);
        sampler.fill(7, one_thread);
    }
    sampler.fill(7, many);
    for (std::int64_t index : {0, 3, 9}) sampler.fill(index, after_others);
    sampler.fill(7, after_others);
    EXPECT_EQ(values(one_thread.input), values(many.input));
    EXPECT_EQ(values(one_thread.target), values(many.target));
    EXPECT_EQ(values(after_others.input), values(many.input));
    std::set<int> phases;
    for (const auto& d : many.draws) phases.insert(d.phase_row * 4 + d.phase_col);
    EXPECT_GT(phases.size(), 8u);

    PatchBatch next, other_seed;
    sampler.fill(8, next);
    config.seed = 12;
    PatchSampler(inputs, &inputs, config).fill(7, other_seed);
    EXPECT_NE(values(next.input), values(many.input));
    EXPECT_NE(values(other_seed.input), values(many.input));
}

}  // namespace
