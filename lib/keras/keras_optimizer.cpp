#include "keras/keras_optimizer.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

nlohmann::json keras_optimizer_config(const Optimizer& optimizer) {
    if (const auto* adam = dynamic_cast<const Adam*>(&optimizer)) {
        const AdamConfig& config = adam->config();
        return {{"name", "Adam"},
                {"learning_rate", adam->learning_rate()},
                {"decay", 0.0},
                {"beta_1", config.beta_1},
                {"beta_2", config.beta_2},
                {"epsilon", config.epsilon},
                {"amsgrad", false}};
    }
    if (const auto* sgd = dynamic_cast<const Sgd*>(&optimizer)) {
        const SgdConfig& config = sgd->config();
        return {{"name", "SGD"},
                {"learning_rate", sgd->learning_rate()},
                {"decay", 0.0},
                {"momentum", config.momentum},
                {"nesterov", config.nesterov}};
    }
    throw InvalidArgument("optimizer " + optimizer.type() + " has no Keras form");
}

}  // namespace tomodenoise
