// Tiled stack inference (lib/infer's pipeline) in memory: Mpixel/s and seconds per slice for
// tile sizes 128..1024 and 0 (whole slices), with tiles side by side (one network copy per
// thread, single-threaded primitives) or in turn (one copy on all threads), for the plain CNN
// (random weights) and TomoGAN.h5 on 1024x1024 slices; and the same 8 slices of TomoGAN.h5
// end to end through denoise_stack from and to HDF5, against the in-memory pipeline. Tiles
// below a model's minimum are skipped.
//
//   OMP_NUM_THREADS=2 ./bench/bench_tiled_inference --benchmark_filter='TomoGAN.h5'

#include <benchmark/benchmark.h>
#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/padded_forward.hpp"
#include "infer/receptive_field.hpp"
#include "infer/stack_pipeline.hpp"
#include "keras/model_file.hpp"
#include "models/cnn_denoiser.hpp"
#include "peak.hpp"
#include "tomodenoise/infer.hpp"
#include "tomodenoise/io.hpp"

using namespace tomodenoise;

namespace {

std::filesystem::path shared_dir() {
    const char* env = std::getenv("TOMODENOISE_SHARED_DIR");
    return env ? env : TOMODENOISE_DEFAULT_SHARED_DIR;
}

constexpr std::int64_t size = 1024;
constexpr std::int64_t slices = 8;

class MemorySource : public SliceSource {
public:
    explicit MemorySource(const std::vector<float>& values) : values_(values) {}
    StackShape shape() const override { return {slices, size, size}; }
    std::string name() const override { return "memory"; }
    void read(std::int64_t first, std::int64_t count, float* values) override {
        std::copy_n(values_.data() + first * size * size, count * size * size, values);
    }

private:
    const std::vector<float>& values_;
};

class MemorySink : public SliceSink {
public:
    explicit MemorySink(std::vector<float>& values) : values_(values) {}
    void write(std::int64_t first, std::int64_t count, const float* values) override {
        std::copy_n(values, count * size * size, values_.data() + first * size * size);
    }

private:
    std::vector<float>& values_;
};

struct Copy {
    Network network;
    Context context;
    Tensor padded;
};

std::vector<float> test_stack() {
    std::vector<float> values(std::size_t(slices * size * size));
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = float((i * 2654435761u) % 256);
    return values;
}

// `make` builds one copy of the network; side by side gets one per thread.
void tiled(benchmark::State& state, std::function<Network()> make, std::int64_t tile,
           bool side_by_side) {
    const int threads = omp_get_max_threads();
    const std::size_t copies = side_by_side ? std::size_t(threads) : 1;
    std::vector<std::unique_ptr<Copy>> nets;
    for (std::size_t i = 0; i < copies; ++i)
        nets.push_back(std::make_unique<Copy>(Copy{make(), Context(0), Tensor()}));
    const std::int64_t multiple = downsampling_factor(nets[0]->network);
    const ReceptiveField field = receptive_field(nets[0]->network);
    if (tile != 0 && tile < minimum_tile_size(multiple, field)) {
        state.SkipWithError(
            ("tile below the minimum " + std::to_string(minimum_tile_size(multiple, field)))
                .c_str());
        return;
    }
    StackPipeline p;
    p.plan = plan_tiles(size, size, tile, multiple, field);
    p.channels = 1;
    p.cleaning.scaling = Scaling::none;
    for (auto& net : nets)
        p.networks.push_back([&net, multiple](const float* in, const Dims& d, float* out) {
            forward_padded(net->context, net->network, in, d, 1, multiple, net->padded, out);
        });
    p.threads_per_network = threads / int(copies);
    const std::vector<float> input = test_stack();
    std::vector<float> output(input.size());
    MemorySource source(input);
    MemorySink sink(output);
    // The first run creates the primitives and touches the buffers, as an end-to-end run does.
    const auto t0 = std::chrono::steady_clock::now();
    run_stack_pipeline(source, sink, p);
    state.counters["first_run_seconds_per_slice"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / slices;
    const double seconds = bench::time_steps(state, [&] { run_stack_pipeline(source, sink, p); });
    const double per_slice = seconds / double(state.iterations()) / slices;
    state.counters["seconds_per_slice"] = per_slice;
    state.counters["Mpixel/s"] = double(size * size) / per_slice / 1e6;
    state.counters["windows"] = double(p.plan.tiles.size());
}

// denoise_stack over 8 slices stored in HDF5, model loading and primitive creation included.
void end_to_end(benchmark::State& state, std::string model, std::int64_t tile) {
    const std::filesystem::path folder = std::filesystem::temp_directory_path() /
                                         ("bench_tiled_inference_" + std::to_string(getpid()));
    std::filesystem::create_directories(folder);
    const std::vector<float> values = test_stack();
    DenoiseStackOptions options;
    options.model = model;
    options.input = (folder / "in.h5").string() + ":/noisy";
    options.output = (folder / "out.h5").string() + ":/denoised";
    options.tile = tile;
    options.overwrite = true;
    write_hdf5_stack(DatasetAddress::parse(options.input),
                     Stack::from_float({slices, size, size}, values.data()));
    const double seconds = bench::time_steps(state, [&] { denoise_stack(options); });
    const double per_slice = seconds / double(state.iterations()) / slices;
    state.counters["seconds_per_slice"] = per_slice;
    state.counters["Mpixel/s"] = double(size * size) / per_slice / 1e6;
    std::filesystem::remove_all(folder);
}

}  // namespace

int main(int argc, char** argv) {
    bench::report_peak();
    const std::string tomogan = (shared_dir() / "models" / "keras" / "TomoGAN.h5").string();
    const std::vector<std::pair<std::string, std::function<Network()>>> models{
        {"cnn", [] { return build_cnn_denoiser(); }},
        {"TomoGAN.h5", [tomogan] { return load_network(tomogan); }},
    };
    for (const auto& [name, make] : models) {
        if (name == "TomoGAN.h5" && !std::filesystem::exists(tomogan)) continue;
        for (std::int64_t tile : {128, 256, 384, 512, 768, 1024, 0})
            for (bool side_by_side : {true, false})
                benchmark::RegisterBenchmark(
                    ("tiled/" + name + "/1024x1024x8/tile_" + std::to_string(tile) + "/" +
                     (side_by_side ? "side_by_side" : "in_turn"))
                        .c_str(),
                    tiled, make, tile, side_by_side)
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
    }
    if (std::filesystem::exists(tomogan))
        for (std::int64_t tile : {default_tile, std::int64_t(0)})
            benchmark::RegisterBenchmark(
                ("end_to_end_hdf5/TomoGAN.h5/1024x1024x8/tile_" + std::to_string(tile)).c_str(),
                end_to_end, tomogan, tile)
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
