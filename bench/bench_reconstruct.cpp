// Filtered back-projection speed: slices per second of 512x512 reconstructions from 720 angles
// over 180 degrees (ramp filter, linear interpolation, as scikit-image's iradon), one slice on
// all TBB threads and, as reconstruct_stack runs a stack, several slices side by side.
//
//   ./bench/bench_reconstruct --benchmark_counters_tabular=true
//
// bench/compare_iradon.py times scikit-image's iradon on the same sinogram size for comparison.

#include <benchmark/benchmark.h>

#include <tbb/parallel_for.h>

#include <vector>

#include "sim/parallel_beam.hpp"
#include "sim/phantom.hpp"

using namespace tomodenoise;

namespace {

constexpr int k_size = 512;
constexpr int k_angles = 720;

const sim::ParallelGeometry& geometry() {
    static const sim::ParallelGeometry g = sim::ParallelGeometry::full(k_size, k_angles);
    return g;
}

const std::vector<float>& sinogram() {
    static const std::vector<float> s = sim::project(sim::shepp_logan_ellipses(), geometry());
    return s;
}

// `slices` reconstructions per iteration, in parallel over the slices (each also parallel
// inside); slices_per_second counts them all.
void fbp(benchmark::State& state) {
    const int slices = int(state.range(0));
    const std::vector<float>& s = sinogram();
    (void)sim::filtered_back_projection(s, geometry(), FbpFilter::ramp);  // warm-up, kernel cache
    for (auto _ : state) {
        tbb::parallel_for(0, slices, [&](int) {
            benchmark::DoNotOptimize(
                sim::filtered_back_projection(s, geometry(), FbpFilter::ramp).data());
        });
    }
    state.counters["slices_per_second"] = benchmark::Counter(
        double(slices) * double(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(fbp)
    ->Name("fbp/512x512/720_angles/slices")
    ->Arg(1)
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
