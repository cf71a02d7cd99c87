#include <gtest/gtest.h>

#include <vector>

#include "core/network.hpp"
#include "core/padded_forward.hpp"
#include "core/reflect_padding.hpp"
#include "layers/convolution.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;

namespace {

TEST(Crop, CopiesTheTopLeftWindowOfEveryImage) {
    Tensor src(Dims{2, 1, 3, 4});
    for (std::int64_t i = 0; i < src.dims().count(); ++i) src.data()[i] = float(i);
    std::vector<float> dst(2 * 2 * 3);
    crop(src, Dims{2, 1, 2, 3}, dst.data());
    const std::vector<float> want{0, 1, 2, 4, 5, 6, 12, 13, 14, 16, 17, 18};
    EXPECT_EQ(dst, want);
}

TEST(Crop, RejectsASourceThatDoesNotHoldTheWindow) {
    // The destination is sized for the window: a source of other images or channels, or a
    // smaller one, must be refused before anything is written.
    const Tensor src(Dims{2, 3, 8, 8});
    std::vector<float> dst(4 * 3 * 8 * 8, -1.f);
    EXPECT_THROW(crop(src, Dims{1, 3, 8, 8}, dst.data()), ShapeError);
    EXPECT_THROW(crop(src, Dims{2, 1, 8, 8}, dst.data()), ShapeError);
    EXPECT_THROW(crop(src, Dims{2, 3, 9, 8}, dst.data()), ShapeError);
    EXPECT_THROW(crop(src, Dims{2, 3, 8, 9}, dst.data()), ShapeError);
    EXPECT_THROW(crop(src, Dims{4, 3, 8, 8}, dst.data()), ShapeError);
    for (float v : dst) ASSERT_EQ(v, -1.f);
}

TEST(ForwardPadded, RejectsANetworkWhoseOutputIsNotWhatTheCallerSizedFor) {
    Network net;
    net.add_input("input", 1);
    ConvolutionConfig two;
    two.filters = 2;
    net.add<ConvolutionLayer>({"input"}, "conv2d", two);
    net.build({Dims{1, 1, 8, 8}});
    net.initialize(1);
    Context ctx;
    const std::vector<float> input(6 * 6, 1.f);
    std::vector<float> one_channel(6 * 6, -1.f), two_channels(2 * 6 * 6, -1.f);
    Tensor padded;
    EXPECT_THROW(
        forward_padded(ctx, net, input.data(), Dims{1, 1, 6, 6}, 1, 4, padded, one_channel.data()),
        ShapeError);
    for (float v : one_channel) ASSERT_EQ(v, -1.f);
    forward_padded(ctx, net, input.data(), Dims{1, 1, 6, 6}, 2, 4, padded, two_channels.data());
    for (float v : two_channels) ASSERT_NE(v, -1.f);
}

}  // namespace
