// Noise2Inverse's inputs, shared by its training pairs and its inference: each the mean of the
// other K - 1 splits, against a naive loop in double, and the same whether made in place or not.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "train/noise2inverse.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TEST(Noise2InverseInputs, EachIsTheMeanOfTheOtherSplits) {
    const std::int64_t count = 127;
    for (const int k : {2, 3, 17}) {
        std::vector<std::vector<float>> splits;
        for (int j = 0; j < k; ++j)
            splits.push_back(random_values(std::size_t(count), std::uint32_t(7 + j), -3.f, 5.f));
        std::vector<const float*> src;
        const std::vector<float> zeros(static_cast<std::size_t>(count));
        std::vector<std::vector<float>> means(static_cast<std::size_t>(k), zeros);
        std::vector<float*> dst;
        for (int j = 0; j < k; ++j) {
            src.push_back(splits[std::size_t(j)].data());
            dst.push_back(means[std::size_t(j)].data());
        }
        means_of_other_splits(src, count, dst);
        for (int j = 0; j < k; ++j)
            for (std::int64_t i = 0; i < count; ++i) {
                double others = 0;
                for (int m = 0; m < k; ++m)
                    if (m != j) others += splits[std::size_t(m)][std::size_t(i)];
                ASSERT_NEAR(means[std::size_t(j)][std::size_t(i)], others / (k - 1), 1e-5)
                    << "K " << k << ", split " << j << ", value " << i;
            }

        // In place (inference overwrites the splits it read): the same values, bit for bit.
        std::vector<float*> in_place;
        for (auto& split : splits) in_place.push_back(split.data());
        means_of_other_splits(src, count, in_place);
        EXPECT_EQ(splits, means) << "K " << k;
    }
}

TEST(Noise2InverseInputs, FewerThanTwoSplitsOrMissingOutputsAreRefused) {
    std::vector<float> a(4, 1.f), b(4, 2.f), out(4);
    expect_error_naming<InvalidArgument>(
        [&] { means_of_other_splits({a.data()}, 4, {out.data()}); }, {"1 splits", "at least 2"});
    expect_error_naming<InvalidArgument>(
        [&] {
            means_of_other_splits({a.data(), b.data()}, 4, {out.data()});
        },
        {"2 splits", "1 outputs"});
}

}  // namespace
