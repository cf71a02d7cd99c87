#include "core/layer.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

std::string dims_list(const std::vector<Dims>& dims) {
    std::string s;
    for (const auto& d : dims) s += (s.empty() ? "" : ", ") + d.to_string();
    return s;
}

void Layer::expect_inputs(const std::vector<Dims>& inputs, std::size_t expected) const {
    if (inputs.size() != expected)
        throw ShapeError(what() + " takes " + std::to_string(expected) + " input(s), got " +
                         std::to_string(inputs.size()));
}

}  // namespace tomodenoise
