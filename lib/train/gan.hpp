#pragma once
// TomoGAN's adversarial objective: the generator loss
//   ladv * adversarial + lmse * MSE(G(x), y) + lperc * MSE(VGG(G(x)), VGG(y))
// and the discriminator's loss, with the binary cross-entropy of logits or the Wasserstein
// critic, and their gradients: the generator's through the discriminator and the frozen VGG19
// feature extractor. The patch discriminator (GanDiscriminator::patch) judges the images'
// high-pass residuals (train/high_pass.hpp), the gradient flowing back through that fixed map;
// the conditional one the image's residual beside the generator input's.
// The networks are the caller's (built in models/, loaded in keras/); this
// computes losses and parameter gradients, the trainer steps the optimizers.

#include <vector>

#include "core/context.hpp"
#include "core/network.hpp"
#include "core/tensor.hpp"
#include "tomodenoise/train.hpp"

namespace tomodenoise {

/// The generator loss of one batch, term by term (the terms before their weights).
struct GeneratorLoss {
    double total = 0;        ///< the weighted sum
    double adversarial = 0;  ///< bce: BCE(D(G(x)), 1); wgan: -mean(D(G(x)))
    double mse = 0;          ///< MSE(G(x), y)
    double perceptual = 0;   ///< MSE of the VGG19 features; 0 without a feature network
};

class GanObjective {
public:
    /// `vgg`: the VGG19 feature extractor (input 3 channels, preprocessed as
    /// vgg19_preprocess_gray; frozen with set_parameter_gradients(false) saves its weight
    /// gradients), or null when options.perceptual_weight is 0. The networks
    /// outlive this object. The generator has one output channel, the discriminator one logit
    /// (per patch or per block). options.discriminator patch: the discriminator sees
    /// high_pass_residual of its input images; conditional: that of the image, then those of
    /// the generator's input channels, each of these scaled to unit root mean square (1 + its
    /// channels); unset or tomogan: the images.
    GanObjective(Network& generator, Network& discriminator, Network* vgg,
                 const GanOptions& options);

    /// The generator loss of the batch (input x, label y, plain NCHW, y with one channel).
    /// With `gradients`, every generator parameter's gradient is overwritten with the loss's;
    /// the discriminator's are left as they were, the VGG's unspecified (unless it is frozen).
    GeneratorLoss generator_loss(Context& ctx, const Tensor& input, const Tensor& label,
                                 bool gradients);

    /// The discriminator's loss on G(x) (fake) and y (real): bce: BCE(D(y), 1) + BCE(D(G(x)),
    /// 0); wgan: mean(D(G(x))) - mean(D(y)). With `gradients`, every discriminator parameter's
    /// gradient is overwritten with the loss's (the generator's parameters are not touched).
    double discriminator_loss(Context& ctx, const Tensor& input, const Tensor& label,
                              bool gradients);

    /// wgan: every discriminator weight clipped to [-clip, clip] (after its optimizer step);
    /// nothing for bce.
    void clip_discriminator();

    /// The VGG19 feature extractor, or null without the perceptual term.
    Network* perceptual_network() const { return options_.perceptual_weight > 0 ? vgg_ : nullptr; }

private:
    // conditional: the input's scaled residual that judged() sets beside the images generated
    // from it or their labels; nothing for the other kinds.
    void condition_on(const Tensor& input);
    // What the discriminator sees of `images`: themselves, their high-pass residual, or that
    // beside the input's of the last condition_on (into `view`).
    const Tensor& judged(const Tensor& images, Tensor& view);
    // The gradient with respect to the images, from that with respect to judged()'s view.
    const Tensor& judged_backward(const Tensor& diff_view, Tensor& grad);

    Network& generator_;
    Network& discriminator_;
    Network* vgg_;
    GanOptions options_;
    Tensor fake_, grad_out_, grad_term_, logits_real_, grad_fake_, grad_real_, target_;
    Tensor bgr_, label_features_, grad_features_, grad_gray_;
    Tensor judged_fake_, judged_real_, grad_judged_, image_residual_, input_residual_;
    std::vector<std::vector<float>> saved_grads_;
    std::vector<float> plane_scales_;  // conditional: per image, its input centre slice's scale
};

}  // namespace tomodenoise
