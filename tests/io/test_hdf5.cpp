// The internal HDF5 wrapper: round trips of what Keras model files and stacks need, the
// published Keras file's layout, and errors that name the file and object.

#include "io/hdf5.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise::hdf5 {
namespace {

using tomodenoise::testing::expect_error_naming;
using tomodenoise::testing::folder_entries;
using tomodenoise::testing::ScratchDir;

TEST(Hdf5, FloatDatasetOfRankFourRoundTrips) {
    ScratchDir dir;
    const std::vector<std::int64_t> dims = {3, 3, 2, 5};
    const std::vector<float> values = tomodenoise::testing::random_values(90, 7);
    {
        File file = File::create(dir.file("w.h5"));
        write_float_dataset(file, "/model_weights/conv/conv/kernel:0", dims, values.data());
        file.close();
    }
    const File file = File::open_read(dir.file("w.h5"));
    const FloatArray read = read_float_dataset(file, "/model_weights/conv/conv/kernel:0");
    EXPECT_EQ(read.dims, dims);
    EXPECT_EQ(read.values, values);
}

TEST(Hdf5, Float64DatasetReadsAsFloat32) {
    ScratchDir dir;
    const std::vector<double> values = {1.5, -2.25, 1e-3};
    {
        const File file = File::create(dir.file("d.h5"));
        const Dataset dataset = Dataset::create(file, "/d", H5T_IEEE_F64LE, {3});
        dataset.write(H5T_NATIVE_DOUBLE, values.data());
    }
    const FloatArray read = read_float_dataset(File::open_read(dir.file("d.h5")), "/d");
    ASSERT_EQ(read.values.size(), 3u);
    for (std::size_t i = 0; i < values.size(); ++i)
        EXPECT_EQ(read.values[i], static_cast<float>(values[i]));
}

// Keras training files hold scalar datasets (the optimizer's iteration count).
TEST(Hdf5, ScalarDatasetReadsAsOneValue) {
    ScratchDir dir;
    {
        const File file = File::create(dir.file("scalar.h5"));
        const float value = 42.5f;
        write_float_dataset(file, "/optimizer_weights/iterations:0", {}, &value);
    }
    const File file = File::open_read(dir.file("scalar.h5"));
    const FloatArray read = read_float_dataset(file, "/optimizer_weights/iterations:0");
    EXPECT_TRUE(read.dims.empty());
    EXPECT_EQ(read.values, std::vector<float>{42.5f});
}

TEST(Hdf5, LinksAndChildren) {
    ScratchDir dir;
    const File file = File::create(dir.file("g.h5"));
    create_groups(file, "/a/b/c");
    create_groups(file, "/a/b/c");  // existing groups are kept
    create_groups(file, "/a/x");
    const float one = 1.f;
    write_float_dataset(file, "/a/d", {1}, &one);

    EXPECT_TRUE(link_exists(file, "/"));
    EXPECT_TRUE(link_exists(file, "/a/b/c"));
    EXPECT_TRUE(link_exists(file, "/a/d"));
    EXPECT_FALSE(link_exists(file, "/a/b/missing"));
    EXPECT_FALSE(link_exists(file, "/missing/deeper/still"));
    EXPECT_EQ(child_names(file, "/a"), (std::vector<std::string>{"b", "d", "x"}));
    EXPECT_EQ(child_names(file, "/a/b/c"), std::vector<std::string>{});

    unlink(file, "/a/d");
    EXPECT_FALSE(link_exists(file, "/a/d"));
}

TEST(Hdf5, StringAttributesRoundTripInBothStorages) {
    ScratchDir dir;
    // Longer than any fixed buffer a reader might assume, with JSON's quotes and braces.
    std::string config = "{\"class_name\": \"Model\", \"layers\": [";
    for (int i = 0; i < 300; ++i) config += "{\"name\": \"conv2d_" + std::to_string(i) + "\"},";
    config += "{}]}";
    {
        const File file = File::create(dir.file("s.h5"));
        create_groups(file, "/model_weights");
        write_string_attribute(file, "/", "model_config", config, StringStorage::fixed);
        write_string_attribute(file, "/", "backend", "tensorflow", StringStorage::variable);
        write_string_attribute(file, "/model_weights", "empty", "");
        // Replacing an attribute must work (HDF5 refuses to create one that exists).
        write_string_attribute(file, "/", "backend", "tensorflow2", StringStorage::fixed);
    }
    const File file = File::open_read(dir.file("s.h5"));
    EXPECT_EQ(read_string_attribute(file, "/", "model_config"), config);
    EXPECT_EQ(read_string_attribute(file, "/", "backend"), "tensorflow2");
    EXPECT_EQ(read_string_attribute(file, "/model_weights", "empty"), "");
    EXPECT_TRUE(attribute_exists(file, "/", "backend"));
    EXPECT_FALSE(attribute_exists(file, "/", "missing"));
}

TEST(Hdf5, StringListAttributesRoundTripInBothStorages) {
    ScratchDir dir;
    const std::vector<std::string> names = {"conv2d_1/kernel:0", "conv2d_1/bias:0", "", "x"};
    {
        const File file = File::create(dir.file("l.h5"));
        write_string_list_attribute(file, "/", "fixed", names, StringStorage::fixed);
        write_string_list_attribute(file, "/", "variable", names, StringStorage::variable);
        write_string_list_attribute(file, "/", "none", {}, StringStorage::fixed);
    }
    const File file = File::open_read(dir.file("l.h5"));
    EXPECT_EQ(read_string_list_attribute(file, "/", "fixed"), names);
    EXPECT_EQ(read_string_list_attribute(file, "/", "variable"), names);
    EXPECT_EQ(read_string_list_attribute(file, "/", "none"), std::vector<std::string>{});
    expect_error_naming<FormatError>([&] { read_string_attribute(file, "/", "fixed"); },
                                     {"l.h5", "fixed", "4 strings"});
}

// Other writers pad fixed-length strings with spaces (Fortran, MATLAB) or terminate them.
TEST(Hdf5, FixedStringPaddingsAreTrimmed) {
    ScratchDir dir;
    const std::string path = dir.file("p.h5");
    {
        const File file = File::create(path);
        const std::pair<const char*, H5T_str_t> paddings[] = {{"space", H5T_STR_SPACEPAD},
                                                              {"term", H5T_STR_NULLTERM}};
        for (const auto& [name, padding] : paddings) {
            Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
            ASSERT_GE(H5Tset_size(type.id(), 8), 0);
            ASSERT_GE(H5Tset_strpad(type.id(), padding), 0);
            Handle space(H5Screate(H5S_SCALAR), H5Sclose);
            Handle attribute(
                H5Acreate2(file.id(), name, type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
                H5Aclose);
            const char bytes[8] = {'a', 'b', 'c', padding == H5T_STR_SPACEPAD ? ' ' : '\0',
                                   ' ', ' ', ' ', ' '};
            ASSERT_GE(H5Awrite(attribute.id(), type.id(), bytes), 0);
        }
    }
    const File file = File::open_read(path);
    EXPECT_EQ(read_string_attribute(file, "/", "space"), "abc");
    EXPECT_EQ(read_string_attribute(file, "/", "term"), "abc");
}

TEST(Hdf5, DatasetBoxesMatchTheWholeAndAreChecked) {
    ScratchDir dir;
    const std::vector<float> values = tomodenoise::testing::random_values(4 * 5 * 6, 3);
    const File file = File::create(dir.file("b.h5"));
    const Dataset dataset =
        Dataset::create(file, "/g/v", H5T_IEEE_F32LE, {4, 5, 6}, {{1, 5, 6}, 4});
    dataset.write(H5T_NATIVE_FLOAT, values.data());

    std::vector<float> box(2 * 3 * 2);
    dataset.read(H5T_NATIVE_FLOAT, {1, 2, 3}, {2, 3, 2}, box.data());
    for (int n = 0; n < 2; ++n)
        for (int y = 0; y < 3; ++y)
            for (int x = 0; x < 2; ++x)
                EXPECT_EQ(box[(n * 3 + y) * 2 + x], values[((1 + n) * 5 + 2 + y) * 6 + 3 + x]);

    expect_error_naming<InvalidArgument>(
        [&] {
            dataset.read(H5T_NATIVE_FLOAT, {3, 0, 0}, {2, 5, 6}, box.data());
        },
        {"b.h5:/g/v", "(4, 5, 6)", "(3, 0, 0)"});
    expect_error_naming<InvalidArgument>(
        [&] {
            Dataset::create(file, "/z", H5T_IEEE_F32LE, {4}, {{}, 5});
        },
        {"b.h5:/z", "chunk"});
}

TEST(Hdf5, HandleClosesOnceAndMoves) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    const hid_t id = space.id();
    EXPECT_GT(H5Iis_valid(id), 0);
    Handle moved = std::move(space);
    EXPECT_FALSE(space.valid());
    EXPECT_EQ(moved.id(), id);
    moved.reset();
    EXPECT_FALSE(moved.valid());
    EXPECT_LE(H5Iis_valid(id), 0);
}

TEST(Hdf5, ErrorsNameFileAndObject) {
    ScratchDir dir;
    const std::string missing = dir.file("missing.h5");
    expect_error_naming<IoError>([&] { File::open_read(missing); }, {missing});

    const std::string path = dir.file("e.h5");
    {
        const File file = File::create(path);
        const std::int32_t ints[2] = {1, 2};
        Dataset::create(file, "/ints", H5T_STD_I32LE, {2}).write(H5T_NATIVE_INT32, ints);
        write_string_list_attribute(file, "/", "names", {"a"});
    }
    const File file = File::open_read(path);
    expect_error_naming<IoError>([&] { Dataset::open(file, "/nope/data"); },
                                 {path + ":/nope/data"});
    expect_error_naming<FormatError>([&] { read_float_dataset(file, "/ints"); },
                                     {path + ":/ints", "floating-point"});
    expect_error_naming<IoError>([&] { read_string_attribute(file, "/", "absent"); },
                                 {path, "absent"});
    expect_error_naming<IoError>([&] { child_names(file, "/ints/x"); }, {path, "/ints/x"});
    expect_error_naming<FormatError>([&] { read_double_attribute(file, "/", "names"); },
                                     {path, "names"});
    // A read-only file refuses writes with the file's name.
    expect_error_naming<IoError>([&] { write_string_attribute(file, "/", "a", "b"); }, {path});
}

TEST(Hdf5, ReadsThePublishedKerasModel) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(model, "models/keras/TomoGAN.h5");
    const File file = File::open_read(model.string());
    // Variable-length string attributes, as this Keras version writes them.
    const std::string config = read_string_attribute(file, "/", "model_config");
    EXPECT_EQ(config.front(), '{');
    EXPECT_NE(config.find("\"class_name\""), std::string::npos);
    EXPECT_EQ(config.back(), '}');
    // Fixed-length, NUL-padded lists: every name is trimmed and names a group.
    const std::vector<std::string> layers =
        read_string_list_attribute(file, "/model_weights", "layer_names");
    ASSERT_EQ(layers.size(), 26u);
    EXPECT_EQ(layers.front(), "input_1");
    for (const std::string& layer : layers)
        EXPECT_TRUE(link_exists(file, "/model_weights/" + layer)) << layer;
    const std::vector<std::string> weights =
        read_string_list_attribute(file, "/model_weights/conv2d_1", "weight_names");
    EXPECT_EQ(weights, (std::vector<std::string>{"conv2d_1/kernel:0", "conv2d_1/bias:0"}));
    const FloatArray kernel = read_float_dataset(file, "/model_weights/conv2d/conv2d/kernel:0");
    EXPECT_EQ(kernel.dims, (std::vector<std::int64_t>{1, 1, 1, 8}));
    EXPECT_EQ(kernel.values.size(), 8u);
}

TEST(Hdf5, ReadsNumericAttributes) {
    TOMODENOISE_SHARED_FILE_OR_SKIP(fixture, "fixtures/metrics_reference.h5");
    const File file = File::open_read(fixture.string());
    EXPECT_EQ(read_double_attribute(file, "/", "data_range"), 1.0);
    const double psnr = read_double_attribute(file, "/blurred", "psnr");
    EXPECT_GT(psnr, 20.6);  // h5dump prints 20.6992
    EXPECT_LT(psnr, 20.7);
}

}  // namespace
}  // namespace tomodenoise::hdf5
