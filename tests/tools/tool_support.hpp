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

}  // namespace tomodenoise::testing
