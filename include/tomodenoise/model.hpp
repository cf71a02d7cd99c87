#pragma once
/// @file
/// A trained denoising (or segmentation) network, ready to apply to images of any size.

#include <cstdint>
#include <memory>
#include <string>

#include "tomodenoise/precision.hpp"
#include "tomodenoise/recipe.hpp"
#include "tomodenoise/threads.hpp"

namespace tomodenoise {

/// How a model computes.
struct ApplyOptions {
    /// OpenMP threads apply() runs with (the calling thread's count is restored when it
    /// returns or throws); 0 leaves the default (all cores, or OMP_NUM_THREADS). At most
    /// max_threads().
    int threads = 0;
    /// Use direct convolution everywhere instead of Winograd where it is faster.
    bool direct_convolution = false;
    /// What the network computes in. Precision::bf16: convolutions take bfloat16 inputs and
    /// weights (f32 accumulation and bias) through oneDNN, activations pass between layers in
    /// bf16, and conversions happen only at the network's input and output (apply() still
    /// takes and gives float32). About 3 significant digits: within 1e-2 of the output range of
    /// the published TomoGAN models. Pays on CPUs with AMX or AVX-512 BF16
    /// (cpu_bf16_support() native); elsewhere slower than f32, and f32 without AVX-512.
    Precision precision = Precision::f32;
    /// Images apply() computes at once when given several, each on its own copy of the network
    /// with threads / parallel_images OpenMP threads. Single-threaded convolutions on separate
    /// images keep each core busy without synchronizing, which on many CPUs beats splitting one
    /// image over all cores (measure with bench/bench_inference). Copies cost one network's
    /// activations each. Only for Model::load; a model made in memory uses 1. At most the
    /// thread count (`threads`, or the default when 0), so that each copy has a thread.
    int parallel_images = 1;
};

/// A network loaded from (or saved to) a Keras HDF5 model file: the published TomoGAN models
/// (Keras 2.2.4-tf, 2.3.0-tf, 2.4) and any model this library saves.
class Model {
public:
    /// Loads `path`. Throws IoError when the file cannot be read and FormatError naming the
    /// file, layer and class (or weight and dims) for content it cannot use: sizes beyond
    /// sane limits or disagreeing with the stored weights (refused before allocating),
    /// fields of the wrong type, NaN or infinite weights, a damaged recipe (naming its field,
    /// see recipe()); InvalidArgument naming the field for `options` out of range.
    static Model load(const std::string& path, const ApplyOptions& options = {});

    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    /// Writes the model in Keras's HDF5 layout (complete or not at all), with its recipe as
    /// the root attribute `tomodenoise_recipe` (JSON; Keras loads the file without minding it).
    void save(const std::string& path);

    /// How the model is meant to be applied: as recorded in its file by training, or
    /// default_recipe(input_channels()) for a file without one and for a model made in memory.
    const ModelRecipe& recipe() const;
    /// Replaces the recipe that save() records. InvalidArgument naming the field when
    /// check_recipe refuses it for this network.
    void set_recipe(const ModelRecipe& recipe);

    std::int64_t input_channels() const;
    std::int64_t output_channels() const;
    /// The network's height and width must be multiples of this (2^pooling levels); apply()
    /// pads other sizes by reflection and crops the result back.
    std::int64_t size_multiple() const;
    /// Number of trainable values.
    std::int64_t parameter_count() const;
    /// One line per layer: name, class, output channels.
    std::string summary() const;

    /// Applies the model to `n` images of `input_channels()` x `h` x `w` float32 values
    /// (row-major NCHW) and writes `n` x `output_channels()` x `h` x `w` values to `output`.
    /// Any h, w >= 1. After the first call on a shape, a call on the same shape creates no
    /// oneDNN primitive and allocates no buffer.
    void apply(const float* input, std::int64_t n, std::int64_t h, std::int64_t w, float* output);

private:
    struct Impl;  // the network, its execution context and buffers (lib/api/model_impl.hpp)
    // The library's own way in (lib/api/model_impl.hpp), for the code that builds and trains
    // networks; not part of the public API.
    friend struct ModelAccess;
    explicit Model(std::unique_ptr<Impl> impl);

    std::unique_ptr<Impl> impl_;
};

}  // namespace tomodenoise
