// The public Model API against outputs of the published Keras models computed by an independent
// implementation (shared/fixtures/keras_reference_256.h5).

#include <gtest/gtest.h>

#include "io/hdf5.hpp"
#include "test_support.hpp"
#include "tomodenoise/model.hpp"
#include "tool_support.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

TEST(KerasReference, DnMdlToyApplyReproducesTheFixture) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(model_path, "models/keras/dn-mdl-toy.h5");
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture_path, "fixtures/keras_reference_256.h5");
    const auto fixture = hdf5::File::open_read(fixture_path.string());
    const hdf5::FloatArray input = hdf5::read_float_dataset(fixture, "/input_0_1");
    const hdf5::FloatArray want = hdf5::read_float_dataset(fixture, "/output/dn-mdl-toy");
    ASSERT_EQ(input.dims, (std::vector<std::int64_t>{1, 1, 256, 256}));
    ASSERT_EQ(want.dims, input.dims);

    Model model = Model::load(model_path.string());
    ASSERT_EQ(model.input_channels(), 1);
    ASSERT_EQ(model.output_channels(), 1);
    std::vector<float> got(want.values.size());
    model.apply(input.values.data(), 1, 256, 256, got.data());
    EXPECT_TRUE(within_fraction_of_range(got, want.values, 1e-4));
}
