#pragma once
// Helpers shared by the test executables: where ../shared is, seeded random data, and
// comparisons in the style of oneDNN's compare_data (relative above a threshold, absolute
// below, first mismatch printed, zero-trust checks).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace tomodenoise::testing {

/// The shared reference folder, or an empty path when it is absent.
inline std::filesystem::path shared_dir() {
    const char* env = std::getenv("TOMODENOISE_SHARED_DIR");
    std::filesystem::path p = env ? env : "../shared";
    return std::filesystem::is_directory(p) ? p : std::filesystem::path();
}

/// A file under ../shared; the calling test is skipped (with the reason) when it is absent.
#define TOMODENOISE_SHARED_FILE_OR_SKIP(var, relative)                \
    std::filesystem::path var = ::tomodenoise::testing::shared_dir(); \
    if (var.empty() || !std::filesystem::exists(var / (relative)))    \
        GTEST_SKIP() << "shared file " << (relative) << " is absent"; \
    var /= (relative)

/// A fresh scratch folder under the system temp dir, removed at destruction.
class ScratchDir {
public:
    ScratchDir() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("tomodenoise-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

/// `count` uniform values in [lo, hi) from a fixed seed.
inline std::vector<float> random_values(std::size_t count, std::uint32_t seed, float lo = -1.f,
                                        float hi = 1.f) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (auto& x : v) x = dist(gen);
    return v;
}

/// Element-wise comparison: |got - want| / max(|want|, 1) <= tol. Prints the first mismatch
/// and fails when most of `got` is zero or anything is non-finite (zero trust).
template <typename A, typename B>
::testing::AssertionResult near_all(const A& got, const B& want, double tol,
                                    bool allow_mostly_zero = false) {
    if (got.size() != want.size())
        return ::testing::AssertionFailure()
               << "size " << got.size() << " != reference size " << want.size();
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double g = got[i], w = want[i];
        if (!std::isfinite(g))
            return ::testing::AssertionFailure() << "non-finite value at index " << i;
        if (g == 0.0) ++zeros;
        const double err = std::abs(g - w) / std::max(std::abs(w), 1.0);
        if (!(err <= tol))
            return ::testing::AssertionFailure()
                   << "mismatch at index " << i << ": got " << g << ", want " << w << " (error "
                   << err << " > " << tol << ")";
    }
    if (!allow_mostly_zero && got.size() > 8 && zeros * 2 > got.size())
        return ::testing::AssertionFailure()
               << zeros << " of " << got.size() << " values are zero: the test proves nothing";
    return ::testing::AssertionSuccess();
}

/// Largest |got - want| divided by the range of `want`; fails on a size mismatch, a
/// non-finite value or a constant reference (which could not tell a right answer from a wrong
/// one).
inline ::testing::AssertionResult within_fraction_of_range(const std::vector<float>& got,
                                                           const std::vector<float>& want,
                                                           double fraction) {
    if (got.size() != want.size() || want.empty())
        return ::testing::AssertionFailure()
               << "size " << got.size() << " != reference size " << want.size();
    const auto [low, high] = std::minmax_element(want.begin(), want.end());
    const double range = static_cast<double>(*high) - *low;
    if (!(range > 0.0)) return ::testing::AssertionFailure() << "the reference is constant";
    double worst = 0.0;
    std::size_t worst_index = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double error = std::abs(static_cast<double>(got[i]) - want[i]);
        if (!std::isfinite(got[i]))
            return ::testing::AssertionFailure() << "non-finite value at index " << i;
        if (error > worst) {
            worst = error;
            worst_index = i;
        }
    }
    if (worst > fraction * range)
        return ::testing::AssertionFailure()
               << "error " << worst << " at index " << worst_index << " (got " << got[worst_index]
               << ", want " << want[worst_index] << ") is " << worst / range << " of the range "
               << range << ", above " << fraction;
    return ::testing::AssertionSuccess();
}

/// Runs `action`, expecting an exception of type E whose message contains every one of `parts`.
template <typename E, typename Action>
void expect_error_naming(Action action, const std::vector<std::string>& parts) {
    try {
        action();
        ADD_FAILURE() << "no exception";
    } catch (const E& e) {
        for (const std::string& part : parts)
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
                << "'" << e.what() << "' does not name '" << part << "'";
    }
}

/// The names in `folder`, sorted: to check that a failed write left nothing behind.
inline std::vector<std::string> folder_entries(const std::filesystem::path& folder) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(folder))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace tomodenoise::testing
