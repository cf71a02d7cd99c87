#include "core/parameter.hpp"

#include "core/engine.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

dnnl::memory::format_tag plain_tag(std::size_t rank) {
    using tag = dnnl::memory::format_tag;
    switch (rank) {
        case 1:
            return tag::a;
        case 2:
            return tag::ab;
        case 3:
            return tag::abc;
        case 4:
            return tag::abcd;
        default:
            throw ShapeError("parameter rank " + std::to_string(rank) + " is not 1..4");
    }
}

}  // namespace

Parameter::Parameter(std::string name, std::vector<std::int64_t> shape)
    : name_(std::move(name)), shape_(std::move(shape)) {
    size_ = 1;
    for (auto d : shape_) size_ *= d;
    desc_ = dnnl::memory::desc(shape_, dnnl::memory::data_type::f32, plain_tag(shape_.size()));
    // The tensors are storage: their 4D views never meet oneDNN, desc_ does.
    value_ = Tensor(Dims{size_, 1, 1, 1});
    grad_ = Tensor(Dims{size_, 1, 1, 1});
    value_memory_ = dnnl::memory(desc_, cpu_engine(), value_.data());
    grad_memory_ = dnnl::memory(desc_, cpu_engine(), grad_.data());
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + ")";
}

std::string Parameter::shape_string() const {
    return tomodenoise::shape_string(shape_);
}

}  // namespace tomodenoise
