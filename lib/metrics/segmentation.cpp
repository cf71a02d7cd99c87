#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"

namespace tomodenoise {

namespace {

constexpr std::int64_t max_classes = 65536;

// Names the pixel at a flat index in error messages.
using PixelName = std::function<std::string(std::size_t)>;

std::string flat_index(std::size_t i) {
    return "flat index " + std::to_string(i);
}

template <typename Label>
SegmentationMetrics overlap(const Label* reference, const Label* test, std::size_t count,
                            std::int64_t classes, const PixelName& pixel) {
    if (count == 0) throw ShapeError("segmentation_metrics: no labels to compare (count 0)");
    if (classes < 1 || classes > max_classes)
        throw InvalidArgument("segmentation_metrics: classes " + std::to_string(classes) +
                              " is outside 1.." + std::to_string(max_classes));
    const auto class_of = [&](Label label, const char* map, std::size_t i) {
        const auto value = static_cast<std::int64_t>(label);
        if (value < 0 || value >= classes)
            throw InvalidArgument("segmentation_metrics: the " + std::string(map) +
                                  " label map holds label " + std::to_string(value) + " at " +
                                  pixel(i) + ", outside 0.." + std::to_string(classes - 1) + " (" +
                                  std::to_string(classes) + " classes)");
        return static_cast<std::size_t>(value);
    };
    SegmentationMetrics m;
    m.reference_pixels.assign(classes, 0);
    m.test_pixels.assign(classes, 0);
    std::vector<std::int64_t> both(classes, 0);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t r = class_of(reference[i], "reference", i);
        const std::size_t t = class_of(test[i], "test", i);
        ++m.reference_pixels[r];
        ++m.test_pixels[t];
        if (r == t) ++both[r];
    }
    const double absent = std::numeric_limits<double>::quiet_NaN();
    std::int64_t present = 0;
    for (std::int64_t c = 0; c < classes; ++c) {
        const auto sizes = double(m.reference_pixels[c] + m.test_pixels[c]);
        if (sizes == 0) {
            m.iou.push_back(absent);
            m.dice.push_back(absent);
            continue;
        }
        m.iou.push_back(double(both[c]) / (sizes - double(both[c])));
        m.dice.push_back(2.0 * double(both[c]) / sizes);
        m.mean_iou += m.iou.back();
        m.mean_dice += m.dice.back();
        ++present;
    }
    m.mean_iou /= double(present);
    m.mean_dice /= double(present);
    return m;
}

}  // namespace

SegmentationMetrics segmentation_metrics(const std::uint8_t* reference, const std::uint8_t* test,
                                         std::size_t count, std::int64_t classes) {
    return overlap(reference, test, count, classes, flat_index);
}

SegmentationMetrics segmentation_metrics(const std::int32_t* reference, const std::int32_t* test,
                                         std::size_t count, std::int64_t classes) {
    return overlap(reference, test, count, classes, flat_index);
}

SegmentationMetrics segmentation_metrics(const Stack& reference, const Stack& test,
                                         std::int64_t classes) {
    const StackShape& shape = reference.shape();
    if (shape != test.shape())
        throw ShapeError("segmentation_metrics: reference " + shape.to_string() + " and test " +
                         test.shape().to_string() + " differ in shape");
    if (reference.type() != test.type())
        throw InvalidArgument("segmentation_metrics: reference labels are " +
                              to_string(reference.type()) + ", test labels " +
                              to_string(test.type()) + ": give both the same integer type");
    const PixelName pixel = [&](std::size_t i) {
        const std::int64_t plane = shape.h * shape.w, at = static_cast<std::int64_t>(i);
        return "(slice, row, col) = (" + std::to_string(at / plane) + ", " +
               std::to_string(at % plane / shape.w) + ", " + std::to_string(at % shape.w) + ")";
    };
    const auto count = static_cast<std::size_t>(shape.pixels());
    switch (reference.type()) {
        case PixelType::uint8:
            return overlap(reference.as<std::uint8_t>(), test.as<std::uint8_t>(), count, classes,
                           pixel);
        case PixelType::uint16:
            return overlap(reference.as<std::uint16_t>(), test.as<std::uint16_t>(), count, classes,
                           pixel);
        case PixelType::int16:
            return overlap(reference.as<std::int16_t>(), test.as<std::int16_t>(), count, classes,
                           pixel);
        default:
            throw InvalidArgument(
                "segmentation_metrics: label maps must hold integers (uint8, "
                "uint16, int16), these are " +
                to_string(reference.type()));
    }
}

}  // namespace tomodenoise
