#include "tomodenoise/stack.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

template <typename T>
constexpr PixelType pixel_type_of();
template <>
constexpr PixelType pixel_type_of<std::uint8_t>() {
    return PixelType::uint8;
}
template <>
constexpr PixelType pixel_type_of<std::uint16_t>() {
    return PixelType::uint16;
}
template <>
constexpr PixelType pixel_type_of<std::int16_t>() {
    return PixelType::int16;
}
template <>
constexpr PixelType pixel_type_of<float>() {
    return PixelType::float32;
}
template <>
constexpr PixelType pixel_type_of<double>() {
    return PixelType::float64;
}

// Calls f(T{}) with T the C++ type of `type`.
template <typename F>
decltype(auto) visit_pixel_type(PixelType type, F&& f) {
    switch (type) {
        case PixelType::uint8:
            return f(std::uint8_t{});
        case PixelType::uint16:
            return f(std::uint16_t{});
        case PixelType::int16:
            return f(std::int16_t{});
        case PixelType::float32:
            return f(float{});
        case PixelType::float64:
            return f(double{});
    }
    throw InvalidArgument("unknown pixel type " + std::to_string(static_cast<int>(type)));
}

std::string pixel_index(const StackShape& shape, std::int64_t i) {
    const std::int64_t plane = shape.h * shape.w;
    return "(" + std::to_string(i / plane) + ", " + std::to_string(i % plane / shape.w) + ", " +
           std::to_string(i % shape.w) + ")";
}

// Round to nearest (halves away from zero) and clamp to T's range; NaN has no integer value
// and is refused rather than stored as an arbitrary number.
template <typename T>
T round_and_saturate(float value, const StackShape& shape, std::int64_t i) {
    if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(value);
    } else {
        if (std::isnan(value))
            throw InvalidArgument("NaN at pixel " + pixel_index(shape, i) + " of a stack " +
                                  shape.to_string() + " cannot be stored as " +
                                  to_string(pixel_type_of<T>()));
        const float rounded = std::round(value);
        if (rounded <= static_cast<float>(std::numeric_limits<T>::min()))
            return std::numeric_limits<T>::min();
        if (rounded >= static_cast<float>(std::numeric_limits<T>::max()))
            return std::numeric_limits<T>::max();
        return static_cast<T>(rounded);
    }
}

}  // namespace

std::string to_string(PixelType type) {
    switch (type) {
        case PixelType::uint8:
            return "uint8";
        case PixelType::uint16:
            return "uint16";
        case PixelType::int16:
            return "int16";
        case PixelType::float32:
            return "float32";
        case PixelType::float64:
            return "float64";
    }
    return "pixel type " + std::to_string(static_cast<int>(type));
}

PixelType parse_pixel_type(const std::string& name) {
    for (PixelType type : {PixelType::uint8, PixelType::uint16, PixelType::int16,
                           PixelType::float32, PixelType::float64})
        if (to_string(type) == name) return type;
    throw InvalidArgument("unknown pixel type '" + name +
                          "' (expected uint8, uint16, int16, float32 or float64)");
}

std::size_t pixel_size(PixelType type) {
    return visit_pixel_type(type, [](auto pixel) { return sizeof(pixel); });
}

PixelRange pixel_range(PixelType type) {
    return visit_pixel_type(type, [](auto pixel) {
        using T = decltype(pixel);
        return PixelRange{double(std::numeric_limits<T>::lowest()),
                          double(std::numeric_limits<T>::max())};
    });
}

std::string StackShape::to_string() const {
    return "(" + std::to_string(n) + ", " + std::to_string(h) + ", " + std::to_string(w) + ")";
}

Stack::Stack(StackShape shape, PixelType type) : shape_(shape), type_(type) {
    if (shape.n < 0 || shape.h < 0 || shape.w < 0)
        throw ShapeError("stack dims " + shape.to_string() + " are negative");
    data_.assign(static_cast<std::size_t>(shape.pixels()) * pixel_size(type), 0);
}

template <typename T>
T* Stack::as() {
    return const_cast<T*>(static_cast<const Stack*>(this)->as<T>());
}

template <typename T>
const T* Stack::as() const {
    if (pixel_type_of<T>() != type_)
        throw InvalidArgument("a stack of " + tomodenoise::to_string(type_) + " pixels " +
                              shape_.to_string() + " accessed as " +
                              tomodenoise::to_string(pixel_type_of<T>()));
    return reinterpret_cast<const T*>(data_.data());
}

#define TOMODENOISE_INSTANTIATE_AS(T) \
    template T* Stack::as<T>();       \
    template const T* Stack::as<T>() const;
TOMODENOISE_INSTANTIATE_AS(std::uint8_t)
TOMODENOISE_INSTANTIATE_AS(std::uint16_t)
TOMODENOISE_INSTANTIATE_AS(std::int16_t)
TOMODENOISE_INSTANTIATE_AS(float)
TOMODENOISE_INSTANTIATE_AS(double)
#undef TOMODENOISE_INSTANTIATE_AS

std::vector<float> Stack::to_float(const std::string& source) const {
    if (type_ == PixelType::float64) {
        const double* values = as<double>();
        constexpr double float_max = std::numeric_limits<float>::max();
        for (std::int64_t i = 0; i < shape_.pixels(); ++i)
            if (std::isfinite(values[i]) && std::abs(values[i]) > float_max) {
                char value[32];
                std::snprintf(value, sizeof value, "%g", values[i]);
                throw FormatError(source + " " + shape_.to_string() + " holds " + value +
                                  " at (slice, row, col) = " + pixel_index(shape_, i) +
                                  ": finite in float64 but beyond float32's range (about "
                                  "3.4e38), which the models compute in");
            }
    }
    return visit_pixel_type(type_, [this](auto pixel) {
        using T = decltype(pixel);
        const T* values = as<T>();
        return std::vector<float>(values, values + shape_.pixels());
    });
}

Stack Stack::from_float(StackShape shape, const float* values) {
    return from_float(shape, values, PixelType::float32);
}

Stack Stack::from_float(StackShape shape, const float* values, PixelType type) {
    Stack stack(shape, type);
    visit_pixel_type(type, [&](auto pixel) {
        using T = decltype(pixel);
        T* target = stack.as<T>();
        for (std::int64_t i = 0; i < shape.pixels(); ++i)
            target[i] = round_and_saturate<T>(values[i], shape, i);
    });
    return stack;
}

}  // namespace tomodenoise
