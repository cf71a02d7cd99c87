// Model::recipe(): defaults for a model made in memory and for the published TomoGAN models,
// set_recipe's checks, and the recipe through Model::save and Model::load.

#include <gtest/gtest.h>

#include <string>

#include "api/model_impl.hpp"
#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "models/cnn_denoiser.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/model.hpp"

namespace tomodenoise {
namespace {

using testing::expect_error_naming;
using testing::ScratchDir;

Model three_channel_model() {
    CnnDenoiserConfig config;
    config.input_channels = 3;
    config.widths = {4};
    return make_model(build_cnn_denoiser(config));
}

TEST(ModelRecipe, AModelMadeInMemoryHasTheDefaults) {
    const Model model = three_channel_model();
    EXPECT_EQ(model.recipe(), default_recipe(3));
    EXPECT_EQ(model.recipe().depth, model.input_channels());
    EXPECT_EQ(model.recipe().mode, TrainingMode::unknown);
    EXPECT_EQ(model.recipe().normalization.method, NormalizationMethod::none);
}

TEST(ModelRecipe, SaveAndLoadKeepIt) {
    ScratchDir dir;
    Model model = three_channel_model();
    ModelRecipe recipe = default_recipe(3);
    recipe.mode = TrainingMode::n2s;
    recipe.mask_width = 3;
    recipe.inference = InferenceMethod::j_invariant;
    recipe.normalization = {NormalizationMethod::percentile_range, 0.5, 99.5};
    model.set_recipe(recipe);
    EXPECT_EQ(model.recipe(), recipe);
    model.save(dir.file("model.h5"));
    ApplyOptions options;
    options.threads = 2;
    options.parallel_images = 2;
    const Model loaded = Model::load(dir.file("model.h5"), options);
    EXPECT_EQ(loaded.recipe(), recipe);
    EXPECT_EQ(loaded.recipe().normalization.low_percent, 0.5);
}

TEST(ModelRecipe, SetRecipeRefusesWhatDoesNotFitTheNetwork) {
    Model model = three_channel_model();
    ModelRecipe recipe = default_recipe(1);
    expect_error_naming<InvalidArgument>([&] { model.set_recipe(recipe); },
                                         {"ModelRecipe", "depth 1", "3 input channel"});
    recipe = default_recipe(3);
    recipe.mode = TrainingMode::seg;
    recipe.classes = 2;
    expect_error_naming<InvalidArgument>([&] { model.set_recipe(recipe); },
                                         {"classes 2", "output channels (1)"});
    recipe = default_recipe(3);
    recipe.normalization = {NormalizationMethod::percentile_range, 60.0, 40.0};
    expect_error_naming<InvalidArgument>([&] { model.set_recipe(recipe); },
                                         {"normalization.low_percent"});
    EXPECT_EQ(model.recipe(), default_recipe(3));
}

TEST(ModelRecipe, PublishedModelsGetTheDefaults) {
    for (const char* name : {"TomoGAN.h5", "dn-mdl-toy.h5"}) {
        TOMODENOISE_SHARED_FILE_OR_SKIP(path, std::string("models/keras/") + name);
        Model model = Model::load(path.string());
        EXPECT_EQ(model.recipe(), default_recipe(model.input_channels())) << name;
        // Saved again, the defaults are written out and read back the same.
        ScratchDir dir;
        model.save(dir.file("again.h5"));
        EXPECT_EQ(Model::load(dir.file("again.h5")).recipe(), model.recipe()) << name;
    }
}

TEST(ModelRecipe, LoadRefusesADamagedRecipeNamingFileAndField) {
    ScratchDir dir;
    const std::string path = dir.file("model.h5");
    three_channel_model().save(path);
    {
        auto file = hdf5::File::open_read_write(path);
        hdf5::write_string_attribute(
            file, "/", recipe_attribute,
            R"({"version": 1, "mode": "n2s", "depth": 3, "classes": 0, "mask_width": 0,
                "inference": "single_pass", "splits": 0, "normalization": {"method": "none"}})");
        file.close();
    }
    expect_error_naming<FormatError>([&] { Model::load(path); },
                                     {"model.h5", recipe_attribute, "mask_width 0"});
}

}  // namespace
}  // namespace tomodenoise
