#pragma once
/// @file
/// The number format networks compute in, and what this CPU offers for bfloat16.

#include <string>

namespace tomodenoise {

/// What convolutions compute in and activations pass between layers in.
enum class Precision {
    f32,   ///< float32 throughout (the library's Winograd kernel where it fits)
    bf16,  ///< bfloat16 inputs, weights and activations through oneDNN, f32 accumulation and bias
};

/// How this CPU runs Precision::bf16.
enum class Bf16Support {
    native,    ///< in hardware: AVX-512 BF16 or AMX tiles
    emulated,  ///< AVX-512 without bf16 instructions: oneDNN emulates them (slower than f32)
    none,      ///< no AVX-512: oneDNN 2.x has no bf16 kernels here, so bf16 computes in f32
};

/// This CPU's bfloat16 support, as oneDNN sees it (ONEDNN_MAX_CPU_ISA can lower it).
Bf16Support cpu_bf16_support();

/// "f32" or "bf16".
std::string to_string(Precision precision);
/// The precision named by to_string; InvalidArgument listing the names for any other text.
Precision parse_precision(const std::string& name);

}  // namespace tomodenoise
