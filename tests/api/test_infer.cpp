// Denoising a stored stack through the public API (include/tomodenoise/infer.hpp): against
// Model::apply and references computed here with plain loops; callbacks; options out of bounds.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "keras/model_file.hpp"
#include "models/cnn_denoiser.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/infer.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/train.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

constexpr std::int64_t odd_h = 19, odd_w = 23;

class DenoiseStackApi : public ::testing::Test {
protected:
    // A plain CNN of `input_channels` saved as model.h5; in.h5:/noisy holds `stack`.
    void prepare(std::int64_t input_channels, const Stack& stack) {
        CnnDenoiserConfig config;
        config.input_channels = input_channels;
        config.seed = 3;
        Network network = build_cnn_denoiser(config);
        save_network(options_.model, network);
        write_hdf5_stack(DatasetAddress::parse(options_.input), stack);
    }

    // Model::apply of model.h5 on `n` images of its input channels x h x w.
    std::vector<float> apply_model(const std::vector<float>& input, std::int64_t n) {
        Model model = Model::load(options_.model);
        std::vector<float> output(static_cast<std::size_t>(n * odd_h * odd_w));
        model.apply(input.data(), n, odd_h, odd_w, output.data());
        return output;
    }

    std::vector<float> read_output() {
        return read_hdf5_stack(DatasetAddress::parse(options_.output)).to_float();
    }

    ScratchDir dir_;
    DenoiseStackOptions options_ = [this] {
        DenoiseStackOptions options;
        options.model = dir_.file("model.h5");
        options.input = dir_.file("in.h5") + ":/noisy";
        options.output = dir_.file("out.h5") + ":/denoised";
        return options;
    }();
};

Stack random_stack(const StackShape& shape, std::uint32_t seed, float low, float high) {
    const std::vector<float> values =
        random_values(static_cast<std::size_t>(shape.pixels()), seed, low, high);
    return Stack::from_float(shape, values.data());
}

TEST_F(DenoiseStackApi, EqualsModelApplyAndReportsStartAndProgressInOrder) {
    const StackShape shape{5, odd_h, odd_w};
    const Stack stack = random_stack(shape, 4, 0.f, 1000.f);
    prepare(1, Stack::from_float(shape, stack.to_float().data(), PixelType::uint16));
    options_.batch = 2;

    std::vector<std::string> events;
    DenoiseCallbacks callbacks;
    callbacks.on_start = [&](const StackShape& input) {
        events.push_back("start " + input.to_string());
    };
    callbacks.on_progress = [&](std::int64_t done, std::int64_t total) {
        events.push_back(std::to_string(done) + "/" + std::to_string(total));
    };
    const DenoiseStackResult result = denoise_stack(options_, callbacks);

    EXPECT_EQ(result.shape, shape);
    EXPECT_GE(result.seconds, 0);
    EXPECT_EQ(events,
              (std::vector<std::string>{"start " + shape.to_string(), "2/5", "4/5", "5/5"}));
    const std::vector<float> stored =
        Stack::from_float(shape, stack.to_float().data(), PixelType::uint16).to_float();
    EXPECT_TRUE(within_fraction_of_range(read_output(), apply_model(stored, shape.n), 1e-5));
}

TEST_F(DenoiseStackApi, NeighboursReflectedAtTheEndsShareTheVolumesMinMaxMap) {
    const StackShape shape{4, odd_h, odd_w};
    std::vector<float> values = random_stack(shape, 6, 0.f, 1.f).to_float();
    const std::int64_t plane = odd_h * odd_w;
    for (std::int64_t i = 0; i < shape.n; ++i)  // a range of its own for each slice
        for (std::int64_t p = 0; p < plane; ++p)
            values[i * plane + p] = values[i * plane + p] * 10.f * float(i + 1) - 3.f * float(i);
    prepare(3, Stack::from_float(shape, values.data()));
    options_.normalization.scaling = Scaling::min_max;
    options_.batch = 3;
    denoise_stack(options_);

    // Slice i: slices i-1, i, i+1 (reflected: -1 is 1, n is n-2), all mapped with the whole
    // volume's min and max; the output mapped back with the inverse of that map.
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    const double offset = *low, scale = *high - *low;
    std::vector<float> input;
    for (std::int64_t i = 0; i < shape.n; ++i)
        for (std::int64_t k = -1; k <= 1; ++k) {
            const std::int64_t j = i + k < 0 ? 1 : i + k == shape.n ? shape.n - 2 : i + k;
            for (std::int64_t p = 0; p < plane; ++p)
                input.push_back(float((values[j * plane + p] - offset) / scale));
        }
    std::vector<float> want = apply_model(input, shape.n);
    for (float& y : want) y = float(y * scale + offset);
    EXPECT_TRUE(within_fraction_of_range(read_output(), want, 1e-5));
}

TEST_F(DenoiseStackApi, TilesInBothThreadingsEqualWholeSlices) {
    // The plain CNN's radius is 5, its minimum tile 11; 19x23 slices take 2 x 2 to 3 x 3 tiles.
    const StackShape shape{3, odd_h, odd_w};
    prepare(1, random_stack(shape, 12, -2.f, 5.f));
    options_.tile = 0;
    denoise_stack(options_);
    const std::vector<float> whole = read_output();
    options_.overwrite = true;
    for (const TileThreading threading : {TileThreading::side_by_side, TileThreading::in_turn})
        for (const std::int64_t tile : {11, 12, 16}) {
            SCOPED_TRACE("threading " + std::to_string(int(threading)) + ", tile " +
                         std::to_string(tile));
            options_.tile = tile;
            options_.threading = threading;
            // Two copies side by side; in turn on one OpenMP thread, as the tests run.
            options_.apply.threads = threading == TileThreading::side_by_side ? 2 : 1;
            options_.batch = tile == 12 ? 2 : 1;
            denoise_stack(options_);
            EXPECT_TRUE(within_fraction_of_range(read_output(), whole, 1e-5));
        }
}

TEST_F(DenoiseStackApi, ModelDeeperThanTheStackIsAShapeErrorAndWritesNothing) {
    prepare(3, random_stack({2, odd_h, odd_w}, 13, 0.f, 1.f));
    const auto before = folder_entries(dir_.path());
    expect_error_naming<ShapeError>([&] { denoise_stack(options_); },
                                    {"3 adjacent slices", "2", options_.input});
    EXPECT_EQ(folder_entries(dir_.path()), before);
}

TEST_F(DenoiseStackApi, IntegerOutputLosingItsLevelsIsReportedToTheCallerNotPrinted) {
    const StackShape shape{2, odd_h, odd_w};
    prepare(1, random_stack(shape, 8, 0.f, 1.f));
    options_.output_type = PixelType::uint8;
    std::vector<IntegerOutputWarning> warnings;
    DenoiseCallbacks callbacks;
    callbacks.on_integer_output_warning = [&](const IntegerOutputWarning& w) {
        warnings.push_back(w);
    };
    ::testing::internal::CaptureStderr();
    denoise_stack(options_, callbacks);
    EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
    // Few levels, once; and saturation when the model's output went below 0.
    const auto few_levels = [](const IntegerOutputWarning& w) {
        return w.kind == IntegerOutputWarning::Kind::few_levels;
    };
    ASSERT_EQ(std::count_if(warnings.begin(), warnings.end(), few_levels), 1);
    for (const IntegerOutputWarning& other : warnings)
        if (!few_levels(other)) {
            EXPECT_LT(other.low, -0.5);
        }
    const IntegerOutputWarning w = *std::find_if(warnings.begin(), warnings.end(), few_levels);
    EXPECT_EQ(w.type, PixelType::uint8);
    EXPECT_EQ(w.range.highest, 255);
    EXPECT_LT(w.low, w.high);
    EXPECT_LT(w.high - w.low, w.levels);
    EXPECT_EQ(w.first_slice, 0);

    // Mapped onto the type's range, the same values warn of nothing.
    warnings.clear();
    options_.overwrite = true;
    options_.output_scale = OutputScale{w.low, w.high};
    denoise_stack(options_, callbacks);
    EXPECT_TRUE(warnings.empty());
    const Stack written = read_hdf5_stack(DatasetAddress::parse(options_.output));
    const std::uint8_t* bytes = written.as<std::uint8_t>();
    const auto [low, high] = std::minmax_element(bytes, bytes + written.shape().pixels());
    EXPECT_EQ(*low, 0);
    EXPECT_EQ(*high, 255);
}

TEST_F(DenoiseStackApi, OptionsOutOfBoundsAreNamedAndWriteNothing) {
    prepare(1, random_stack({2, odd_h, odd_w}, 9, 0.f, 1.f));
    const auto before = folder_entries(dir_.path());
    const std::pair<void (*)(DenoiseStackOptions&), const char*> cases[] = {
        {[](DenoiseStackOptions& o) { o.batch = 0; }, "DenoiseStackOptions::batch"},
        {[](DenoiseStackOptions& o) {
             o.output_scale = OutputScale{0, 1};
         },
         "DenoiseStackOptions::output_scale"},  // float32 output
        {[](DenoiseStackOptions& o) {
             o.output_type = PixelType::uint16;
             o.output_scale = OutputScale{1, 0};
         },
         "DenoiseStackOptions::output_scale"},
        {[](DenoiseStackOptions& o) {
             o.output_type = PixelType::int16;
             o.output_scale = OutputScale{0, INFINITY};
         },
         "DenoiseStackOptions::output_scale"},
        {[](DenoiseStackOptions& o) {
             o.normalization.clip = true;
             o.normalization.clip_low = 60;
             o.normalization.clip_high = 40;
         },
         "DenoiseStackOptions::normalization"},
        {[](DenoiseStackOptions& o) { o.tile = 10; }, "DenoiseStackOptions::tile"},  // minimum 11
        {[](DenoiseStackOptions& o) { o.tile = -1; }, "DenoiseStackOptions::tile"},
        {[](DenoiseStackOptions& o) {
             o.threading = TileThreading::in_turn;
             o.apply.threads = 2;
             o.apply.parallel_images = 2;
         },
         "parallel_images"},
    };
    for (const auto& [change, field] : cases) {
        SCOPED_TRACE(field);
        DenoiseStackOptions options = options_;
        change(options);
        expect_error_naming<InvalidArgument>([&] { denoise_stack(options); }, {field});
        EXPECT_EQ(folder_entries(dir_.path()), before);
    }
}

// Issue 11, acceptance 6: a model that records its normalization denoises the same volume given
// in other units (x * 1000 + 50, stored as uint16) to the same result in those units. x is made
// of multiples of 1/1000 so that the uint16 volume holds it exactly; what differs is float
// rounding of the normalized inputs (about 1e-7), so the results agree within 1e-5 of the
// output's range.
TEST_F(DenoiseStackApi, RecordedPercentileRangeGivesTheSameResultInOtherUnits) {
    const StackShape shape{3, odd_h, odd_w};
    std::vector<float> x = random_values(std::size_t(shape.pixels()), 21, 0.f, 1000.f);
    std::vector<float> y(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const float step = std::round(x[i]);
        x[i] = step / 1000.f;
        y[i] = step + 50.f;
    }
    prepare(1, Stack::from_float(shape, x.data()));
    Model model = Model::load(options_.model);
    ModelRecipe recipe = model.recipe();
    recipe.normalization.method = NormalizationMethod::percentile_range;
    recipe.normalization.low_percent = 1;
    recipe.normalization.high_percent = 99;
    model.set_recipe(recipe);
    model.save(options_.model);

    denoise_stack(options_);
    const std::vector<float> from_x = read_output();
    write_hdf5_stack({dir_.file("in.h5"), "/other_units"},
                     Stack::from_float(shape, y.data(), PixelType::uint16));
    options_.input = dir_.file("in.h5") + ":/other_units";
    options_.output = dir_.file("out.h5") + ":/other_units";
    denoise_stack(options_);
    std::vector<float> from_y = read_output();
    for (float& v : from_y) v = (v - 50.f) / 1000.f;
    EXPECT_TRUE(within_fraction_of_range(from_y, from_x, 1e-5));

    // Asking for another normalization besides contradicts the recorded one.
    options_.normalization.scaling = Scaling::min_max;
    options_.overwrite = true;
    expect_error_naming<InvalidArgument>(
        [&] { denoise_stack(options_); },
        {"DenoiseStackOptions::normalization", "model.h5", "percentile_range"});
}

// Noise2Self: J-invariant inference through tiles equals apply_j_invariant on whole slices (the
// grid hidden over the whole slice before tiling, in both mask modes), for every tile size;
// single-pass inference, when asked, is Model::apply.
TEST_F(DenoiseStackApi, JInvariantTilesEqualWholeImageJInvariantInference) {
    const StackShape shape{3, odd_h, odd_w};
    const std::vector<float> values = random_stack(shape, 22, -1.f, 2.f).to_float();
    prepare(3, Stack::from_float(shape, values.data()));
    Model model = Model::load(options_.model);
    ModelRecipe recipe = model.recipe();
    recipe.mode = TrainingMode::n2s;
    recipe.mask_width = 3;
    recipe.inference = InferenceMethod::j_invariant;
    model.set_recipe(recipe);
    model.save(options_.model);
    // Slice i gets slices i-1, i, i+1, reflected at the ends.
    const std::int64_t plane = odd_h * odd_w;
    std::vector<float> input;
    for (std::int64_t i = 0; i < shape.n; ++i)
        for (std::int64_t k = -1; k <= 1; ++k) {
            const std::int64_t j = i + k < 0 ? 1 : i + k == shape.n ? shape.n - 2 : i + k;
            input.insert(input.end(), values.begin() + j * plane, values.begin() + (j + 1) * plane);
        }
    options_.overwrite = true;
    std::vector<float> j_invariant;
    for (const MaskMode mode : {MaskMode::zero, MaskMode::interpolate}) {
        std::vector<float> want(values.size());
        apply_j_invariant(model, input.data(), shape.n, odd_h, odd_w, 3, mode, want.data());
        options_.mask_mode = mode;
        for (const std::int64_t tile : {0, 11, 16}) {
            SCOPED_TRACE("mask mode " + std::to_string(int(mode)) + ", tile " +
                         std::to_string(tile));
            options_.tile = tile;
            // Tile 16 with two network copies side by side, sharing each phase's input.
            options_.apply.threads = tile == 16 ? 2 : 0;
            options_.threading =
                tile == 16 ? TileThreading::side_by_side : TileThreading::automatic;
            denoise_stack(options_);
            EXPECT_TRUE(within_fraction_of_range(read_output(), want, 1e-5));
        }
        if (mode == MaskMode::zero) j_invariant = want;
    }
    options_.inference = InferenceMethod::single_pass;
    denoise_stack(options_);
    const std::vector<float> single = read_output();
    EXPECT_TRUE(within_fraction_of_range(single, apply_model(input, shape.n), 1e-5));
    EXPECT_FALSE(within_fraction_of_range(single, j_invariant, 1e-3));

    // J-invariant inference needs a model trained with a mask.
    recipe = default_recipe(3);
    model.set_recipe(recipe);
    model.save(options_.model);
    options_.inference = InferenceMethod::j_invariant;
    expect_error_naming<InvalidArgument>([&] { denoise_stack(options_); },
                                         {"DenoiseStackOptions::inference", "model.h5"});
}

}  // namespace
