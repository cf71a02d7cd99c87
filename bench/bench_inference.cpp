// Whole-image inference with the published Keras models through the public Model API: seconds
// per slice in steady state, Mpixel/s, and GFLOP/s counted as direct convolution (so Winograd
// can exceed 100%) as a percentage of this machine's peak FMA rate measured in the same run.
// Model files come from $TOMODENOISE_SHARED_DIR (default: ../shared beside the source tree).
//
//   OMP_NUM_THREADS=2 ./bench/bench_inference --benchmark_filter='TomoGAN.h5/1024'
//
// bench/compare_onnxruntime reads the seconds_per_slice counter of
// inference/TomoGAN.h5/1024x1024/auto (one slice on all threads), or with --bench-filter of
// .../auto_N_images_in_parallel (N slices at once, one thread each: a stack's throughput).

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "api/model_impl.hpp"
#include "layers/convolution.hpp"
#include "peak.hpp"
#include "tomodenoise/model.hpp"

using namespace tomodenoise;

namespace {

std::filesystem::path shared_dir() {
    const char* env = std::getenv("TOMODENOISE_SHARED_DIR");
    return env ? env : TOMODENOISE_DEFAULT_SHARED_DIR;
}

// Multiply-adds of every convolution for the network's last built input, times two.
double direct_convolution_flops(Network& network) {
    double flops = 0;
    for (const auto& node : network.nodes()) {
        const auto* conv = dynamic_cast<const ConvolutionLayer*>(node.layer.get());
        if (!conv) continue;
        const auto& c = conv->config();
        flops +=
            2.0 * double(node.dims.count()) * double(conv->input_channels() * c.kernel * c.kernel);
    }
    return flops;
}

// `images` slices per call, each on its own copy of the network (ApplyOptions::parallel_images).
void apply_model(benchmark::State& state, std::string file, std::int64_t size, bool direct,
                 int images) {
    const auto path = shared_dir() / "models" / "keras" / file;
    if (!std::filesystem::exists(path)) {
        state.SkipWithError(("model file absent: " + path.string()).c_str());
        return;
    }
    ApplyOptions options;
    options.direct_convolution = direct;
    options.parallel_images = images;
    Model model = Model::load(path.string(), options);
    std::vector<float> input(static_cast<std::size_t>(images * size * size)), output(input.size());
    for (std::size_t i = 0; i < input.size(); ++i) input[i] = float((i * 2654435761u) % 256);
    model.apply(input.data(), images, size, size, output.data());  // primitives, buffers
    const double flops = direct_convolution_flops(model_impl(model).network) * images;
    const double seconds = bench::time_steps(
        state, [&] { model.apply(input.data(), images, size, size, output.data()); });
    const double per_slice = seconds / double(state.iterations()) / images;
    state.counters["seconds_per_slice"] = per_slice;
    state.counters["Mpixel/s"] = double(size * size) / per_slice / 1e6;
    bench::report_flops(state, flops, seconds);
}

}  // namespace

int main(int argc, char** argv) {
    bench::report_peak();
    for (const char* file : {"TomoGAN.h5", "TomoGAN-toy.h5", "dn-mdl-toy.h5"}) {
        for (std::int64_t size : {256, 1024}) {
            const std::string base = std::string("inference/") + file + "/" + std::to_string(size) +
                                     "x" + std::to_string(size) + "/";
            for (bool direct : {false, true})
                benchmark::RegisterBenchmark((base + (direct ? "direct" : "auto")).c_str(),
                                             apply_model, file, size, direct, 1)
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
            // One slice per core, single-threaded convolutions: throughput over a stack.
            const int cores = omp_get_max_threads();
            if (cores > 1)
                benchmark::RegisterBenchmark(
                    (base + "auto_" + std::to_string(cores) + "_images_in_parallel").c_str(),
                    apply_model, file, size, false, cores)
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
        }
    }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
