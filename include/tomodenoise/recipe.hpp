#pragma once
/// @file
/// How a model is meant to be applied: what training records in the model file beside the
/// network (normalization, training mode, input depth, Noise2Self masking, classes), so that
/// inference prepares a volume as training did without the user guessing options.

#include <cstdint>
#include <string>

#include "tomodenoise/normalize.hpp"

namespace tomodenoise {

/// What a model was trained for.
enum class TrainingMode {
    unknown,     ///< not recorded (a model file without a recipe, such as Keras's own)
    supervised,  ///< noisy input against a clean label
    n2n,         ///< Noise2Noise: two independent noisy realizations
    n2s,         ///< Noise2Self: grid masking of width `mask_width`
    seg,         ///< segmentation into `classes` classes (softmax output)
    gan,         ///< adversarial (TomoGAN)
    n2i,         ///< Noise2Inverse over `splits` splits of the projections
};

/// "unknown", "supervised", "n2n", "n2s", "seg", "gan", "n2i".
std::string to_string(TrainingMode mode);
/// The mode named by to_string; InvalidArgument listing the names for any other text.
TrainingMode parse_training_mode(const std::string& name);

/// How inference applies a model.
enum class InferenceMethod {
    single_pass,  ///< the network once over the image
    j_invariant,  ///< Noise2Self: once per mask phase (mask_width^2), each pixel from the pass
                  ///< that masked it
};

/// "single_pass", "j_invariant".
std::string to_string(InferenceMethod method);
/// The method named by to_string; InvalidArgument listing the names for any other text.
InferenceMethod parse_inference_method(const std::string& name);

/// Bounds check_recipe enforces.
constexpr std::int64_t max_recipe_mask_width = 64;
constexpr std::int64_t max_recipe_splits = 1024;

/// How a model is meant to be applied. A model file without one (the published TomoGAN models)
/// gets default_recipe(): no normalization, mode unknown, depth = input channels.
struct ModelRecipe {
    /// How the input volume is scaled, from the volume's own statistics; the output is mapped
    /// back to the input's units with the inverse map.
    NormalizationSpec normalization;
    TrainingMode mode = TrainingMode::unknown;
    /// Adjacent slices given as input channels, the middle one denoised: equals the network's
    /// input channels.
    std::int64_t depth = 1;
    /// seg: the number of classes (= the network's output channels, at least 2); 0 otherwise.
    std::int64_t classes = 0;
    /// n2s: the width of the masking grid (2..max_recipe_mask_width); 0 otherwise.
    std::int64_t mask_width = 0;
    /// The inference denoise_stack uses unless told otherwise; j_invariant needs a mask_width.
    InferenceMethod inference = InferenceMethod::single_pass;
    /// n2i: the number of splits K of the projections (2..max_recipe_splits); 0 otherwise.
    std::int64_t splits = 0;
};

bool operator==(const ModelRecipe& a, const ModelRecipe& b);
inline bool operator!=(const ModelRecipe& a, const ModelRecipe& b) {
    return !(a == b);
}

/// The recipe of a model file that records none, for a network of `input_channels`.
ModelRecipe default_recipe(std::int64_t input_channels);

/// InvalidArgument naming the field ("depth", "classes", "mask_width", "inference", "splits",
/// "normalization.low_percent", ...) when `recipe` does not fit a network of `input_channels`
/// and `output_channels`: depth other than the input channels; classes not 0, or for seg not
/// the output channels (at least 2); mask_width not 0, or for n2s outside
/// 2..max_recipe_mask_width; j_invariant without a mask_width; splits not 0, or for n2i outside
/// 2..max_recipe_splits; a normalization check_normalization_spec refuses.
void check_recipe(const ModelRecipe& recipe, std::int64_t input_channels,
                  std::int64_t output_channels);

}  // namespace tomodenoise
