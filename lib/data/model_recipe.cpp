#include <cstdint>
#include <string>

#include "tomodenoise/error.hpp"
#include "tomodenoise/recipe.hpp"

namespace tomodenoise {

namespace {

constexpr TrainingMode training_modes[] = {
    TrainingMode::unknown, TrainingMode::supervised, TrainingMode::n2n, TrainingMode::n2s,
    TrainingMode::seg,     TrainingMode::gan,        TrainingMode::n2i};
constexpr InferenceMethod inference_methods[] = {InferenceMethod::single_pass,
                                                 InferenceMethod::j_invariant};

// InvalidArgument naming `field` with its value and what it must be.
[[noreturn]] void refuse(const std::string& field, std::int64_t value, const std::string& must) {
    throw InvalidArgument(field + " " + std::to_string(value) + " " + must);
}

}  // namespace

std::string to_string(TrainingMode mode) {
    switch (mode) {
        case TrainingMode::unknown:
            return "unknown";
        case TrainingMode::supervised:
            return "supervised";
        case TrainingMode::n2n:
            return "n2n";
        case TrainingMode::n2s:
            return "n2s";
        case TrainingMode::seg:
            return "seg";
        case TrainingMode::gan:
            return "gan";
        case TrainingMode::n2i:
            return "n2i";
    }
    return "unknown";
}

TrainingMode parse_training_mode(const std::string& name) {
    std::string names;
    for (TrainingMode mode : training_modes) {
        if (name == to_string(mode)) return mode;
        names += (names.empty() ? "" : ", ") + to_string(mode);
    }
    throw InvalidArgument("training mode '" + name + "' is not one of " + names);
}

std::string to_string(InferenceMethod method) {
    switch (method) {
        case InferenceMethod::single_pass:
            return "single_pass";
        case InferenceMethod::j_invariant:
            return "j_invariant";
    }
    return "unknown";
}

InferenceMethod parse_inference_method(const std::string& name) {
    for (InferenceMethod method : inference_methods)
        if (name == to_string(method)) return method;
    throw InvalidArgument("inference method '" + name + "' is not one of single_pass, j_invariant");
}

bool operator==(const ModelRecipe& a, const ModelRecipe& b) {
    return a.normalization == b.normalization && a.mode == b.mode && a.depth == b.depth &&
           a.classes == b.classes && a.mask_width == b.mask_width && a.inference == b.inference &&
           a.splits == b.splits;
}

ModelRecipe default_recipe(std::int64_t input_channels) {
    ModelRecipe recipe;
    recipe.depth = input_channels;
    return recipe;
}

void check_recipe(const ModelRecipe& recipe, std::int64_t input_channels,
                  std::int64_t output_channels) {
    if (recipe.depth != input_channels)
        refuse(
            "depth", recipe.depth,
            "does not match the network's " + std::to_string(input_channels) + " input channel(s)");
    if (recipe.mode == TrainingMode::seg) {
        if (recipe.classes < 2 || recipe.classes != output_channels)
            refuse("classes", recipe.classes,
                   "of a seg model must equal the network's output channels (" +
                       std::to_string(output_channels) + "), at least 2");
    } else if (recipe.classes != 0) {
        refuse("classes", recipe.classes, "must be 0 for mode " + to_string(recipe.mode));
    }
    if (recipe.mode == TrainingMode::n2s) {
        if (recipe.mask_width < 2 || recipe.mask_width > max_recipe_mask_width)
            refuse(
                "mask_width", recipe.mask_width,
                "of an n2s model must be between 2 and " + std::to_string(max_recipe_mask_width));
    } else if (recipe.mask_width != 0) {
        refuse("mask_width", recipe.mask_width, "must be 0 for mode " + to_string(recipe.mode));
    }
    if (recipe.inference == InferenceMethod::j_invariant && recipe.mask_width == 0)
        throw InvalidArgument("inference j_invariant needs a mask_width (an n2s model)");
    if (recipe.mode == TrainingMode::n2i) {
        if (recipe.splits < 2 || recipe.splits > max_recipe_splits)
            refuse("splits", recipe.splits,
                   "of an n2i model must be between 2 and " + std::to_string(max_recipe_splits));
    } else if (recipe.splits != 0) {
        refuse("splits", recipe.splits, "must be 0 for mode " + to_string(recipe.mode));
    }
    try {
        check_normalization_spec(recipe.normalization);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(std::string("normalization.") + e.what());
    }
}

}  // namespace tomodenoise
