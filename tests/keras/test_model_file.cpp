#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/network.hpp"
#include "io/hdf5.hpp"
#include "keras/keras_layers.hpp"
#include "keras/model_file.hpp"
#include "layer_check.hpp"
#include "layers/activation_layer.hpp"
#include "layers/add.hpp"
#include "layers/convolution.hpp"
#include "layers/max_pooling.hpp"
#include "layers/upsampling.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/model.hpp"
#include "train/loss.hpp"
#include "train/optimizer.hpp"

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
    EXPECT_EQ(kernel.values[((1 * 3 + 2) * 2 + 1) * 5 + 4],
              k.value()[((4 * 2 + 1) * 3 + 1) * 3 + 2]);
    EXPECT_EQ(hdf5::read_string_attribute(file, "/", "backend"), "tensorflow");
}

TEST(ModelFile, OptimizerStateRoundTripsAndTrainingResumesIdentically) {
    ScratchDir dir;
    const std::string path = dir.file("with_state.h5");
    Context ctx;
    Network net = small_network();
    Adam adam(named_parameters(net), AdamConfig{});
    const Tensor x = random_tensor(Dims{1, 2, 16, 16}, 3);
    const Tensor target = random_tensor(Dims{1, 1, 7, 7}, 4);
    Tensor grad;
    auto train_step = [&](Network& n, Optimizer& opt) {
        const Tensor& y = n.forward(ctx, x, Mode::training);
        const double loss = mean_squared_error_loss(y, target, &grad);
        n.backward(ctx, grad);
        opt.step();
        return loss;
    };
    for (int i = 0; i < 3; ++i) train_step(net, adam);
    save_network(path, net, &adam);

    Network resumed = load_network(path);
    Adam adam2(named_parameters(resumed), AdamConfig{});
    load_optimizer_state(path, resumed, adam2);
    EXPECT_EQ(adam2.iterations(), 3);
    for (int i = 0; i < 2; ++i) EXPECT_EQ(train_step(net, adam), train_step(resumed, adam2));
    auto a = net.parameters(), b = resumed.parameters();
    for (std::size_t k = 0; k < a.size(); ++k)
        EXPECT_TRUE(std::equal(a[k]->value(), a[k]->value() + a[k]->size(), b[k]->value()));

    // Keras's layout: optimizer_weights/Adam/<layer>/<weight>/<slot>:0 with the kernel's HWIO dims.
    const auto file = hdf5::File::open_read(path);
    EXPECT_EQ(hdf5::read_float_dataset(file, "/optimizer_weights/Adam/conv_a/kernel/m:0").dims,
              (std::vector<std::int64_t>{3, 3, 2, 5}));
    EXPECT_TRUE(hdf5::attribute_exists(file, "/", "training_config"));

    Sgd sgd(named_parameters(resumed), SgdConfig{});
    EXPECT_THROW(load_optimizer_state(path, resumed, sgd), FormatError);
}

TEST(ModelFile, AnEmbeddedNetworkAndItsStateRoundTripBesideTheModel) {
    ScratchDir dir;
    const std::string path = dir.file("pair.h5");
    Network main = small_network(), second = small_network();
    second.initialize(9);
    Adam adam(named_parameters(main)), second_adam(named_parameters(second));
    const Tensor x = random_tensor(Dims{1, 2, 16, 16}, 3);
    Context ctx;
    for (Network* n : {&main, &second}) {
        const Tensor& y = n->forward(ctx, x, Mode::training);
        n->backward(ctx, y);
    }
    adam.step();
    second_adam.step();
    second_adam.step();
    save_network(path, main, &adam, nullptr, {}, {{"second_net", &second, &second_adam}});

    // The root is the main network alone, as Keras reads it.
    Network loaded = load_network(path);
    EXPECT_EQ(plain_values(ctx, loaded.forward(ctx, x, Mode::inference)),
              plain_values(ctx, main.forward(ctx, x, Mode::inference)));
    Network embedded = load_network(path, "second_net");
    const auto a = second.parameters(), b = embedded.parameters();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k)
        EXPECT_TRUE(std::equal(a[k]->value(), a[k]->value() + a[k]->size(), b[k]->value()));
    Adam loaded_adam(named_parameters(embedded));
    load_optimizer_state(path, embedded, loaded_adam, "second_net");
    EXPECT_EQ(loaded_adam.iterations(), 2);
    const auto sa = second_adam.state(), sb = loaded_adam.state();
    ASSERT_EQ(sa.size(), sb.size());
    for (std::size_t k = 0; k < sa.size(); ++k) EXPECT_EQ(sa[k].values, sb[k].values) << sa[k].name;
    Adam root_adam(named_parameters(loaded));
    load_optimizer_state(path, loaded, root_adam);
    EXPECT_EQ(root_adam.iterations(), 1);

    const std::string missing = message_of([&] { load_network(path, "absent"); });
    EXPECT_NE(missing.find("pair.h5"), std::string::npos) << missing;
    EXPECT_NE(missing.find("/absent"), std::string::npos) << missing;
}

TEST(ModelFile, EveryStandaloneActivationAndAddRoundTrip) {
    // The Keras classes the published models do not use: Activation (each function),
    // LeakyReLU, Add, and 'valid' pooling with bilinear upsampling.
    Network net;
    net.add_input("input_1", 3);
    ConvolutionConfig c;
    c.filters = 4;
    net.add<ConvolutionLayer>({"input_1"}, "conv2d", c);
    net.add<ActivationLayer>({"conv2d"}, "leaky_re_lu", Activation::leaky_relu(0.2f));
    net.add<ActivationLayer>({"leaky_re_lu"}, "activation", Activation::tanh());
    net.add<ActivationLayer>({"conv2d"}, "activation_1", Activation::sigmoid());
    net.add<ActivationLayer>({"conv2d"}, "activation_2", Activation::relu());
    net.add<AddLayer>({"activation", "activation_1", "activation_2"}, "add");
    MaxPoolingConfig pool;
    pool.padding = Padding::valid;
    net.add<MaxPoolingLayer>({"add"}, "max_pooling2d", pool);
    UpsamplingConfig up;
    up.interpolation = Interpolation::bilinear;
    net.add<UpsamplingLayer>({"max_pooling2d"}, "up_sampling2d", up);
    net.build({Dims{1, 3, 16, 16}});
    net.initialize(2);

    ScratchDir dir;
    save_network(dir.file("m.h5"), net);
    Network back = load_network(dir.file("m.h5"));
    ASSERT_EQ(back.nodes().size(), net.nodes().size());
    for (std::size_t i = 1; i < net.nodes().size(); ++i) {
        EXPECT_EQ(back.nodes()[i].layer->type(), net.nodes()[i].layer->type());
        EXPECT_EQ(keras_layer_config(*back.nodes()[i].layer),
                  keras_layer_config(*net.nodes()[i].layer));
    }
    Context ctx;
    const Tensor x = random_tensor(Dims{1, 3, 18, 14}, 6);
    EXPECT_EQ(plain_values(ctx, net.forward(ctx, x, Mode::inference)),
              plain_values(ctx, back.forward(ctx, x, Mode::inference)));
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
    // Refused before allocating: the shape the config needs, in the layer's own (O, I, H, W).
    EXPECT_NE(msg.find("(1, 5, 3, 3)"), std::string::npos) << msg;
    {
        auto file = hdf5::File::open_read_write(path);
        hdf5::unlink(file, "/model_weights/conv_b/conv_b/kernel:0");
        file.close();
    }
    msg = message_of([&] { load_network(path); });
    EXPECT_NE(msg.find("kernel:0"), std::string::npos) << msg;
}

// Rewrites the model_config of the model file `path` with `edit`.
void edit_model_config(const std::string& path,
                       const std::function<void(nlohmann::json& layers)>& edit) {
    auto file = hdf5::File::open_read_write(path);
    auto config = nlohmann::json::parse(hdf5::read_string_attribute(file, "/", "model_config"));
    edit(config["config"]["layers"]);
    hdf5::write_string_attribute(file, "/", "model_config", config.dump());
    file.close();
}

// The message load_network gives for `path` after `edit`, checked to name the file and `what`.
std::string load_error(const std::string& path, const std::function<void(nlohmann::json&)>& edit,
                       const std::vector<std::string>& what) {
    ScratchDir dir;
    const std::string edited = dir.file("edited.h5");
    std::filesystem::copy_file(path, edited);
    edit_model_config(edited, edit);
    const std::uint64_t allocations = tensor_allocation_count();
    std::string msg;
    try {
        load_network(edited);
    } catch (const FormatError& e) {
        msg = e.what();
    }
    EXPECT_NE(msg.find("edited.h5"), std::string::npos) << msg;
    for (const auto& w : what) EXPECT_NE(msg.find(w), std::string::npos) << w << " in: " << msg;
    // Refused before any parameter was allocated for it.
    EXPECT_EQ(tensor_allocation_count(), allocations) << msg;
    return msg;
}

TEST(ModelFile, SizesInTheConfigAreCheckedAgainstLimitsAndWeightsBeforeAllocating) {
    ScratchDir dir;
    const std::string path = dir.file("m.h5");
    Network net = small_network();
    save_network(path, net);
    // Layer 0 is the input, 1 conv_a (5 filters over 2 channels), 2 conv_b.
    load_error(path, [](auto& l) { l[1]["config"]["filters"] = 1000000000; },
               {"conv_a", "'filters'", "1000000000"});
    load_error(path,
               [](auto& l) {
                   l[1]["config"]["kernel_size"] = {100000, 100000};
               },
               {"conv_a", "'kernel_size'", "100000"});
    load_error(path, [](auto& l) { l[0]["config"]["batch_input_shape"][3] = 1000000000; },
               {"input channels", "1000000000"});
    load_error(path, [](auto& l) { l[0]["config"]["batch_input_shape"][1] = -4; },
               {"input height", "-4"});
    load_error(path, [](auto& l) { l[1]["config"]["strides"] = {0, 0}; }, {"conv_a", "'strides'"});
    load_error(path, [](auto& l) { l[1]["config"]["filters"] = 1e30; }, {"conv_a", "'filters'"});
    // Within the limits but not what the file stores: refused before the kernel is allocated.
    load_error(path, [](auto& l) { l[1]["config"]["filters"] = 4096; },
               {"conv_a", "(4096, 2, 3, 3)", "(3, 3, 2, 5)"});
    load_error(path, [](auto& l) { l[0]["config"]["batch_input_shape"][3] = 4096; },
               {"conv_a", "(5, 4096, 3, 3)", "(3, 3, 2, 5)"});
}

TEST(ModelFile, ConfigFieldsOfTheWrongTypeAreNamed) {
    ScratchDir dir;
    const std::string path = dir.file("m.h5");
    Network net = small_network();
    save_network(path, net);
    const auto wrong = [&](const std::function<void(nlohmann::json&)>& edit,
                           const std::vector<std::string>& what) {
        const std::string msg = load_error(path, edit, what);
        EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
    };
    wrong([](auto& l) { l[1]["config"]["name"] = 7; }, {"'name'", "7"});
    wrong([](auto& l) { l[1]["class_name"] = {1, 2}; }, {"layer 1", "'class_name'"});
    wrong([](auto& l) { l[1]["config"] = "conv"; }, {"layer 1", "config"});
    wrong([](auto& l) { l[1] = 3; }, {"layer 1"});
    wrong([](auto& l) { l[1]["config"]["use_bias"] = "yes"; }, {"conv_a", "'use_bias'"});
    wrong([](auto& l) { l[1]["config"]["kernel_size"] = "3"; }, {"conv_a", "'kernel_size'"});
    wrong([](auto& l) { l[1]["config"]["padding"] = 1; }, {"conv_a", "'padding'"});
    wrong([](auto& l) { l[2]["inbound_nodes"] = 5; }, {"conv_b", "inbound_nodes"});
    wrong([](auto& l) { l[0]["config"]["batch_input_shape"][1] = "x"; }, {"input height"});
}

TEST(ModelFile, NonFiniteWeightsAreRefusedNamingTheWeight) {
    ScratchDir dir;
    const std::string path = dir.file("m.h5");
    Network net = small_network();
    save_network(path, net);
    {
        auto file = hdf5::File::open_read_write(path);
        auto bias = hdf5::read_float_dataset(file, "/model_weights/conv_b/conv_b/bias:0");
        bias.values[0] = std::numeric_limits<float>::quiet_NaN();
        hdf5::unlink(file, "/model_weights/conv_b/conv_b/bias:0");
        hdf5::write_float_dataset(file, "/model_weights/conv_b/conv_b/bias:0", bias.dims,
                                  bias.values.data());
        file.close();
    }
    std::string msg;
    try {
        load_network(path);
    } catch (const FormatError& e) {
        msg = e.what();
    }
    for (const char* what : {"m.h5", "conv_b", "bias:0", "NaN"})
        EXPECT_NE(msg.find(what), std::string::npos) << what << " in: " << msg;
    // What denoise_stack loads: refused rather than denoising into NaN.
    EXPECT_THROW(Model::load(path), FormatError);
}

TEST(ModelFile, NonFiniteOptimizerStateIsRefused) {
    ScratchDir dir;
    const std::string path = dir.file("m.h5");
    Network net = small_network();
    Adam adam(named_parameters(net), AdamConfig{});
    save_network(path, net, &adam);
    {
        auto file = hdf5::File::open_read_write(path);
        const std::string m = "/optimizer_weights/Adam/conv_a/kernel/m:0";
        auto values = hdf5::read_float_dataset(file, m);
        values.values[3] = std::numeric_limits<float>::infinity();
        hdf5::unlink(file, m);
        hdf5::write_float_dataset(file, m, values.dims, values.values.data());
        file.close();
    }
    Network resumed = load_network(path);
    Adam adam2(named_parameters(resumed), AdamConfig{});
    std::string msg;
    try {
        load_optimizer_state(path, resumed, adam2);
    } catch (const FormatError& e) {
        msg = e.what();
    }
    for (const char* what : {"m.h5", "conv_a/kernel/m", "NaN or infinite"})
        EXPECT_NE(msg.find(what), std::string::npos) << what << " in: " << msg;
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
