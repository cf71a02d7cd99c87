// The published Keras models (../shared/models/keras) against outputs computed by an
// independent implementation (../shared/fixtures/keras_reference_256.h5).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "api/model_impl.hpp"
#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/precision.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

struct Reference {
    const char* model;
    const char* input;  // the fixture's input dataset for this model's value range
};

class KerasReference : public ::testing::TestWithParam<Reference> {};

TEST_P(KerasReference, LibraryCallReproducesTheFixture) {
    const auto& p = GetParam();
    TOMODENOISE_SHARED_FILE_OR_SKIP(model_path, std::string("models/keras/") + p.model + ".h5");
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, "fixtures/keras_reference_256.h5");
    const auto file = hdf5::File::open_read(fixture.string());
    const auto input = hdf5::read_float_dataset(file, std::string("/") + p.input);
    const auto want = hdf5::read_float_dataset(file, std::string("/output/") + p.model);
    ASSERT_EQ(input.dims, (std::vector<std::int64_t>{1, 1, 256, 256}));

    for (bool direct : {false, true}) {
        ApplyOptions options;
        options.direct_convolution = direct;
        Model model = Model::load(model_path.string(), options);
        EXPECT_EQ(model.input_channels(), 1);
        EXPECT_EQ(model.output_channels(), 1);
        std::vector<float> got(want.values.size());
        model.apply(input.values.data(), 1, 256, 256, got.data());
        EXPECT_TRUE(within_fraction_of_range(got, want.values, 1e-4))
            << p.model << (direct ? " (direct)" : " (winograd)");
    }
}

INSTANTIATE_TEST_SUITE_P(PublishedModels, KerasReference,
                         ::testing::Values(Reference{"TomoGAN", "input_0_255"},
                                           Reference{"TomoGAN-toy", "input_0_255"},
                                           Reference{"dn-mdl-toy", "input_0_1"}),
                         [](const auto& info) {
                             std::string n = info.param.model;
                             std::replace(n.begin(), n.end(), '-', '_');
                             return n;
                         });

TEST(KerasModels, OddSizesWorkWithEveryModel) {
    for (const char* name : {"TomoGAN", "TomoGAN-toy", "dn-mdl-toy"}) {
        TOMODENOISE_SHARED_FILE_OR_SKIP(path, std::string("models/keras/") + name + ".h5");
        Model model = Model::load(path.string());
        for (auto [h, w] :
             {std::pair<std::int64_t, std::int64_t>{1000, 750}, {37, 53}, {1, 1}, {5, 130}}) {
            const auto x = random_values(static_cast<std::size_t>(h * w), 3, 0.f, 1.f);
            std::vector<float> y(x.size(), std::nanf(""));
            model.apply(x.data(), 1, h, w, y.data());
            EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); }))
                << name << " " << h << "x" << w;
        }
    }
}

// In either precision (bf16 keeps its activations in bf16 between layers).
TEST(KerasModels, SteadyStateApplyCreatesNoPrimitiveAndAllocatesNoTensor) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "models/keras/TomoGAN-toy.h5");
    for (Precision precision : {Precision::f32, Precision::bf16}) {
        SCOPED_TRACE(to_string(precision));
        ApplyOptions options;
        options.precision = precision;
        Model model = Model::load(path.string(), options);
        const auto x = random_values(2 * 61 * 75, 8, 0.f, 255.f);
        std::vector<float> y(x.size());
        model.apply(x.data(), 2, 61, 75, y.data());
        const auto& cache = model_impl(model).context.cache();
        const auto misses = cache.misses();
        const auto allocations = tensor_allocation_count();
        std::vector<float> again(x.size());
        model.apply(x.data(), 2, 61, 75, again.data());
        EXPECT_EQ(cache.misses(), misses);
        EXPECT_EQ(tensor_allocation_count(), allocations);
        EXPECT_EQ(y, again);
    }
}

TEST(KerasModels, ImagesInParallelGiveTheSameOutputs) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "models/keras/TomoGAN.h5");
    // Thread counts change the summation order: f32 rounds differently in the last bits, bf16
    // (f32 accumulation, bf16 activations) more.
    const std::pair<Precision, double> cases[] = {{Precision::f32, 1e-5}, {Precision::bf16, 1e-2}};
    for (const auto& [precision, tolerance] : cases) {
        SCOPED_TRACE(to_string(precision));
        ApplyOptions options;
        options.precision = precision;
        options.threads = 2;
        Model one = Model::load(path.string(), options);
        options.parallel_images = 2;
        Model side_by_side = Model::load(path.string(), options);
        const std::int64_t n = 3, h = 45, w = 61;
        const auto x = random_values(static_cast<std::size_t>(n * h * w), 12, 0.f, 255.f);
        std::vector<float> a(x.size()), b(x.size());
        one.apply(x.data(), n, h, w, a.data());
        side_by_side.apply(x.data(), n, h, w, b.data());
        EXPECT_TRUE(within_fraction_of_range(b, a, tolerance));
        for (const auto& copy : model_impl(side_by_side).copies)
            EXPECT_EQ(copy->context.precision(), model_impl(one).context.precision());
        options.parallel_images = 0;
        EXPECT_THROW(Model::load(path.string(), options), InvalidArgument);
    }
}

TEST(KerasModels, SizeMultipleFollowsThePoolingDepth) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "models/keras/dn-mdl-toy.h5");
    Model model = Model::load(path.string());
    EXPECT_EQ(model.size_multiple(), 1);
    TOMODENOISE_SHARED_FILE_OR_SKIP(tomogan, "models/keras/TomoGAN.h5");
    EXPECT_EQ(Model::load(tomogan.string()).size_multiple(), 8);
}

TEST(KerasModels, ExportThenImportIsBitExact) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "models/keras/TomoGAN-toy.h5");
    ScratchDir dir;
    Network original = load_network(path.string());
    save_network(dir.file("exported.h5"), original);
    Network again = load_network(dir.file("exported.h5"));
    auto a = original.parameters(), b = again.parameters();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k)
        ASSERT_TRUE(std::equal(a[k]->value(), a[k]->value() + a[k]->size(), b[k]->value()));
    Model m1 = Model::load(path.string()), m2 = Model::load(dir.file("exported.h5"));
    const auto x = random_values(64 * 72, 5, 0.f, 255.f);
    std::vector<float> y1(x.size()), y2(x.size());
    m1.apply(x.data(), 1, 64, 72, y1.data());
    m2.apply(x.data(), 1, 64, 72, y2.data());
    EXPECT_EQ(y1, y2);
    // Plain Keras layout: the root attributes Keras reads.
    const auto file = hdf5::File::open_read(dir.file("exported.h5"));
    for (const char* attr : {"model_config", "keras_version", "backend"})
        EXPECT_TRUE(hdf5::attribute_exists(file, "/", attr)) << attr;
    const std::string config = hdf5::read_string_attribute(file, "/", "model_config");
    EXPECT_NE(config.find("\"interpolation\":\"bilinear\""), std::string::npos);
}

TEST(KerasModels, UnsupportedLayerIsNamedWithItsClass) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(path, "models/keras/dn-mdl-toy.h5");
    ScratchDir dir;
    const std::string copy = dir.file("bad.h5");
    std::filesystem::copy_file(path, copy);
    {
        auto file = hdf5::File::open_read_write(copy);
        std::string config = hdf5::read_string_attribute(file, "/", "model_config");
        const auto at = config.find("\"Conv2D\"", config.find("conv2d_2"));
        ASSERT_NE(at, std::string::npos);
        config.replace(at, 8, "\"BatchNormalization\"");
        hdf5::write_string_attribute(file, "/", "model_config", config,
                                     hdf5::StringStorage::variable);
        file.close();
    }
    try {
        Model::load(copy);
        FAIL() << "loaded a model with a BatchNormalization layer";
    } catch (const FormatError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("BatchNormalization"), std::string::npos) << msg;
        EXPECT_NE(msg.find("bad.h5"), std::string::npos) << msg;
    }
}

}  // namespace
