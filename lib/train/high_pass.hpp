#pragma once
// The patch discriminator's view of an image: its high-pass residual. What an MSE-trained
// generator loses is fine structure of small amplitude beside the low frequencies real and
// generated images share; a discriminator fed the images themselves stayed at chance for
// hundreds of steps against one, fed this residual it told them apart within 50 (README,
// "Why the GAN did not sharpen").

#include "core/tensor.hpp"

namespace tomodenoise {

/// The residual's gain: it brings the residual of images normalized to unit spread near unit
/// spread too, where the discriminator's initial weights are scaled for.
inline constexpr float high_pass_gain = 10.f;

/// out = high_pass_gain * (in - the mean of each pixel's 3x3 neighbourhood, zeros outside the
/// image), per image and channel; `in` plain NCHW, `out` becomes plain of the same dims. The
/// map is linear and self-adjoint (the mean's kernel is symmetric and its padding zeros), so the
/// same call takes a gradient with respect to `out` back to `in`. Throws InvalidArgument when
/// `in` is not plain.
void high_pass_residual(const Tensor& in, Tensor& out);

}  // namespace tomodenoise
