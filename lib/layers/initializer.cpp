#include "layers/initializer.hpp"

#include <cmath>

namespace tomodenoise {

void initialize(Parameter& p, Initializer init, std::int64_t fan_in, std::int64_t fan_out,
                std::mt19937& rng) {
    float* v = p.value();
    switch (init) {
        case Initializer::zeros:
            std::fill(v, v + p.size(), 0.f);
            break;
        case Initializer::glorot_uniform:
        case Initializer::he_uniform: {
            const double limit = init == Initializer::glorot_uniform
                                     ? std::sqrt(6.0 / double(fan_in + fan_out))
                                     : std::sqrt(6.0 / double(fan_in));
            std::uniform_real_distribution<float> dist(float(-limit), float(limit));
            for (std::int64_t i = 0; i < p.size(); ++i) v[i] = dist(rng);
            break;
        }
        case Initializer::he_normal: {
            // Keras truncates at two standard deviations and rescales by 0.8796 so the
            // truncated distribution keeps the intended variance.
            const double stddev = std::sqrt(2.0 / double(fan_in)) / 0.87962566103423978;
            std::normal_distribution<float> dist(0.f, float(stddev));
            for (std::int64_t i = 0; i < p.size(); ++i) {
                float x;
                do x = dist(rng);
                while (std::abs(x) > 2 * stddev);
                v[i] = x;
            }
            break;
        }
    }
    p.mark_changed();
}

std::string keras_name(Initializer init) {
    switch (init) {
        case Initializer::glorot_uniform: return "GlorotUniform";
        case Initializer::he_uniform: return "HeUniform";
        case Initializer::he_normal: return "HeNormal";
        case Initializer::zeros: return "Zeros";
    }
    return "GlorotUniform";
}

nlohmann::json keras_weight_settings(Initializer kernel) {
    return {{"kernel_initializer", {{"class_name", keras_name(kernel)}, {"config", {{"seed", nullptr}}}}},
            {"bias_initializer", {{"class_name", "Zeros"}, {"config", nlohmann::json::object()}}},
            {"kernel_regularizer", nullptr},
            {"bias_regularizer", nullptr},
            {"activity_regularizer", nullptr},
            {"kernel_constraint", nullptr},
            {"bias_constraint", nullptr}};
}

}  // namespace tomodenoise
