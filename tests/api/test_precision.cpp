// ApplyOptions::precision: bf16 inference of the published Keras models against the fixture of an
// independent implementation (../shared), bf16 activations between layers, and the names.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "api/model_impl.hpp"
#include "io/hdf5.hpp"
#include "layers/convolution.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/precision.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

// The largest |got - want| as a fraction of want's range.
double worst_error_of_range(const std::vector<float>& got, const std::vector<float>& want) {
    const auto [low, high] = std::minmax_element(want.begin(), want.end());
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(double(got[i]) - double(want[i])));
    return worst / (double(*high) - double(*low));
}

Model load_bf16(const std::string& path) {
    ApplyOptions options;
    options.precision = Precision::bf16;
    return Model::load(path, options);
}

bool cpu_runs_bf16() {
    return cpu_bf16_support() != Bf16Support::none;
}

struct Reference {
    const char* model;
    const char* input;  // the fixture's input dataset for this model's value range
};

class Bf16KerasReference : public ::testing::TestWithParam<Reference> {};

TEST_P(Bf16KerasReference, StaysWithinOnePercentOfTheOutputRange) {
    const auto& p = GetParam();
    TOMODENOISE_SHARED_FILE_OR_SKIP(model_path, std::string("models/keras/") + p.model + ".h5");
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, "fixtures/keras_reference_256.h5");
    const auto file = hdf5::File::open_read(fixture.string());
    const auto input = hdf5::read_float_dataset(file, std::string("/") + p.input);
    const auto want = hdf5::read_float_dataset(file, std::string("/output/") + p.model);
    ASSERT_EQ(input.dims, (std::vector<std::int64_t>{1, 1, 256, 256}));

    Model model = load_bf16(model_path.string());
    std::vector<float> got(want.values.size());
    model.apply(input.values.data(), 1, 256, 256, got.data());
    EXPECT_TRUE(within_fraction_of_range(got, want.values, 1e-2)) << p.model;
    const double worst = worst_error_of_range(got, want.values);
    std::cout << p.model << " in bf16: largest error " << worst << " of the output range\n";
    RecordProperty("bf16_worst_error_of_range", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(PublishedModels, Bf16KerasReference,
                         ::testing::Values(Reference{"TomoGAN", "input_0_255"},
                                           Reference{"TomoGAN-toy", "input_0_255"},
                                           Reference{"dn-mdl-toy", "input_0_1"}),
                         [](const auto& info) {
                             std::string n = info.param.model;
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

// TomoGAN's layers between its narrow input and output layers (1->8, 8->32; 16->1) compute in
// bf16 and pass bf16 on: the conversions are at the network's edges.
TEST(Bf16Inference, ActivationsStayBf16AndTheSkipConcatenationsCostNoCopy) {
    if (!cpu_runs_bf16()) GTEST_SKIP() << "no AVX-512: bf16 computes in f32 here";
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "models/keras/TomoGAN.h5");
    Model model = load_bf16(path.string());
    const auto x = random_values(64 * 64, 21, 0.f, 255.f);
    std::vector<float> y(x.size()), again(x.size());
    model.apply(x.data(), 1, 64, 64, y.data());  // the first run plans the concatenations
    model.apply(x.data(), 1, 64, 64, again.data());
    EXPECT_EQ(y, again);  // written in place, the skips are the same values
    using dt = dnnl::memory::data_type;
    int bf16_convolutions = 0, elided = 0, concatenations = 0;
    const auto& nodes = model_impl(model).network.nodes();
    for (const auto& node : nodes) {
        if (!node.layer) continue;
        if (node.layer->concatenates_channels()) {
            ++concatenations;
            elided += node.elided;
        }
        if (node.elided) continue;
        const Tensor& out = node.alias.empty() ? node.output : node.alias;
        if (auto* conv = dynamic_cast<ConvolutionLayer*>(node.layer.get())) {
            const bool wide = conv->input_channels() >= 16 && conv->config().filters >= 16;
            EXPECT_EQ(out.type(), wide ? dt::bf16 : dt::f32) << node.name;
            bf16_convolutions += wide;
            EXPECT_NE(conv->implementation().rfind("ref", 0), 0u)
                << node.name << " runs oneDNN's reference kernel";
        } else {
            // Pooling, upsampling and concatenation keep their inputs' bf16.
            EXPECT_EQ(out.type(), dt::bf16) << node.name;
        }
    }
    EXPECT_EQ(bf16_convolutions, 13);
    EXPECT_EQ(concatenations, 3);
    // Where oneDNN keeps bf16 activations in nChw16c (AVX-512 kernels), every skip connection
    // is written in place; brgemm kernels (AMX) may choose channels-last, which cannot.
    const auto& pooled = model_impl(model).network.nodes()[4];
    ASSERT_EQ(pooled.layer->type(), "MaxPooling2D");
    if (pooled.output.desc() == blocked_desc(pooled.dims, dt::bf16)) {
        EXPECT_EQ(elided, concatenations);
    }
}

// The steady state (no primitive, no allocation) and images in parallel are checked in both
// precisions in tests/keras/test_keras_models.cpp.

TEST(Precision, NamesReadBackAndOthersAreRefusedNamingThem) {
    for (Precision p : {Precision::f32, Precision::bf16})
        EXPECT_EQ(parse_precision(to_string(p)), p);
    expect_error_naming<InvalidArgument>([] { parse_precision("fp16"); },
                                         {"'fp16'", "f32", "bf16"});
}

TEST(Precision, Bf16OnACpuWithoutAvx512ComputesInF32) {
    Context ctx;
    ctx.set_precision(Precision::bf16);
    EXPECT_EQ(ctx.precision(),
              cpu_bf16_support() == Bf16Support::none ? Precision::f32 : Precision::bf16);
}

}  // namespace
