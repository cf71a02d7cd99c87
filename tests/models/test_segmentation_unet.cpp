// The segmentation U-Net builder: the generator's architecture with one output per class,
// a channel softmax (or the logits), and Keras export.

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "model_checks.hpp"
#include "models/segmentation_unet.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

SegmentationUnetConfig small_unet(std::int64_t classes, bool with_softmax) {
    SegmentationUnetConfig config;
    config.levels = 2;
    config.classes = classes;
    config.with_softmax = with_softmax;
    return config;
}

TEST(SegmentationUnet, SoftmaxOutputIsAProbabilityPerPixel) {
    Network net = build_segmentation_unet(small_unet(3, true));
    EXPECT_EQ(net.output_names(), std::vector<std::string>{"activation"});
    EXPECT_EQ(keras_layer_config(net.layer("activation")).at("activation"), "softmax");
    const Tensor x = random_tensor(Dims{2, 1, 12, 16}, 7, 0.f, 255.f);
    const auto p = run(net, x);
    ASSERT_EQ(p.size(), 2u * 3 * 12 * 16);
    const std::size_t plane = 12 * 16;
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t i = 0; i < plane; ++i) {
            double sum = 0;
            for (std::size_t c = 0; c < 3; ++c) {
                const float v = p[(n * 3 + c) * plane + i];
                ASSERT_TRUE(v > 0.f && v < 1.f) << v;
                sum += v;
            }
            ASSERT_NEAR(sum, 1.0, 1e-5) << "pixel " << i << " of image " << n;
        }
    EXPECT_TRUE(varies(p));
}

TEST(SegmentationUnet, SoftmaxOfTheLogitsNetwork) {
    // Same seed, same weights: the softmax network's output is the softmax of the logits one's.
    Network probabilities = build_segmentation_unet(small_unet(4, true));
    Network logits = build_segmentation_unet(small_unet(4, false));
    EXPECT_FALSE(logits.has_node("activation"));
    // Two levels: 1 + 4 * 2 + 1 + 2 convolutions, the last one "conv2d_11".
    EXPECT_EQ(logits.output_names(), std::vector<std::string>{"conv2d_11"});
    EXPECT_EQ(logits.parameter_count(), probabilities.parameter_count());
    const Tensor x = random_tensor(Dims{1, 1, 8, 12}, 2, 0.f, 255.f);
    const auto z = run(logits, x), p = run(probabilities, x);
    ASSERT_EQ(z.size(), p.size());
    EXPECT_TRUE(varies(z));
    const std::size_t plane = 8 * 12;
    std::vector<double> want(z.size());
    for (std::size_t i = 0; i < plane; ++i) {
        double top = z[i], sum = 0;
        for (std::size_t c = 1; c < 4; ++c) top = std::max(top, double(z[c * plane + i]));
        for (std::size_t c = 0; c < 4; ++c) sum += std::exp(z[c * plane + i] - top);
        for (std::size_t c = 0; c < 4; ++c)
            want[c * plane + i] = std::exp(z[c * plane + i] - top) / sum;
    }
    EXPECT_TRUE(near_all(p, want, 1e-5));
}

TEST(SegmentationUnet, IsTheGeneratorWithOneOutputPerClass) {
    SegmentationUnetConfig config;
    config.depth = 3;
    config.classes = 5;
    config.upsampling = UnetUpsampling::bilinear;
    Network net = build_segmentation_unet(config);
    TomoGanGeneratorConfig generator_config;
    generator_config.depth = 3;
    generator_config.output_channels = 5;
    generator_config.upsampling = UnetUpsampling::bilinear;
    Network generator = build_tomogan_generator(generator_config);
    ASSERT_EQ(net.nodes().size(), generator.nodes().size() + 1);
    for (std::size_t i = 0; i < generator.nodes().size(); ++i)
        EXPECT_EQ(net.nodes()[i].name, generator.nodes()[i].name);
    expect_same_parameter_shapes(net, generator);
    EXPECT_EQ(net.build({Dims{1, 3, 16, 8}}).at(0), (Dims{1, 5, 16, 8}));
}

TEST(SegmentationUnet, ExportsInKerasLayout) {
    for (bool with_softmax : {true, false}) {
        Network net = build_segmentation_unet(small_unet(3, with_softmax));
        expect_export_round_trip(net, random_tensor(Dims{1, 1, 8, 12}, 9, 0.f, 1.f));
    }
}

TEST(SegmentationUnet, NeedsTwoClasses) {
    try {
        build_segmentation_unet(small_unet(1, true));
        FAIL() << "built a one-class segmentation network";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("classes"), std::string::npos) << e.what();
    }
    SegmentationUnetConfig config;
    config.levels = 0;
    EXPECT_THROW(build_segmentation_unet(config), InvalidArgument);
}

}  // namespace
