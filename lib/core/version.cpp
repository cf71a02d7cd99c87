#include "tomodenoise/version.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include "version_config.hpp"

namespace tomodenoise {

std::string version() {
    return TOMODENOISE_VERSION_STRING;
}

std::string backend_version() {
    const dnnl_version_t* v = dnnl_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch);
}

}  // namespace tomodenoise
