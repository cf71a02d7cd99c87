#include <gtest/gtest.h>

#include <regex>

#include "tomodenoise/tomodenoise.hpp"

TEST(Version, IsSemantic) {
    EXPECT_TRUE(std::regex_match(tomodenoise::version(), std::regex(R"(\d+\.\d+\.\d+)")));
    EXPECT_EQ(tomodenoise::backend_version().substr(0, 2), "2.");
}

TEST(Errors, ShareOneBase) {
    EXPECT_THROW(throw tomodenoise::ShapeError("x"), tomodenoise::Error);
    EXPECT_THROW(throw tomodenoise::IoError("x"), tomodenoise::Error);
    EXPECT_THROW(throw tomodenoise::FormatError("x"), tomodenoise::Error);
    EXPECT_THROW(throw tomodenoise::BackendError("x"), tomodenoise::Error);
    EXPECT_THROW(throw tomodenoise::InvalidArgument("x"), tomodenoise::Error);
}
