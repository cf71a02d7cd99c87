#pragma once
/// @file
/// A stack of 2D images, (N, H, W), in one of the pixel types tomography data comes in.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tomodenoise {

/// Pixel types of stored stacks.
enum class PixelType { uint8, uint16, int16, float32, float64 };

/// "uint8", "uint16", "int16", "float32", "float64".
std::string to_string(PixelType type);
/// Parses the names to_string gives; throws InvalidArgument naming the value otherwise.
PixelType parse_pixel_type(const std::string& name);
/// Bytes per pixel.
std::size_t pixel_size(PixelType type);

/// The values a pixel type holds, from `lowest` to `highest` (uint8: 0 to 255; float32:
/// -FLT_MAX to FLT_MAX).
struct PixelRange {
    double lowest = 0, highest = 0;
};
PixelRange pixel_range(PixelType type);

/// Dims of a stack: N slices of H rows and W columns.
struct StackShape {
    std::int64_t n = 0, h = 0, w = 0;
    std::int64_t pixels() const { return n * h * w; }
    std::string to_string() const;  ///< "(N, H, W)"
    bool operator==(const StackShape& o) const { return n == o.n && h == o.h && w == o.w; }
    bool operator!=(const StackShape& o) const { return !(*this == o); }
};

/// Owning, row-major (N, H, W) stack of one pixel type.
class Stack {
public:
    Stack() = default;
    Stack(StackShape shape, PixelType type);  ///< zero-filled

    const StackShape& shape() const { return shape_; }
    PixelType type() const { return type_; }
    std::size_t bytes() const { return data_.size(); }
    void* data() { return data_.data(); }
    const void* data() const { return data_.data(); }

    /// Typed access for T in std::uint8_t, std::uint16_t, std::int16_t, float, double;
    /// throws InvalidArgument when T does not match type().
    template <typename T>
    T* as();
    template <typename T>
    const T* as() const;

    /// Every pixel converted to float32 (a copy, or the data itself when already float32).
    /// Throws FormatError naming `source` (what the stack is: its file and dataset) and the
    /// pixel for a float64 value that is finite but beyond float32's range (about 3.4e38);
    /// NaN and infinities stay what they are.
    std::vector<float> to_float(const std::string& source = "a float64 stack") const;
    /// A float32 stack from `values` (shape.pixels() of them).
    static Stack from_float(StackShape shape, const float* values);
    /// `values` converted to `type`, rounding to nearest (halves away from zero) and saturating
    /// at the type's range; InvalidArgument naming the pixel (slice, row, col) for a NaN that
    /// an integer type cannot hold.
    static Stack from_float(StackShape shape, const float* values, PixelType type);

private:
    StackShape shape_;
    PixelType type_ = PixelType::float32;
    std::vector<unsigned char> data_;
};

}  // namespace tomodenoise
