#pragma once
/// @file
/// Training a denoising network: supervised (noisy -> clean) or Noise2Noise (one noisy
/// realization -> another), with the MSE loss and Adam on random patches, from scratch or
/// resumed from a model file with its optimizer state; what examples/train_denoiser runs.

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "tomodenoise/model.hpp"
#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// Datasets of a training file.
enum class TrainingLayout {
    /// TomoGAN's: /train_ns -> /train_gt, tested on /test_ns against /test_gt.
    tomogan,
    /// Noise2Noise: /train_a -> /train_b (two noisy realizations of the same images), tested
    /// on /test_a against /test_clean.
    noise2noise,
};

/// The images a denoiser learns from, as float32 stacks.
struct TrainingData {
    Stack inputs, targets;  ///< one shape, at least one slice
    /// Evaluated after every epoch: one shape (not necessarily the training one), or both
    /// empty (no slices) for no test.
    Stack test_inputs, test_targets;
};

/// Reads `file`'s datasets of `layout` as float32 (converted from their stored pixel type). The
/// test datasets are optional: without both of them, or with no test slice, the data has no
/// test. IoError naming the file or dataset that cannot be read, ShapeError naming a dataset
/// with no pixel, FormatError for values float32 cannot hold.
TrainingData read_training_file(const std::string& file,
                                TrainingLayout layout = TrainingLayout::tomogan);

/// The networks training builds from scratch.
enum class DenoiserArchitecture {
    cnn,      ///< the plain CNN denoiser (a stack of 3x3 convolutions)
    tomogan,  ///< TomoGAN's U-Net generator (patches a multiple of its size multiple, 8)
};

/// How train_denoiser trains. train_denoiser throws InvalidArgument naming the field for a
/// value outside the bounds given here.
struct TrainOptions {
    /// Network built from scratch, with initial weights drawn from `seed`; unused with `resume`.
    DenoiserArchitecture architecture = DenoiserArchitecture::cnn;
    /// A model file (as `checkpoint` writes it, with its optimizer state) to continue training
    /// from; empty: train from scratch.
    std::string resume;
    int epochs = 10;              ///< at least 1
    int batch = 8;                ///< patches per step, at least 1
    std::int64_t patch = 64;      ///< patch side in pixels, at least 1, at most the images'
    int steps_per_epoch = 0;      ///< 0: as many as the training images fill, at least 1
    double learning_rate = 1e-3;  ///< Adam's, finite and positive
    std::uint32_t seed = 0;       ///< initial weights, patch positions and order
    /// OpenMP threads training runs with (the caller's count is restored on return or throw);
    /// 0: the default (all cores, or OMP_NUM_THREADS). At most max_threads().
    int threads = 0;
    /// Model file written after every epoch in Keras's HDF5 layout (model, then optimizer
    /// state; complete or not at all), so that an interrupted run loses at most one epoch and
    /// `resume` continues it. May be `resume` itself. Empty: nothing is saved.
    std::string checkpoint;
    /// Folder for a PNG per epoch, epoch_NNN.png: the first test slice as input | output |
    /// target in one display window (with test data only). Created, and checked writable,
    /// before training starts. Empty: no snapshots.
    std::string snapshots;
};

/// How an epoch went.
struct TrainingEpoch {
    int epoch = 0;          ///< 1-based, counted in this run
    double train_loss = 0;  ///< mean MSE over the epoch's steps
    double test_loss = -1;  ///< MSE over the whole test images; -1 without test data
    /// 10 log10(R^2 / test_loss) with R the test targets' value range (max - min); NaN without
    /// test data.
    double test_psnr = std::numeric_limits<double>::quiet_NaN();
    double seconds = 0;  ///< the epoch's wall time: its steps and the test
};

/// What train_denoiser reports while it runs; each may be empty.
struct TrainingCallbacks {
    /// Once the network is built or loaded and the options, data and snapshot folder are
    /// checked, before the first epoch.
    std::function<void()> on_start;
    /// After each epoch, once its checkpoint is written (its snapshot is written next).
    std::function<void(const TrainingEpoch&)> on_epoch;
};

/// Trains a denoiser (one input channel, one output channel) to map `data.inputs` to
/// `data.targets` and returns it, ready to apply with `options.threads` threads. Throws
/// InvalidArgument naming the option or stack out of bounds, ShapeError for stacks that do not
/// fit each other or the network, IoError or FormatError naming a `resume` file that cannot be
/// used and a checkpoint or snapshot that cannot be written, and NumericalError when the loss,
/// a weight or the optimizer's state stops being finite (before that epoch is checkpointed:
/// the message says which epoch the checkpoint keeps). An exception from a callback stops
/// training and propagates; the checkpoint then holds the last epoch written.
Model train_denoiser(const TrainingData& data, const TrainOptions& options = {},
                     const TrainingCallbacks& callbacks = {});

}  // namespace tomodenoise
