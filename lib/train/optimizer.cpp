#include "train/optimizer.hpp"

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "tomodenoise/error.hpp"
#include "tomodenoise/normalize.hpp"

namespace tomodenoise {

namespace {

// Below this many elements a parallel region costs more than the update.
constexpr std::int64_t parallel_threshold = 1 << 15;

// The largest iteration count a float holds exactly.
constexpr std::int64_t max_exact_iterations = std::int64_t(1) << 24;

std::string number(double value) {
    std::ostringstream s;
    s << value;
    return s.str();
}

// Throws InvalidArgument naming the option and its value unless `ok`.
void expect_option(bool ok, const std::string& optimizer, const char* option, double value,
                   const char* expected) {
    if (!ok)
        throw InvalidArgument(optimizer + ": " + option + " is " + number(value) + ", expected " +
                              expected);
}

void expect_learning_rate(const std::string& optimizer, double learning_rate) {
    expect_option(learning_rate > 0 && std::isfinite(learning_rate), optimizer, "learning_rate",
                  learning_rate, "a finite value > 0");
}

}  // namespace

std::string parameter_name(const std::string& layer, const Parameter& p) {
    return layer + "/" + p.name();
}

std::vector<NamedParameter> named_parameters(Network& net) {
    std::vector<NamedParameter> named;
    for (const auto& node : net.nodes())
        if (node.layer)
            for (Parameter* p : node.layer->parameters())
                named.push_back({parameter_name(node.name, *p), p});
    return named;
}

Optimizer::Optimizer(std::string type, std::vector<NamedParameter> parameters, double learning_rate,
                     std::vector<std::string> slots)
    : type_(std::move(type)),
      parameters_(std::move(parameters)),
      learning_rate_(learning_rate),
      slot_names_(std::move(slots)) {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
        const auto& np = parameters_[i];
        if (!np.parameter)
            throw InvalidArgument(what() + ": parameter " + std::to_string(i) + " ('" + np.name +
                                  "') is null");
        if (!seen.insert(np.name).second)
            throw InvalidArgument(what() + ": two parameters are named '" + np.name + "'");
    }
    expect_learning_rate(what(), learning_rate_);
    slots_.resize(slot_names_.size());
    for (auto& slot : slots_)
        for (const auto& np : parameters_) slot.emplace_back(np.parameter->size(), 0.f);
}

std::string Optimizer::what() const {
    return "optimizer " + type_;
}

void Optimizer::set_learning_rate(double learning_rate) {
    expect_learning_rate(what(), learning_rate);
    learning_rate_ = learning_rate;
}

void Optimizer::step() {
    const std::int64_t t = iterations_ + 1;
    std::vector<float*> slots(slots_.size());
    for (std::size_t i = 0; i < parameters_.size(); ++i) {
        for (std::size_t k = 0; k < slots_.size(); ++k) slots[k] = slots_[k][i].data();
        update(t, *parameters_[i].parameter, slots);
        parameters_[i].parameter->mark_changed();
    }
    iterations_ = t;
}

std::vector<OptimizerStateArray> Optimizer::state() const {
    if (iterations_ > max_exact_iterations)
        throw FormatError(what() + ": " + std::to_string(iterations_) +
                          " iterations do not fit the float state array 'iter'");
    std::vector<OptimizerStateArray> arrays;
    arrays.push_back({"iter", {}, {float(iterations_)}});
    for (std::size_t k = 0; k < slots_.size(); ++k)
        for (std::size_t i = 0; i < parameters_.size(); ++i)
            arrays.push_back({parameters_[i].name + "/" + slot_names_[k],
                              parameters_[i].parameter->shape(), slots_[k][i]});
    return arrays;
}

void Optimizer::load_state(const std::vector<OptimizerStateArray>& state) {
    std::map<std::string, const OptimizerStateArray*> by_name;
    for (const auto& a : state)
        if (!by_name.emplace(a.name, &a).second)
            throw FormatError(what() + " state: array '" + a.name + "' appears twice");
    auto take = [&](const std::string& name, std::size_t size,
                    const std::string& of) -> const std::vector<float>& {
        const auto it = by_name.find(name);
        if (it == by_name.end())
            throw FormatError(what() + " state: array '" + name + "' is missing");
        const auto& values = it->second->values;
        if (values.size() != size)
            throw FormatError(what() + " state: array '" + name + "' holds " +
                              std::to_string(values.size()) + " values, but " + of + " needs " +
                              std::to_string(size));
        const NonFiniteReport non_finite = find_non_finite(values.data(), values.size());
        if (non_finite.count > 0)
            throw FormatError(what() + " state: array '" + name + "' holds " +
                              std::to_string(non_finite.count) + " NaN or infinite values");
        by_name.erase(it);
        return values;
    };
    const float iter = take("iter", 1, "the iteration count")[0];
    if (!(iter >= 0 && iter <= float(max_exact_iterations) && iter == std::floor(iter)))
        throw FormatError(what() + " state: 'iter' is " + number(iter) +
                          ", expected a non-negative integer");
    std::vector<std::vector<const std::vector<float>*>> sources(slots_.size());
    for (std::size_t k = 0; k < slots_.size(); ++k)
        for (const auto& np : parameters_)
            sources[k].push_back(
                &take(np.name + "/" + slot_names_[k], std::size_t(np.parameter->size()),
                      "parameter '" + np.name + "' " + np.parameter->shape_string()));
    if (!by_name.empty())
        throw FormatError(what() + " state: array '" + by_name.begin()->first +
                          "' belongs to no parameter slot of this optimizer");
    for (std::size_t k = 0; k < slots_.size(); ++k)
        for (std::size_t i = 0; i < parameters_.size(); ++i) slots_[k][i] = *sources[k][i];
    iterations_ = std::int64_t(iter);
}

std::string Optimizer::first_non_finite_state() const {
    for (std::size_t k = 0; k < slots_.size(); ++k)
        for (std::size_t i = 0; i < parameters_.size(); ++i)
            if (find_non_finite(slots_[k][i].data(), slots_[k][i].size()).count > 0)
                return parameters_[i].name + "/" + slot_names_[k];
    return "";
}

Adam::Adam(std::vector<NamedParameter> parameters, const AdamConfig& config)
    : Optimizer("Adam", std::move(parameters), config.learning_rate, {"m", "v"}), config_(config) {
    expect_option(config.beta_1 >= 0 && config.beta_1 < 1, what(), "beta_1", config.beta_1,
                  "a value in [0, 1)");
    expect_option(config.beta_2 >= 0 && config.beta_2 < 1, what(), "beta_2", config.beta_2,
                  "a value in [0, 1)");
    expect_option(config.epsilon > 0 && std::isfinite(config.epsilon), what(), "epsilon",
                  config.epsilon, "a finite value > 0");
}

void Adam::update(std::int64_t t, Parameter& p, const std::vector<float*>& slots) {
    const double b1 = config_.beta_1, b2 = config_.beta_2;
    const float lr_t = float(learning_rate() * std::sqrt(1 - std::pow(b2, double(t))) /
                             (1 - std::pow(b1, double(t))));
    const float beta_1 = float(b1), beta_2 = float(b2), epsilon = float(config_.epsilon);
    float* value = p.value();
    const float* grad = p.grad();
    float* m = slots[0];
    float* v = slots[1];
    const std::int64_t size = p.size();
#pragma omp parallel for simd schedule(static) if (size >= parallel_threshold)
    for (std::int64_t i = 0; i < size; ++i) {
        const float g = grad[i];
        m[i] = beta_1 * m[i] + (1 - beta_1) * g;
        v[i] = beta_2 * v[i] + (1 - beta_2) * g * g;
        value[i] -= lr_t * m[i] / (std::sqrt(v[i]) + epsilon);
    }
}

Sgd::Sgd(std::vector<NamedParameter> parameters, const SgdConfig& config)
    : Optimizer(
          "SGD", std::move(parameters), config.learning_rate,
          config.momentum > 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{}),
      config_(config) {
    expect_option(config.momentum >= 0 && config.momentum < 1, what(), "momentum", config.momentum,
                  "a value in [0, 1)");
}

void Sgd::update(std::int64_t /*t*/, Parameter& p, const std::vector<float*>& slots) {
    const float lr = float(learning_rate()), momentum = float(config_.momentum);
    float* value = p.value();
    const float* grad = p.grad();
    const std::int64_t size = p.size();
    if (slots.empty()) {
#pragma omp parallel for simd schedule(static) if (size >= parallel_threshold)
        for (std::int64_t i = 0; i < size; ++i) value[i] -= lr * grad[i];
        return;
    }
    float* velocity = slots[0];
    const bool nesterov = config_.nesterov;
#pragma omp parallel for simd schedule(static) if (size >= parallel_threshold)
    for (std::int64_t i = 0; i < size; ++i) {
        velocity[i] = momentum * velocity[i] - lr * grad[i];
        value[i] += nesterov ? momentum * velocity[i] - lr * grad[i] : velocity[i];
    }
}

}  // namespace tomodenoise
