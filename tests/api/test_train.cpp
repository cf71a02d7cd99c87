// Training through the public API (include/tomodenoise/train.hpp): data in memory or from a
// training file, checkpoints, callbacks, snapshots, and options out of bounds.

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "keras/model_file.hpp"
#include "models/tomogan_discriminator.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/metrics.hpp"
#include "tomodenoise/precision.hpp"
#include "tomodenoise/simulate.hpp"
#include "tomodenoise/threads.hpp"
#include "tomodenoise/train.hpp"
#include "train/optimizer.hpp"
#include "vgg19_weights_file.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TrainingData simulated_training_data(std::int64_t test_count = 2) {
    SimulationOptions sim;
    sim.count = 4;
    sim.test_count = test_count;
    sim.size = 32;
    sim.seed = 5;
    SimulatedDataset data = simulate(sim);
    return {std::move(data.train.noisy), std::move(data.train.clean), std::move(data.test.noisy),
            std::move(data.test.clean)};
}

TrainOptions short_training(const ScratchDir& dir) {
    TrainOptions options;
    options.epochs = 2;
    options.steps_per_epoch = 3;
    options.batch = 2;
    options.patch = 16;
    options.learning_rate = 3e-3;
    options.seed = 7;
    options.checkpoint = dir.file("model.h5");
    return options;
}

// short_training of a 2-level U-Net in `mode` for `iterations` steps, checkpointed as `name`.
TrainOptions small_unet_training(const ScratchDir& dir, TrainingMode mode, int iterations,
                                 const std::string& name = "model.h5") {
    TrainOptions options = short_training(dir);
    options.mode = mode;
    options.architecture = DenoiserArchitecture::unet;
    options.levels = 2;
    options.iterations = iterations;
    options.checkpoint = dir.file(name);
    return options;
}

// Adam's step count stored with the checkpoint's optimizer state.
std::int64_t saved_iterations(const std::string& checkpoint) {
    Network network = load_network(checkpoint);
    Adam adam(named_parameters(network));
    load_optimizer_state(checkpoint, network, adam);
    return adam.iterations();
}

std::vector<float> apply(Model& model, const Stack& stack) {
    const StackShape& s = stack.shape();
    std::vector<float> output(static_cast<std::size_t>(s.pixels()));
    model.apply(stack.as<float>(), s.n, s.h, s.w, output.data());
    return output;
}

TEST(TrainApi, TrainsFromMemoryCheckpointsEveryEpochAndReportsInOrder) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.snapshots = dir.file("snapshots/nested");
    options.validation_csv = dir.file("validation.csv");
    const float* target = data.test_targets.as<float>();
    const auto [low, high] =
        std::minmax_element(target, target + data.test_targets.shape().pixels());
    const double range = double(*high) - double(*low);

    std::vector<std::string> events;
    TrainingCallbacks callbacks;
    callbacks.on_start = [&] {
        events.push_back("start");
        EXPECT_FALSE(std::filesystem::exists(options.checkpoint));
        EXPECT_TRUE(std::filesystem::is_directory(options.snapshots));
    };
    callbacks.on_progress = [&](const TrainingProgress& p) {
        events.push_back("step " + std::to_string(p.iteration) + "/" +
                         std::to_string(p.iterations));
        EXPECT_TRUE(std::isfinite(p.loss));
    };
    callbacks.on_validation = [&](const TrainingValidation& v) {
        events.push_back("validation " + std::to_string(v.iteration));
        EXPECT_TRUE(std::filesystem::exists(options.checkpoint));
        EXPECT_TRUE(std::isfinite(v.train_loss) && v.train_loss > 0) << v.train_loss;
        ASSERT_GT(v.test_loss, 0);
        EXPECT_NEAR(v.psnr, 10 * std::log10(range * range / v.test_loss), 1e-9);
        EXPECT_GT(v.ssim, -1);
        EXPECT_LT(v.ssim, 1);
        EXPECT_TRUE(v.iou.empty());
    };
    callbacks.on_end = [&](const TrainingSummary& s) {
        events.push_back("end " + std::to_string(s.first_iteration) + ".." +
                         std::to_string(s.iteration));
        EXPECT_GE(s.data_wait_fraction, 0);
        EXPECT_LE(s.data_wait_fraction, 1);
    };
    Model model = train_denoiser(data, options, callbacks);

    EXPECT_EQ(events, (std::vector<std::string>{"start", "step 1/6", "step 2/6", "step 3/6",
                                                "validation 3", "step 4/6", "step 5/6", "step 6/6",
                                                "validation 6", "end 0..6"}));
    EXPECT_EQ(saved_iterations(options.checkpoint), 2 * 3);
    for (const char* name : {"iter_0000003.png", "iter_0000006.png"})
        EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(options.snapshots) / name))
            << name;
    std::ifstream csv(options.validation_csv);
    std::string header, row3, row6, extra;
    std::getline(csv, header);
    std::getline(csv, row3);
    std::getline(csv, row6);
    EXPECT_EQ(header, "iteration,train_loss,test_loss,psnr,ssim,high_frequency_ratio");
    EXPECT_EQ(row3.substr(0, 2), "3,");
    EXPECT_EQ(row6.substr(0, 2), "6,");
    EXPECT_FALSE(std::getline(csv, extra));

    // The model returned is the last one saved.
    EXPECT_EQ(model.input_channels(), 1);
    EXPECT_EQ(model.output_channels(), 1);
    Model saved = Model::load(options.checkpoint);
    const std::vector<float> got = apply(model, data.test_inputs);
    EXPECT_TRUE(within_fraction_of_range(got, apply(saved, data.test_inputs), 1e-5));
    EXPECT_GT(std::count_if(got.begin(), got.end(), [](float v) { return v != 0; }),
              std::ptrdiff_t(got.size() / 2));

    // Epochs are a total: resuming to 3 epochs runs the third, written back in place.
    options.resume = options.checkpoint;
    options.epochs = 3;
    options.snapshots.clear();
    options.validation_csv.clear();
    events.clear();
    callbacks.on_start = {};
    train_denoiser(data, options, callbacks);
    EXPECT_EQ(saved_iterations(options.checkpoint), 3 * 3);
    EXPECT_EQ(events.back(), "end 6..9");
}

// Every weight and optimizer state array of two model files, compared bit for bit.
// The network and its Adam state saved at `group` (save_network's EmbeddedNetwork; "" for the
// model itself) are the same in both files, bit for bit.
void expect_same_training_state(const std::string& a, const std::string& b,
                                const std::string& group = "") {
    Network net_a = load_network(a, group), net_b = load_network(b, group);
    Adam adam_a(named_parameters(net_a)), adam_b(named_parameters(net_b));
    load_optimizer_state(a, net_a, adam_a, group);
    load_optimizer_state(b, net_b, adam_b, group);
    const auto pa = net_a.parameters(), pb = net_b.parameters();
    ASSERT_EQ(pa.size(), pb.size());
    for (std::size_t k = 0; k < pa.size(); ++k)
        ASSERT_EQ(std::vector<float>(pa[k]->value(), pa[k]->value() + pa[k]->size()),
                  std::vector<float>(pb[k]->value(), pb[k]->value() + pb[k]->size()))
            << "parameter " << k;
    const auto sa = adam_a.state(), sb = adam_b.state();
    ASSERT_EQ(sa.size(), sb.size());
    for (std::size_t k = 0; k < sa.size(); ++k) ASSERT_EQ(sa[k].values, sb[k].values) << sa[k].name;
}

TEST(TrainApi, ResumedRunsEndBitForBitAsUninterruptedOnes) {
    // Each mode and architecture: 8 steps straight, and 2 (checkpointed before an interruption)
    // then a resume to 8 (6 of them in a run resumed from its own output file).
    struct Case {
        TrainingMode mode;
        DenoiserArchitecture architecture;
        int depth;
        Precision precision;
    };
    for (const Case& c :
         {Case{TrainingMode::supervised, DenoiserArchitecture::cnn, 3, Precision::f32},
          Case{TrainingMode::n2s, DenoiserArchitecture::unet, 1, Precision::f32},
          Case{TrainingMode::supervised, DenoiserArchitecture::unet, 1, Precision::bf16}}) {
        SCOPED_TRACE(to_string(c.mode) + " " + to_string(c.precision));
        ScratchDir dir;
        const TrainingData data = simulated_training_data();
        TrainOptions options = short_training(dir);
        options.mode = c.mode;
        options.architecture = c.architecture;
        options.levels = 2;
        options.depth = c.depth;
        options.precision = c.precision;
        options.iterations = 8;
        options.checkpoint_every = 2;
        options.threads = 1;
        options.checkpoint = dir.file("straight.h5");
        train_denoiser(data, options);

        // Interrupted after step 3 (the cosine schedule's learning rates depend on the total,
        // so the interrupted run has the same one): its checkpoint keeps step 2.
        options.checkpoint = dir.file("resumed.h5");
        TrainingCallbacks interrupt;
        interrupt.on_progress = [](const TrainingProgress& p) {
            if (p.iteration == 3) throw std::runtime_error("interrupted");
        };
        EXPECT_THROW(train_denoiser(data, options, interrupt), std::runtime_error);
        options.resume = options.checkpoint;
        options.seed = 99;  // the checkpoint's seed is the one that counts
        std::vector<std::string> messages;
        TrainingCallbacks callbacks;
        callbacks.on_message = [&](const std::string& m) { messages.push_back(m); };
        std::int64_t first = -1;
        callbacks.on_end = [&](const TrainingSummary& s) { first = s.first_iteration; };
        train_denoiser(data, options, callbacks);
        EXPECT_TRUE(messages.empty());
        EXPECT_EQ(first, 2);
        expect_same_training_state(dir.file("straight.h5"), dir.file("resumed.h5"));
    }
}

// Mixed precision: a short supervised U-Net run in bf16 ends near the same run in f32, and what
// it checkpoints is f32 (weights the optimizer updated in f32, not bf16-rounded copies); the f32
// model applied in bf16 loses under 0.1 dB PSNR on the held-out slices.
TEST(TrainApi, Bf16TrainingEndsNearTheF32LossWithF32MasterWeights) {
    SimulationOptions sim;
    sim.count = 8;
    sim.test_count = 4;
    sim.size = 64;
    sim.seed = 5;
    SimulatedDataset simulated = simulate(sim);
    const TrainingData data{std::move(simulated.train.noisy), std::move(simulated.train.clean),
                            std::move(simulated.test.noisy), std::move(simulated.test.clean)};
    // Both runs: the first step's training loss, the last validation's test loss.
    const auto run = [&](Precision precision, const std::string& checkpoint) {
        TrainOptions options;
        options.architecture = DenoiserArchitecture::unet;
        options.levels = 2;
        options.iterations = 60;
        options.batch = 4;
        options.patch = 32;
        options.learning_rate = 3e-3;
        options.seed = 7;
        options.precision = precision;
        options.normalization = NormalizationSpec{};  // Model::apply then takes the data as is
        options.checkpoint = checkpoint;
        double first_loss = -1, test_loss = -1;
        TrainingCallbacks callbacks;
        callbacks.on_progress = [&](const TrainingProgress& p) {
            if (first_loss < 0) first_loss = p.loss;
        };
        callbacks.on_validation = [&](const TrainingValidation& v) { test_loss = v.test_loss; };
        train_denoiser(data, options, callbacks);
        return std::pair{first_loss, test_loss};
    };
    ScratchDir dir;
    const auto [f32_first, f32_test] = run(Precision::f32, dir.file("f32.h5"));
    const auto [bf16_first, bf16_test] = run(Precision::bf16, dir.file("bf16.h5"));
    std::cout << "test loss after 60 steps: f32 " << f32_test << ", bf16 " << bf16_test << "\n";
    // Both learned (the loss fell to well under its start), and bf16 to within 10% of f32:
    // bfloat16's 8 significant bits perturb each step, not where training goes.
    EXPECT_LT(f32_test, 0.5 * f32_first);
    EXPECT_LT(bf16_test, 0.5 * bf16_first);
    EXPECT_NEAR(bf16_test, f32_test, 0.1 * f32_test);
    if (cpu_bf16_support() != Bf16Support::none) {
        EXPECT_NE(bf16_test, f32_test);
    }

    // bf16 keeps the top 16 bits of a float: a weight rounded to bf16 has its low 16 bits zero.
    Network saved = load_network(dir.file("bf16.h5"));
    std::int64_t values = 0, below_bf16 = 0;
    for (Parameter* p : saved.parameters())
        for (std::int64_t i = 0; i < p->size(); ++i) {
            std::uint32_t bits;
            std::memcpy(&bits, p->value() + i, sizeof bits);
            ++values;
            below_bf16 += (bits & 0xffffu) != 0;
        }
    EXPECT_GT(below_bf16, values / 2) << below_bf16 << " of " << values;

    // The f32 model in bf16 inference.
    const StackShape& test = data.test_inputs.shape();
    const float* truth = data.test_targets.as<float>();
    const auto [low, high] = std::minmax_element(truth, truth + test.pixels());
    const auto psnr_of = [&](Precision precision) {
        ApplyOptions apply_options;
        apply_options.precision = precision;
        Model model = Model::load(dir.file("f32.h5"), apply_options);
        const std::vector<float> out = apply(model, data.test_inputs);
        return psnr(truth, out.data(), out.size(), double(*high) - double(*low));
    };
    const double f32_psnr = psnr_of(Precision::f32), bf16_psnr = psnr_of(Precision::bf16);
    std::cout << "held-out PSNR of the f32 model: " << f32_psnr << " dB in f32, " << bf16_psnr
              << " dB in bf16\n";
    EXPECT_GT(f32_psnr, psnr(truth, data.test_inputs.as<float>(), std::size_t(test.pixels()),
                             double(*high) - double(*low)) +
                            3);
    EXPECT_LT(f32_psnr - bf16_psnr, 0.1);
}

// `data` with every stack in other units: value * scale + offset.
TrainingData in_other_units(TrainingData data, float scale, float offset) {
    for (Stack* s : {&data.inputs, &data.targets, &data.test_inputs, &data.test_targets}) {
        float* v = s->as<float>();
        for (std::int64_t i = 0; i < s->shape().pixels(); ++i) v[i] = v[i] * scale + offset;
    }
    return data;
}

std::vector<float> all_weights(const std::string& model_file) {
    Network network = load_network(model_file);
    std::vector<float> weights;
    for (const Parameter* p : network.parameters())
        weights.insert(weights.end(), p->value(), p->value() + p->size());
    return weights;
}

TEST(TrainApi, TheModelRecordsItsNormalizationAndNoise2SelfInference) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.iterations = 2;
    Model model = train_denoiser(data, options);
    EXPECT_EQ(model.recipe().normalization.method, NormalizationMethod::mean_std);  // the default
    EXPECT_EQ(model.recipe().mode, TrainingMode::supervised);
    EXPECT_EQ(Model::load(options.checkpoint).recipe(), model.recipe());

    options.normalization = NormalizationSpec{NormalizationMethod::percentile_range, 1, 99};
    options.mode = TrainingMode::n2s;
    options.mask_width = 3;
    options.n2s_inference = InferenceMethod::j_invariant;
    options.checkpoint = dir.file("n2s.h5");
    model = train_denoiser(data, options);
    const ModelRecipe saved = Model::load(options.checkpoint).recipe();
    EXPECT_EQ(saved, model.recipe());
    EXPECT_EQ(to_string(saved.normalization), "percentile_range 1..99");
    EXPECT_EQ(saved.inference, InferenceMethod::j_invariant);
    EXPECT_EQ(saved.mask_width, 3);

    options.normalization->method = NormalizationMethod::percentile_range;
    options.normalization->low_percent = 50;
    options.normalization->high_percent = 50;
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data, options); },
                                         {"TrainOptions::normalization", "low_percent 50"});
}

TEST(TrainApi, TheNormalizationAbsorbsTheUnitsOfTheData) {
    // The same images in other units (times 1000 plus 50) train the same network: the map
    // fitted to the inputs takes both to the same values, targets included; validation reports
    // PSNR in the data's own units, so it agrees too.
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    for (const NormalizationMethod method :
         {NormalizationMethod::percentile_range, NormalizationMethod::mean_std}) {
        SCOPED_TRACE(to_string(method));
        TrainOptions options = short_training(dir);
        options.normalization = NormalizationSpec{method};
        options.iterations = 4;
        options.validate_every = 4;
        std::vector<double> psnr;
        TrainingCallbacks callbacks;
        callbacks.on_validation = [&](const TrainingValidation& v) { psnr.push_back(v.psnr); };
        options.checkpoint = dir.file("units.h5");
        train_denoiser(data, options, callbacks);
        options.checkpoint = dir.file("thousandfold.h5");
        train_denoiser(in_other_units(data, 1000.f, 50.f), options, callbacks);
        const std::vector<float> a = all_weights(dir.file("units.h5"));
        const std::vector<float> b = all_weights(dir.file("thousandfold.h5"));
        EXPECT_TRUE(within_fraction_of_range(b, a, 1e-4));
        ASSERT_EQ(psnr.size(), 2u);
        EXPECT_NEAR(psnr[0], psnr[1], 1e-3);
    }
}

TEST(TrainApi, AResumedModelKeepsItsNormalizationAndRefusesAnother) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.iterations = 1;
    options.normalization = NormalizationSpec{NormalizationMethod::mean_std};
    train_denoiser(data, options);
    options.resume = options.checkpoint;
    options.iterations = 2;
    options.normalization.reset();
    EXPECT_EQ(train_denoiser(data, options).recipe().normalization.method,
              NormalizationMethod::mean_std);
    options.normalization = NormalizationSpec{NormalizationMethod::percentile_range};
    expect_error_naming<InvalidArgument>(
        [&] { train_denoiser(data, options); },
        {"TrainOptions::normalization percentile_range 0.05..99.95", options.checkpoint,
         "mean_std"});

    // A model that records no recipe (a Keras model) is fine-tuned without normalization,
    // unless asked for one.
    Network keras = load_network(options.checkpoint);
    save_network(dir.file("keras.h5"), keras);
    options.resume = dir.file("keras.h5");
    options.checkpoint = dir.file("tuned.h5");
    options.normalization.reset();
    EXPECT_EQ(train_denoiser(data, options).recipe().normalization.method,
              NormalizationMethod::none);
    options.normalization = NormalizationSpec{NormalizationMethod::mean_std};
    EXPECT_EQ(train_denoiser(data, options).recipe().normalization.method,
              NormalizationMethod::mean_std);
}

bool has_add_layer(const std::string& model_file) {
    const Network network = load_network(model_file);
    return std::any_of(network.nodes().begin(), network.nodes().end(),
                       [](const auto& node) { return node.layer && node.layer->type() == "Add"; });
}

TEST(TrainApi, AResidualUnetAddsItsInputAndReloadsAsTrained) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = small_unet_training(dir, TrainingMode::supervised, 2);
    Model model = train_denoiser(data, options);  // residual by default
    EXPECT_TRUE(has_add_layer(options.checkpoint));
    Model reloaded = Model::load(options.checkpoint);
    EXPECT_EQ(apply(reloaded, data.test_inputs), apply(model, data.test_inputs));

    // Noise2Self must not see the pixel it predicts: no residual there.
    options.mode = TrainingMode::n2s;
    options.checkpoint = dir.file("n2s.h5");
    train_denoiser(data, options);
    EXPECT_FALSE(has_add_layer(options.checkpoint));
    options.mode = TrainingMode::supervised;
    options.residual = false;
    options.checkpoint = dir.file("plain.h5");
    train_denoiser(data, options);
    EXPECT_FALSE(has_add_layer(options.checkpoint));
}

TEST(TrainApi, FineTuningAModelWithoutTrainingStateStartsAFreshOptimizerAndSaysSo) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.iterations = 2;
    options.checkpoint.clear();
    Model plain = train_denoiser(data, options);
    plain.save(dir.file("plain.h5"));  // weights only
    options.resume = dir.file("plain.h5");
    options.checkpoint = dir.file("tuned.h5");
    std::vector<std::string> messages;
    TrainingCallbacks callbacks;
    callbacks.on_message = [&](const std::string& m) { messages.push_back(m); };
    train_denoiser(data, options, callbacks);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_NE(messages[0].find("plain.h5"), std::string::npos) << messages[0];
    EXPECT_NE(messages[0].find("fresh Adam"), std::string::npos) << messages[0];
    EXPECT_EQ(saved_iterations(options.checkpoint), 2);  // from 0, not continued
}

TEST(TrainApi, ArchitectureOrDepthDisagreeingWithTheResumedModelAreNamed) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.iterations = 1;
    options.depth = 3;
    train_denoiser(data, options);
    options.resume = options.checkpoint;
    options.iterations = 2;
    options.depth = 1;
    expect_error_naming<InvalidArgument>(
        [&] { train_denoiser(data, options); },
        {"TrainOptions::depth 1", "3 input channels", options.checkpoint});
    options.depth = 0;  // the model's
    options.architecture = DenoiserArchitecture::unet;
    expect_error_naming<InvalidArgument>(
        [&] { train_denoiser(data, options); },
        {"TrainOptions::architecture unet", "a cnn", options.checkpoint});
    options.architecture.reset();
    options.mode = TrainingMode::n2s;
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data, options); },
                                         {"TrainOptions::mode n2s", "supervised"});
}

TEST(TrainApi, JInvariantInferenceOnAModelTakesEachPixelFromThePassThatHidIt) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.mode = TrainingMode::n2s;
    options.iterations = 2;
    options.checkpoint.clear();
    Model model = train_denoiser({data.inputs, {}, {}, {}}, options);
    const std::int64_t n = 1, h = 12, w = 12;
    const float* image = data.test_inputs.as<float>();
    std::vector<float> input(image, image + h * w), got(input.size()), plain(input.size());
    apply_j_invariant(model, input.data(), n, h, w, 2, MaskMode::zero, got.data());
    model.apply(input.data(), n, h, w, plain.data());
    for (std::int64_t r = 0; r < h; r += 5)
        for (std::int64_t c = 0; c < w; c += 3) {
            std::vector<float> hidden = input, out(input.size());
            for (std::int64_t y = r % 2; y < h; y += 2)
                for (std::int64_t x = c % 2; x < w; x += 2) hidden[std::size_t(y * w + x)] = 0;
            model.apply(hidden.data(), n, h, w, out.data());
            EXPECT_EQ(got[std::size_t(r * w + c)], out[std::size_t(r * w + c)]) << r << ", " << c;
        }
    EXPECT_NE(got, plain);
    expect_error_naming<InvalidArgument>(
        [&] { apply_j_invariant(model, input.data(), n, h, w, 1, MaskMode::zero, got.data()); },
        {"mask width", "got 1"});
}

TEST(TrainApi, SegmentationTakesIntegerLabelsAndReturnsOneOutputPerClass) {
    SimulationOptions sim;
    sim.kind = SimulationKind::seg;
    sim.count = 2;
    sim.test_count = 1;
    sim.size = 16;
    const SimulatedDataset sets = simulate(sim);
    ASSERT_EQ(sets.train.labels.type(), PixelType::uint8);
    TrainOptions options;
    options.mode = TrainingMode::seg;
    options.classes = 4;
    options.iterations = 2;
    options.batch = 1;
    options.patch = 16;
    int validations = 0;
    TrainingCallbacks callbacks;
    callbacks.on_validation = [&](const TrainingValidation& v) {
        ++validations;
        EXPECT_EQ(v.iou.size(), 4u);
        EXPECT_GE(v.mean_iou, 0);
    };
    Model model =
        train_denoiser({sets.train.noisy, sets.train.labels, sets.test.noisy, sets.test.labels},
                       options, callbacks);
    EXPECT_EQ(validations, 1);
    EXPECT_EQ(model.output_channels(), 4);
}

TEST(TrainApi, ASignalStopsTrainingWithACheckpointThatResumes) {
    struct sigaction saved[2];
    sigaction(SIGINT, nullptr, &saved[0]);
    sigaction(SIGTERM, nullptr, &saved[1]);
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.iterations = 8;
    options.checkpoint_every = 5;
    stop_training_on_signal();
    TrainingCallbacks callbacks;
    callbacks.on_progress = [](const TrainingProgress& p) {
        if (p.iteration == 3) raise(SIGTERM);
    };
    try {
        train_denoiser(data, options, callbacks);
        ADD_FAILURE() << "not interrupted";
    } catch (const TrainingInterrupted& e) {
        EXPECT_EQ(e.signal_number(), SIGTERM);
        EXPECT_EQ(e.iteration(), 3);
        EXPECT_NE(std::string(e.what()).find("keeps the model of step 3"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(saved_iterations(options.checkpoint), 3);
    // The stop was answered: the resumed run goes to the end.
    options.resume = options.checkpoint;
    train_denoiser(data, options);
    EXPECT_EQ(saved_iterations(options.checkpoint), 8);
    sigaction(SIGINT, &saved[0], nullptr);
    sigaction(SIGTERM, &saved[1], nullptr);
}

TEST(TrainApi, TheTimeLimitOrAReachedTotalEndTrainingWithTheOutputWritten) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    options.iterations = 1000000;
    options.max_seconds = 1e-9;  // reached before the first step
    bool reached = false;
    TrainingCallbacks callbacks;
    callbacks.on_end = [&](const TrainingSummary& s) {
        reached = s.time_limit_reached;
        EXPECT_EQ(s.iteration, 0);
    };
    train_denoiser(data, options, callbacks);
    EXPECT_TRUE(reached);
    EXPECT_EQ(saved_iterations(options.checkpoint), 0);

    // Resumed at its total into another file: nothing to train, the output still written.
    TrainOptions done = options;
    done.iterations = 0;
    done.max_seconds = 0;
    done.epochs = 1;
    done.resume.clear();
    done.checkpoint = dir.file("one_epoch.h5");
    train_denoiser(data, done);
    done.resume = done.checkpoint;
    done.checkpoint = dir.file("again.h5");
    train_denoiser(data, done);
    EXPECT_EQ(saved_iterations(dir.file("again.h5")), 3);
}

TEST(TrainApi, WithoutTestDataValidatesNothingAndWritesNoSnapshot) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data(0);
    ASSERT_EQ(data.test_inputs.shape().n, 0);
    TrainOptions options = short_training(dir);
    options.epochs = 1;
    options.checkpoint.clear();  // nothing saved
    options.snapshots = dir.file("snapshots");
    int validations = 0;
    TrainingCallbacks callbacks;
    callbacks.on_validation = [&](const TrainingValidation& v) {
        ++validations;
        EXPECT_TRUE(std::isnan(v.test_loss)) << v.test_loss;
        EXPECT_TRUE(std::isnan(v.psnr)) << v.psnr;
    };
    train_denoiser(data, options, callbacks);
    EXPECT_EQ(validations, 1);
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"snapshots"});
    EXPECT_TRUE(folder_entries(options.snapshots).empty());
}

TEST(TrainApi, OptionsOutOfBoundsAreNamedBeforeAnyWork) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    const std::pair<void (*)(TrainOptions&), const char*> cases[] = {
        {[](TrainOptions& o) { o.epochs = 0; }, "TrainOptions::epochs"},
        {[](TrainOptions& o) { o.batch = 0; }, "TrainOptions::batch"},
        {[](TrainOptions& o) { o.patch = 0; }, "TrainOptions::patch"},
        {[](TrainOptions& o) { o.steps_per_epoch = -1; }, "TrainOptions::steps_per_epoch"},
        {[](TrainOptions& o) { o.learning_rate = 0; }, "TrainOptions::learning_rate"},
        {[](TrainOptions& o) { o.learning_rate = std::nan(""); }, "TrainOptions::learning_rate"},
        {[](TrainOptions& o) { o.threads = -1; }, "TrainOptions::threads"},
        {[](TrainOptions& o) { o.threads = max_threads() + 1; }, "TrainOptions::threads"},
        {[](TrainOptions& o) { o.iterations = -1; }, "TrainOptions::iterations"},
        {[](TrainOptions& o) { o.max_seconds = -1; }, "TrainOptions::max_seconds"},
        {[](TrainOptions& o) { o.depth = 2; }, "TrainOptions::depth"},
        {[](TrainOptions& o) { o.levels = 0; }, "TrainOptions::levels"},
        {[](TrainOptions& o) { o.mask_width = 1; }, "TrainOptions::mask_width"},
        {[](TrainOptions& o) { o.classes = 1; }, "TrainOptions::classes"},
        {[](TrainOptions& o) {
             o.class_weights = {1, -1};
         },
         "TrainOptions::class_weights"},
        {[](TrainOptions& o) {
             o.class_weights = {1, 1, 1};
         },
         "TrainOptions::class_weights"},
        {[](TrainOptions& o) { o.validate_every = -1; }, "TrainOptions::validate_every"},
        {[](TrainOptions& o) { o.checkpoint_every = -1; }, "TrainOptions::checkpoint_every"},
    };
    for (const auto& [change, field] : cases) {
        SCOPED_TRACE(field);
        TrainOptions options = short_training(dir);
        change(options);
        TrainingCallbacks callbacks;
        callbacks.on_start = [] { ADD_FAILURE() << "training started"; };
        expect_error_naming<InvalidArgument>([&] { train_denoiser(data, options, callbacks); },
                                             {field});
    }
    EXPECT_TRUE(folder_entries(dir.path()).empty());
}

TEST(TrainApi, DataThatIsNotFloat32IsNamed) {
    TrainingData data = simulated_training_data();
    data.targets = Stack(data.targets.shape(), PixelType::uint16);
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data); },
                                         {"TrainingData::targets", "uint16"});
}

TEST(TrainApi, AnUnwritableSnapshotFolderOrCsvFailsBeforeTraining) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = short_training(dir);
    write_hdf5_stack({dir.file("file.h5"), "/x"}, data.targets);
    options.snapshots = dir.file("file.h5") + "/snapshots";  // below a file
    TrainingCallbacks callbacks;
    callbacks.on_start = [] { ADD_FAILURE() << "training started"; };
    expect_error_naming<IoError>([&] { train_denoiser(data, options, callbacks); },
                                 {"TrainOptions::snapshots", options.snapshots});
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"file.h5"});

    options.snapshots.clear();
    options.validation_csv = dir.file("file.h5") + "/rows.csv";
    expect_error_naming<IoError>([&] { train_denoiser(data, options, callbacks); },
                                 {"TrainOptions::validation_csv", options.validation_csv});
}

TEST(TrainApi, ReadsEitherLayoutAsFloat32WithTheTestOptional) {
    ScratchDir dir;
    const std::string file = dir.file("n2n.h5");
    Stack a({2, 8, 8}, PixelType::uint16), b({2, 8, 8}, PixelType::float64);
    for (std::int64_t i = 0; i < a.shape().pixels(); ++i) {
        a.as<std::uint16_t>()[i] = static_cast<std::uint16_t>(1000 + 7 * i);
        b.as<double>()[i] = 0.25 * double(i);
    }
    write_hdf5_stack({file, "/train_a"}, a);
    write_hdf5_stack({file, "/train_b"}, b);

    const TrainingData data = read_training_file(file, TrainingLayout::noise2noise);
    ASSERT_EQ(data.inputs.type(), PixelType::float32);
    ASSERT_EQ(data.targets.type(), PixelType::float32);
    EXPECT_EQ(data.inputs.shape(), a.shape());
    EXPECT_EQ(data.inputs.to_float(), a.to_float());
    EXPECT_EQ(data.targets.to_float(), b.to_float());
    EXPECT_EQ(data.test_inputs.shape().n, 0);  // no /test_a, /test_clean: no test
    EXPECT_EQ(data.test_targets.shape().n, 0);

    // The TomoGAN layout's datasets are not in this file.
    expect_error_naming<Error>([&] { read_training_file(file, TrainingLayout::tomogan); },
                               {"n2n.h5", "/train_ns"});
}

TEST(TrainApi, ReadsTheNoise2SelfAndSegmentationLayoutsNamingTheirDatasets) {
    ScratchDir dir;
    const std::string file = dir.file("seg.h5");
    Stack images({3, 8, 8}, PixelType::float32), labels({3, 8, 8}, PixelType::uint8);
    for (std::int64_t i = 0; i < labels.shape().pixels(); ++i)
        labels.as<std::uint8_t>()[i] = std::uint8_t(i % 3);
    write_hdf5_stack({file, "/train_ns"}, images);
    write_hdf5_stack({file, "/train_labels"}, labels);
    write_hdf5_stack({file, "/test_ns"}, images);
    write_hdf5_stack({file, "/test_labels"}, labels);

    const TrainingData seg = read_training_file(file, TrainingLayout::segmentation);
    EXPECT_EQ(seg.targets.to_float(), labels.to_float());
    EXPECT_EQ(seg.test_targets.shape(), labels.shape());
    EXPECT_EQ(seg.targets_name, "'" + file + ":/train_labels'");

    // n2s needs /train_ns only; without /test_gt it has no test.
    const TrainingData n2s = read_training_file(file, TrainingLayout::noise2self);
    EXPECT_EQ(n2s.inputs.shape(), images.shape());
    EXPECT_EQ(n2s.targets.shape().n, 0);
    EXPECT_EQ(n2s.test_inputs.shape().n, 0);

    // Labels beyond the classes name the dataset and the slice.
    TrainOptions options;
    options.mode = TrainingMode::seg;
    options.iterations = 1;
    options.batch = 1;
    options.patch = 8;
    expect_error_naming<InvalidArgument>([&] { train_denoiser(seg, options); },
                                         {file + ":/train_labels", "slice 0", "label 2"});
    // Missing datasets for the mode name the dataset.
    write_hdf5_stack({dir.file("n2s.h5"), "/train_ns"}, images);
    expect_error_naming<Error>(
        [&] { read_training_file(dir.file("n2s.h5"), TrainingLayout::segmentation); },
        {"n2s.h5", "/train_labels"});
}

// ---- mode gan ------------------------------------------------------------------------------

constexpr const char* discriminator_group = "tomodenoise_discriminator";

// Gan training on the 32x32 simulated images: whole-image patches (VGG19 needs 32), the
// perceptual term through a random VGG19 file of Keras's notop layout written in `dir`.
TrainOptions gan_training(const ScratchDir& dir) {
    TrainOptions options = short_training(dir);
    options.mode = TrainingMode::gan;
    options.levels = 2;
    options.patch = 32;
    options.iterations = 4;
    options.checkpoint_every = 1;
    options.threads = 1;
    options.gan.vgg19_weights = dir.file("vgg19_notop.h5");
    if (!std::filesystem::exists(options.gan.vgg19_weights))
        write_random_vgg19_notop(options.gan.vgg19_weights, true);
    return options;
}

TEST(TrainApiGan, ASignalStopsBothNetworksAndTheResumedRunEndsBitForBitAsAnUninterruptedOne) {
    struct sigaction saved[2];
    sigaction(SIGINT, nullptr, &saved[0]);
    sigaction(SIGTERM, nullptr, &saved[1]);
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = gan_training(dir);
    options.checkpoint = dir.file("straight.h5");
    train_denoiser(data, options);

    stop_training_on_signal();
    options.checkpoint = dir.file("resumed.h5");
    TrainingCallbacks stop;
    stop.on_progress = [](const TrainingProgress& p) {
        if (p.iteration == 2) raise(SIGTERM);
    };
    EXPECT_THROW(train_denoiser(data, options, stop), TrainingInterrupted);
    sigaction(SIGINT, &saved[0], nullptr);
    sigaction(SIGTERM, &saved[1], nullptr);
    // Generator steps itg x 2, discriminator steps itd x 2.
    EXPECT_EQ(saved_iterations(options.checkpoint), 2);
    {
        Network d = load_network(options.checkpoint, discriminator_group);
        Adam adam(named_parameters(d));
        load_optimizer_state(options.checkpoint, d, adam, discriminator_group);
        EXPECT_EQ(adam.iterations(), 4);
    }
    options.resume = options.checkpoint;
    std::int64_t first = -1;
    TrainingCallbacks callbacks;
    callbacks.on_end = [&](const TrainingSummary& s) { first = s.first_iteration; };
    train_denoiser(data, options, callbacks);
    EXPECT_EQ(first, 2);
    expect_same_training_state(dir.file("straight.h5"), dir.file("resumed.h5"));
    expect_same_training_state(dir.file("straight.h5"), dir.file("resumed.h5"),
                               discriminator_group);
}

TEST(TrainApiGan, TheModelIsTheGeneratorAloneAndValidationReportsEveryTerm) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = gan_training(dir);
    options.gan.loss = GanLoss::wgan;
    options.validation_csv = dir.file("validation.csv");
    options.validate_every = 2;
    std::vector<TrainingValidation> validations;
    std::vector<double> discriminator_losses;
    TrainingCallbacks callbacks;
    callbacks.on_validation = [&](const TrainingValidation& v) { validations.push_back(v); };
    callbacks.on_progress = [&](const TrainingProgress& p) {
        discriminator_losses.push_back(p.discriminator_loss);
    };
    Model model = train_denoiser(data, options, callbacks);
    EXPECT_EQ(model.recipe().mode, TrainingMode::gan);
    EXPECT_EQ(model.input_channels(), 1);
    EXPECT_EQ(model.output_channels(), 1);
    ASSERT_EQ(validations.size(), 2u);
    for (const TrainingValidation& v : validations) {
        EXPECT_TRUE(std::isfinite(v.adversarial_loss));
        EXPECT_GT(v.mse_loss, 0.0);
        EXPECT_GT(v.perceptual_loss, 0.0);
        EXPECT_TRUE(std::isfinite(v.discriminator_loss));
        EXPECT_GT(v.high_frequency_ratio, 0.0);
        EXPECT_NEAR(v.train_loss,
                    20 * v.adversarial_loss + 0.5 * v.mse_loss + 2 * v.perceptual_loss,
                    1e-6 * std::abs(v.train_loss) + 1e-9);
    }
    ASSERT_EQ(discriminator_losses.size(), 4u);
    for (const double d : discriminator_losses) EXPECT_TRUE(std::isfinite(d));
    std::ifstream csv(options.validation_csv);
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header,
              "iteration,train_loss,test_loss,psnr,ssim,high_frequency_ratio,adversarial_loss,"
              "mse_loss,perceptual_loss,discriminator_loss");
    // The file Model::load and denoise_stack read is the generator; the Wasserstein critic's
    // weights beside it are clipped.
    Model loaded = Model::load(options.checkpoint);
    EXPECT_EQ(loaded.recipe().mode, TrainingMode::gan);
    Network critic = load_network(options.checkpoint, discriminator_group);
    for (const Parameter* p : critic.parameters())
        for (std::int64_t i = 0; i < p->size(); ++i)
            ASSERT_LE(std::abs(p->value()[i]), float(options.gan.clip)) << p->name();
}

TEST(TrainApiGan, BadInputIsNamedAndLeavesNoModelThatLooksComplete) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    const TrainOptions base = gan_training(dir);
    const auto expect_error = [&](const TrainOptions& options, const std::string& needle,
                                  const char* what) {
        SCOPED_TRACE(what);
        std::filesystem::remove(options.checkpoint);
        try {
            train_denoiser(data, options);
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
        EXPECT_FALSE(std::filesystem::exists(options.checkpoint));
    };
    {
        TrainOptions o = base;
        o.gan.vgg19_weights.clear();
        expect_error(o, vgg19_notop_file, "perceptual loss without the VGG19 file");
    }
    {
        auto layers = random_vgg19_layers();
        layers.erase(std::find_if(layers.begin(), layers.end(),
                                  [](const StoredLayer& l) { return l.name == "block3_conv2"; }));
        TrainOptions o = base;
        o.gan.vgg19_weights = dir.file("missing_layer.h5");
        write_keras_weights(o.gan.vgg19_weights, "", layers);
        expect_error(o, "block3_conv2", "a VGG19 file missing a layer");
    }
    {
        auto layers = random_vgg19_layers();
        for (auto& l : layers)
            if (l.name == "block5_conv4") l.weights[0] = random_array({3, 3, 512, 256}, 1);
        TrainOptions o = base;
        o.gan.vgg19_weights = dir.file("wrong_shape.h5");
        write_keras_weights(o.gan.vgg19_weights, "", layers);
        expect_error(o, "block5_conv4", "a VGG19 file with a wrong shape");
    }
    // A checkpoint to resume from: a generator of depth 1 and a discriminator of 32x32 patches.
    TrainOptions first = base;
    first.iterations = 1;
    first.checkpoint = dir.file("first.h5");
    train_denoiser(data, first);
    {
        TrainOptions o = base;
        o.resume = first.checkpoint;
        o.depth = 3;
        expect_error(o, "TrainOptions::depth 3", "--depth not matching the resumed generator");
    }
    {
        TrainOptions o = base;
        o.resume = first.checkpoint;
        o.patch = 16;
        o.gan.perceptual_weight = 0;
        expect_error(o, "32x32 patches", "a discriminator checkpoint of another patch size");
    }
    {
        // Adam moves every weight by about the learning rate: the outputs overflow. Resumed in
        // place from a good checkpoint, which the file keeps.
        TrainOptions o = base;
        o.checkpoint = o.resume = dir.file("diverging.h5");
        std::filesystem::copy_file(first.checkpoint, o.checkpoint);
        o.learning_rate = 1e30;
        o.lr_schedule = LearningRateSchedule::constant;
        try {
            train_denoiser(data, o);
            ADD_FAILURE() << "no error";
        } catch (const NumericalError& e) {
            EXPECT_NE(std::string(e.what()).find("training diverged"), std::string::npos)
                << e.what();
        }
        EXPECT_EQ(saved_iterations(o.checkpoint), 1);
        EXPECT_EQ(all_weights(o.checkpoint), all_weights(first.checkpoint));
    }
}

TEST(TrainApiGan, ASupervisedCheckpointIsFineTunedAsTheGeneratorFromStepZero) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    const TrainOptions supervised =
        small_unet_training(dir, TrainingMode::supervised, 3, "supervised.h5");
    const Model pretrained = train_denoiser(data, supervised);

    TrainOptions options = gan_training(dir);
    options.gan.perceptual_weight = 0;
    options.resume = supervised.checkpoint;
    options.checkpoint = dir.file("gan.h5");
    std::vector<std::string> messages;
    TrainingCallbacks callbacks;
    callbacks.on_message = [&](const std::string& m) { messages.push_back(m); };
    const Model tuned = train_denoiser(data, options, callbacks);
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_NE(messages[0].find("supervised.h5"), std::string::npos) << messages[0];
    EXPECT_NE(messages[0].find("new discriminator"), std::string::npos) << messages[0];
    // From step 0 with fresh optimizers, the supervised model's normalization kept.
    EXPECT_EQ(saved_iterations(options.checkpoint), options.iterations);
    EXPECT_EQ(tuned.recipe().mode, TrainingMode::gan);
    EXPECT_EQ(to_string(tuned.recipe().normalization),
              to_string(pretrained.recipe().normalization));
    Network d = load_network(options.checkpoint, discriminator_group);
    Adam adam(named_parameters(d));
    load_optimizer_state(options.checkpoint, d, adam, discriminator_group);
    EXPECT_EQ(adam.iterations(), 2 * options.iterations);
    EXPECT_NE(all_weights(options.checkpoint), all_weights(supervised.checkpoint));

    // Only a supervised model: another mode's checkpoint is refused, naming both modes.
    const TrainOptions n2s = small_unet_training(dir, TrainingMode::n2s, 1, "n2s.h5");
    train_denoiser(data, n2s);
    options.resume = n2s.checkpoint;
    options.checkpoint = dir.file("gan_from_n2s.h5");
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data, options); },
                                         {"TrainOptions::mode gan", "n2s", n2s.checkpoint});
}

// One GAN iteration with a `kind` discriminator and no perceptual term.
TrainOptions one_step_without_perceptual_term(const ScratchDir& dir, GanDiscriminator kind) {
    TrainOptions options = gan_training(dir);
    options.gan.perceptual_weight = 0;
    options.gan.discriminator = kind;
    options.iterations = 1;
    return options;
}

// Resumes options.checkpoint, written with a `kind` discriminator, for one more iteration with
// the kind unset: it stays the checkpoint's (returned, from the resumed file); with `other`,
// refused naming both kinds and leaving no file.
Network expect_resumed_as_its_own_kind(const TrainingData& data, const TrainOptions& options,
                                       const ScratchDir& dir, GanDiscriminator other,
                                       const std::string& kind) {
    TrainOptions resumed = options;
    resumed.resume = options.checkpoint;
    resumed.checkpoint = dir.file("resumed.h5");
    resumed.iterations = options.iterations + 1;
    resumed.gan.discriminator.reset();
    train_denoiser(data, resumed);
    EXPECT_EQ(saved_iterations(resumed.checkpoint), resumed.iterations);
    Network discriminator = load_network(resumed.checkpoint, discriminator_group);
    resumed.gan.discriminator = other;
    resumed.checkpoint = dir.file("refused.h5");
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data, resumed); },
                                         {"TrainOptions::gan.discriminator " + to_string(other),
                                          options.checkpoint, "a " + kind + " one"});
    EXPECT_FALSE(std::filesystem::exists(resumed.checkpoint));
    return discriminator;
}

// The patch discriminator: trained and checkpointed in Keras layout, resumed as itself (another
// kind named), its learning rate the option's on the generator's schedule.
TEST(TrainApiGan, APatchDiscriminatorLearnsAtItsOwnRateAndResumesAsItself) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = one_step_without_perceptual_term(dir, GanDiscriminator::patch);
    options.learning_rate = 1e-3;
    options.lr_schedule = LearningRateSchedule::constant;
    options.gan.discriminator_learning_rate = 1e-6;
    options.checkpoint = dir.file("patch.h5");
    train_denoiser(data, options);

    Network d = load_network(options.checkpoint, discriminator_group);
    EXPECT_FALSE(d.has_node("flatten"));
    EXPECT_TRUE(d.has_node("conv2d_6"));
    // Its two Adam steps moved each weight by at most about twice its rate, and some by more
    // than half of it, from the weights it was built with.
    TomoGanDiscriminatorConfig config;
    config.height = config.width = options.patch;
    config.seed = options.seed + 1;
    config.head = DiscriminatorHead::patch;
    Network initial = build_tomogan_discriminator(config);
    double largest = 0;
    const auto trained = d.parameters(), built = initial.parameters();
    ASSERT_EQ(trained.size(), built.size());
    for (std::size_t k = 0; k < trained.size(); ++k)
        for (std::int64_t i = 0; i < trained[k]->size(); ++i)
            largest =
                std::max(largest, double(std::abs(trained[k]->value()[i] - built[k]->value()[i])));
    EXPECT_LE(largest, 2.5e-6);
    EXPECT_GT(largest, 0.5e-6);

    const Network resumed =
        expect_resumed_as_its_own_kind(data, options, dir, GanDiscriminator::tomogan, "patch");
    EXPECT_FALSE(resumed.has_node("flatten"));

    TrainOptions bad = options;
    bad.gan.discriminator_learning_rate = 0;
    expect_error_naming<InvalidArgument>([&] { train_denoiser(data, bad); },
                                         {"gan.discriminator_learning_rate"});
}

// The conditional discriminator judges the image beside the generator's input, every slice of
// it: built for 1 + depth channels, resumed as itself, and told apart from the patch kind.
TEST(TrainApiGan, AConditionalDiscriminatorJudgesTheImageBesideTheInputSlices) {
    ScratchDir dir;
    const TrainingData data = simulated_training_data();
    TrainOptions options = one_step_without_perceptual_term(dir, GanDiscriminator::conditional);
    options.depth = 3;
    options.checkpoint = dir.file("conditional.h5");
    train_denoiser(data, options);
    Network d = load_network(options.checkpoint, discriminator_group);
    EXPECT_EQ(d.input_channels(0), 4);
    EXPECT_TRUE(d.has_node("conv2d_6"));

    EXPECT_EQ(
        expect_resumed_as_its_own_kind(data, options, dir, GanDiscriminator::patch, "conditional")
            .input_channels(0),
        4);
}

}  // namespace
