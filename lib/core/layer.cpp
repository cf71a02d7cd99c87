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

Parameter Layer::create_parameter(std::size_t index, std::string name,
                                  std::vector<std::int64_t> shape) const {
    if (parameter_check_) parameter_check_(*this, index, shape);
    std::int64_t count = 1;
    for (const std::int64_t d : shape) {
        if (d < 1 || count > max_parameter_values / d)
            throw ShapeError(what() + ": weight '" + name + "' of shape " + shape_string(shape) +
                             " is empty or holds more than " +
                             std::to_string(max_parameter_values) + " values");
        count *= d;
    }
    return Parameter(std::move(name), std::move(shape));
}

}  // namespace tomodenoise
