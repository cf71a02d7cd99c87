#include "train/noise2inverse.hpp"

#include <string>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

void means_of_other_splits(const std::vector<const float*>& splits, std::int64_t count,
                           const std::vector<float*>& dst) {
    const std::size_t k = splits.size();
    if (k < 2 || dst.size() != k)
        throw InvalidArgument("Noise2Inverse: " + std::to_string(k) + " splits and " +
                              std::to_string(dst.size()) +
                              " outputs; at least 2 splits and an output for each are needed");
    // One sum serves the K means: 2 K operations per value rather than K^2 (K goes to 1024).
    std::vector<float> sum(static_cast<std::size_t>(count), 0.0f);
    for (const float* split : splits)
        for (std::int64_t i = 0; i < count; ++i) sum[std::size_t(i)] += split[i];
    const float scale = 1.0f / float(k - 1);
    for (std::size_t j = 0; j < k; ++j) {
        const float* left_out = splits[j];
        float* out = dst[j];
        for (std::int64_t i = 0; i < count; ++i)
            out[i] = (sum[std::size_t(i)] - left_out[i]) * scale;
    }
}

}  // namespace tomodenoise
