#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/network.hpp"
#include "io/hdf5.hpp"
#include "io/model_file.hpp"
#include "layer_check.hpp"
#include "layers/convolution.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

Network small_network() {
    Network net;
    net.add_input("input_1", 2);
    ConvolutionConfig a;
    a.filters = 5;
    a.kernel = 3;
    a.activation = Activation::relu();
    net.add<ConvolutionLayer>({"input_1"}, "conv_a", a);
    ConvolutionConfig b;
    b.filters = 1;
    b.kernel = 3;
    b.stride = 2;
    b.padding = Padding::valid;
    net.add<ConvolutionLayer>({"conv_a"}, "conv_b", b);
    net.build({Dims{1, 2, 16, 16}});
    net.initialize(5);
    return net;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(ModelFile, RoundTripKeepsWeightsBitExactAndOutputs) {
    ScratchDir dir;
    const std::string path = dir.file("model.h5");
    Network net = small_network();
    save_network(path, net);
    Network loaded = load_network(path);
    auto a = net.parameters(), b = loaded.parameters();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
        ASSERT_EQ(a[k]->shape(), b[k]->shape());
        EXPECT_EQ(0, std::memcmp(a[k]->value(), b[k]->value(), a[k]->size() * sizeof(float)))
            << a[k]->name();
    }
    Context ctx;
    const Tensor x = random_tensor(Dims{1, 2, 21, 19}, 3);
    const auto ya = plain_values(ctx, net.forward(ctx, x, Mode::inference));
    const auto yb = plain_values(ctx, loaded.forward(ctx, x, Mode::inference));
    EXPECT_EQ(ya, yb);
    // Stored as Keras does: HWIO kernel under model_weights/<layer>/<layer>/kernel:0.
    const auto file = hdf5::File::open_read(path);
    const auto kernel = hdf5::read_float_dataset(file, "/model_weights/conv_a/conv_a/kernel:0");
    EXPECT_EQ(kernel.dims, (std::vector<std::int64_t>{3, 3, 2, 5}));
    // Keras HWIO [ky][kx][c][f] equals oneDNN OIHW [f][c][ky][kx].
    const Parameter& k = *net.parameters()[0];
    EXPECT_EQ(kernel.values[((1 * 3 + 2) * 2 + 1) * 5 + 4], k.value()[((4 * 2 + 1) * 3 + 1) * 3 + 2]);
    EXPECT_EQ(hdf5::read_string_attribute(file, "/", "backend"), "tensorflow");
}

TEST(ModelFile, OptimizerStateRoundTrips) {
    ScratchDir dir;
    const std::string path = dir.file("with_state.h5");
    Network net = small_network();
    const std::vector<NamedArray> state = {{"Adam/iter:0", {1}, {7.f}},
                                           {"Adam/conv_a/kernel/m:0", {2, 2}, {1, 2, 3, 4}}};
    save_network(path, net, &state);
    std::vector<NamedArray> back;
    load_network(path, &back);
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].name, "Adam/iter:0");
    EXPECT_EQ(back[0].values, std::vector<float>{7.f});
    EXPECT_EQ(back[1].dims, (std::vector<std::int64_t>{2, 2}));
    EXPECT_EQ(back[1].values, (std::vector<float>{1, 2, 3, 4}));
}

TEST(ModelFile, MissingTruncatedAndCorruptFilesGiveErrorsNamingTheFile) {
    ScratchDir dir;
    const std::string missing = dir.file("nope.h5");
    EXPECT_NE(message_of([&] { load_network(missing); }).find("nope.h5"), std::string::npos);

    const std::string good = dir.file("good.h5");
    Network net = small_network();
    save_network(good, net);
    const auto size = std::filesystem::file_size(good);
    const std::string truncated = dir.file("truncated.h5");
    std::filesystem::copy_file(good, truncated);
    std::filesystem::resize_file(truncated, size / 2);
    const std::string msg = message_of([&] { load_network(truncated); });
    EXPECT_NE(msg.find("truncated.h5"), std::string::npos) << msg;

    const std::string garbage = dir.file("garbage.h5");
    std::ofstream(garbage) << "this is not HDF5";
    EXPECT_NE(message_of([&] { load_network(garbage); }).find("garbage.h5"), std::string::npos);

    const std::string no_config = dir.file("no_config.h5");
    hdf5::File::create(no_config).close();
    EXPECT_NE(message_of([&] { load_network(no_config); }).find("model_config"), std::string::npos);
}

TEST(ModelFile, WrongWeightShapeAndMissingDatasetAreNamed) {
    ScratchDir dir;
    const std::string path = dir.file("m.h5");
    Network net = small_network();
    save_network(path, net);
    {
        auto file = hdf5::File::open_read_write(path);
        hdf5::unlink(file, "/model_weights/conv_b/conv_b/kernel:0");
        const std::vector<float> wrong(3 * 3 * 4 * 1, 0.f);
        hdf5::write_float_dataset(file, "/model_weights/conv_b/conv_b/kernel:0", {3, 3, 4, 1},
                                  wrong.data());
        file.close();
    }
    std::string msg = message_of([&] { load_network(path); });
    EXPECT_NE(msg.find("conv_b"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(3, 3, 4, 1)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(3, 3, 5, 1)"), std::string::npos) << msg;
    {
        auto file = hdf5::File::open_read_write(path);
        hdf5::unlink(file, "/model_weights/conv_b/conv_b/kernel:0");
        file.close();
    }
    msg = message_of([&] { load_network(path); });
    EXPECT_NE(msg.find("kernel:0"), std::string::npos) << msg;
}

TEST(ModelFile, FailedSaveLeavesNoFile) {
    ScratchDir dir;
    Network net = small_network();
    const std::string path = (dir.path() / "no_such_dir" / "m.h5").string();
    EXPECT_THROW(save_network(path, net), Error);
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

}  // namespace
