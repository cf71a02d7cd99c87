#pragma once
// Training losses with Keras's definitions. Each takes plain NCHW tensors, returns the loss value
// (accumulated in double) and, when `grad` is not null, writes the gradient of that value with
// respect to the prediction into `grad`, reshaped to the prediction's dims (its storage is
// reused when large enough, so a training loop allocates nothing after the first step).
//
// Reduction is Keras's default (SUM_OVER_BATCH_SIZE): the mean over every element, or over
// every pixel for the channel-wise softmax. Inputs that do not fit throw ShapeError (dims,
// layouts, empty tensors) or InvalidArgument (values such as labels and masks), naming the loss
// and what is at fault; `grad` is unspecified after a throw. The quality metrics of the same
// measures (tomodenoise/metrics.hpp) take raw arrays and have no gradient.

#include <vector>

#include "core/tensor.hpp"

namespace tomodenoise {

/// mean((p - t)^2); gradient 2 (p - t) / count.
double mean_squared_error_loss(const Tensor& prediction, const Tensor& target, Tensor* grad);

/// mean(|p - t|); gradient sign(p - t) / count, with the subgradient 0 where p == t.
double mean_absolute_error_loss(const Tensor& prediction, const Tensor& target, Tensor* grad);

/// Squared error over the pixels where `mask` (same dims, every value 0 or 1) is 1:
/// sum(m (p - t)^2) / sum(m); gradient 2 m (p - t) / sum(m). An all-zero mask has nothing to
/// learn from: the value is 0 and the gradient all zeros, so a batch of fully masked-out
/// patches is a no-op rather than a NaN. A mask value other than 0 or 1 is InvalidArgument.
double masked_mean_squared_error_loss(const Tensor& prediction, const Tensor& target,
                                      const Tensor& mask, Tensor* grad);

/// Binary cross-entropy of targets z in [0, 1] against logits x (Keras's from_logits=True):
/// mean(max(x, 0) - x z + log(1 + exp(-|x|))), finite for any finite x; gradient
/// (sigmoid(x) - z) / count.
double binary_crossentropy_from_logits(const Tensor& logits, const Tensor& target, Tensor* grad);

/// Wasserstein critic loss mean(D(fake)) - mean(D(real)), each mean over its own tensor (the
/// dims may differ); gradients 1 / count(fake) and -1 / count(real).
double wasserstein_critic_loss(const Tensor& critic_fake, const Tensor& critic_real,
                               Tensor* grad_fake, Tensor* grad_real);

/// Wasserstein generator loss -mean(D(fake)); gradient -1 / count.
double wasserstein_generator_loss(const Tensor& critic_fake, Tensor* grad_fake);

/// Softmax cross-entropy over channels (Keras's sparse categorical cross-entropy from logits,
/// per pixel). `logits` are (N, K, H, W); `labels` (N, 1, H, W) hold integer class indices
/// 0..K-1 stored as float. With `class_weights` empty every class weighs 1, otherwise it holds
/// K weights w. The value is sum over pixels of w[label] * -log softmax(logits)[label], divided
/// by the number of pixels N H W (Keras's sample-weight reduction), not by the sum of the
/// weights, so the weights scale the loss as well as balance the classes. Gradient
/// w[label] (softmax_k - [k == label]) / (N H W). A label that is not an integer in 0..K-1, a
/// weight vector of the wrong length or a negative or non-finite weight is InvalidArgument.
double sparse_softmax_crossentropy(const Tensor& logits, const Tensor& labels,
                                   const std::vector<float>& class_weights, Tensor* grad);

}  // namespace tomodenoise
