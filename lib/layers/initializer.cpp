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

}  // namespace tomodenoise
