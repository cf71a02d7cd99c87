// PNG quick looks through libpng's simplified API, which reports errors by return value and
// message rather than by longjmp.

#include <png.h>

#include <algorithm>
#include <cmath>

#include "io/temporary_file.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/normalize.hpp"

namespace tomodenoise {

namespace {

template <typename T>
void append_slice(const Stack& stack, std::int64_t slice, std::vector<float>& values) {
    const std::int64_t plane = stack.shape().h * stack.shape().w;
    const T* first = stack.as<T>() + slice * plane;
    values.insert(values.end(), first, first + plane);
}

// One slice of `stack` appended to `values` as float.
void append_slice_as_float(const Stack& stack, std::int64_t slice, std::vector<float>& values) {
    switch (stack.type()) {
        case PixelType::uint8:
            return append_slice<std::uint8_t>(stack, slice, values);
        case PixelType::uint16:
            return append_slice<std::uint16_t>(stack, slice, values);
        case PixelType::int16:
            return append_slice<std::int16_t>(stack, slice, values);
        case PixelType::float32:
            return append_slice<float>(stack, slice, values);
        case PixelType::float64:
            return append_slice<double>(stack, slice, values);
    }
}

void write_grey_png(const std::string& file, const std::vector<std::uint8_t>& pixels,
                    std::int64_t h, std::int64_t w) {
    TemporaryFile temporary(file);
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(w);
    image.height = static_cast<png_uint_32>(h);
    image.format = PNG_FORMAT_GRAY;
    const int written =
        png_image_write_to_file(&image, temporary.path().c_str(), 0, pixels.data(), 0, nullptr);
    const std::string message = image.message;
    png_image_free(&image);
    if (!written) throw IoError("cannot write PNG '" + file + "': " + message);
    temporary.commit();
}

}  // namespace

void write_png_montage(const std::string& file,
                       const std::vector<std::reference_wrapper<const Stack>>& panels,
                       std::int64_t slice, const QuickLookOptions& options) {
    if (panels.empty()) throw InvalidArgument("no image for the quick look '" + file + "'");
    const StackShape& shape = panels.front().get().shape();
    for (const Stack& panel : panels)
        if (panel.shape().h != shape.h || panel.shape().w != shape.w || slice < 0 ||
            slice >= panel.shape().n)
            throw InvalidArgument("quick look '" + file + "': slice " + std::to_string(slice) +
                                  " of a stack " + panel.shape().to_string() + " beside one of " +
                                  shape.to_string());
    if (shape.h <= 0 || shape.w <= 0 || options.gap < 0 ||
        !(options.low_percent < options.high_percent))
        throw InvalidArgument("quick look '" + file + "' of slices " + shape.to_string() +
                              " with window percentiles " + std::to_string(options.low_percent) +
                              ".." + std::to_string(options.high_percent) + " and gap " +
                              std::to_string(options.gap));

    std::vector<float> values;
    for (const Stack& panel : panels) append_slice_as_float(panel, slice, values);
    if (find_non_finite(values.data(), values.size()).count ==
        static_cast<std::int64_t>(values.size()))
        throw InvalidArgument("quick look '" + file + "': slice " + std::to_string(slice) +
                              " holds no finite value");
    const double low = percentile(values.data(), values.size(), options.low_percent);
    const double high = percentile(values.data(), values.size(), options.high_percent);
    const double range = high > low ? high - low : 1.0;

    const std::int64_t panel_count = static_cast<std::int64_t>(panels.size());
    const std::int64_t width = panel_count * shape.w + (panel_count - 1) * options.gap;
    constexpr std::uint8_t white = 255;
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width * shape.h), white);
    const std::int64_t plane = shape.h * shape.w;
    for (std::int64_t p = 0; p < panel_count; ++p)
        for (std::int64_t y = 0; y < shape.h; ++y)
            for (std::int64_t x = 0; x < shape.w; ++x) {
                const float value = values[p * plane + y * shape.w + x];
                const double grey = std::isnan(value) ? 0.0 : 255.0 * (value - low) / range;
                pixels[y * width + p * (shape.w + options.gap) + x] =
                    static_cast<std::uint8_t>(std::lround(std::clamp(grey, 0.0, 255.0)));
            }
    write_grey_png(file, pixels, shape.h, width);
}

void write_png_slice(const std::string& file, const Stack& stack, std::int64_t slice,
                     const QuickLookOptions& options) {
    write_png_montage(file, {stack}, slice, options);
}

}  // namespace tomodenoise
