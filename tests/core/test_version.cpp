#include <gtest/gtest.h>

#include <sstream>

#include "tomodenoise/tomodenoise.hpp"

TEST(Version, IsSemantic) {
    std::istringstream v(tomodenoise::version());
    int major = -1, minor = -1, patch = -1;
    char dot1 = 0, dot2 = 0;
    v >> major >> dot1 >> minor >> dot2 >> patch;
    EXPECT_TRUE(v.eof() && !v.fail() && dot1 == '.' && dot2 == '.' && major >= 0 && minor >= 0 &&
                patch >= 0)
        << tomodenoise::version();
    EXPECT_EQ(tomodenoise::backend_version().substr(0, 2), "2.");
}

TEST(Errors, ShareOneBase) {
    EXPECT_THROW(throw tomodenoise::ShapeError("x"), tomodenoise::Error);
    EXPECT_THROW(throw tomodenoise::IoError("x"), tomodenoise::Error);
    EXPECT_THROW(throw tomodenoise::FormatError("x"), tomodenoise::Error);
    EXPECT_THROW(throw tomodenoise::BackendError("x"), tomodenoise::Error);
    EXPECT_THROW(throw tomodenoise::InvalidArgument("x"), tomodenoise::Error);
}
