#pragma once
// A trainable parameter: value and gradient in plain layout, and a version that changes
// whenever the value does, so layers know when to refresh their cached blocked copies.

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace tomodenoise {

/// "(O, I, H, W)": a parameter shape for messages.
std::string shape_string(const std::vector<std::int64_t>& shape);

class Parameter {
public:
    Parameter() = default;
    /// `name` is the Keras weight name ("kernel", "bias"); `shape` the oneDNN logical dims
    /// (OIHW for convolution kernels, {O, I} for dense, {O} for biases), stored plain.
    Parameter(std::string name, std::vector<std::int64_t> shape);

    const std::string& name() const { return name_; }
    const std::vector<std::int64_t>& shape() const { return shape_; }
    std::int64_t size() const { return size_; }
    std::string shape_string() const;  ///< "(O, I, H, W)"

    float* value() { return value_.data(); }
    const float* value() const { return value_.data(); }
    float* grad() { return grad_.data(); }
    const float* grad() const { return grad_.data(); }

    /// Plain oneDNN descriptor of the value and gradient.
    const dnnl::memory::desc& desc() const { return desc_; }
    /// oneDNN memory objects over the value and the gradient.
    const dnnl::memory& value_memory() const { return value_memory_; }
    const dnnl::memory& grad_memory() const { return grad_memory_; }

    std::uint64_t version() const { return version_; }
    /// Call after changing value(): cached copies made from the old value are refreshed.
    void mark_changed() { ++version_; }

private:
    std::string name_;
    std::vector<std::int64_t> shape_;
    std::int64_t size_ = 0;
    dnnl::memory::desc desc_;
    Tensor value_, grad_;  // storage only; desc_ gives the layout
    dnnl::memory value_memory_, grad_memory_;
    std::uint64_t version_ = 1;
};

}  // namespace tomodenoise
