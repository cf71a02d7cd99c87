#pragma once
// 3x3 'same' stride-1 convolution by Winograd F(4x4, 3x3) on AVX-512 CPUs: f32, channels in
// whole 16-channel blocks, nChw16c in and out, bias and (leaky) ReLU fused. Runs a layer's
// forward, and its backward-data as the 'same' convolution of the output's gradient with the
// kernel flipped in space and its channels swapped (KernelUse::backward_data).
//
// oneDNN 2.6's Winograd (jit_wino_4x3) makes three passes over memory (input transform,
// batched GEMM, output transform). For the narrow full-resolution layers of a U-Net (32
// output channels at 1024x1024) that traffic took most of the gain: 1.2-1.4x over direct on
// Zen 5, where full-width FMA makes direct convolution fast. Here each thread transforms,
// multiplies and transforms back one strip of tiles while it sits in the core's L2 cache.

#include <cstdint>

#include "core/tensor.hpp"
#include "layers/activation.hpp"

namespace tomodenoise {

class WinogradConvolution {
public:
    /// Whether this CPU can run the kernel (AVX-512F).
    static bool cpu_supported();
    /// Whether a layer of these channel counts and activation fits the kernel.
    static bool fits(std::int64_t in_channels, std::int64_t out_channels,
                     const Activation& activation);

    /// How set_weights reads the layer's kernel.
    enum class KernelUse {
        forward,        ///< the layer's convolution: `out_channels` x `in_channels`
        backward_data,  ///< its transpose, from the layer's output gradient to its input's
    };

    /// Transforms an OIHW 3x3 `kernel` of a layer with `out_channels` filters over
    /// `in_channels` inputs, and the `bias` (null: none), for the forwards that follow. With
    /// KernelUse::backward_data those forwards map `out_channels` channels (a gradient of the
    /// layer's output) to `in_channels` through the kernel flipped in space; `bias` must be
    /// null then.
    void set_weights(const float* kernel, const float* bias, std::int64_t out_channels,
                     std::int64_t in_channels, KernelUse use = KernelUse::forward);
    /// dst = activation(conv(src) + bias) for `n` images of h x w, both nChw16c with the
    /// channel counts set_weights() gave them, 64-byte aligned (as Tensor storage is). Runs on
    /// omp_get_max_threads() threads.
    void forward(const float* src, float* dst, std::int64_t n, std::int64_t h, std::int64_t w,
                 const Activation& activation);

    /// The weight gradient of the layer set_weights(KernelUse::forward) set up: `diff_kernel`
    /// (OIHW, out x in x 3 x 3) and, when not null, `diff_bias` (out) are overwritten from the
    /// layer's input `src` and the gradient `diff_dst` of its output before the activation, or,
    /// with `relu_dst` (the layer's ReLU output), after the ReLU: the pass then also writes the
    /// gradient before it to `diff_pre` when that is not null. All n images of h x w, nChw16c,
    /// 64-byte aligned. Winograd's adjoint: for each tile, the output gradient's A dY A^T times
    /// the input's B^T d B, summed over tiles, then G^T (.) G.
    void backward_weights(const float* src, const float* diff_dst, const float* relu_dst,
                          float* diff_pre, std::int64_t n, std::int64_t h, std::int64_t w,
                          float* diff_kernel, float* diff_bias);

private:
    std::int64_t in_channels_ = 0, out_channels_ = 0;
    Tensor weights_;         // [36][in][out]: the transformed kernel, one matrix per tile position
    Tensor bias_;            // [out]
    Tensor scratch_;         // per thread: transformed input tiles, then products
    Tensor weight_scratch_;  // per thread: transformed inputs and gradients, their sums
};

}  // namespace tomodenoise
