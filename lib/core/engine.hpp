#pragma once
// The process-wide oneDNN CPU engine, and the conversion of oneDNN's exceptions into ours.

#include <oneapi/dnnl/dnnl.hpp>

#include <string>

namespace tomodenoise {

const dnnl::engine& cpu_engine();

/// Rethrows the dnnl::error being handled as a BackendError that says what `context` is (the
/// layer and dims): oneDNN's own messages name no shapes. Call only inside a catch block.
[[noreturn]] void rethrow_backend_error(const std::string& context);

}  // namespace tomodenoise
