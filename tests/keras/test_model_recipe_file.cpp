// A model's recipe in its file: written by save_network as the root attribute
// tomodenoise_recipe, read back field for field, defaults for a file without one, and a
// FormatError naming the file and the field for every way the attribute can be damaged.

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/hdf5.hpp"
#include "keras/model_file.hpp"
#include "models/cnn_denoiser.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/recipe.hpp"

namespace tomodenoise {
namespace {

using nlohmann::json;
using testing::expect_error_naming;
using testing::folder_entries;
using testing::ScratchDir;

// Three input channels (depth 3) and four output channels (a four-class segmentation).
Network three_in_four_out() {
    CnnDenoiserConfig config;
    config.input_channels = 3;
    config.widths = {4};
    config.output_channels = 4;
    return build_cnn_denoiser(config);
}

// One recipe per mode with fields of its own, every field away from its default somewhere.
std::vector<ModelRecipe> recipes() {
    ModelRecipe seg = default_recipe(3);
    seg.mode = TrainingMode::seg;
    seg.classes = 4;
    seg.normalization = {NormalizationMethod::percentile_range, 0.125, 99.875};
    ModelRecipe n2s = default_recipe(3);
    n2s.mode = TrainingMode::n2s;
    n2s.mask_width = 5;
    n2s.inference = InferenceMethod::j_invariant;
    n2s.normalization.method = NormalizationMethod::mean_std;
    ModelRecipe n2i = default_recipe(3);
    n2i.mode = TrainingMode::n2i;
    n2i.splits = 4;
    ModelRecipe supervised = default_recipe(3);
    supervised.mode = TrainingMode::supervised;
    supervised.normalization = {NormalizationMethod::percentile_range, 0.0, 100.0};
    return {seg, n2s, n2i, supervised, default_recipe(3)};
}

TEST(ModelRecipeFile, RoundTripKeepsEveryField) {
    ScratchDir dir;
    const std::string path = dir.file("model.h5");
    for (const ModelRecipe& recipe : recipes()) {
        SCOPED_TRACE(to_string(recipe.mode));
        Network network = three_in_four_out();
        save_network(path, network, nullptr, &recipe);
        const Network loaded = load_network(path);
        const ModelRecipe back = read_recipe(path, loaded);
        EXPECT_EQ(back, recipe);
        EXPECT_EQ(back.normalization.low_percent == recipe.normalization.low_percent,
                  recipe.normalization.method == NormalizationMethod::percentile_range ||
                      recipe.normalization.low_percent == NormalizationSpec{}.low_percent);
        const auto file = hdf5::File::open_read(path);
        const json stored = json::parse(hdf5::read_string_attribute(file, "/", recipe_attribute));
        EXPECT_EQ(stored.at("version"), recipe_version);
        EXPECT_EQ(stored.at("mode"), to_string(recipe.mode));
        // Keras's own attributes are all still there.
        for (const char* keras : {"model_config", "keras_version", "backend"})
            EXPECT_TRUE(hdf5::attribute_exists(file, "/", keras)) << keras;
    }
}

TEST(ModelRecipeFile, AFileWithoutOneGetsTheDefaults) {
    ScratchDir dir;
    const std::string path = dir.file("model.h5");
    Network network = three_in_four_out();
    save_network(path, network);
    const ModelRecipe recipe = read_recipe(path, network);
    EXPECT_EQ(recipe, default_recipe(3));
    EXPECT_EQ(recipe.depth, 3);
    EXPECT_EQ(recipe.mode, TrainingMode::unknown);
    EXPECT_EQ(recipe.normalization.method, NormalizationMethod::none);
    EXPECT_EQ(recipe.inference, InferenceMethod::single_pass);
    EXPECT_EQ(recipe.classes + recipe.mask_width + recipe.splits, 0);
}

TEST(ModelRecipeFile, AnInconsistentRecipeIsNotWritten) {
    ScratchDir dir;
    Network network = three_in_four_out();
    ModelRecipe recipe = default_recipe(3);
    recipe.depth = 5;
    expect_error_naming<InvalidArgument>(
        [&] { save_network(dir.file("model.h5"), network, nullptr, &recipe); },
        {"model.h5", "depth 5", "3 input channel"});
    recipe = default_recipe(3);
    recipe.mode = TrainingMode::seg;
    recipe.classes = 3;
    expect_error_naming<InvalidArgument>(
        [&] { save_network(dir.file("model.h5"), network, nullptr, &recipe); },
        {"classes 3", "output channels (4)"});
    EXPECT_TRUE(folder_entries(dir.path()).empty());
}

// Writes the recipe attribute of `path` as `text`.
void write_recipe_text(const std::string& path, const std::string& text) {
    auto file = hdf5::File::open_read_write(path);
    hdf5::write_string_attribute(file, "/", recipe_attribute, text);
    file.close();
}

TEST(ModelRecipeFile, DamagedRecipeIsAFormatErrorNamingFileAndField) {
    ScratchDir dir;
    const std::string path = dir.file("model.h5");
    Network network = three_in_four_out();
    ModelRecipe seg = recipes()[0];
    save_network(path, network, nullptr, &seg);
    json good;
    {
        const auto file = hdf5::File::open_read(path);
        good = json::parse(hdf5::read_string_attribute(file, "/", recipe_attribute));
    }
    const auto refused = [&](const std::string& text, const std::vector<std::string>& what) {
        SCOPED_TRACE(text);
        write_recipe_text(path, text);
        std::vector<std::string> parts = {"model.h5", recipe_attribute};
        parts.insert(parts.end(), what.begin(), what.end());
        expect_error_naming<FormatError>([&] { read_recipe(path, network); }, parts);
    };
    const auto edited = [&](const std::function<void(json&)>& edit,
                            const std::vector<std::string>& what) {
        json recipe = good;
        edit(recipe);
        refused(recipe.dump(), what);
    };
    refused("{\"version\": 1, \"mode\": ", {"not valid JSON"});
    refused("[1, 2]", {"JSON object"});
    edited([](json& r) { r.erase("depth"); }, {"'depth'", "missing"});
    edited([](json& r) { r["depth"] = "3"; }, {"'depth'", "integer"});
    edited([](json& r) { r["depth"] = 2; }, {"depth 2", "3 input channel"});
    edited([](json& r) { r["depth"] = -1; }, {"'depth'", "-1"});
    edited([](json& r) { r["depth"] = 18446744073709551615u; }, {"'depth'"});
    edited([](json& r) { r["mode"] = "gan2"; }, {"'mode'", "gan2"});
    edited([](json& r) { r["mode"] = 5; }, {"'mode'", "string"});
    edited([](json& r) { r["inference"] = "twice"; }, {"'inference'", "twice"});
    edited([](json& r) { r["version"] = 2; }, {"'version'", "newer"});
    edited([](json& r) { r["version"] = "1"; }, {"'version'", "integer"});
    edited([](json& r) { r["version"] = 0; }, {"'version'", "0"});
    edited([](json& r) { r["classes"] = 3; }, {"classes 3", "output channels (4)"});
    edited([](json& r) { r["mode"] = "supervised"; }, {"classes 4", "supervised"});
    edited([](json& r) { r["mask_width"] = 4; }, {"mask_width 4", "seg"});
    edited([](json& r) { r["inference"] = "j_invariant"; }, {"inference j_invariant"});
    edited([](json& r) { r["splits"] = 2; }, {"splits 2"});
    edited([](json& r) { r["normalization"] = "percentile_range"; },
           {"'normalization'", "JSON object"});
    edited([](json& r) { r["normalization"]["method"] = "minmax"; },
           {"'normalization.method'", "minmax"});
    edited([](json& r) { r["normalization"].erase("high_percent"); },
           {"'normalization.high_percent'", "missing"});
    edited([](json& r) { r["normalization"]["low_percent"] = -5; },
           {"normalization.low_percent", "-5"});
    edited([](json& r) { r["normalization"]["high_percent"] = 150; },
           {"normalization.high_percent", "150"});
    edited([](json& r) { r["normalization"]["low_percent"] = 99.875; },
           {"normalization.low_percent", "not below high_percent"});
    // JSON has no NaN: it is written as null.
    edited([](json& r) { r["normalization"]["low_percent"] = std::nan(""); },
           {"normalization.low_percent", "finite number"});
    edited([](json& r) { r["normalization"]["low_percent"] = "0.1"; },
           {"normalization.low_percent", "finite number"});

    // Per mode: the fields that mode needs, out of their bounds.
    const auto mode_refused = [&](const char* mode, const char* field, std::int64_t value,
                                  const std::string& what) {
        edited(
            [&](json& r) {
                r["mode"] = mode;
                r["classes"] = 0;
                r[field] = value;
            },
            {what});
    };
    mode_refused("n2s", "mask_width", 1, "mask_width 1");
    mode_refused("n2s", "mask_width", max_recipe_mask_width + 1, "mask_width");
    mode_refused("n2i", "splits", 1, "splits 1");
    mode_refused("n2i", "splits", max_recipe_splits + 1, "splits");
    mode_refused("seg", "classes", 1, "classes 1");
}

}  // namespace
}  // namespace tomodenoise
