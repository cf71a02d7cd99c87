// GFLOP/s of every convolution shape of the TomoGAN generator, at 256x256 batch 4 and
// 1024x1024 batch 1: forward, backward-data and backward-weights of the bare oneDNN primitive
// (direct and Winograd), and the framework's ConvolutionLayer forward through the cache with its
// reorders: with 'auto', the library's own Winograd kernel where the layer fits it (the label
// names the implementation that ran). Each figure is also given as a percentage of this
// machine's peak FMA rate, measured in the same run; FLOPs are counted as direct convolution,
// so Winograd can exceed 100%.
//
//   ./bench/bench_convolution --benchmark_filter='box64_b/1024'

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "core/context.hpp"
#include "layers/convolution.hpp"
#include "peak.hpp"

using namespace tomodenoise;

namespace {

struct ConvShape {
    const char* name;
    std::int64_t ic, oc, k, scale;  // spatial size = image size / scale
};

// The TomoGAN generator's convolutions (design notes), each distinct shape once.
constexpr ConvShape generator_shapes[] = {
    {"enc_1x1", 1, 8, 1, 1},      {"box32_a", 8, 32, 3, 1},       {"box32_b", 32, 32, 3, 1},
    {"box64_a", 32, 64, 3, 2},    {"box64_b", 64, 64, 3, 2},      {"box128_a", 64, 128, 3, 4},
    {"box128_b", 128, 128, 3, 4}, {"bottleneck", 128, 128, 3, 8}, {"up64_a", 256, 64, 3, 4},
    {"up64_b", 64, 64, 3, 4},     {"up32_a", 128, 32, 3, 2},      {"up32_b", 32, 32, 3, 2},
    {"up32s_a", 64, 32, 3, 1},    {"head_1x1", 32, 16, 1, 1},     {"out_1x1", 16, 1, 1, 1},
};

struct ImageSize {
    std::int64_t size, batch;
};
constexpr ImageSize image_sizes[] = {{256, 4}, {1024, 1}};

enum class Pass { forward, backward_data, backward_weights };
const char* pass_name(Pass p) {
    return p == Pass::forward ? "fwd" : p == Pass::backward_data ? "bwd_data" : "bwd_weights";
}

double direct_flops(const ConvShape& s, const ImageSize& img) {
    const double hw = double(img.size / s.scale) * double(img.size / s.scale);
    return 2.0 * double(img.batch) * hw * double(s.ic * s.oc * s.k * s.k);
}

// Times `step` and reports GFLOP/s and percent of peak.
template <typename Step>
void timed_loop(benchmark::State& state, double flops, Step&& step) {
    bench::report_flops(state, flops, bench::time_steps(state, step));
}

dnnl::memory make_memory(const dnnl::memory::desc& md) {
    dnnl::memory m(md, cpu_engine());
    auto* p = static_cast<float*>(m.get_data_handle());
    for (std::size_t i = 0; i < md.get_size() / sizeof(float); ++i) p[i] = float(i % 13) * 0.01f;
    return m;
}

// The bare oneDNN primitive: layouts chosen by oneDNN, memories allocated in them, no reorders.
void bare_primitive(benchmark::State& state, ConvShape s, ImageSize img, Pass pass,
                    dnnl::algorithm algo) {
    const std::int64_t hw = img.size / s.scale, pad = s.k / 2;
    const dnnl::memory::dims src{img.batch, s.ic, hw, hw}, wei{s.oc, s.ic, s.k, s.k}, bia{s.oc},
        dst{img.batch, s.oc, hw, hw}, strides{1, 1}, padding{pad, pad};
    dnnl::stream stream(cpu_engine());
    try {
        const auto prop = pass == Pass::forward ? dnnl::prop_kind::forward_inference
                                                : dnnl::prop_kind::forward_training;
        dnnl::primitive_attr attr;
        if (pass == Pass::forward) {
            dnnl::post_ops ops;
            ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
            attr.set_post_ops(ops);
        }
        dnnl::convolution_forward::primitive_desc fwd(
            {prop, algo, any_desc(src), any_desc(wei), any_desc(bia), any_desc(dst), strides,
             padding, padding},
            attr, cpu_engine());
        if (pass == Pass::forward) {
            state.SetLabel(fwd.impl_info_str());
            auto m_src = make_memory(fwd.src_desc()), m_wei = make_memory(fwd.weights_desc()),
                 m_bia = make_memory(fwd.bias_desc()), m_dst = make_memory(fwd.dst_desc());
            dnnl::convolution_forward prim(fwd);
            timed_loop(state, direct_flops(s, img), [&] {
                prim.execute(stream, {{DNNL_ARG_SRC, m_src},
                                      {DNNL_ARG_WEIGHTS, m_wei},
                                      {DNNL_ARG_BIAS, m_bia},
                                      {DNNL_ARG_DST, m_dst}});
                stream.wait();
            });
        } else if (pass == Pass::backward_data) {
            dnnl::convolution_backward_data::primitive_desc bwd(
                {algo, any_desc(src), any_desc(wei), any_desc(dst), strides, padding, padding},
                cpu_engine(), fwd);
            state.SetLabel(bwd.impl_info_str());
            auto m_dsrc = make_memory(bwd.diff_src_desc()), m_wei = make_memory(bwd.weights_desc()),
                 m_ddst = make_memory(bwd.diff_dst_desc());
            dnnl::convolution_backward_data prim(bwd);
            timed_loop(state, direct_flops(s, img), [&] {
                prim.execute(stream, {{DNNL_ARG_DIFF_SRC, m_dsrc},
                                      {DNNL_ARG_WEIGHTS, m_wei},
                                      {DNNL_ARG_DIFF_DST, m_ddst}});
                stream.wait();
            });
        } else {
            dnnl::convolution_backward_weights::primitive_desc bwd(
                {algo, any_desc(src), any_desc(wei), any_desc(bia), any_desc(dst), strides, padding,
                 padding},
                cpu_engine(), fwd);
            state.SetLabel(bwd.impl_info_str());
            auto m_src = make_memory(bwd.src_desc()), m_dwei = make_memory(bwd.diff_weights_desc()),
                 m_dbia = make_memory(bwd.diff_bias_desc()),
                 m_ddst = make_memory(bwd.diff_dst_desc());
            dnnl::convolution_backward_weights prim(bwd);
            timed_loop(state, direct_flops(s, img), [&] {
                prim.execute(stream, {{DNNL_ARG_SRC, m_src},
                                      {DNNL_ARG_DIFF_WEIGHTS, m_dwei},
                                      {DNNL_ARG_DIFF_BIAS, m_dbia},
                                      {DNNL_ARG_DIFF_DST, m_ddst}});
                stream.wait();
            });
        }
    } catch (const dnnl::error& e) {
        state.SkipWithError((std::string("not implemented here: ") + e.what()).c_str());
    }
}

// The framework's layer, fed in the layout its primitive reads (as the previous layer of a
// network leaves it), through the primitive cache and weight refresh checks.
void framework_layer(benchmark::State& state, ConvShape s, ImageSize img,
                     ConvolutionAlgorithm algorithm) {
    Context ctx;
    ctx.set_convolution_algorithm(algorithm);
    ConvolutionConfig cfg;
    cfg.filters = s.oc;
    cfg.kernel = s.k;
    cfg.activation = Activation::relu();
    ConvolutionLayer layer("bench", cfg);
    const std::int64_t hw = img.size / s.scale;
    const Dims in{img.batch, s.ic, hw, hw};
    layer.build({in});
    std::mt19937 rng(1);
    layer.initialize(rng);
    Tensor x(layer.preferred_src_desc(ctx, in, Mode::inference));
    const std::size_t size = x.storage_size();
    for (std::size_t i = 0; i < size; ++i) x.data()[i] = float(i % 13) * 0.01f;
    Tensor y;
    timed_loop(state, direct_flops(s, img), [&] {
        layer.forward(ctx, {&x}, y, Mode::inference);
        ctx.stream().wait();
    });
    state.SetLabel(layer.implementation());
}

}  // namespace

int main(int argc, char** argv) {
    bench::report_peak();
    const double fma_flops =
        2.0 * bench::fma_lanes() * bench::fma_chains * 2'000'000.0 * omp_get_max_threads();
    benchmark::RegisterBenchmark("peak_fma",
                                 [fma_flops](benchmark::State& state) {
                                     timed_loop(state, fma_flops, [] {
                                         double sink = 0;
#pragma omp parallel reduction(+ : sink)
                                         sink += bench::fma_kernel(2'000'000);
                                         benchmark::DoNotOptimize(sink);
                                     });
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);

    for (const auto& s : generator_shapes) {
        for (const auto& img : image_sizes) {
            const std::string base = std::string(s.name) + "/" + std::to_string(img.size) + "x" +
                                     std::to_string(img.size) + "b" + std::to_string(img.batch) +
                                     "/" + std::to_string(s.ic) + "to" + std::to_string(s.oc);
            for (Pass pass : {Pass::forward, Pass::backward_data, Pass::backward_weights}) {
                for (auto algo :
                     {dnnl::algorithm::convolution_direct, dnnl::algorithm::convolution_winograd}) {
                    if (algo == dnnl::algorithm::convolution_winograd && s.k != 3) continue;
                    const char* algo_name =
                        algo == dnnl::algorithm::convolution_direct ? "direct" : "winograd";
                    benchmark::RegisterBenchmark(
                        ("bare/" + base + "/" + pass_name(pass) + "/" + algo_name).c_str(),
                        bare_primitive, s, img, pass, algo)
                        ->UseRealTime()
                        ->Unit(benchmark::kMillisecond);
                }
            }
            for (auto algorithm : {ConvolutionAlgorithm::direct, ConvolutionAlgorithm::automatic}) {
                benchmark::RegisterBenchmark(
                    ("layer/" + base + "/fwd/" +
                     (algorithm == ConvolutionAlgorithm::direct ? "direct" : "auto"))
                        .c_str(),
                    framework_layer, s, img, algorithm)
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
            }
        }
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
