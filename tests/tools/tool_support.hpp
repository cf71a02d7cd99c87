#pragma once
// Helpers for the tools' tests: running a built tool and comparing against the published
// fixtures, whose tolerance is relative to the reference output's range.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace tomodenoise::testing {

/// The built tool `name` under TOMODENOISE_BINARY_DIR/examples, or an empty path when absent.
inline std::filesystem::path tool_path(const std::string& name) {
    const char* dir = std::getenv("TOMODENOISE_BINARY_DIR");
    if (!dir) return {};
    const std::filesystem::path path = std::filesystem::path(dir) / "examples" / name;
    return std::filesystem::exists(path) ? path : std::filesystem::path();
}

struct ToolRun {
    int exit_code = -1;  ///< -1 when the tool did not exit normally (a crash)
    std::string output;  ///< stdout and stderr together
};

/// Runs `tool` with `arguments` (already quoted where needed) through the shell.
inline ToolRun run_tool(const std::filesystem::path& tool, const std::string& arguments) {
    const std::string command = "'" + tool.string() + "' " + arguments + " 2>&1";
    ToolRun run;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) return run;
    char buffer[4096];
    std::size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, got);
    const int status = pclose(pipe);
    if (status != -1 && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
    return run;
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
               << ", want " << want[worst_index] << ") is " << worst / range
               << " of the range " << range << ", above " << fraction;
    return ::testing::AssertionSuccess();
}

}  // namespace tomodenoise::testing
