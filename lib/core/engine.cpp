#include "core/engine.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

const dnnl::engine& cpu_engine() {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

void rethrow_backend_error(const std::string& context) {
    try {
        throw;
    } catch (const dnnl::error& e) {
        const std::string reason = e.status == dnnl_unimplemented
                                       ? "no oneDNN implementation for this configuration"
                                       : e.what();
        throw BackendError(context + ": " + reason);
    }
}

}  // namespace tomodenoise
