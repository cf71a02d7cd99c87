// TomoGAN's objective: the whole generator loss (adversarial + MSE + perceptual through a small
// random-weight VGG19) and the discriminator's loss, for both GAN losses, against central
// differences in the parameters of both networks (TomoGAN's discriminator, the patch one
// through the high-pass residual it judges, and the conditional one judging that beside the
// input's); the Wasserstein critic's weight clipping.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/context.hpp"
#include "layer_check.hpp"
#include "layers/convolution.hpp"
#include "models/tomogan_discriminator.hpp"
#include "models/tomogan_generator.hpp"
#include "models/vgg19.hpp"
#include "train/gan.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

constexpr std::int64_t patch = 32;  // VGG19's five poolings need 32

struct GanFixture {
    Network generator, discriminator, vgg;
    Tensor input, label;

    explicit GanFixture(GanDiscriminator kind = GanDiscriminator::tomogan) {
        TomoGanGeneratorConfig g;
        g.levels = 1;
        g.seed = 3;
        generator = build_tomogan_generator(g);
        TomoGanDiscriminatorConfig d;
        d.height = d.width = patch;
        d.seed = 4;
        d.head =
            kind == GanDiscriminator::tomogan ? DiscriminatorHead::dense : DiscriminatorHead::patch;
        if (kind == GanDiscriminator::conditional) d.input_channels = 2;  // image, input
        discriminator = build_tomogan_discriminator(d);
        Vgg19Config v;
        v.filters_divisor = 16;  // 4 to 32 filters: the same structure, small
        v.seed = 5;
        vgg = build_vgg19_features(v);
        vgg.set_parameter_gradients(false);  // frozen, as the trainer has it
        // Biases as large as the activations keep most pre-activations away from the ReLU
        // kinks, where central differences are meaningless.
        std::mt19937 gen(21);
        std::uniform_real_distribution<float> bias(-0.5f, 0.5f);
        for (Network* net : {&generator, &discriminator, &vgg})
            for (Parameter* p : net->parameters())
                if (p->name() == "bias") {
                    std::generate(p->value(), p->value() + p->size(), [&] { return bias(gen); });
                    p->mark_changed();
                }
        // On the 0..255 scale of the images VGG19 was trained on, where the perceptual term
        // is not lost in float32 rounding beside preprocess_input's mean of about 110.
        input = random_tensor(Dims{2, 1, patch, patch}, 11, 0.f, 255.f);
        label = random_tensor(Dims{2, 1, patch, patch}, 12, 0.f, 255.f);
    }
};

// Central differences of `loss` along random directions in each parameter of `network`,
// against the analytic gradients it left there (their inner products with the directions):
// ||a - n|| / ||a + n|| over all of them, asserted below `bound`, and not all zero.
// Directions over whole tensors rather than single entries: a single weight moves the loss by
// less than float32 rounding of the forward pass.
template <typename Loss>
double check_parameter_gradients(Network& network, const Loss& loss, const std::string& what,
                                 double epsilon, double bound) {
    std::vector<std::vector<float>> analytic;
    for (Parameter* p : network.parameters())
        analytic.emplace_back(p->grad(), p->grad() + p->size());
    std::mt19937 gen(9);
    std::uniform_real_distribution<float> unit(-1.f, 1.f);
    constexpr int directions = 2;
    double diff2 = 0, sum2 = 0;
    const auto parameters = network.parameters();
    for (std::size_t k = 0; k < parameters.size(); ++k) {
        Parameter& p = *parameters[k];
        const std::vector<float> saved(p.value(), p.value() + p.size());
        for (int d = 0; d < directions; ++d) {
            std::vector<float> u(saved.size());
            std::generate(u.begin(), u.end(), [&] { return unit(gen); });
            const auto move = [&](double step) {
                for (std::size_t i = 0; i < u.size(); ++i)
                    p.value()[i] = saved[i] + float(step * u[i]);
                p.mark_changed();
                return loss();
            };
            const double numeric = (move(epsilon) - move(-epsilon)) / (2 * epsilon);
            double expected = 0;
            for (std::size_t i = 0; i < u.size(); ++i) expected += double(analytic[k][i]) * u[i];
            diff2 += (expected - numeric) * (expected - numeric);
            sum2 += (expected + numeric) * (expected + numeric);
        }
        std::copy(saved.begin(), saved.end(), p.value());
        p.mark_changed();
    }
    const double error = std::sqrt(diff2 / sum2);
    EXPECT_GT(sum2, 0.0) << what << ": all gradients are zero";
    EXPECT_LT(error, bound) << what;
    return error;
}

struct LossCase {
    GanLoss loss;
    double adversarial, mse, perceptual;
    const char* name;
    // patch: the patch head, judging high-pass residuals (the gradient through them checked);
    // conditional: beside the input's.
    GanDiscriminator discriminator = GanDiscriminator::tomogan;
};

// Kinks crossed within epsilon and float32 rounding leave errors of about 1e-2 (ReLU kinks
// dominate above 1e-4, rounding below); a gradient routed wrongly is off by its own size.
constexpr double epsilon = 1e-4;
constexpr double bound = 5e-2;

class GeneratorGradients : public ::testing::TestWithParam<LossCase> {};
class DiscriminatorGradients : public ::testing::TestWithParam<LossCase> {};

TEST_P(GeneratorGradients, GeneratorLossMatchesCentralDifferencesInTheGeneratorsParameters) {
    const LossCase c = GetParam();
    GanFixture f(c.discriminator);
    GanOptions options;
    options.discriminator = c.discriminator;
    options.loss = c.loss;
    options.adversarial_weight = c.adversarial;
    options.mse_weight = c.mse;
    options.perceptual_weight = c.perceptual;
    GanObjective objective(f.generator, f.discriminator, &f.vgg, options);
    Context ctx(1);
    const GeneratorLoss loss = objective.generator_loss(ctx, f.input, f.label, true);
    ASSERT_TRUE(std::isfinite(loss.total));
    EXPECT_NEAR(
        loss.total,
        c.adversarial * loss.adversarial + c.mse * loss.mse + c.perceptual * loss.perceptual,
        1e-9 * std::abs(loss.total));
    EXPECT_GT(loss.mse, 0.0);
    EXPECT_EQ(loss.perceptual > 0, c.perceptual > 0);  // the VGG runs only when it counts
    EXPECT_NE(loss.adversarial, 0.0);
    const double error = check_parameter_gradients(
        f.generator, [&] { return objective.generator_loss(ctx, f.input, f.label, false).total; },
        std::string(c.name) + " generator loss", epsilon, bound);
    std::printf("%s generator loss %.6g: gradient error %.3g (bound %.3g)\n", c.name, loss.total,
                error, bound);
}

TEST_P(DiscriminatorGradients,
       DiscriminatorLossMatchesCentralDifferencesInTheDiscriminatorsParameters) {
    const LossCase c = GetParam();
    GanFixture f(c.discriminator);
    GanOptions options;
    options.discriminator = c.discriminator;
    options.loss = c.loss;
    options.perceptual_weight = c.perceptual;
    GanObjective objective(f.generator, f.discriminator, &f.vgg, options);
    Context ctx(1);
    // A generator step first, as in training: it leaves the discriminator's gradients alone
    // (no weight passes), and the discriminator it froze must compute its own gradients again.
    for (Parameter* p : f.discriminator.parameters())
        std::fill(p->grad(), p->grad() + p->size(), 7.f);
    objective.generator_loss(ctx, f.input, f.label, true);
    for (Parameter* p : f.discriminator.parameters())
        ASSERT_EQ(p->grad()[p->size() - 1], 7.f) << "discriminator parameter " << p->name();
    // The generator's gradients must stay untouched by the discriminator's loss.
    for (Parameter* p : f.generator.parameters()) std::fill(p->grad(), p->grad() + p->size(), 7.f);
    const double loss = objective.discriminator_loss(ctx, f.input, f.label, true);
    ASSERT_TRUE(std::isfinite(loss));
    for (Parameter* p : f.generator.parameters())
        ASSERT_EQ(p->grad()[0], 7.f) << "generator parameter " << p->name();
    const double error = check_parameter_gradients(
        f.discriminator, [&] { return objective.discriminator_loss(ctx, f.input, f.label, false); },
        std::string(c.name) + " discriminator loss", epsilon, bound);
    std::printf("%s discriminator loss %.6g: gradient error %.3g (bound %.3g)\n", c.name, loss,
                error, bound);
}

std::string case_name(const ::testing::TestParamInfo<LossCase>& info) {
    return info.param.name;
}

// The whole loss, whose MSE term dominates at these scales, and each other term alone, so that
// an error in one cannot hide behind another.
INSTANTIATE_TEST_SUITE_P(Terms, GeneratorGradients,
                         ::testing::Values(LossCase{GanLoss::bce, 20, 0.5, 2, "bce_whole"},
                                           LossCase{GanLoss::wgan, 20, 0.5, 2, "wgan_whole"},
                                           LossCase{GanLoss::bce, 1, 0, 0, "bce_adversarial"},
                                           LossCase{GanLoss::wgan, 1, 0, 0, "wgan_adversarial"},
                                           LossCase{GanLoss::bce, 0, 0, 1, "perceptual"},
                                           LossCase{GanLoss::bce, 1, 0, 0, "patch_bce_adversarial",
                                                    GanDiscriminator::patch},
                                           LossCase{GanLoss::wgan, 20, 0.5, 2, "patch_wgan_whole",
                                                    GanDiscriminator::patch},
                                           LossCase{GanLoss::bce, 1, 0, 0,
                                                    "conditional_bce_adversarial",
                                                    GanDiscriminator::conditional}),
                         case_name);

INSTANTIATE_TEST_SUITE_P(BothLosses, DiscriminatorGradients,
                         ::testing::Values(LossCase{GanLoss::bce, 20, 0.5, 2, "bce"},
                                           LossCase{GanLoss::wgan, 20, 0.5, 2, "wgan"},
                                           LossCase{GanLoss::bce, 20, 0.5, 2, "patch_bce",
                                                    GanDiscriminator::patch},
                                           LossCase{GanLoss::wgan, 20, 0.5, 2, "conditional_wgan",
                                                    GanDiscriminator::conditional}),
                         case_name);

TEST(GanObjective, WassersteinClipsEveryDiscriminatorWeightAndBceNone) {
    GanFixture f;
    for (const GanLoss loss : {GanLoss::bce, GanLoss::wgan}) {
        GanOptions options;
        options.loss = loss;
        options.clip = 0.01;
        options.perceptual_weight = 0;
        GanObjective objective(f.generator, f.discriminator, nullptr, options);
        float before = 0;
        for (Parameter* p : f.discriminator.parameters())
            for (std::int64_t i = 0; i < p->size(); ++i)
                before = std::max(before, std::abs(p->value()[i]));
        ASSERT_GT(before, 0.01f);
        objective.clip_discriminator();
        float after = 0;
        for (Parameter* p : f.discriminator.parameters())
            for (std::int64_t i = 0; i < p->size(); ++i)
                after = std::max(after, std::abs(p->value()[i]));
        if (loss == GanLoss::bce)
            EXPECT_EQ(after, before);
        else
            EXPECT_EQ(after, 0.01f);
    }
}

TEST(GanObjective, TheConditionalDiscriminatorSeesTheSameInputBesideFakeAndRealImages) {
    GanFixture f(GanDiscriminator::conditional);
    GanOptions options;
    options.discriminator = GanDiscriminator::conditional;
    options.loss = GanLoss::wgan;  // mean(D(fake view)) - mean(D(real view))
    options.perceptual_weight = 0;
    GanObjective objective(f.generator, f.discriminator, nullptr, options);
    Context ctx(1);
    EXPECT_GT(std::abs(objective.discriminator_loss(ctx, f.input, f.label, false)), 1e-3);
    // The first convolution (OIHW: 64 filters of 2 planes of 3x3) blinded to the image's plane:
    // what is left is the input's, which fake and real views must share exactly.
    Parameter& kernel = *f.discriminator.parameters().at(0);
    ASSERT_EQ(kernel.name(), "kernel");
    ASSERT_EQ(kernel.size(), 64 * 2 * 9);
    const std::vector<float> saved(kernel.value(), kernel.value() + kernel.size());
    for (std::int64_t o = 0; o < 64; ++o) std::fill_n(kernel.value() + o * 18, 9, 0.f);
    kernel.mark_changed();
    EXPECT_EQ(objective.discriminator_loss(ctx, f.input, f.label, false), 0.0);
    // Blinded to the input's plane instead: the images tell fake from real again.
    std::copy(saved.begin(), saved.end(), kernel.value());
    for (std::int64_t o = 0; o < 64; ++o) std::fill_n(kernel.value() + o * 18 + 9, 9, 0.f);
    kernel.mark_changed();
    EXPECT_GT(std::abs(objective.discriminator_loss(ctx, f.input, f.label, false)), 1e-3);
}

TEST(GanObjective, TheConditionalDiscriminatorMeasuresTheImageInTheInputsUnits) {
    // The image's residual is scaled by the factor that brings the input's to unit RMS, so it
    // is measured against the input's noise: input and images 10 times larger leave the view
    // and the loss as they were. A generator that scales with its input, one convolution
    // without bias, keeps the fake images in step.
    GanFixture f(GanDiscriminator::conditional);
    Network linear;
    linear.add_input("input", 1);
    ConvolutionConfig conv;
    conv.use_bias = false;
    linear.add<ConvolutionLayer>({"input"}, "conv2d", conv);
    linear.build({Dims{2, 1, patch, patch}});
    linear.initialize(6);
    GanOptions options;
    options.discriminator = GanDiscriminator::conditional;
    options.perceptual_weight = 0;
    GanObjective objective(linear, f.discriminator, nullptr, options);
    Context ctx(1);
    const double loss = objective.discriminator_loss(ctx, f.input, f.label, false);
    const auto ten_times = [](const Tensor& t) {
        Tensor scaled(t.dims());
        for (std::int64_t i = 0; i < t.dims().count(); ++i) scaled.data()[i] = 10.f * t.data()[i];
        return scaled;
    };
    const Tensor input = ten_times(f.input), label = ten_times(f.label);
    EXPECT_NEAR(objective.discriminator_loss(ctx, input, label, false), loss, 1e-5 * loss);
    // Only the images larger: the discriminator sees them so.
    EXPECT_GT(std::abs(objective.discriminator_loss(ctx, f.input, label, false) - loss),
              1e-2 * loss);
}

TEST(GanObjective, APerceptualWeightWithoutVggIsRefused) {
    GanFixture f;
    GanOptions options;
    options.perceptual_weight = 1;
    EXPECT_THROW(GanObjective(f.generator, f.discriminator, nullptr, options), InvalidArgument);
}

}  // namespace
