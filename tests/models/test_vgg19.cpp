// VGG19 without top: Keras's layer names and shapes, loading Keras's notop weights layout
// (a fake file with random weights written here), errors naming the file and layer, and
// Keras's preprocess_input for gray images.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "keras/vgg19_weights.hpp"
#include "model_checks.hpp"
#include "models/vgg19.hpp"
#include "tomodenoise/error.hpp"
#include "vgg19_weights_file.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TEST(Vgg19, LayersAreKerasVgg19WithoutTop) {
    Network vgg = build_vgg19_features();
    std::vector<std::string> names;
    for (const auto& node : vgg.nodes()) names.push_back(node.name);
    EXPECT_EQ(names, vgg19_layer_names());
    EXPECT_EQ(vgg.input_channels(), 3);
    for (const auto& c : vgg19_convolutions()) {
        const auto config = keras_layer_config(vgg.layer(c.name));
        EXPECT_EQ(config.at("filters"), c.out) << c.name;
        EXPECT_EQ(config.at("kernel_size"), nlohmann::json({3, 3})) << c.name;
        EXPECT_EQ(config.at("padding"), "same") << c.name;
        EXPECT_EQ(config.at("activation"), "relu") << c.name;
        EXPECT_EQ(vgg.layer(c.name).parameters().at(0)->shape(),
                  (std::vector<std::int64_t>{c.out, c.in, 3, 3}));
    }
    for (int b = 1; b <= 5; ++b) {
        const auto config = keras_layer_config(vgg.layer("block" + std::to_string(b) + "_pool"));
        EXPECT_EQ(config.at("pool_size"), nlohmann::json({2, 2}));
        EXPECT_EQ(config.at("strides"), nlohmann::json({2, 2}));
        EXPECT_EQ(config.at("padding"), "valid");
    }
    // Keras's model.summary() for VGG19(include_top=False).
    EXPECT_EQ(vgg.parameter_count(), 20024384);
    EXPECT_EQ(vgg.output_names(), std::vector<std::string>{"block5_pool"});
    EXPECT_EQ(vgg.build({Dims{2, 3, 64, 75}}).at(0), (Dims{2, 512, 2, 2}));
}

TEST(Vgg19, LoadsKerasNotopWeightsBitExactly) {
    ScratchDir dir;
    const std::string path = dir.file("vgg19_notop.h5");
    const auto layers = random_vgg19_layers();
    write_keras_weights(path, "", layers);
    Network vgg = build_vgg19_features();
    load_vgg19_weights(vgg, path);
    for (const auto& layer : layers) {
        if (layer.weights.empty()) continue;
        auto params = vgg.layer(layer.name).parameters();
        const auto& kernel = layer.weights[0];  // (y, x, in, out)
        const auto& bias = layer.weights[1];
        const std::int64_t in = kernel.dims[2], out = kernel.dims[3];
        const float* ours = params.at(0)->value();  // (out, in, y, x)
        bool same = true;
        for (std::int64_t o = 0; o < out; ++o)
            for (std::int64_t i = 0; i < in; ++i)
                for (std::int64_t y = 0; y < 3; ++y)
                    for (std::int64_t x = 0; x < 3; ++x)
                        same &= ours[((o * in + i) * 3 + y) * 3 + x] ==
                                kernel.values[((y * 3 + x) * in + i) * out + o];
        EXPECT_TRUE(same) << layer.name << " kernel";
        EXPECT_TRUE(std::equal(bias.values.begin(), bias.values.end(), params.at(1)->value()))
            << layer.name << " bias";
    }
}

TEST(Vgg19, ExportsInKerasLayoutAndLoadsWeightsFromAWholeModelFile) {
    Network vgg = build_vgg19_features();
    const Tensor x = random_tensor(Dims{1, 3, 32, 32}, 5, -100.f, 150.f);
    expect_export_round_trip(vgg, x);

    // save_network writes Keras's whole-model layout: the weights under /model_weights.
    ScratchDir dir;
    save_network(dir.file("vgg19.h5"), vgg);
    Vgg19Config other;
    other.seed = 99;
    Network again = build_vgg19_features(other);
    load_vgg19_weights(again, dir.file("vgg19.h5"));
    const auto a = vgg.parameters(), b = again.parameters();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k)
        EXPECT_TRUE(std::equal(a[k]->value(), a[k]->value() + a[k]->size(), b[k]->value()));
}

std::string load_error(const std::string& path) {
    Network vgg = build_vgg19_features();
    try {
        load_vgg19_weights(vgg, path);
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

bool names_all(const std::string& message, const std::vector<std::string>& parts) {
    return std::all_of(parts.begin(), parts.end(),
                       [&](const std::string& p) { return message.find(p) != std::string::npos; });
}

TEST(Vgg19, WeightsThatDoNotFitAreNamedWithTheFileAndLayer) {
    ScratchDir dir;
    const auto first_conv = [](std::vector<std::int64_t> kernel_dims) {
        const std::int64_t out = kernel_dims.back();
        return StoredLayer{"block1_conv1", {random_array(kernel_dims, 1), random_array({out}, 2)}};
    };

    const std::string missing = dir.file("only_first.h5");
    write_keras_weights(missing, "", {{"input_1", {}}, first_conv({3, 3, 3, 64})});
    std::string msg = load_error(missing);
    EXPECT_TRUE(names_all(msg, {"only_first.h5", "block1_conv2"})) << msg;

    const std::string wrong_dims = dir.file("wrong_dims.h5");
    write_keras_weights(wrong_dims, "", {first_conv({3, 3, 3, 32})});
    msg = load_error(wrong_dims);
    EXPECT_TRUE(names_all(msg, {"wrong_dims.h5", "block1_conv1", "(3, 3, 3, 32)", "(3, 3, 3, 64)"}))
        << msg;

    const std::string with_top = dir.file("with_top.h5");
    write_keras_weights(with_top, "", {{"fc1", {random_array({8, 4}, 3), random_array({4}, 4)}}});
    msg = load_error(with_top);
    EXPECT_TRUE(names_all(msg, {"with_top.h5", "fc1", "notop"})) << msg;

    const std::string not_weights = dir.file("not_weights.h5");
    hdf5::File::create(not_weights).close();
    msg = load_error(not_weights);
    EXPECT_TRUE(names_all(msg, {"not_weights.h5", "layer_names"})) << msg;

    Network vgg = build_vgg19_features();
    EXPECT_THROW(load_vgg19_weights(vgg, dir.file("absent.h5")), IoError);
}

TEST(Vgg19, PreprocessGrayIsKerasPreprocessInputOfTheReplicatedImage) {
    const Dims dims{2, 1, 3, 5};
    const Tensor gray = random_tensor(dims, 12, 0.f, 255.f);
    Tensor bgr;
    vgg19_preprocess_gray(gray, bgr);
    ASSERT_EQ(bgr.dims(), (Dims{2, 3, 3, 5}));
    // Keras (mode 'caffe'): x[..., ::-1] then x[..., c] -= mean[c], mean = BGR ImageNet means.
    const double mean[3] = {103.939, 116.779, 123.68};
    std::vector<double> want;
    for (std::int64_t n = 0; n < dims.n; ++n)
        for (int c = 0; c < 3; ++c)
            for (std::int64_t y = 0; y < dims.h; ++y)
                for (std::int64_t x = 0; x < dims.w; ++x) {
                    const double rgb[3] = {gray.at(n, 0, y, x), gray.at(n, 0, y, x),
                                           gray.at(n, 0, y, x)};
                    want.push_back(rgb[2 - c] - mean[c]);
                }
    const std::vector<float> got(bgr.data(), bgr.data() + bgr.dims().count());
    EXPECT_TRUE(near_all(got, want, 1e-6));

    Tensor three(Dims{1, 3, 4, 4});
    try {
        vgg19_preprocess_gray(three, bgr);
        FAIL() << "preprocessed a 3-channel image as gray";
    } catch (const ShapeError& e) {
        EXPECT_NE(std::string(e.what()).find("[1, 3, 4, 4]"), std::string::npos) << e.what();
    }
}

TEST(Vgg19, PreprocessGrayBackwardIsTheAdjoint) {
    // The preprocessing is affine, P(g) = A g - m: <d, A e> = <A^T d, e> for any d, e.
    const Dims dims{2, 1, 4, 7};
    const Tensor diff_bgr = random_tensor(Dims{2, 3, 4, 7}, 3, 0.f, 1.f);
    const Tensor e = random_tensor(dims, 4, 0.f, 1.f);
    Tensor zero(dims), p_e, p_zero, diff_gray;
    vgg19_preprocess_gray(e, p_e);
    vgg19_preprocess_gray(zero, p_zero);
    vgg19_preprocess_gray_backward(diff_bgr, diff_gray);
    ASSERT_EQ(diff_gray.dims(), dims);
    double lhs = 0, rhs = 0;
    for (std::int64_t i = 0; i < diff_bgr.dims().count(); ++i)
        lhs += double(diff_bgr.data()[i]) * (double(p_e.data()[i]) - p_zero.data()[i]);
    for (std::int64_t i = 0; i < dims.count(); ++i)
        rhs += double(diff_gray.data()[i]) * e.data()[i];
    EXPECT_NEAR(lhs, rhs, 1e-4 * std::max(1.0, std::abs(lhs)));
    EXPECT_GT(lhs, 10.0);  // 168 products of values in [0, 1): not a vanishing sum
    EXPECT_THROW(vgg19_preprocess_gray_backward(e, diff_gray), ShapeError);
}

}  // namespace
