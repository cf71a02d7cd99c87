#pragma once
// Optimizers with Keras 2.x's update rules (tf.keras OptimizerV2), and their state as named
// arrays in the order Keras's optimizer_weights keeps them, so a training run can be saved and
// resumed (keras/model_file.hpp stores it in Keras's HDF5 layout).

#include <cstdint>
#include <string>
#include <vector>

#include "core/network.hpp"
#include "core/parameter.hpp"

namespace tomodenoise {

/// A parameter and the unique name its optimizer state is kept under.
struct NamedParameter {
    std::string name;
    Parameter* parameter = nullptr;
};

/// "<layer>/<parameter>" ("conv2d/kernel"), as Keras names the variables: the name of
/// parameter `p` of layer `layer` and of its optimizer state.
std::string parameter_name(const std::string& layer, const Parameter& p);

/// Every parameter of `net` in Network::parameters() order, named by parameter_name.
std::vector<NamedParameter> named_parameters(Network& net);

/// One array of optimizer state.
struct OptimizerStateArray {
    std::string name;                 ///< "iter", or "<parameter name>/<slot>"
    std::vector<std::int64_t> shape;  ///< {} for "iter"; otherwise the parameter's shape
    std::vector<float> values;        ///< in the parameter's own (plain) order
};

/// Updates parameters from their gradients. The state is the iteration count and one array per
/// parameter for each of the optimizer's slots ("m" and "v" for Adam, "momentum" for SGD with
/// momentum); state() lists it as Keras's optimizer.weights does: "iter" first, then slot by
/// slot, each over every parameter in order ("iter", "a/kernel/m", "a/bias/m", ...,
/// "a/kernel/v", ...). A Keras HDF5 writer prefixes the optimizer name and appends ":0"
/// ("Adam/a/kernel/m:0") and lays slot arrays out as it lays out their parameters. "iter" is
/// stored as a float, exact up to 2^24 iterations.
class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    /// Keras's class name: "Adam", "SGD".
    const std::string& type() const { return type_; }

    /// One update of every parameter from its grad(); each parameter is then marked changed.
    void step();
    /// Steps taken so far (Keras's `iterations`).
    std::int64_t iterations() const { return iterations_; }

    double learning_rate() const { return learning_rate_; }
    /// For schedules: takes effect from the next step. Throws InvalidArgument unless finite
    /// and > 0.
    void set_learning_rate(double learning_rate);

    const std::vector<NamedParameter>& parameters() const { return parameters_; }

    /// The state in Keras's order (see the class comment). Throws FormatError when the
    /// iteration count is beyond float's exact range.
    std::vector<OptimizerStateArray> state() const;
    /// Restores a state() of an optimizer of the same type over parameters of the same names
    /// and sizes, in any order. Throws FormatError naming the array at fault (missing, unknown,
    /// wrong size, "iter" not a non-negative integer) and then leaves this optimizer unchanged.
    void load_state(const std::vector<OptimizerStateArray>& state);
    /// The name of the first state array ("<parameter name>/<slot>") holding a NaN or an
    /// infinite value, or "" when every value is finite: a diverging run's state, which
    /// load_state would refuse.
    std::string first_non_finite_state() const;

protected:
    /// `type` is the Keras class name; `slots` names the per-parameter state arrays. Throws
    /// InvalidArgument for a null parameter, a duplicated name or a learning rate not > 0.
    Optimizer(std::string type, std::vector<NamedParameter> parameters, double learning_rate,
              std::vector<std::string> slots);

    /// Updates `p` from its gradient at step `t` (1 for the first); `slots[k]` is this
    /// parameter's array for slot k (p.size() floats).
    virtual void update(std::int64_t t, Parameter& p, const std::vector<float*>& slots) = 0;

    std::string what() const;  ///< "optimizer Adam" for messages

private:
    std::string type_;
    std::vector<NamedParameter> parameters_;
    double learning_rate_;
    std::vector<std::string> slot_names_;
    std::vector<std::vector<std::vector<float>>> slots_;  // [slot][parameter][element]
    std::int64_t iterations_ = 0;
};

struct AdamConfig {
    double learning_rate = 1e-3;
    double beta_1 = 0.9;
    double beta_2 = 0.999;
    double epsilon = 1e-7;
};

/// Adam as Keras 2.x computes it (TensorFlow's ApplyAdam), at step t:
///   lr_t = learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t)
///   m = beta_1 m + (1 - beta_1) g
///   v = beta_2 v + (1 - beta_2) g^2
///   p -= lr_t m / (sqrt(v) + epsilon)
/// epsilon is added to sqrt(v) without bias correction (Keras's "epsilon hat"), which is not
/// the formula of the Adam paper's Algorithm 1. m and v start at zero; no amsgrad, no decay.
class Adam : public Optimizer {
public:
    /// Throws InvalidArgument naming the option when a value is out of range (learning_rate
    /// and epsilon finite and > 0, betas in [0, 1)).
    explicit Adam(std::vector<NamedParameter> parameters, const AdamConfig& config = {});
    const AdamConfig& config() const { return config_; }

protected:
    void update(std::int64_t t, Parameter& p, const std::vector<float*>& slots) override;

private:
    AdamConfig config_;
};

struct SgdConfig {
    double learning_rate = 0.01;
    double momentum = 0;
    bool nesterov = false;
};

/// Stochastic gradient descent as Keras 2.x computes it. Without momentum p -= lr g and there
/// is no slot. With momentum the slot "momentum" holds the velocity v (starting at zero):
///   v = momentum v - lr g;  p += v                      (classical)
///   v = momentum v - lr g;  p += momentum v - lr g      (nesterov)
class Sgd : public Optimizer {
public:
    /// Throws InvalidArgument naming the option when a value is out of range (learning_rate
    /// finite and > 0, momentum in [0, 1)).
    explicit Sgd(std::vector<NamedParameter> parameters, const SgdConfig& config = {});
    const SgdConfig& config() const { return config_; }

protected:
    void update(std::int64_t t, Parameter& p, const std::vector<float*>& slots) override;

private:
    SgdConfig config_;
};

}  // namespace tomodenoise
