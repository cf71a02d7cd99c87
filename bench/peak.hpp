#pragma once
// This machine's peak fp32 FMA rate, measured with independent FMA chains on every OpenMP
// thread, AVX-512 where the CPU has it and AVX2 otherwise: the denominator of every "percent of
// peak" figure the benchmarks print.

#include <immintrin.h>
#include <omp.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <string>

namespace tomodenoise::bench {

// Enough independent accumulators to cover FMA latency times throughput on current cores.
constexpr int fma_chains = 12;
constexpr long fma_iterations = 20'000'000;

__attribute__((target("avx512f"))) inline double fma_kernel_avx512(long iterations) {
    __m512 acc[fma_chains];
    for (int i = 0; i < fma_chains; ++i) acc[i] = _mm512_set1_ps(float(i));
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < iterations; ++it)
        for (int i = 0; i < fma_chains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 sum = acc[0];
    for (int i = 1; i < fma_chains; ++i) sum = _mm512_add_ps(sum, acc[i]);
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, sum);
    double total = 0;
    for (float v : lanes) total += v;
    return total;
}

__attribute__((target("avx2,fma"))) inline double fma_kernel_avx2(long iterations) {
    __m256 acc[fma_chains];
    for (int i = 0; i < fma_chains; ++i) acc[i] = _mm256_set1_ps(float(i));
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (long it = 0; it < iterations; ++it)
        for (int i = 0; i < fma_chains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 sum = acc[0];
    for (int i = 1; i < fma_chains; ++i) sum = _mm256_add_ps(sum, acc[i]);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sum);
    double total = 0;
    for (float v : lanes) total += v;
    return total;
}

/// The widest FMA this CPU runs: an AVX-512 instruction on an AVX2-only CPU (AMD before Zen 4)
/// is an illegal instruction, not a slow one.
inline bool has_avx512() {
    return __builtin_cpu_supports("avx512f");
}
/// fp32 lanes per FMA instruction of fma_kernel.
inline int fma_lanes() {
    return has_avx512() ? 16 : 8;
}
inline double fma_kernel(long iterations) {
    return has_avx512() ? fma_kernel_avx512(iterations) : fma_kernel_avx2(iterations);
}

/// Peak GFLOP/s on all OpenMP threads (best of a few runs); 2 FLOPs per FMA lane.
inline double measure_peak_gflops() {
    double best = 0;
    for (int run = 0; run < 3; ++run) {
        double sink = 0;
        const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel reduction(+ : sink)
        sink += fma_kernel(fma_iterations);
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double flops =
            2.0 * fma_lanes() * fma_chains * double(fma_iterations) * omp_get_max_threads();
        best = std::max(best, flops / s / 1e9);
        if (sink == 42.0) best += 0;  // keeps the chains live
    }
    return best;
}

/// Measured once per process.
inline double peak_gflops() {
    static const double peak = measure_peak_gflops();
    return peak;
}

/// Runs `step` in the benchmark loop after one warm-up call (first touch of buffers, JIT) and
/// returns the seconds the timed calls took.
template <typename Step>
double time_steps(benchmark::State& state, Step&& step) {
    step();
    double seconds = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        step();
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return seconds;
}

/// GFLOP/s and percent of peak for `flops` per step.
inline void report_flops(benchmark::State& state, double flops, double seconds) {
    const double gflops = flops * double(state.iterations()) / seconds / 1e9;
    state.counters["GFLOP/s"] = gflops;
    state.counters["pct_peak"] = 100.0 * gflops / peak_gflops();
}

/// Puts the peak and thread count in the benchmark's context (console header and JSON).
inline void report_peak() {
    benchmark::AddCustomContext("peak_fp32_gflops", std::to_string(peak_gflops()));
    benchmark::AddCustomContext("peak_isa", has_avx512() ? "avx512f" : "avx2");
    benchmark::AddCustomContext("omp_threads", std::to_string(omp_get_max_threads()));
}

}  // namespace tomodenoise::bench
