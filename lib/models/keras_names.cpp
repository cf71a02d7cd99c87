#include "models/keras_names.hpp"

namespace tomodenoise {

std::string KerasNames::next(const std::string& kind) {
    const int index = used_[kind]++;
    return index == 0 ? kind : kind + "_" + std::to_string(index);
}

}  // namespace tomodenoise
