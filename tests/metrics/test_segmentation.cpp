// IoU and Dice of label maps against a naive reference: per class, the pixel sets of both maps
// collected and intersected one class at a time.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace tomodenoise {
namespace {

using testing::expect_error_naming;

template <typename Label>
std::set<std::size_t> pixels_of(const std::vector<Label>& labels, int c) {
    std::set<std::size_t> pixels;
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] == c) pixels.insert(i);
    return pixels;
}

// Labels 0..classes-1 from a fixed seed, about 70 % of the test map equal to the reference,
// and class `missing` in neither.
template <typename Label>
void random_maps(std::size_t count, int classes, int missing, std::vector<Label>& reference,
                 std::vector<Label>& test) {
    std::mt19937 gen(23);
    std::uniform_int_distribution<int> label(0, classes - 1);
    std::bernoulli_distribution agree(0.7);
    const auto draw = [&] {
        int l;
        do l = label(gen);
        while (l == missing);
        return Label(l);
    };
    reference.resize(count);
    test.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        reference[i] = draw();
        test[i] = agree(gen) ? reference[i] : draw();
    }
}

template <typename Label>
void expect_matches_naive(const std::vector<Label>& reference, const std::vector<Label>& test,
                          int classes, const SegmentationMetrics& m) {
    ASSERT_EQ(m.iou.size(), std::size_t(classes));
    ASSERT_EQ(m.dice.size(), std::size_t(classes));
    double iou_sum = 0, dice_sum = 0;
    int present = 0;
    for (int c = 0; c < classes; ++c) {
        const auto r = pixels_of(reference, c), t = pixels_of(test, c);
        std::vector<std::size_t> both, either;
        std::set_intersection(r.begin(), r.end(), t.begin(), t.end(), std::back_inserter(both));
        std::set_union(r.begin(), r.end(), t.begin(), t.end(), std::back_inserter(either));
        EXPECT_EQ(m.reference_pixels[c], std::int64_t(r.size())) << c;
        EXPECT_EQ(m.test_pixels[c], std::int64_t(t.size())) << c;
        if (either.empty()) {
            EXPECT_TRUE(std::isnan(m.iou[c]) && std::isnan(m.dice[c])) << c;
            continue;
        }
        const double iou = double(both.size()) / double(either.size());
        const double dice = 2.0 * double(both.size()) / double(r.size() + t.size());
        EXPECT_NEAR(m.iou[c], iou, 1e-12) << c;
        EXPECT_NEAR(m.dice[c], dice, 1e-12) << c;
        EXPECT_GT(iou, 0.1) << c;  // the maps agree enough for the comparison to mean something
        iou_sum += iou;
        dice_sum += dice;
        ++present;
    }
    EXPECT_NEAR(m.mean_iou, iou_sum / present, 1e-12);
    EXPECT_NEAR(m.mean_dice, dice_sum / present, 1e-12);
}

TEST(SegmentationMetrics, MatchNaiveReferenceForEachLabelType) {
    const int classes = 5, missing = 3;
    std::vector<std::uint8_t> r8, t8;
    random_maps(4001, classes, missing, r8, t8);
    expect_matches_naive(r8, t8, classes, segmentation_metrics(r8.data(), t8.data(), r8.size(), 5));

    std::vector<std::int32_t> r32, t32;
    random_maps(3001, classes, missing, r32, t32);
    expect_matches_naive(r32, t32, classes,
                         segmentation_metrics(r32.data(), t32.data(), r32.size(), 5));

    const StackShape shape{3, 17, 13};
    std::vector<std::uint16_t> r16, t16;
    random_maps(std::size_t(shape.pixels()), classes, missing, r16, t16);
    Stack reference(shape, PixelType::uint16), test(shape, PixelType::uint16);
    std::copy(r16.begin(), r16.end(), reference.as<std::uint16_t>());
    std::copy(t16.begin(), t16.end(), test.as<std::uint16_t>());
    expect_matches_naive(r16, t16, classes, segmentation_metrics(reference, test, 5));
}

TEST(SegmentationMetrics, IdenticalMapsScoreOneAndDisjointZero) {
    const std::vector<std::uint8_t> a = {0, 1, 1, 2, 2, 2}, b = {1, 2, 2, 0, 0, 0};
    const SegmentationMetrics same = segmentation_metrics(a.data(), a.data(), a.size(), 3);
    EXPECT_EQ(same.mean_iou, 1.0);
    EXPECT_EQ(same.mean_dice, 1.0);
    const SegmentationMetrics disjoint = segmentation_metrics(a.data(), b.data(), a.size(), 4);
    EXPECT_EQ(disjoint.mean_iou, 0.0);
    EXPECT_EQ(disjoint.mean_dice, 0.0);
    EXPECT_TRUE(std::isnan(disjoint.iou[3]));
}

TEST(SegmentationMetrics, ClearErrors) {
    const std::vector<std::uint8_t> good = {0, 1, 2, 1}, bad = {0, 1, 7, 1};
    expect_error_naming<InvalidArgument>(
        [&] { segmentation_metrics(good.data(), bad.data(), good.size(), 3); },
        {"test", "label 7", "flat index 2", "3 classes"});
    expect_error_naming<InvalidArgument>(
        [&] { segmentation_metrics(bad.data(), good.data(), good.size(), 3); }, {"reference"});
    const std::vector<std::int32_t> negative = {0, -1};
    expect_error_naming<InvalidArgument>(
        [&] { segmentation_metrics(negative.data(), negative.data(), 2, 3); }, {"label -1"});
    expect_error_naming<InvalidArgument>(
        [&] { segmentation_metrics(good.data(), good.data(), good.size(), 0); }, {"classes 0"});
    expect_error_naming<ShapeError>([&] { segmentation_metrics(good.data(), good.data(), 0, 3); },
                                    {"count 0"});

    Stack a({2, 3, 4}, PixelType::uint8), b({2, 4, 3}, PixelType::uint8);
    expect_error_naming<ShapeError>([&] { segmentation_metrics(a, b, 2); },
                                    {"(2, 3, 4)", "(2, 4, 3)"});
    Stack c({2, 3, 4}, PixelType::uint8);
    c.as<std::uint8_t>()[1 * 12 + 2 * 4 + 3] = 9;
    expect_error_naming<InvalidArgument>([&] { segmentation_metrics(a, c, 2); },
                                         {"test", "label 9", "(1, 2, 3)"});
    Stack f({2, 3, 4}, PixelType::float32);
    expect_error_naming<InvalidArgument>([&] { segmentation_metrics(f, f, 2); },
                                         {"integers", "float32"});
    Stack s({2, 3, 4}, PixelType::int16);
    expect_error_naming<InvalidArgument>([&] { segmentation_metrics(a, s, 2); },
                                         {"uint8", "int16"});
}

}  // namespace
}  // namespace tomodenoise
