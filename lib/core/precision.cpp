#include <oneapi/dnnl/dnnl.hpp>

#include "tomodenoise/error.hpp"
#include "tomodenoise/precision.hpp"

namespace tomodenoise {

namespace {

// oneDNN's ISA values are feature sets: a CPU has every feature of an ISA whose bits it holds.
bool has_isa(dnnl::cpu_isa cpu, dnnl::cpu_isa isa) {
    return (static_cast<unsigned>(cpu) & static_cast<unsigned>(isa)) == static_cast<unsigned>(isa);
}

}  // namespace

Bf16Support cpu_bf16_support() {
    const dnnl::cpu_isa cpu = dnnl::get_effective_cpu_isa();
    if (has_isa(cpu, dnnl::cpu_isa::avx512_core_bf16)) return Bf16Support::native;
    if (has_isa(cpu, dnnl::cpu_isa::avx512_core)) return Bf16Support::emulated;
    return Bf16Support::none;
}

std::string to_string(Precision precision) {
    return precision == Precision::bf16 ? "bf16" : "f32";
}

Precision parse_precision(const std::string& name) {
    for (Precision precision : {Precision::f32, Precision::bf16})
        if (name == to_string(precision)) return precision;
    throw InvalidArgument("precision '" + name + "' is not one of f32, bf16");
}

}  // namespace tomodenoise
