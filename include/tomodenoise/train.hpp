#pragma once
/// @file
/// Training as a library: one trainer for supervised denoising, Noise2Noise, Noise2Self,
/// segmentation and TomoGAN's adversarial training, on random patches of (N, H, W) stacks (the 8
/// flips and rotations, `depth` adjacent slices as input channels), with Adam, validation,
/// checkpoints that resume bit for bit, and Noise2Self inference; what examples/train_denoiser
/// runs.

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "tomodenoise/error.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/precision.hpp"
#include "tomodenoise/recipe.hpp"
#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// The modes train_denoiser trains (TrainingMode, in recipe.hpp, names every mode a model file
/// may record): "supervised" (noisy -> clean, MSE or L1), "n2n" (Noise2Noise: one noisy
/// realization -> another), "n2s" (Noise2Self: noisy images only; a grid of masked pixels is
/// predicted from the others, the loss counting the masked pixels only), "seg" (images ->
/// integer labels, softmax cross-entropy with class weights), "gan" (TomoGAN: noisy -> clean,
/// the U-Net generator trained against a discriminator, see GanOptions), "n2i" (Noise2Inverse:
/// the mean of K-1 sub-reconstructions -> the remaining one, see
/// noise2inverse_training_data); InvalidArgument naming `option` and the choices otherwise.
TrainingMode parse_train_mode(const std::string& name, const std::string& option = "mode");

/// Datasets of a training file (as simulate_dataset writes them).
enum class TrainingLayout {
    /// TomoGAN's: /train_ns -> /train_gt, tested on /test_ns against /test_gt.
    tomogan,
    /// Noise2Noise: /train_a -> /train_b (two noisy realizations of the same images), tested
    /// on /test_a against /test_clean.
    noise2noise,
    /// Noise2Self: /train_ns only; tested on /test_ns against /test_gt when the file has both.
    noise2self,
    /// Segmentation: /train_ns -> /train_labels (integer classes), tested on /test_ns against
    /// /test_labels.
    segmentation,
};
/// The layout `mode` trains from.
TrainingLayout training_layout(TrainingMode mode);

/// The images a network learns from, as float32 stacks.
struct TrainingData {
    /// Inputs, at least one slice. Targets of the same shape: clean images (supervised), a
    /// second realization (n2n), integer class labels (seg: float32 or any integer pixel type);
    /// empty for n2s. Every other stack is float32.
    Stack inputs, targets;
    /// Validated on: one shape (not necessarily the training one), or both empty (no slices)
    /// for no validation. For n2s, test_targets are the clean images (validation needs them).
    Stack test_inputs, test_targets;
    /// How messages name the four stacks (read_training_file: their dataset addresses); an
    /// empty name stands for "TrainingData::inputs" and so on.
    std::string inputs_name = {}, targets_name = {}, test_inputs_name = {}, test_targets_name = {};
};

/// Reads `file`'s datasets of `layout` as float32 (converted from their stored pixel type, so
/// uint8 labels become 0.0, 1.0, ...). The test datasets are optional: without both of them,
/// or with no test slice, the data has no test. IoError naming the file or dataset that cannot
/// be read (a dataset the layout needs that is missing among them), ShapeError naming a dataset
/// with no pixel, FormatError for values float32 cannot hold and for NaN or infinite values
/// (naming the dataset and the first slice, row and column holding one).
TrainingData read_training_file(const std::string& file,
                                TrainingLayout layout = TrainingLayout::tomogan);

/// Noise2Inverse's training pairs (Hendriksen, Pelt and Batenburg 2020, the X:1 strategy) from
/// K >= 2 sub-reconstructions of one volume (reconstruct_stack's `splits`, each (N, H, W)
/// float32 of one shape): for each split j and slice i, input = the mean of the other K-1
/// splits' slice i, target = split j's slice i; so inputs and targets are (K N, H, W), split
/// j's pairs at slices [j N, (j + 1) N). With `clean` (N, H, W) (a reference for evaluation,
/// e.g. simulate_dataset's /simulation/clean), validation applies the network to the mean of
/// splits 1..K-1 and compares with it; without, the data has no test. ShapeError naming the
/// split (by `names`, or its index) whose shape differs, and for fewer than 2 splits.
TrainingData noise2inverse_training_data(const std::vector<Stack>& splits,
                                         const Stack* clean = nullptr,
                                         const std::vector<std::string>& names = {});

/// Reads the K = `splits` sub-reconstructions reconstruct_stack --splits K wrote beside the
/// stack location `reconstruction` (split_location(reconstruction, k)) and, unless empty, the
/// `clean` reference, into noise2inverse_training_data's pairs. IoError naming a split that
/// cannot be read; ShapeError as noise2inverse_training_data.
TrainingData read_noise2inverse_data(const std::string& reconstruction, int splits,
                                     const std::string& clean = "");

/// The networks training builds from scratch.
enum class DenoiserArchitecture {
    cnn,   ///< the plain CNN denoiser (a stack of 3x3 convolutions)
    unet,  ///< TomoGAN's U-Net generator (patches a multiple of 2^levels)
    tomogan = unet,
};
/// "cnn", "unet" (also "tomogan"); InvalidArgument naming `option` otherwise.
DenoiserArchitecture parse_architecture(const std::string& name,
                                        const std::string& option = "architecture");
std::string to_string(DenoiserArchitecture architecture);

/// The loss of the supervised and n2n modes.
enum class TrainingLoss { mse, l1 };

/// How the learning rate changes over a run.
enum class LearningRateSchedule {
    constant,  ///< learning_rate throughout
    /// learning_rate * (1 + cos(pi * progress)) / 2, decaying to 0.1 % of it at the end
    /// (learning_rate / 1000 is its floor): progress is the
    /// fraction of the total iterations done or, with max_seconds, of the time limit spent when
    /// that is larger (a time-limited run is not reproducible step for step anyway).
    cosine,
};
/// "constant", "cosine"; InvalidArgument naming `option` otherwise.
LearningRateSchedule parse_learning_rate_schedule(const std::string& name,
                                                  const std::string& option = "lr_schedule");
std::string to_string(LearningRateSchedule schedule);

/// How Noise2Self hides the pixels the network must predict.
enum class MaskMode {
    zero,         ///< masked pixels set to 0
    interpolate,  ///< masked pixels replaced by the mean of their 4 neighbours (reflected)
};

/// The adversarial loss of mode gan.
enum class GanLoss {
    bce,   ///< binary cross-entropy of the discriminator's logits (TomoGAN's)
    wgan,  ///< Wasserstein critic, its weights clipped to [-clip, clip] after each step
};
/// "bce", "wgan"; InvalidArgument naming `option` otherwise.
GanLoss parse_gan_loss(const std::string& name, const std::string& option = "gan_loss");
std::string to_string(GanLoss loss);

/// The discriminator of mode gan: TomoGAN's six convolutions, then its head.
enum class GanDiscriminator {
    /// TomoGAN's: Flatten, Dense 64, Dense 1: one logit per patch, so it is built for the
    /// patch size.
    tomogan,
    /// TomoGAN's convolutions with leaky ReLUs (slope 0.2, as DCGAN's and PatchGAN's
    /// discriminators) and He-normal initial weights, then a convolution to one logit per 8x8
    /// block (PatchGAN, Isola et al. 2017), each judging a 45x45 window, the loss averaged over
    /// them; for any patch size. It judges the images' high-pass residual: 10 x (the image
    /// minus the mean of each pixel's 3x3 neighbourhood, zeros outside), real and generated
    /// alike, the generator's gradient flowing back through it. TomoGAN's discriminator, its
    /// 4-filter ReLU layer silent and one logit per patch, can stay at chance for thousands of
    /// steps of a small batch against an MSE-trained generator; this one tells them apart
    /// within about 50 (on the images themselves rather than their residual, about 450).
    patch,
    /// The patch discriminator conditioned on the generator's input (pix2pix, Isola et al.
    /// 2017): it judges pairs, the image's high-pass residual beside the input's (each of its
    /// depth slices, scaled to unit root mean square per patch so that a low dose's noise does
    /// not drown the image; the image's residual by the centre slice's factor, so that it is
    /// measured against the input's noise and a high dose weighs as much as a low one),
    /// generated (input, G(input)) against real (input, label). It can ask whether the detail
    /// the input shows survived, not only whether the image looks clean.
    conditional,
};
/// "tomogan", "patch", "conditional"; InvalidArgument naming `option` otherwise.
GanDiscriminator parse_gan_discriminator(const std::string& name,
                                         const std::string& option = "gan.discriminator");
std::string to_string(GanDiscriminator discriminator);

/// The file Keras's VGG19 ImageNet weights without top come in, which the perceptual loss needs.
inline constexpr const char* vgg19_notop_file = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5";

/// Mode gan (TomoGAN): the generator is the U-Net (architecture unet), the discriminator
/// TomoGAN's (6 convolutions, Dense 64, Dense 1: one logit per patch, so it is built for the
/// patch size) or its convolutions with a patch head (see GanDiscriminator). Each iteration takes
/// generator_steps generator steps, then discriminator_steps discriminator steps, each on a batch
/// of its own, each network with its own Adam (learning rate and schedule of TrainOptions). The
/// generator minimizes
///   adversarial_weight * adversarial + mse_weight * MSE + perceptual_weight * perceptual
/// where adversarial is BCE(D(G(x)), 1) (bce) or -mean(D(G(x))) (wgan), MSE the mean squared
/// error against the label, and perceptual the MSE between the VGG19 features (no top, to
/// block5_pool) of output and label, each replicated to 3 channels and put through Keras's
/// VGG19 preprocess_input (as TomoGAN, on the values the network learns in), the VGG frozen.
/// The discriminator minimizes BCE(D(y), 1) + BCE(D(G(x)), 0) (bce) or mean(D(G(x))) -
/// mean(D(y)) (wgan). Weights are finite and not negative; at least one is positive.
struct GanOptions {
    int generator_steps = 1;      ///< itg, 1..100
    int discriminator_steps = 2;  ///< itd, 0..100
    double adversarial_weight = 20;
    double mse_weight = 0.5;
    double perceptual_weight = 2;
    GanLoss loss = GanLoss::bce;
    /// Unset: tomogan, or with `resume` the resumed discriminator's (given with `resume`, it
    /// must be the checkpoint's).
    std::optional<GanDiscriminator> discriminator;
    double clip = 0.01;  ///< wgan: finite and positive
    /// The discriminator's Adam learning rate, following TrainOptions::lr_schedule as the
    /// generator's does; unset: the generator's (TrainOptions::learning_rate). Finite and
    /// positive.
    std::optional<double> discriminator_learning_rate;
    /// Keras's vgg19_notop_file (its exact layout; any name); required when perceptual_weight
    /// is above 0 (InvalidArgument naming the file needed otherwise), and the patch then at
    /// least 32 (VGG19's five poolings).
    std::string vgg19_weights;
};

/// Adam's learning rate when TrainOptions::learning_rate is unset.
inline constexpr double default_learning_rate = 1e-3;
inline constexpr double default_gan_learning_rate = 1e-4;  ///< TomoGAN's, both networks

/// How train_denoiser trains. train_denoiser throws InvalidArgument naming the field for a
/// value outside the bounds given here, before any work.
struct TrainOptions {
    TrainingMode mode = TrainingMode::supervised;
    TrainingLoss loss = TrainingLoss::mse;  ///< supervised and n2n
    /// Network built from scratch, with initial weights drawn from `seed`; empty: cnn, or with
    /// `resume` the resumed model's (given with `resume`, it must be the model's).
    std::optional<DenoiserArchitecture> architecture;
    int levels = 3;  ///< unet's pooling levels, 1..6
    /// A unet built from scratch for supervised or n2n at depth 1 outputs its input plus a
    /// learned correction (a Keras Add layer), so that it starts near the identity and learns
    /// the noise; ignored otherwise (n2s must not see the pixel it predicts; a resumed model
    /// keeps its own layers).
    bool residual = true;
    /// Input channels: an odd number of adjacent slices (reflected at the stack's ends) whose
    /// middle one is denoised, at most the training slices and 63. 0: 1, or with `resume` the
    /// resumed model's (given with `resume`, it must be the model's).
    int depth = 0;
    /// A model file to continue training from. With this library's training state (every
    /// checkpoint has it) training continues where it stopped, bit for bit as if it had not:
    /// the same optimizer state, iteration and patches; the seed is the checkpoint's. Without
    /// (a Keras model such as TomoGAN.h5) its weights are fine-tuned with a fresh Adam from
    /// iteration 0 (on_message says so). Mode gan also fine-tunes a checkpoint of mode
    /// supervised (a unet trained with MSE or L1 first, as TomoGAN and SRGAN pre-train their
    /// generators): its weights and normalization, with a fresh Adam, a new discriminator and
    /// iteration 0. Any other mode than the checkpoint's is an InvalidArgument. Empty: train
    /// from scratch.
    std::string resume;
    /// Total steps (a resumed run counts the steps before it); 0: epochs x steps_per_epoch.
    std::int64_t iterations = 0;
    int epochs = 10;          ///< at least 1; with iterations = 0, their total
    int steps_per_epoch = 0;  ///< 0: as many as the training images fill, at least 1
    /// Wall-clock limit of this run in seconds (whichever of it and the iterations comes
    /// first; the model is checkpointed when it stops); 0: none.
    double max_seconds = 0;
    int batch = 8;            ///< patches per step, at least 1
    std::int64_t patch = 64;  ///< patch side in pixels, at least 1, at most the images'
    /// Adam's, finite and positive; unset: default_learning_rate, or for gan
    /// default_gan_learning_rate (both networks).
    std::optional<double> learning_rate;
    LearningRateSchedule lr_schedule = LearningRateSchedule::cosine;
    /// How the data is scaled for the network: fitted over all of `inputs` (fit_normalization)
    /// and applied, as one map, to the inputs, to the targets of supervised and n2n (so that
    /// both are in the same units) and to the test inputs; the network's test output is mapped
    /// back (Normalization::inverse) before validation compares it with the test targets.
    /// Recorded in the model's recipe, so that inference scales a volume the same way from the
    /// volume's own statistics and maps the output back to its units. Unset: mean_std for a
    /// new model (its map moves little with the noise level, where extreme percentiles of
    /// noisy data do); with `resume`, the spec the model records (given, it must be that
    /// one), or none for a model that records no recipe (a Keras model).
    std::optional<NormalizationSpec> normalization;
    int mask_width = 4;  ///< n2s: the grid's period, 2..16 (1 pixel in w*w is masked)
    MaskMode mask_mode = MaskMode::zero;  ///< n2s
    /// n2s: the inference the model records as its default (ModelRecipe::inference).
    InferenceMethod n2s_inference = InferenceMethod::single_pass;
    GanOptions gan;   ///< gan
    int classes = 2;  ///< seg: output channels, 2..255
    /// n2i: the number K of sub-reconstructions (2..max_recipe_splits), recorded in the model's
    /// recipe for inference; the data must hold the K pairs of each slice
    /// (noise2inverse_training_data). n2i trains at depth 1. With `resume`, it must be the K
    /// the resumed model records (InvalidArgument naming both and the file, before training).
    int splits = 4;
    /// seg: one weight per class (finite, not negative), or empty for all 1.
    std::vector<float> class_weights;
    /// Steps between validations on the test data (and at the end); 0: steps_per_epoch.
    std::int64_t validate_every = 0;
    /// Steps between checkpoints (and at the end); 0: steps_per_epoch.
    std::int64_t checkpoint_every = 0;
    std::uint32_t seed = 0;  ///< initial weights, patch positions, transforms and n2s phases
    /// OpenMP threads training runs with (the caller's count is restored on return or throw);
    /// 0: the default (all cores, or OMP_NUM_THREADS). At most max_threads(). A resumed run
    /// ends bit for bit as an uninterrupted one with the same seed and threads.
    int threads = 0;
    /// What forward and backward compute in. Precision::bf16 (mixed precision): convolutions
    /// take bf16 activations, weights and gradients (f32 accumulation), while the weights the
    /// optimizer updates, Adam's state, the loss and everything checkpointed stay f32. Resumes
    /// bit for bit as f32 does. The returned Model applies in f32 (ApplyOptions::precision).
    Precision precision = Precision::f32;
    /// Model file written every checkpoint_every steps, at the end and when stopped by a signal
    /// (see stop_training_on_signal), in Keras's HDF5 layout with the optimizer state and this
    /// library's training state (iteration, mode, sampler seed); complete or not at all. May be
    /// `resume` itself. Empty: nothing is saved. For gan the model is the generator alone (what
    /// inference applies); the discriminator and its Adam state are in the same file, in the
    /// same Keras layout inside the group /tomodenoise_discriminator (Keras ignores it).
    std::string checkpoint;
    /// File a CSV row is appended to at every validation (a header first when the file is new
    /// or empty): iteration, train and test loss, PSNR, SSIM and the high-frequency ratio (gan:
    /// then the adversarial, MSE and perceptual terms and the discriminator's loss), or for seg
    /// the mean and per-class IoU and Dice. Empty: none.
    std::string validation_csv;
    /// Folder for a PNG per validation, iter_NNNNNNN.png: the first test slice as input |
    /// output | target (seg: the predicted class). Created, and checked writable, before
    /// training starts. Empty: no snapshots.
    std::string snapshots;
};

/// How fast training runs, after every step.
struct TrainingProgress {
    std::int64_t iteration = 0;   ///< steps done, counting those before a resume
    std::int64_t iterations = 0;  ///< total steps
    double loss = 0;              ///< this step's (gan: the generator's, mean over its steps)
    /// gan: this step's discriminator loss (mean over its steps; NaN without any); NaN otherwise.
    double discriminator_loss = std::numeric_limits<double>::quiet_NaN();
    double seconds = 0;                ///< this run's wall time so far
    double iterations_per_second = 0;  ///< this run's steps over its time
    /// Fraction of this run's time the steps waited for their batch (prefetched on TBB while
    /// the previous step computes).
    double data_wait_fraction = 0;
};

/// A validation on the test data.
struct TrainingValidation {
    std::int64_t iteration = 0;
    double train_loss = 0;  ///< mean loss of the steps since the previous validation
    /// The objective's loss over the whole test slices (n2s: the MSE against the clean
    /// images), in the test targets' units (the output mapped back from the normalization,
    /// where train_loss is in the normalized units); NaN without test data.
    double test_loss = std::numeric_limits<double>::quiet_NaN();
    /// Denoising modes: the output mapped back to the data's units against the test targets,
    /// whose value range is PSNR's data range; NaN for seg and without test data.
    double psnr = std::numeric_limits<double>::quiet_NaN();
    double ssim = std::numeric_limits<double>::quiet_NaN();
    /// seg: per class (NaN for a class absent from both labels and prediction), and their mean
    /// over the classes present.
    std::vector<double> iou, dice;
    double mean_iou = std::numeric_limits<double>::quiet_NaN();
    double mean_dice = std::numeric_limits<double>::quiet_NaN();
    /// Denoising modes: high_frequency_power_ratio (metrics.hpp) of the output against the test
    /// targets, 1 for the targets' sharpness, less for an oversmoothed output; NaN for seg and
    /// without test data.
    double high_frequency_ratio = std::numeric_limits<double>::quiet_NaN();
    /// gan: means over the training steps since the previous validation of the generator
    /// loss's terms (unweighted, GeneratorLoss) and of the discriminator's loss (NaN when no
    /// discriminator step ran); NaN for the other modes.
    double adversarial_loss = std::numeric_limits<double>::quiet_NaN();
    double mse_loss = std::numeric_limits<double>::quiet_NaN();
    double perceptual_loss = std::numeric_limits<double>::quiet_NaN();
    double discriminator_loss = std::numeric_limits<double>::quiet_NaN();
    double seconds = 0;  ///< this run's wall time so far
};

/// How a run ended.
struct TrainingSummary {
    std::int64_t first_iteration = 0;  ///< where this run started (0, or the resumed step)
    std::int64_t iteration = 0;        ///< where it ended
    bool time_limit_reached = false;   ///< max_seconds stopped it before the iterations
    double seconds = 0;
    double data_wait_fraction = 0;  ///< as TrainingProgress's, over the whole run
};

/// What train_denoiser reports while it runs; each may be empty.
struct TrainingCallbacks {
    /// Notes a user should see: "fine-tuning X with a fresh Adam (no training state)".
    std::function<void(const std::string&)> on_message;
    /// Once the network is built or loaded and the options, data and snapshot folder are
    /// checked, before the first step.
    std::function<void()> on_start;
    std::function<void(const TrainingProgress&)> on_progress;
    /// After each validation (its checkpoint, when one falls on the same step, is written
    /// first; its snapshot and CSV row too).
    std::function<void(const TrainingValidation&)> on_validation;
    /// After the last step's checkpoint.
    std::function<void(const TrainingSummary&)> on_end;
};

/// Thrown by train_denoiser when stop_training_on_signal's signal arrived: the checkpoint
/// (when one is set) holds the step reached, and `resume` continues from it.
class TrainingInterrupted : public Error {
public:
    TrainingInterrupted(const std::string& what, int signal_number, std::int64_t iteration)
        : Error(what), signal_number_(signal_number), iteration_(iteration) {}
    int signal_number() const { return signal_number_; }
    std::int64_t iteration() const { return iteration_; }

private:
    int signal_number_;
    std::int64_t iteration_;
};

/// Makes SIGINT and SIGTERM ask a running (or later) train_denoiser to stop after its current
/// step: it writes its checkpoint and throws TrainingInterrupted (the request is then answered:
/// a later train_denoiser runs); a tool then ends the process by the signal (end_by_signal). A
/// second signal before that takes the handler installed before this call
/// (remove_temporaries_on_signal's: temporaries removed, process ended). An ignored signal stays
/// ignored. For tools, called once after remove_temporaries_on_signal.
void stop_training_on_signal();

/// Ends the process as killed by `signal_number` (the default action restored, then raised),
/// so that its parent sees the conventional status.
[[noreturn]] void end_by_signal(int signal_number);

/// Trains a network of `options.mode` on `data` and returns it, ready to apply with
/// `options.threads` threads. Throws InvalidArgument naming the option or stack out of bounds
/// (a label outside 0..classes-1 names its stack and slice), ShapeError for stacks that do not
/// fit each other or the network, IoError or FormatError naming a `resume` file that cannot be
/// used (or whose architecture or depth disagree with the options, naming both) and a
/// checkpoint, CSV or snapshot that cannot be written, NumericalError when the loss, a weight
/// or the optimizer's state stops being finite (the message says which step the checkpoint
/// keeps), and TrainingInterrupted. An exception from a callback stops training and
/// propagates; the checkpoint then holds the last one written.
Model train_denoiser(const TrainingData& data, const TrainOptions& options = {},
                     const TrainingCallbacks& callbacks = {});

/// Noise2Self inference that never shows the network the pixel it predicts (J-invariant): for
/// each of the mask_width^2 grid phases, the images with that phase's pixels masked (as
/// training masked them, only the middle input channel) are run through `model`, and each
/// pixel is taken from the pass that masked it. The phase of a pixel comes from its global
/// coordinates (row0 + row, col0 + col), so tiles of a larger image cut at any offset agree.
/// `input` is n x input_channels() x h x w, `output` n x output_channels() x h x w (row-major);
/// InvalidArgument for a mask_width outside 2..16, as Model::apply otherwise. Single-pass
/// inference is Model::apply itself.
void apply_j_invariant(Model& model, const float* input, std::int64_t n, std::int64_t h,
                       std::int64_t w, int mask_width, MaskMode mask_mode, float* output,
                       std::int64_t row0 = 0, std::int64_t col0 = 0);

}  // namespace tomodenoise
