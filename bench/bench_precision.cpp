// The published Keras models in f32 (the default: the library's Winograd kernel where it fits)
// and in bf16 (ApplyOptions::precision: oneDNN with bf16 activations and weights) side by side,
// in the same run: seconds per slice of each, the speed-up of bf16, and the oneDNN
// implementation each convolution ran in each precision (printed once per model and size, so
// that a fallback to a reference or emulated kernel shows).
// Model files come from $TOMODENOISE_SHARED_DIR (default: ../shared beside the source tree).
//
//   OMP_NUM_THREADS=2 ./bench/bench_precision --benchmark_filter='TomoGAN.h5/1024'

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "api/model_impl.hpp"
#include "layers/convolution.hpp"
#include "peak.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/precision.hpp"

using namespace tomodenoise;

namespace {

std::filesystem::path shared_dir() {
    const char* env = std::getenv("TOMODENOISE_SHARED_DIR");
    return env ? env : TOMODENOISE_DEFAULT_SHARED_DIR;
}

Model load(const std::filesystem::path& path, Precision precision) {
    ApplyOptions options;
    options.precision = precision;
    return Model::load(path.string(), options);
}

// One line per convolution: its name, channels, and the implementation of each model.
void print_implementations(const std::string& title, Model& f32, Model& bf16) {
    std::printf("%s: convolution implementations\n  %-16s %9s  %-36s %s\n", title.c_str(), "layer",
                "in->out", "f32", "bf16");
    const auto& a = model_impl(f32).network.nodes();
    const auto& b = model_impl(bf16).network.nodes();
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto* conv_a = dynamic_cast<const ConvolutionLayer*>(a[i].layer.get());
        const auto* conv_b = dynamic_cast<const ConvolutionLayer*>(b[i].layer.get());
        if (!conv_a || !conv_b) continue;
        const std::string channels = std::to_string(conv_a->input_channels()) + "->" +
                                     std::to_string(conv_a->config().filters);
        std::printf("  %-16s %9s  %-36s %s\n", a[i].name.c_str(), channels.c_str(),
                    conv_a->implementation().c_str(), conv_b->implementation().c_str());
    }
    std::fflush(stdout);
}

void compare_precisions(benchmark::State& state, std::string file, std::int64_t size) {
    const auto path = shared_dir() / "models" / "keras" / file;
    if (!std::filesystem::exists(path)) {
        state.SkipWithError(("model file absent: " + path.string()).c_str());
        return;
    }
    Model f32 = load(path, Precision::f32), bf16 = load(path, Precision::bf16);
    std::vector<float> input(static_cast<std::size_t>(size * size)), output(input.size());
    for (std::size_t i = 0; i < input.size(); ++i) input[i] = float((i * 2654435761u) % 256);
    // Warm-up of both (primitives, buffers, first touch), then alternating timed calls so that
    // both see the same machine.
    f32.apply(input.data(), 1, size, size, output.data());
    bf16.apply(input.data(), 1, size, size, output.data());
    double f32_seconds = 0, bf16_seconds = 0;
    const auto timed = [&](Model& model) {
        const auto t0 = std::chrono::steady_clock::now();
        model.apply(input.data(), 1, size, size, output.data());
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    for (auto _ : state) {
        f32_seconds += timed(f32);
        bf16_seconds += timed(bf16);
    }
    const double n = double(state.iterations());
    state.counters["f32_seconds_per_slice"] = f32_seconds / n;
    state.counters["bf16_seconds_per_slice"] = bf16_seconds / n;
    state.counters["bf16_speedup"] = f32_seconds / bf16_seconds;
    static std::vector<std::string> printed;
    const std::string title = file + " " + std::to_string(size) + "x" + std::to_string(size);
    if (std::find(printed.begin(), printed.end(), title) == printed.end()) {
        printed.push_back(title);
        print_implementations(title, f32, bf16);
    }
}

const char* bf16_support_name() {
    switch (cpu_bf16_support()) {
        case Bf16Support::native:
            return "native (AVX-512 BF16 or AMX)";
        case Bf16Support::emulated:
            return "emulated (AVX-512 without bf16 instructions)";
        case Bf16Support::none:
            return "none (no AVX-512: bf16 computes in f32)";
    }
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    bench::report_peak();
    benchmark::AddCustomContext("bf16", bf16_support_name());
    for (const char* file : {"TomoGAN.h5", "TomoGAN-toy.h5", "dn-mdl-toy.h5"})
        for (std::int64_t size : {256, 1024})
            benchmark::RegisterBenchmark(("precision/" + std::string(file) + "/" +
                                          std::to_string(size) + "x" + std::to_string(size))
                                             .c_str(),
                                         compare_precisions, file, size)
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
