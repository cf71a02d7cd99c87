#include "layers/activation.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

Activation Activation::from_keras(const std::string& name, const std::string& where) {
    if (name == "linear") return linear();
    if (name == "relu") return relu();
    if (name == "sigmoid") return sigmoid();
    if (name == "tanh") return tanh();
    throw FormatError(where + ": unsupported activation '" + name +
                      "' (supported: linear, relu, sigmoid, tanh)");
}

std::string Activation::keras_name() const {
    switch (kind) {
        case Kind::linear: return "linear";
        case Kind::relu: return "relu";
        case Kind::leaky_relu: return "leaky_relu";
        case Kind::sigmoid: return "sigmoid";
        case Kind::tanh: return "tanh";
    }
    return "linear";
}

dnnl::algorithm Activation::algorithm(bool use_dst) const {
    using a = dnnl::algorithm;
    switch (kind) {
        case Kind::linear: return a::eltwise_linear;
        case Kind::relu:
        case Kind::leaky_relu: return use_dst ? a::eltwise_relu_use_dst_for_bwd : a::eltwise_relu;
        case Kind::sigmoid:
            return use_dst ? a::eltwise_logistic_use_dst_for_bwd : a::eltwise_logistic;
        case Kind::tanh: return use_dst ? a::eltwise_tanh_use_dst_for_bwd : a::eltwise_tanh;
    }
    return a::eltwise_linear;
}

}  // namespace tomodenoise
