// Stack: pixel type names, typed access, and conversion to and from float32.

#include "tomodenoise/stack.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tomodenoise/error.hpp"

namespace tomodenoise {
namespace {

constexpr PixelType all_pixel_types[] = {PixelType::uint8, PixelType::uint16, PixelType::int16,
                                         PixelType::float32, PixelType::float64};

TEST(Stack, PixelTypeNamesAndSizes) {
    const std::size_t sizes[] = {1, 2, 2, 4, 8};
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(parse_pixel_type(to_string(all_pixel_types[i])), all_pixel_types[i]);
        EXPECT_EQ(pixel_size(all_pixel_types[i]), sizes[i]);
    }
    try {
        parse_pixel_type("int32");
        FAIL() << "int32 parsed";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("'int32'"), std::string::npos) << e.what();
    }
}

TEST(Stack, ZeroFilledAndTypedAccessChecked) {
    Stack stack({2, 3, 5}, PixelType::uint16);
    EXPECT_EQ(stack.shape(), (StackShape{2, 3, 5}));
    EXPECT_EQ(stack.shape().to_string(), "(2, 3, 5)");
    EXPECT_EQ(stack.bytes(), 2u * 3 * 5 * 2);
    const std::uint16_t* pixels = stack.as<std::uint16_t>();
    for (int i = 0; i < 30; ++i) EXPECT_EQ(pixels[i], 0);
    try {
        stack.as<float>();
        FAIL() << "uint16 stack read as float";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("uint16"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("float32"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Stack({1, -1, 2}, PixelType::uint8), ShapeError);
}

TEST(Stack, FromFloatRoundsHalfAwayFromZeroAndSaturates) {
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> values = {-1.6f,  -0.5f, 0.4f,    0.5f, 1.5f, 254.5f,
                                       255.4f, 300.f, 70000.f, -inf, inf};
    const StackShape shape{1, 1, static_cast<std::int64_t>(values.size())};

    const Stack u8 = Stack::from_float(shape, values.data(), PixelType::uint8);
    EXPECT_EQ(std::vector<std::uint8_t>(u8.as<std::uint8_t>(), u8.as<std::uint8_t>() + 11),
              (std::vector<std::uint8_t>{0, 0, 0, 1, 2, 255, 255, 255, 255, 0, 255}));
    const Stack u16 = Stack::from_float(shape, values.data(), PixelType::uint16);
    EXPECT_EQ(std::vector<std::uint16_t>(u16.as<std::uint16_t>(), u16.as<std::uint16_t>() + 11),
              (std::vector<std::uint16_t>{0, 0, 0, 1, 2, 255, 255, 300, 65535, 0, 65535}));
    const Stack i16 = Stack::from_float(shape, values.data(), PixelType::int16);
    EXPECT_EQ(std::vector<std::int16_t>(i16.as<std::int16_t>(), i16.as<std::int16_t>() + 11),
              (std::vector<std::int16_t>{-2, -1, 0, 1, 2, 255, 255, 300, 32767, -32768, 32767}));
    const Stack f64 = Stack::from_float(shape, values.data(), PixelType::float64);
    for (std::size_t i = 0; i < values.size(); ++i)
        EXPECT_EQ(f64.as<double>()[i], static_cast<double>(values[i]));
}

TEST(Stack, NaNIsRefusedForIntegerTypesWithItsIndex) {
    std::vector<float> values(2 * 3 * 4, 1.f);
    values[(1 * 3 + 2) * 4 + 3] = std::nanf("");
    try {
        Stack::from_float({2, 3, 4}, values.data(), PixelType::uint8);
        FAIL() << "NaN stored as uint8";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("(1, 2, 3)"), std::string::npos) << e.what();
    }
    const Stack floats = Stack::from_float({2, 3, 4}, values.data());
    EXPECT_EQ(floats.type(), PixelType::float32);
    EXPECT_TRUE(std::isnan(floats.as<float>()[23]));
}

TEST(Stack, IntegerValuedFloatsRoundTripThroughEveryType) {
    std::vector<float> values;
    for (int v = 0; v < 250; v += 7) values.push_back(static_cast<float>(v));
    const StackShape shape{1, 1, static_cast<std::int64_t>(values.size())};
    for (PixelType type : all_pixel_types) {
        const Stack stack = Stack::from_float(shape, values.data(), type);
        EXPECT_EQ(stack.type(), type);
        EXPECT_EQ(stack.bytes(), values.size() * pixel_size(type));
        EXPECT_EQ(stack.to_float(), values) << to_string(type);
    }
}

TEST(Stack, Float64BeyondFloat32RangeIsNamedNotMadeInfinite) {
    Stack stack({2, 3, 4}, PixelType::float64);
    double* values = stack.as<double>();
    values[5] = 1.0;
    values[13] = -1e300;  // slice 1, row 0, col 1
    try {
        stack.to_float("'in.h5:/data'");
        ADD_FAILURE() << "-1e300 converted to float";
    } catch (const FormatError& e) {
        const std::string message = e.what();
        for (const char* part : {"'in.h5:/data'", "-1e+300", "(1, 0, 1)", "float32's range"})
            EXPECT_NE(message.find(part), std::string::npos) << part << " in " << message;
    }
    // What float32 holds converts, and infinities stay infinities for the non-finite checks.
    values[13] = -double(std::numeric_limits<float>::max());
    values[14] = std::numeric_limits<double>::infinity();
    const std::vector<float> converted = stack.to_float();
    EXPECT_EQ(converted[13], -std::numeric_limits<float>::max());
    EXPECT_TRUE(std::isinf(converted[14]));
    EXPECT_EQ(converted[5], 1.0f);
}

TEST(Stack, PixelRangeIsTheTypesRange) {
    EXPECT_EQ(pixel_range(PixelType::uint8).lowest, 0.0);
    EXPECT_EQ(pixel_range(PixelType::uint8).highest, 255.0);
    EXPECT_EQ(pixel_range(PixelType::uint16).highest, 65535.0);
    EXPECT_EQ(pixel_range(PixelType::int16).lowest, -32768.0);
    EXPECT_EQ(pixel_range(PixelType::float32).highest, double(std::numeric_limits<float>::max()));
    EXPECT_EQ(pixel_range(PixelType::float64).lowest, std::numeric_limits<double>::lowest());
}

}  // namespace
}  // namespace tomodenoise
