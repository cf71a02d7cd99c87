#pragma once
// Keras's automatic layer names, so that a network built here has the names (and hence the
// weight paths) of the same model built in a fresh Keras session: the first layer of a kind is
// named after the kind ("conv2d"), later ones "conv2d_1", "conv2d_2", ...; the first input is
// "input_1".

#include <map>
#include <string>

namespace tomodenoise {

/// The name Keras gives the first Input of a session.
inline constexpr const char* keras_first_input_name = "input_1";

class KerasNames {
public:
    /// The next automatic name for layers whose Keras prefix is `kind` ("conv2d", "dense",
    /// "max_pooling2d", "up_sampling2d", "concatenate", "conv2d_transpose", "flatten",
    /// "activation").
    std::string next(const std::string& kind);

private:
    std::map<std::string, int> used_;
};

}  // namespace tomodenoise
