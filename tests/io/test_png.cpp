// PNG quick looks, read back with libpng and compared with a window computed in double.

#include <png.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace tomodenoise {
namespace {

using testing::ScratchDir;

struct GreyImage {
    std::uint32_t h = 0, w = 0;
    std::vector<std::uint8_t> pixels;
};

GreyImage read_png(const std::string& file) {
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    EXPECT_NE(png_image_begin_read_from_file(&image, file.c_str()), 0) << image.message;
    // The file must be grey already, so that reading it back converts nothing.
    EXPECT_EQ(image.format, static_cast<png_uint_32>(PNG_FORMAT_GRAY));
    image.format = PNG_FORMAT_GRAY;
    GreyImage grey{image.height, image.width, {}};
    grey.pixels.resize(PNG_IMAGE_SIZE(image));
    EXPECT_NE(png_image_finish_read(&image, nullptr, grey.pixels.data(), 0, nullptr), 0)
        << image.message;
    return grey;
}

double reference_percentile(std::vector<double> values, double percent) {
    std::sort(values.begin(), values.end());
    const double position = percent / 100.0 * (values.size() - 1);
    const std::size_t below = static_cast<std::size_t>(position);
    if (below + 1 >= values.size()) return values.back();
    return values[below] + (position - below) * (values[below + 1] - values[below]);
}

std::uint8_t reference_grey(double value, double low, double high) {
    return static_cast<std::uint8_t>(
        std::lround(std::clamp(255.0 * (value - low) / (high - low), 0.0, 255.0)));
}

TEST(Png, SliceIsScaledBetweenPercentiles) {
    ScratchDir dir;
    const StackShape shape{3, 21, 30};
    const std::vector<float> values = testing::random_values(shape.pixels(), 4, 0.f, 1000.f);
    const Stack stack = Stack::from_float(shape, values.data(), PixelType::uint16);
    write_png_slice(dir.file("s.png"), stack, 2);

    std::vector<double> slice;
    const std::uint16_t* third = stack.as<std::uint16_t>() + 2 * 21 * 30;
    for (std::int64_t i = 0; i < 21 * 30; ++i) slice.push_back(third[i]);
    const double low = reference_percentile(slice, 0.5), high = reference_percentile(slice, 99.5);
    const GreyImage png = read_png(dir.file("s.png"));
    ASSERT_EQ(png.h, 21u);
    ASSERT_EQ(png.w, 30u);
    int outside = 0;
    for (std::size_t i = 0; i < slice.size(); ++i) {
        ASSERT_EQ(png.pixels[i], reference_grey(slice[i], low, high)) << "pixel " << i;
        if (slice[i] <= low || slice[i] >= high) {
            EXPECT_EQ(png.pixels[i], slice[i] <= low ? 0 : 255) << "pixel " << i;
            ++outside;
        }
    }
    // About 0.5 % of 630 pixels lie beyond each end of the window: the window is not the range.
    EXPECT_GE(outside, 6);
}

TEST(Png, MontageSharesOneWindowAndSeparatesPanels) {
    ScratchDir dir;
    const StackShape shape{2, 8, 10};
    const std::vector<float> a = testing::random_values(shape.pixels(), 1, 0.f, 1.f);
    const std::vector<float> b = testing::random_values(shape.pixels(), 2, 2.f, 3.f);
    const Stack noisy = Stack::from_float(shape, a.data());
    const Stack clean = Stack::from_float(shape, b.data(), PixelType::float64);
    QuickLookOptions options;
    options.low_percent = 0.0;
    options.high_percent = 100.0;
    options.gap = 3;
    write_png_montage(dir.file("m.png"), {noisy, clean}, 1, options);

    std::vector<double> pooled;
    for (int i = 0; i < 80; ++i) pooled.push_back(a[80 + i]);
    for (int i = 0; i < 80; ++i) pooled.push_back(static_cast<double>(b[80 + i]));
    const double low = *std::min_element(pooled.begin(), pooled.end());
    const double high = *std::max_element(pooled.begin(), pooled.end());
    const GreyImage png = read_png(dir.file("m.png"));
    ASSERT_EQ(png.h, 8u);
    ASSERT_EQ(png.w, 23u);
    for (std::uint32_t y = 0; y < 8; ++y) {
        for (std::uint32_t x = 0; x < 10; ++x) {
            EXPECT_EQ(png.pixels[y * 23 + x], reference_grey(pooled[y * 10 + x], low, high));
            EXPECT_EQ(png.pixels[y * 23 + 13 + x],
                      reference_grey(pooled[80 + y * 10 + x], low, high));
        }
        for (std::uint32_t x = 10; x < 13; ++x) EXPECT_EQ(png.pixels[y * 23 + x], 255);
    }
    // One window: the darker panel stays below the brighter one.
    EXPECT_LT(*std::max_element(png.pixels.begin(), png.pixels.begin() + 10), 128);
}

TEST(Png, RefusesMismatchedPanelsAndLeavesNoFile) {
    ScratchDir dir;
    const Stack a({1, 4, 4}, PixelType::uint8), b({1, 4, 5}, PixelType::uint8);
    const std::string file = dir.file("bad.png");
    for (auto write : {std::function<void()>([&] {
                           write_png_montage(file, {a, b}, 0);
                       }),
                       std::function<void()>([&] { write_png_slice(file, a, 1); })}) {
        try {
            write();
            ADD_FAILURE() << "no exception";
        } catch (const InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
        }
    }
    const float nan = std::nanf("");
    const Stack nans = Stack::from_float({1, 1, 1}, &nan);
    EXPECT_THROW(write_png_slice(file, nans, 0), InvalidArgument);
    EXPECT_THROW(write_png_slice(dir.file("no/folder.png"), a, 0), IoError);
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
}  // namespace tomodenoise
