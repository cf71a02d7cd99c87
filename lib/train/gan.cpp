#include "train/gan.hpp"

#include <algorithm>
#include <cmath>

#include "tomodenoise/error.hpp"
#include "train/high_pass.hpp"
#include "train/loss.hpp"
#include "train/vgg19_preprocess.hpp"

namespace tomodenoise {

namespace {

// A network's output stays valid only until its next forward: the copies this objective keeps.
void copy_tensor(const Tensor& src, Tensor& dst) {
    dst.reshape(src.dims());
    std::copy(src.data(), src.data() + src.dims().count(), dst.data());
}

void fill(Tensor& t, const Dims& dims, float value) {
    t.reshape(dims);
    std::fill(t.data(), t.data() + dims.count(), value);
}

// into += scale * addend, both plain of one shape.
void add_scaled(Tensor& into, const Tensor& addend, double scale) {
    const auto s = float(scale);
    float* dst = into.data();
    const float* src = addend.data();
    for (std::int64_t i = 0; i < into.dims().count(); ++i) dst[i] += s * src[i];
}

// A network frozen (its inputs' gradients alone) while this lives, trainable again after: the
// discriminator during the generator's backward through it.
class FrozenNetwork {
public:
    explicit FrozenNetwork(Network& network) : network_(network) {
        network_.set_parameter_gradients(false);
    }
    ~FrozenNetwork() { network_.set_parameter_gradients(true); }
    FrozenNetwork(const FrozenNetwork&) = delete;
    FrozenNetwork& operator=(const FrozenNetwork&) = delete;

private:
    Network& network_;
};

}  // namespace

GanObjective::GanObjective(Network& generator, Network& discriminator, Network* vgg,
                           const GanOptions& options)
    : generator_(generator), discriminator_(discriminator), vgg_(vgg), options_(options) {
    if (options.perceptual_weight > 0 && !vgg)
        throw InvalidArgument("GanObjective: a perceptual weight above 0 needs the VGG19 network");
}

GeneratorLoss GanObjective::generator_loss(Context& ctx, const Tensor& input, const Tensor& label,
                                           bool gradients) {
    GeneratorLoss loss;
    copy_tensor(generator_.forward(ctx, input, Mode::training), fake_);
    Tensor* grad_term = gradients ? &grad_term_ : nullptr;
    if (gradients) fill(grad_out_, fake_.dims(), 0.f);

    condition_on(input);
    const Tensor& logits = discriminator_.forward(ctx, judged(fake_, judged_fake_), Mode::training);
    if (options_.loss == GanLoss::bce) {
        fill(target_, logits.dims(), 1.f);
        loss.adversarial = binary_crossentropy_from_logits(logits, target_, grad_term);
    } else {
        loss.adversarial = wasserstein_generator_loss(logits, grad_term);
    }
    if (gradients) {
        // Gradient of the adversarial term with respect to the generator's output; the
        // discriminator's own gradients are not wanted here, so its weight passes are skipped.
        const FrozenNetwork frozen(discriminator_);
        const Tensor& diff_judged = discriminator_.backward(ctx, grad_term_, true).at(0);
        add_scaled(grad_out_, judged_backward(diff_judged, grad_judged_),
                   options_.adversarial_weight);
    }

    loss.mse = mean_squared_error_loss(fake_, label, grad_term);
    if (gradients) add_scaled(grad_out_, grad_term_, options_.mse_weight);

    if (options_.perceptual_weight > 0) {
        vgg19_preprocess_gray(label, bgr_);
        copy_tensor(vgg_->forward(ctx, bgr_, Mode::training), label_features_);
        vgg19_preprocess_gray(fake_, bgr_);
        const Tensor& features = vgg_->forward(ctx, bgr_, Mode::training);
        loss.perceptual = mean_squared_error_loss(features, label_features_,
                                                  gradients ? &grad_features_ : nullptr);
        if (gradients) {
            const Tensor& diff_bgr = vgg_->backward(ctx, grad_features_, true).at(0);
            vgg19_preprocess_gray_backward(diff_bgr, grad_gray_);
            add_scaled(grad_out_, grad_gray_, options_.perceptual_weight);
        }
    }
    loss.total = options_.adversarial_weight * loss.adversarial + options_.mse_weight * loss.mse +
                 options_.perceptual_weight * loss.perceptual;
    if (gradients) generator_.backward(ctx, grad_out_);
    return loss;
}

double GanObjective::discriminator_loss(Context& ctx, const Tensor& input, const Tensor& label,
                                        bool gradients) {
    copy_tensor(generator_.forward(ctx, input, Mode::training), fake_);
    condition_on(input);  // once for both views
    // Each view's gradient depends on its own logits only, so each view is judged and, with
    // gradients, back-propagated before the next: one forward per view, the real images first.
    const Tensor& logits_real =
        discriminator_.forward(ctx, judged(label, judged_real_), Mode::training);
    Tensor* grad_real = gradients ? &grad_real_ : nullptr;
    double loss = 0;
    if (options_.loss == GanLoss::bce) {
        fill(target_, logits_real.dims(), 1.f);
        loss = binary_crossentropy_from_logits(logits_real, target_, grad_real);
    } else {
        copy_tensor(logits_real, logits_real_);  // the critic's loss below needs both views
        // The critic's gradient on real images, -1 / count, is the generator loss's own.
        if (gradients) wasserstein_generator_loss(logits_real_, grad_real);
    }
    const auto parameters = discriminator_.parameters();
    if (gradients) {
        discriminator_.backward(ctx, grad_real_);
        saved_grads_.resize(parameters.size());
        for (std::size_t k = 0; k < parameters.size(); ++k)
            saved_grads_[k].assign(parameters[k]->grad(),
                                   parameters[k]->grad() + parameters[k]->size());
    }
    const Tensor& logits_fake =
        discriminator_.forward(ctx, judged(fake_, judged_fake_), Mode::training);
    Tensor* grad_fake = gradients ? &grad_fake_ : nullptr;
    if (options_.loss == GanLoss::bce) {
        fill(target_, logits_fake.dims(), 0.f);
        loss += binary_crossentropy_from_logits(logits_fake, target_, grad_fake);
    } else {
        loss = wasserstein_critic_loss(logits_fake, logits_real_, grad_fake, nullptr);
    }
    if (!gradients) return loss;
    discriminator_.backward(ctx, grad_fake_);
    for (std::size_t k = 0; k < parameters.size(); ++k) {
        float* g = parameters[k]->grad();
        for (std::int64_t i = 0; i < parameters[k]->size(); ++i)
            g[i] += saved_grads_[k][std::size_t(i)];
    }
    return loss;
}

void GanObjective::condition_on(const Tensor& input) {
    if (options_.discriminator != GanDiscriminator::conditional) return;
    // Each input plane scaled to unit root mean square: a low dose's noise, whose residual is
    // 10 times the label's, otherwise drowns the image's residual in the first convolution's
    // sums, and the discriminator stayed at chance for 200 iterations. The image's residual
    // is scaled by the centre slice's factor too (judged()), measured against the input's
    // noise: that multiplies each patch's adversarial gradient by its input's 1 / RMS, 4 times
    // larger at I0 50000 than at 2000 in the sparse-view benchmark. Left as it was, the
    // adversarial phase raised the high-frequency ratio 0.09 at I0 50000 and 0.19 at 2000.
    high_pass_residual(input, input_residual_);
    const Dims& d = input.dims();
    const std::int64_t plane = d.h * d.w;
    plane_scales_.assign(std::size_t(d.n), 1.f);
    for (std::int64_t p = 0; p < d.n * d.c; ++p) {
        float* residual = input_residual_.data() + p * plane;
        double sum2 = 0;
        for (std::int64_t i = 0; i < plane; ++i) sum2 += double(residual[i]) * residual[i];
        if (sum2 == 0) continue;
        const auto scale = float(1 / std::sqrt(sum2 / double(plane)));
        for (std::int64_t i = 0; i < plane; ++i) residual[i] *= scale;
        if (p % d.c == d.c / 2) plane_scales_[std::size_t(p / d.c)] = scale;
    }
}

const Tensor& GanObjective::judged(const Tensor& images, Tensor& view) {
    const auto kind = options_.discriminator.value_or(GanDiscriminator::tomogan);
    if (kind == GanDiscriminator::tomogan) return images;
    if (kind == GanDiscriminator::patch) {
        high_pass_residual(images, view);
        return view;
    }
    // conditional: per image, its residual's plane in the input's units, then the input's
    // planes.
    high_pass_residual(images, image_residual_);
    const Dims& d = images.dims();
    const std::int64_t plane = d.h * d.w, input_channels = input_residual_.dims().c;
    view.reshape(Dims{d.n, 1 + input_channels, d.h, d.w});
    for (std::int64_t n = 0; n < d.n; ++n) {
        float* dst = view.data() + n * (1 + input_channels) * plane;
        const float scale = plane_scales_[std::size_t(n)];
        const float* residual = image_residual_.data() + n * plane;
        for (std::int64_t i = 0; i < plane; ++i) dst[i] = scale * residual[i];
        std::copy_n(input_residual_.data() + n * input_channels * plane, input_channels * plane,
                    dst + plane);
    }
    return view;
}

const Tensor& GanObjective::judged_backward(const Tensor& diff_view, Tensor& grad) {
    const auto kind = options_.discriminator.value_or(GanDiscriminator::tomogan);
    if (kind == GanDiscriminator::tomogan) return diff_view;
    if (kind == GanDiscriminator::patch) {
        high_pass_residual(diff_view, grad);  // self-adjoint: its own adjoint
        return grad;
    }
    // conditional: only the image's plane depends on the generator, through its scale.
    const Dims& d = diff_view.dims();
    const std::int64_t plane = d.h * d.w;
    image_residual_.reshape(Dims{d.n, 1, d.h, d.w});
    for (std::int64_t n = 0; n < d.n; ++n) {
        const float scale = plane_scales_[std::size_t(n)];
        const float* diff = diff_view.data() + n * d.c * plane;
        float* dst = image_residual_.data() + n * plane;
        for (std::int64_t i = 0; i < plane; ++i) dst[i] = scale * diff[i];
    }
    high_pass_residual(image_residual_, grad);
    return grad;
}

void GanObjective::clip_discriminator() {
    if (options_.loss != GanLoss::wgan) return;
    const auto clip = float(options_.clip);
    for (Parameter* p : discriminator_.parameters()) {
        float* v = p->value();
        for (std::int64_t i = 0; i < p->size(); ++i) v[i] = std::clamp(v[i], -clip, clip);
        p->mark_changed();
    }
}

}  // namespace tomodenoise
