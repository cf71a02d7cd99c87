#pragma once
// Noise2Inverse (Hendriksen, Pelt and Batenburg 2020): the K reconstructions of one volume from
// interleaved angle subsets show the same object with independent noise, and the network maps
// the mean of K - 1 of them to the remaining one. Its training pairs (lib/api/train.cpp) and its
// inference inputs (lib/api/infer.cpp) both come from here, so that they are the same values.

#include <cstdint>
#include <vector>

namespace tomodenoise {

/// For each j < K = splits.size() (K >= 2): dst[j] = the mean of the splits other than split
/// j, value by value over `count` values (the sum of all K, less split j, over K - 1). dst[j]
/// may be splits[j] (in place); no other overlap. InvalidArgument for K < 2 or a dst of another
/// size than splits.
void means_of_other_splits(const std::vector<const float*>& splits, std::int64_t count,
                           const std::vector<float*>& dst);

}  // namespace tomodenoise
