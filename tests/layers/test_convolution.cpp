#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "core/context.hpp"
#include "layer_check.hpp"
#include "layers/convolution.hpp"
#include "relayout.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

// Naive double-precision convolution with TensorFlow's padding and the layer's activation.
std::vector<double> reference_convolution(const Tensor& x, ConvolutionLayer& conv) {
    const auto& cfg = conv.config();
    const Dims in = x.dims();
    const auto ph = spatial_padding(in.h, cfg.kernel, cfg.stride, cfg.padding);
    const auto pw = spatial_padding(in.w, cfg.kernel, cfg.stride, cfg.padding);
    const float* k = conv.kernel().value();
    const float* b = cfg.use_bias ? conv.bias().value() : nullptr;
    std::vector<double> out(in.n * cfg.filters * ph.out * pw.out);
    std::size_t o = 0;
    for (std::int64_t n = 0; n < in.n; ++n)
        for (std::int64_t f = 0; f < cfg.filters; ++f)
            for (std::int64_t y = 0; y < ph.out; ++y)
                for (std::int64_t xo = 0; xo < pw.out; ++xo) {
                    double acc = b ? b[f] : 0.0;
                    for (std::int64_t c = 0; c < in.c; ++c)
                        for (std::int64_t ky = 0; ky < cfg.kernel; ++ky)
                            for (std::int64_t kx = 0; kx < cfg.kernel; ++kx) {
                                const std::int64_t iy = y * cfg.stride + ky - ph.before;
                                const std::int64_t ix = xo * cfg.stride + kx - pw.before;
                                if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
                                acc += double(x.at(n, c, iy, ix)) *
                                       k[((f * in.c + c) * cfg.kernel + ky) * cfg.kernel + kx];
                            }
                    out[o++] = reference_activation(cfg.activation, acc);
                }
    return out;
}

struct ConvCase {
    Dims input;
    ConvolutionConfig config;
};

void randomize_parameters(ConvolutionLayer& conv, std::uint32_t seed) {
    std::mt19937 rng(seed);
    conv.initialize(rng);
    // Non-zero biases so the bias path is exercised.
    if (conv.config().use_bias) {
        auto v = random_values(conv.bias().size(), seed + 3, -0.5f, 0.5f);
        std::copy(v.begin(), v.end(), conv.bias().value());
        conv.bias().mark_changed();
    }
}

class ConvolutionForward : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvolutionForward, MatchesNaiveReference) {
    const auto& p = GetParam();
    for (auto algorithm : {ConvolutionAlgorithm::automatic, ConvolutionAlgorithm::direct}) {
        for (auto mode : {Mode::inference, Mode::training}) {
            Context ctx;
            ctx.set_convolution_algorithm(algorithm);
            ConvolutionLayer conv("conv", p.config);
            conv.build({p.input});
            randomize_parameters(conv, 11);
            const Tensor x = random_tensor(p.input, 5);
            Tensor dst;
            conv.forward(ctx, {&x}, dst, mode);
            const auto got = plain_values(ctx, dst);
            const auto want = reference_convolution(x, conv);
            EXPECT_TRUE(near_all(got, want, 2e-5, /*allow_mostly_zero=*/true))
                << conv.implementation() << " on " << p.input.to_string();
        }
    }
}

ConvolutionConfig cfg(std::int64_t filters, std::int64_t kernel, std::int64_t stride,
                      Padding padding, Activation act, bool bias = true) {
    ConvolutionConfig c;
    c.filters = filters;
    c.kernel = kernel;
    c.stride = stride;
    c.padding = padding;
    c.activation = act;
    c.use_bias = bias;
    return c;
}

INSTANTIATE_TEST_SUITE_P(
    AwkwardShapes, ConvolutionForward,
    ::testing::Values(
        ConvCase{{2, 1, 17, 13}, cfg(8, 1, 1, Padding::same, Activation::relu())},
        ConvCase{{2, 3, 19, 23}, cfg(13, 3, 1, Padding::same, Activation::linear())},
        ConvCase{{2, 17, 15, 11}, cfg(17, 3, 1, Padding::same, Activation::relu())},
        ConvCase{{1, 32, 21, 18}, cfg(32, 3, 1, Padding::same, Activation::relu())},
        ConvCase{{2, 13, 16, 15}, cfg(3, 3, 2, Padding::same, Activation::tanh())},
        ConvCase{{2, 3, 13, 17}, cfg(17, 3, 1, Padding::valid, Activation::sigmoid(), false)},
        ConvCase{{2, 3, 13, 17}, cfg(4, 5, 2, Padding::valid, Activation::leaky_relu(0.2f))},
        ConvCase{{2, 17, 9, 7}, cfg(1, 3, 2, Padding::same, Activation::linear())},
        // Whole 16-channel blocks: the library's own Winograd kernel at inference where the
        // CPU has AVX-512, with each of its multiply kernels (16, 32 and 64 output channels
        // at a time), images smaller than one tile, and rows of several strips.
        ConvCase{{2, 48, 13, 10}, cfg(16, 3, 1, Padding::same, Activation::leaky_relu(0.3f))},
        ConvCase{{1, 64, 9, 7}, cfg(64, 3, 1, Padding::same, Activation::linear(), false)},
        ConvCase{{2, 16, 3, 2}, cfg(80, 3, 1, Padding::same, Activation::relu())},
        ConvCase{{1, 32, 1, 1}, cfg(32, 3, 1, Padding::same, Activation::linear())},
        ConvCase{{1, 16, 6, 250}, cfg(32, 3, 1, Padding::same, Activation::relu())}));

TEST(ConvolutionBackward, MatchesFiniteDifferences) {
    struct Case {
        Dims input;
        ConvolutionConfig config;
    };
    const Case cases[] = {
        {{2, 3, 7, 9}, cfg(13, 3, 1, Padding::same, Activation::linear())},
        {{2, 17, 6, 5}, cfg(17, 3, 1, Padding::same, Activation::tanh())},
        {{2, 13, 9, 7}, cfg(3, 3, 2, Padding::same, Activation::sigmoid())},
        {{2, 1, 8, 9}, cfg(17, 1, 1, Padding::same, Activation::linear(), false)},
        {{2, 3, 9, 8}, cfg(1, 3, 2, Padding::valid, Activation::linear())},
    };
    for (const auto& c : cases) {
        for (auto algorithm : {ConvolutionAlgorithm::automatic, ConvolutionAlgorithm::direct}) {
            Context ctx;
            ctx.set_convolution_algorithm(algorithm);
            ConvolutionLayer conv("conv", c.config);
            conv.build({c.input});
            randomize_parameters(conv, 3);
            check_layer_gradients(ctx, conv, {random_tensor(c.input, 9)});
        }
    }
}

// ||a - b|| / ||b||, failing the test when b is all zero (such a comparison proves nothing).
double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double diff2 = 0, norm2 = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        diff2 += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        norm2 += double(b[i]) * b[i];
    }
    EXPECT_GT(norm2, 0.0) << "the reference gradient is all zero";
    return std::sqrt(diff2 / norm2);
}

// The gradients of one forward and backward in `algorithm`: input, kernel, bias.
struct Gradients {
    std::vector<float> src, kernel, bias;
    std::string implementation;
};
// Parameter gradients start at `untouched`: a frozen layer (parameter_gradients false) leaves
// them there.
constexpr float untouched = 12345.f;
Gradients conv_gradients(ConvolutionAlgorithm algorithm, const ConvolutionConfig& config,
                         const Dims& in, bool parameter_gradients = true) {
    Context ctx;
    ctx.set_convolution_algorithm(algorithm);
    ConvolutionLayer conv("conv", config);
    const Dims out = conv.build({in});
    randomize_parameters(conv, 41);
    conv.set_parameter_gradients(parameter_gradients);
    for (Parameter* p : conv.parameters()) std::fill(p->grad(), p->grad() + p->size(), untouched);
    const Tensor x = random_tensor(in, 42);
    const Tensor diff_dst = random_tensor(out, 43);
    Tensor dst, diff_src;
    conv.forward(ctx, {&x}, dst, Mode::training);
    conv.backward(ctx, {&x}, dst, diff_dst, {&diff_src});
    Gradients g;
    g.src = plain_values(ctx, diff_src);
    g.kernel.assign(conv.kernel().grad(), conv.kernel().grad() + conv.kernel().size());
    g.bias.assign(conv.bias().grad(), conv.bias().grad() + conv.bias().size());
    g.implementation = conv.implementation();
    return g;
}

TEST(ConvolutionBackward, FastPathsMatchDirectConvolution) {
    // Winograd F(4x4, 3x3) rounds differently from direct convolution (every pass: forward,
    // backward-data, backward-weights with the bias): measured 1e-7 to 1e-6 relative error on
    // these shapes; a wrong transform or a missed tile is above 1e-2.
    constexpr double bound = 1e-5;
    struct Case {
        Dims input;
        std::int64_t filters;
        bool own_winograd;  // whether the library's kernel fits (AVX-512 CPUs)
    };
    const Case cases[] = {
        {{2, 16, 13, 10}, 16, true},   // one block each way, partial tiles
        {{2, 32, 12, 9}, 64, true},    // 4 output vectors forward, 2 in backward-data
        {{1, 64, 9, 18}, 32, true},    // 2 output vectors forward, 4 in backward-data
        {{2, 48, 8, 8}, 16, true},     // 1 output vector forward, 3 blocks in backward-data
        {{1, 16, 100, 92}, 16, true},  // backward-weights in 2 strips of tiles, on 2 threads
        {{2, 17, 9, 7}, 17, false},    // not whole blocks: oneDNN's kernels
        {{2, 8, 10, 11}, 32, false},   // too narrow for Winograd: direct
    };
    for (const auto& c : cases) {
        // ReLU: the weights pass takes the gradient through it; the others: oneDNN's eltwise.
        for (const Activation act :
             {Activation::relu(), Activation::linear(), Activation::leaky_relu(0.2f)}) {
            const auto config = cfg(c.filters, 3, 1, Padding::same, act);
            const Gradients fast = conv_gradients(ConvolutionAlgorithm::automatic, config, c.input);
            const Gradients direct = conv_gradients(ConvolutionAlgorithm::direct, config, c.input);
            const std::string where = c.input.to_string() + " -> " + std::to_string(c.filters) +
                                      " " + act.name() + " (" + fast.implementation + ")";
            if (WinogradConvolution::cpu_supported()) {
                EXPECT_EQ(fast.implementation.find("tomodenoise") != std::string::npos,
                          c.own_winograd)
                    << where;
            }
            EXPECT_LT(relative_error(fast.src, direct.src), bound) << "diff_src " << where;
            EXPECT_LT(relative_error(fast.kernel, direct.kernel), bound) << "kernel " << where;
            EXPECT_LT(relative_error(fast.bias, direct.bias), bound) << "bias " << where;
        }
    }
}

TEST(ConvolutionBackward, AFrozenLayerGivesTheSameInputGradientAndLeavesItsParameters) {
    struct Case {
        Dims input;
        std::int64_t filters;
    };
    // The library's Winograd kernel (16 channels), oneDNN's direct kernels (8 channels).
    const Case cases[] = {{{2, 16, 13, 10}, 16}, {{2, 8, 10, 11}, 32}};
    for (const auto& c : cases)
        for (const auto algorithm : {ConvolutionAlgorithm::automatic, ConvolutionAlgorithm::direct})
            for (const Activation act : {Activation::relu(), Activation::linear()}) {
                const auto config = cfg(c.filters, 3, 1, Padding::same, act);
                const Gradients trained = conv_gradients(algorithm, config, c.input);
                const Gradients frozen = conv_gradients(algorithm, config, c.input, false);
                const std::string where = c.input.to_string() + " -> " + std::to_string(c.filters) +
                                          " " + act.name() + " (" + frozen.implementation + ")";
                EXPECT_LT(relative_error(frozen.src, trained.src), 1e-6) << where;
                EXPECT_NE(trained.kernel, std::vector<float>(trained.kernel.size(), untouched))
                    << where;
                EXPECT_EQ(frozen.kernel, std::vector<float>(frozen.kernel.size(), untouched))
                    << where;
                EXPECT_EQ(frozen.bias, std::vector<float>(frozen.bias.size(), untouched)) << where;
            }
}

TEST(ConvolutionBackward, ReluGradientAwayFromTheKink) {
    Context ctx;
    ConvolutionLayer conv("conv_relu", cfg(17, 3, 1, Padding::same, Activation::relu()));
    check_relu_gradients_away_from_kink(ctx, conv, Dims{2, 17, 6, 7});
}

TEST(Convolution, WinogradChosenForWideLayersAndAgreesWithDirect) {
    Context wino_ctx, direct_ctx;
    direct_ctx.set_convolution_algorithm(ConvolutionAlgorithm::direct);
    ConvolutionLayer conv("conv64", cfg(64, 3, 1, Padding::same, Activation::relu()));
    const Dims in{1, 64, 40, 36};
    conv.build({in});
    randomize_parameters(conv, 1);
    const Tensor x = random_tensor(in, 2);
    Tensor a, b;
    conv.forward(direct_ctx, {&x}, a, Mode::inference);
    const std::string direct_impl = conv.implementation();
    conv.forward(wino_ctx, {&x}, b, Mode::inference);
    EXPECT_EQ(direct_impl.find("wino"), std::string::npos) << direct_impl;
    // Winograd is not implemented on every CPU; where it runs, it must agree with direct.
    if (conv.implementation().find("wino") == std::string::npos)
        GTEST_SKIP() << "oneDNN has no Winograd kernel here (" << conv.implementation() << ")";
    const auto va = plain_values(direct_ctx, a), vb = plain_values(wino_ctx, b);
    EXPECT_TRUE(near_all(vb, std::vector<double>(va.begin(), va.end()), 1e-4, true));
}

TEST(Convolution, OwnWinogradRunsInBothModesAndFollowsWeightChanges) {
    if (!WinogradConvolution::cpu_supported())
        GTEST_SKIP() << "no AVX-512 here: oneDNN's kernels run instead";
    Context ctx;
    ConvolutionLayer conv("conv32", cfg(32, 3, 1, Padding::same, Activation::relu()));
    const Dims in{1, 32, 12, 11};
    conv.build({in});
    randomize_parameters(conv, 7);
    const Tensor x = random_tensor(in, 8);
    Tensor y;
    conv.forward(ctx, {&x}, y, Mode::training);
    EXPECT_NE(conv.implementation().find("tomodenoise"), std::string::npos)
        << conv.implementation();
    conv.forward(ctx, {&x}, y, Mode::inference);
    EXPECT_NE(conv.implementation().find("tomodenoise"), std::string::npos)
        << conv.implementation();
    EXPECT_EQ(layout_name(y.desc()), "nChw16c");
    // An optimizer step between two inference calls: the transformed kernel must follow.
    for (std::int64_t i = 0; i < conv.kernel().size(); ++i) conv.kernel().value()[i] *= -2.f;
    conv.kernel().mark_changed();
    conv.bias().value()[3] += 1.f;
    conv.bias().mark_changed();
    conv.forward(ctx, {&x}, y, Mode::inference);
    EXPECT_TRUE(near_all(plain_values(ctx, y), reference_convolution(x, conv), 1e-4, true));
}

TEST(WinogradConvolution, ThreadsSplitTheTilesWithoutChangingABit) {
    if (!WinogradConvolution::cpu_supported()) GTEST_SKIP() << "no AVX-512 here";
    // Two images whose tiles make many strips, some spanning both images.
    const Dims in{2, 32, 37, 61};
    auto kernel = random_values(32 * 32 * 9, 21, -0.2f, 0.2f);
    auto bias = random_values(32, 22);
    WinogradConvolution wino;
    wino.set_weights(kernel.data(), bias.data(), 32, 32);
    Tensor x(Dims{in.n, in.c, in.h, in.w}), one(x.dims()), three(x.dims());
    const auto values = random_values(x.storage_size(), 23);
    std::copy(values.begin(), values.end(), x.data());
    const int threads_before = omp_get_max_threads();
    omp_set_num_threads(1);
    wino.forward(x.data(), one.data(), in.n, in.h, in.w, Activation::relu());
    omp_set_num_threads(3);
    wino.forward(x.data(), three.data(), in.n, in.h, in.w, Activation::relu());
    omp_set_num_threads(threads_before);
    EXPECT_EQ(std::memcmp(one.data(), three.data(), x.storage_size() * sizeof(float)), 0);
    std::size_t positive = 0;
    for (std::size_t i = 0; i < one.storage_size(); ++i) positive += one.data()[i] > 0.f;
    EXPECT_GT(positive, one.storage_size() / 4) << "the output is mostly zero: proves nothing";
}

TEST(WinogradConvolution, RejectsMisalignedBuffersAndMissingWeights) {
    if (!WinogradConvolution::cpu_supported()) GTEST_SKIP() << "no AVX-512 here";
    WinogradConvolution wino;
    Tensor x(Dims{1, 16, 4, 4}), y(Dims{1, 16, 4, 4});
    EXPECT_THROW(wino.forward(x.data(), y.data(), 1, 4, 4, Activation::linear()), InvalidArgument);
    std::vector<float> kernel(16 * 16 * 9, 0.1f);
    wino.set_weights(kernel.data(), nullptr, 16, 16);
    EXPECT_THROW(wino.forward(x.data() + 1, y.data(), 1, 4, 4, Activation::linear()),
                 InvalidArgument);
    EXPECT_NO_THROW(wino.forward(x.data(), y.data(), 1, 4, 4, Activation::linear()));
}

TEST(Convolution, RejectsMismatchedChannelsNamingLayerAndDims) {
    ConvolutionLayer conv("enc_conv1", cfg(8, 3, 1, Padding::same, Activation::relu()));
    conv.build({Dims{1, 3, 16, 16}});
    try {
        conv.build({Dims{1, 4, 16, 16}});
        FAIL() << "no error for 4 channels";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("enc_conv1"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 4, 16, 16]"), std::string::npos) << msg;
    }
    ConvolutionLayer valid("valid5", cfg(8, 5, 1, Padding::valid, Activation::relu()));
    EXPECT_THROW(valid.build({Dims{1, 1, 4, 9}}), ShapeError);
}

TEST(Convolution, RefusesAnAbsurdKernelBeforeAllocatingIt) {
    // 65536 filters of 65536 channels, 64x64: 2^44 values.
    ConvolutionLayer conv("huge", cfg(65536, 64, 1, Padding::same, Activation::relu()));
    const std::uint64_t allocations = tensor_allocation_count();
    try {
        conv.build({Dims{1, 65536, 64, 64}});
        FAIL() << "no error for a kernel of 2^44 values";
    } catch (const ShapeError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("huge"), std::string::npos) << msg;
        EXPECT_NE(msg.find("(65536, 65536, 64, 64)"), std::string::npos) << msg;
    }
    EXPECT_EQ(tensor_allocation_count(), allocations);
    EXPECT_TRUE(conv.parameters()[0]->size() == 0);  // nothing half-built
}

TEST(Convolution, ParameterCheckSeesEveryShapeBeforeAllocation) {
    ConvolutionLayer conv("checked", cfg(4, 3, 1, Padding::same, Activation::relu()));
    std::vector<std::pair<std::size_t, std::vector<std::int64_t>>> seen;
    conv.set_parameter_check(
        [&](const Layer& layer, std::size_t index, const std::vector<std::int64_t>& shape) {
            EXPECT_EQ(layer.name(), "checked");
            seen.emplace_back(index, shape);
            if (index == 1) throw FormatError("refused");
        });
    EXPECT_THROW(conv.build({Dims{1, 2, 8, 8}}), FormatError);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].second, (std::vector<std::int64_t>{4, 2, 3, 3}));
    EXPECT_EQ(seen[1].second, (std::vector<std::int64_t>{4}));
    // Refused: the layer stays unbuilt, and builds once the check accepts.
    conv.set_parameter_check({});
    EXPECT_EQ(conv.build({Dims{1, 2, 8, 8}}), (Dims{1, 4, 8, 8}));
    EXPECT_EQ(conv.parameters()[0]->size(), 4 * 2 * 3 * 3);
}

TEST(Convolution, SecondRunCreatesNoPrimitive) {
    Context ctx;
    ConvolutionLayer conv("conv", cfg(32, 3, 1, Padding::same, Activation::relu()));
    const Dims in{1, 16, 20, 20};
    conv.build({in});
    randomize_parameters(conv, 1);
    const Tensor x = random_tensor(in, 2);
    Tensor dst;
    conv.forward(ctx, {&x}, dst, Mode::inference);
    const auto misses = ctx.cache().misses();
    conv.forward(ctx, {&x}, dst, Mode::inference);
    EXPECT_EQ(ctx.cache().misses(), misses);
    EXPECT_GT(ctx.cache().hits(), 0u);
}

}  // namespace

namespace {

TEST(Convolution, ReadsABlockedInputAsItArrivesWithTheSameResult) {
    for (std::int64_t kernel : {1, 3}) {
        Context ctx;
        ctx.set_convolution_algorithm(ConvolutionAlgorithm::direct);
        ConvolutionLayer conv("conv", cfg(16, kernel, 1, Padding::same, Activation::relu()));
        const Dims in{1, 32, 19, 23};
        conv.build({in});
        randomize_parameters(conv, 4);
        const Tensor plain = random_tensor(in, 8);
        Tensor a, b;
        conv.forward(ctx, {&plain}, a, Mode::inference);
        // The blocked layout oneDNN chose for this CPU: nChw16c with AVX-512, nChw8c with AVX2.
        const auto blocked_layout = [&](dnnl::memory::format_tag tag) {
            return dnnl::memory::desc(a.dims().to_dnnl(), dnnl::memory::data_type::f32, tag);
        };
        dnnl::memory::format_tag chosen = dnnl::memory::format_tag::nChw16c;
        if (a.desc() != blocked_layout(chosen)) chosen = dnnl::memory::format_tag::nChw8c;
        ASSERT_EQ(a.desc(), blocked_layout(chosen))
            << "kernel " << kernel << ": " << layout_name(a.desc()) << ", "
            << conv.implementation();
        const Tensor blocked = relayout(ctx, plain, chosen);
        conv.forward(ctx, {&blocked}, b, Mode::inference);
        // The blocked layout flows on: no reorder in or out.
        EXPECT_EQ(b.desc(), blocked_layout(chosen))
            << "kernel " << kernel << ": " << layout_name(b.desc()) << ", "
            << conv.implementation();
        const auto va = plain_values(ctx, a), vb = plain_values(ctx, b);
        EXPECT_TRUE(near_all(vb, std::vector<double>(va.begin(), va.end()), 1e-5, true));
    }
}

}  // namespace
