// One training step of the TomoGAN generator (train_denoiser --mode supervised --arch unet
// --batch 4 --patch 256: the residual U-Net, 3 levels): forward, MSE, backward and Adam,
// through the trainer's training_step. Reports seconds per step and GFLOP/s counted as direct
// convolution (forward, backward-data and backward-weights of every convolution) as a
// percentage of this machine's peak FMA rate, measured in the same run; with 'auto' the
// library's Winograd kernel can take that above 100%.
//
// breakdown/... times each layer's passes on its own, on the tensors of a real step, and prints
// a table: forward, backward-data (the layer's backward with input gradients, less the one
// without), backward-weights (with the activation's derivative and the bias gradient), each
// with the reorders the layer makes; then the loss, Adam's update, and the rest of the step
// (the network's own reorders and gradient sums, allocation).
//
//   OMP_NUM_THREADS=2 ./bench/bench_training --benchmark_filter='step/'
//
// gan_iteration/auto: one iteration of train_denoiser --mode gan as the trainer runs it
// (gan_iteration): 1 generator step (adversarial, MSE and perceptual loss through the whole
// VGG19, TomoGAN's weights) and 2 discriminator steps, each on its own batch of 4 patches of
// 128x128, with the generator and discriminator Adam updates. Reports seconds per iteration,
// split into the generator step and the discriminator steps, beside step/auto's step.
//
// step/bf16 is step/auto in train_denoiser --precision bf16 (bf16 compute in the layers of 16 or
// more channels, f32 master weights and Adam).
//
// bench/compare_pytorch reads the seconds_per_step counter of step/auto (and step/bf16).

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "layers/convolution.hpp"
#include "models/tomogan_discriminator.hpp"
#include "models/tomogan_generator.hpp"
#include "models/vgg19.hpp"
#include "peak.hpp"
#include "train/gan.hpp"
#include "train/loss.hpp"
#include "train/optimizer.hpp"
#include "train/trainer.hpp"

using namespace tomodenoise;

namespace {

constexpr std::int64_t batch_size = 4, patch = 256;
constexpr double learning_rate = 1e-4;
constexpr int breakdown_repeats = 5;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

long minor_page_faults() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

// Multiply-adds of every convolution for the network's last built input, times two: one pass.
double direct_convolution_flops(const Network& network) {
    double flops = 0;
    for (const auto& node : network.nodes()) {
        const auto* conv = dynamic_cast<const ConvolutionLayer*>(node.layer.get());
        if (!conv) continue;
        const auto& c = conv->config();
        flops += 2.0 * double(node.dims.count()) * double(conv->input_channels()) *
                 double(c.kernel * c.kernel);
    }
    return flops;
}

// A batch of `dims` patches: a smooth target, the input that plus Gaussian noise.
void fill_batch(PatchBatch& batch, const Dims& dims, std::uint32_t seed) {
    batch.input = Tensor(dims);
    batch.target = Tensor(dims);
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.f, 0.1f);
    for (std::int64_t i = 0; i < dims.count(); ++i) {
        batch.target.data()[i] = 0.5f + 0.3f * std::sin(float(i % dims.w) * 0.05f);
        batch.input.data()[i] = batch.target.data()[i] + noise(rng);
    }
}

// The trainer's network, optimizer and a batch of random patches.
struct TrainingSetup {
    Context ctx;
    Network network;
    TrainOptions options;
    PatchBatch batch;
    Tensor grad;
    std::unique_ptr<Adam> adam;
    std::int64_t steps = 0;

    TrainingSetup(ConvolutionAlgorithm algorithm, Precision precision) {
        ctx.set_convolution_algorithm(algorithm);
        ctx.set_precision(precision);
        options.mode = TrainingMode::supervised;
        options.architecture = DenoiserArchitecture::unet;
        options.batch = int(batch_size);
        options.patch = patch;
        TomoGanGeneratorConfig config;
        config.residual = options.residual;
        network = build_tomogan_generator(config);
        const Dims dims{batch_size, 1, patch, patch};
        network.build({dims});
        AdamConfig adam_config;
        adam_config.learning_rate = learning_rate;
        adam = std::make_unique<Adam>(named_parameters(network), adam_config);
        fill_batch(batch, dims, 7);
    }

    double step() {
        return training_step(ctx, network, *adam, options, batch, learning_rate, ++steps, grad);
    }
};

// How a step computes: auto (f32, the fastest kernels), direct (f32, oneDNN's direct
// convolution) or bf16 (train_denoiser --precision bf16: bf16 compute, f32 master weights).
struct StepVariant {
    const char* name;
    ConvolutionAlgorithm algorithm;
    Precision precision;
};
constexpr StepVariant step_variants[] = {
    {"auto", ConvolutionAlgorithm::automatic, Precision::f32},
    {"direct", ConvolutionAlgorithm::direct, Precision::f32},
    {"bf16", ConvolutionAlgorithm::automatic, Precision::bf16}};

void training_step_bench(benchmark::State& state, StepVariant variant) {
    TrainingSetup setup(variant.algorithm, variant.precision);
    const double flops = 3 * direct_convolution_flops(setup.network);
    setup.step();  // the first step creates the primitives and allocates the buffers
    const std::uint64_t allocations_before = tensor_allocation_count();
    const long faults_before = minor_page_faults();
    const std::uint64_t primitives_before = setup.ctx.cache().misses();
    const double seconds = bench::time_steps(state, [&] { setup.step(); });
    bench::report_flops(state, flops, seconds);
    state.counters["primitives_created_per_step"] =
        double(setup.ctx.cache().misses() - primitives_before) / double(state.iterations() + 1);
    // Memory the system hands out afresh each step (oneDNN scratchpads, freed buffers): each
    // fault costs zeroing a page, or a whole huge page.
    state.counters["page_faults_per_step"] =
        double(minor_page_faults() - faults_before) / double(state.iterations() + 1);
    // Buffers later steps allocate again (time_steps runs one untimed step first): should be 0.
    state.counters["tensor_allocations_per_step"] =
        double(tensor_allocation_count() - allocations_before) / double(state.iterations() + 1);
    state.counters["seconds_per_step"] = seconds / double(state.iterations());
    state.counters["parameters"] = double(setup.network.parameter_count());
}

// Median seconds of `repeats` calls of `run` after one untimed call.
template <typename Run>
double median_seconds(Run&& run, int repeats = breakdown_repeats) {
    run();
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = Clock::now();
        run();
        t.push_back(seconds_since(t0));
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

struct LayerTimes {
    std::string name, what;
    double forward = 0, backward_data = 0, backward_weights = 0, flops = 0;
};

void breakdown_bench(benchmark::State& state, StepVariant variant) {
    TrainingSetup setup(variant.algorithm, variant.precision);
    Context& ctx = setup.ctx;
    std::vector<LayerTimes> rows;
    double step = 0, loss = 0, optimizer = 0;
    for (auto _ : state) {
        step = median_seconds([&] { setup.step(); });
        // After a whole step every node holds its output and gradient from that step.
        const auto& nodes = setup.network.nodes();
        rows.clear();
        Tensor scratch_out, loss_grad;
        std::vector<Tensor> scratch_diffs(2);
        for (const auto& node : nodes) {
            if (!node.layer) continue;
            LayerTimes row;
            row.name = node.name;
            row.what = node.layer->type();
            std::vector<const Tensor*> src;
            std::vector<Tensor*> diffs, no_diffs;
            for (std::size_t k = 0; k < node.inputs.size(); ++k) {
                const auto& in = nodes[node.inputs[k]];
                src.push_back(&in.output);
                diffs.push_back(in.layer ? &scratch_diffs[k] : nullptr);
                no_diffs.push_back(nullptr);
            }
            row.forward =
                median_seconds([&] { node.layer->forward(ctx, src, scratch_out, Mode::training); });
            const double weights_only = median_seconds(
                [&] { node.layer->backward(ctx, src, node.output, node.diff, no_diffs); });
            const double full = median_seconds(
                [&] { node.layer->backward(ctx, src, node.output, node.diff, diffs); });
            row.backward_weights = weights_only;
            row.backward_data = std::max(full - weights_only, 0.0);
            if (auto* conv = dynamic_cast<ConvolutionLayer*>(node.layer.get())) {
                row.what = std::to_string(conv->input_channels()) + "->" +
                           std::to_string(conv->config().filters) + " " +
                           std::to_string(conv->config().kernel) + "x" +
                           std::to_string(conv->config().kernel) + " " + conv->implementation();
                row.flops = 2.0 * double(node.dims.count()) * double(conv->input_channels()) *
                            double(conv->config().kernel * conv->config().kernel);
            }
            rows.push_back(row);
        }
        Tensor out;
        ctx.to_plain(nodes.back().output, out);
        loss =
            median_seconds([&] { mean_squared_error_loss(out, setup.batch.target, &loss_grad); });
        optimizer = median_seconds([&] { setup.adam->step(); });
    }
    double fwd = 0, bwd_data = 0, bwd_weights = 0, flops = 0;
    std::printf("\nstep %.4f s (%s, %d threads); per layer, ms (GFLOP/s as direct convolution)\n",
                step, variant.name, omp_get_max_threads());
    std::printf("%-22s %9s %9s %9s  %s\n", "layer", "forward", "bwd_data", "bwd_wei", "what");
    const auto gflops = [](double f, double s) { return s > 0 ? f / s / 1e9 : 0.0; };
    for (const auto& r : rows) {
        std::printf("%-22s %9.2f %9.2f %9.2f  %s", r.name.c_str(), 1e3 * r.forward,
                    1e3 * r.backward_data, 1e3 * r.backward_weights, r.what.c_str());
        if (r.flops > 0)
            std::printf(" (%.0f / %.0f / %.0f GFLOP/s)", gflops(r.flops, r.forward),
                        gflops(r.flops, r.backward_data), gflops(r.flops, r.backward_weights));
        std::printf("\n");
        fwd += r.forward;
        bwd_data += r.backward_data;
        bwd_weights += r.backward_weights;
        flops += r.flops;
    }
    const double rest = step - fwd - bwd_data - bwd_weights - loss - optimizer;
    std::printf("%-22s %9.2f %9.2f %9.2f  (%.0f%% / %.0f%% / %.0f%% of peak)\n", "total", 1e3 * fwd,
                1e3 * bwd_data, 1e3 * bwd_weights, 100 * gflops(flops, fwd) / bench::peak_gflops(),
                100 * gflops(flops, bwd_data) / bench::peak_gflops(),
                100 * gflops(flops, bwd_weights) / bench::peak_gflops());
    std::printf("loss %.2f ms, Adam %.2f ms (%lld parameters), rest of the step %.2f ms\n\n",
                1e3 * loss, 1e3 * optimizer,
                static_cast<long long>(setup.network.parameter_count()), 1e3 * rest);
    state.counters["step_s"] = step;
    state.counters["forward_s"] = fwd;
    state.counters["backward_data_s"] = bwd_data;
    state.counters["backward_weights_s"] = bwd_weights;
    state.counters["loss_s"] = loss;
    state.counters["optimizer_s"] = optimizer;
    state.counters["rest_s"] = rest;
}

// Mode gan's networks (TomoGAN's generator, discriminator and VGG19 features, random weights),
// optimizers and objective at TomoGAN's loss weights, and a batch per step of an iteration.
struct GanSetup {
    static constexpr std::int64_t gan_patch = 128;
    Context ctx;
    Network generator, discriminator, vgg;
    GanOptions options;
    std::unique_ptr<Adam> generator_adam, discriminator_adam;
    std::unique_ptr<GanObjective> objective;
    std::vector<PatchBatch> batches;
    std::size_t next = 0;
    std::int64_t iterations = 0;

    GanSetup() {
        TomoGanGeneratorConfig generator_config;
        generator_config.residual = true;  // as train_denoiser builds it
        generator = build_tomogan_generator(generator_config);
        TomoGanDiscriminatorConfig discriminator_config;
        discriminator_config.height = discriminator_config.width = gan_patch;
        discriminator = build_tomogan_discriminator(discriminator_config);
        vgg = build_vgg19_features();
        vgg.set_parameter_gradients(false);  // frozen, as the trainer has it
        const Dims dims{batch_size, 1, gan_patch, gan_patch};
        generator.build({dims});
        discriminator.build({dims});
        vgg.build({Dims{batch_size, 3, gan_patch, gan_patch}});
        AdamConfig adam_config;
        adam_config.learning_rate = learning_rate;
        generator_adam = std::make_unique<Adam>(named_parameters(generator), adam_config);
        discriminator_adam = std::make_unique<Adam>(named_parameters(discriminator), adam_config);
        objective = std::make_unique<GanObjective>(generator, discriminator, &vgg, options);
        batches.resize(std::size_t(options.generator_steps + options.discriminator_steps));
        for (std::size_t k = 0; k < batches.size(); ++k)
            fill_batch(batches[k], dims, std::uint32_t(11 + k));
    }

    GanIterationLoss iteration() {
        next = 0;
        const GanTrainer gan{*objective, discriminator, *discriminator_adam};
        return gan_iteration(ctx, *generator_adam, gan, options, next_batch, learning_rate,
                             ++iterations);
    }

    const std::function<const PatchBatch&()> next_batch = [this]() -> const PatchBatch& {
        return batches[next++];
    };
};

void gan_iteration_bench(benchmark::State& state) {
    GanSetup setup;
    setup.iteration();  // the first creates the primitives and allocates the buffers
    const std::uint64_t allocations_before = tensor_allocation_count();
    const std::uint64_t primitives_before = setup.ctx.cache().misses();
    const double seconds = bench::time_steps(state, [&] { setup.iteration(); });
    state.counters["primitives_created_per_iteration"] =
        double(setup.ctx.cache().misses() - primitives_before) / double(state.iterations() + 1);
    state.counters["tensor_allocations_per_iteration"] =
        double(tensor_allocation_count() - allocations_before) / double(state.iterations() + 1);
    // The parts, timed apart after the benchmark's iterations: the generator step, then the
    // discriminator steps.
    GanOptions generator_only = setup.options, discriminator_only = setup.options;
    generator_only.discriminator_steps = 0;
    discriminator_only.generator_steps = 0;
    const auto part = [&](const GanOptions& options) {
        return median_seconds([&] {
            setup.next = 0;
            const GanTrainer gan{*setup.objective, setup.discriminator, *setup.discriminator_adam};
            gan_iteration(setup.ctx, *setup.generator_adam, gan, options, setup.next_batch,
                          learning_rate, ++setup.iterations);
        });
    };
    state.counters["seconds_per_iteration"] = seconds / double(state.iterations());
    state.counters["generator_step_s"] = part(generator_only);
    state.counters["discriminator_steps_s"] = part(discriminator_only);
}

}  // namespace

int main(int argc, char** argv) {
    bench::report_peak();
    for (const StepVariant& variant : step_variants) {
        const std::string name = variant.name;
        benchmark::RegisterBenchmark(("step/" + name).c_str(), training_step_bench, variant)
            ->UseRealTime()
            ->MinTime(2.0)
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("breakdown/" + name).c_str(), breakdown_bench, variant)
            ->UseRealTime()
            ->Iterations(1)
            ->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark("gan_iteration/auto", gan_iteration_bench)
        ->UseRealTime()
        ->MinTime(2.0)
        ->Unit(benchmark::kMillisecond);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
