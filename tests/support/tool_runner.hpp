#pragma once
// Runs a command-line tool from examples/ the way a user would, capturing its exit status,
// stdout and stderr, for tests of the tools' output and error messages.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "test_support.hpp"

namespace tomodenoise::testing {

/// The built tool `name`, or an empty path when TOMODENOISE_BINARY_DIR is unset or the tool
/// was not built.
inline std::filesystem::path tool_path(const std::string& name) {
    const char* dir = std::getenv("TOMODENOISE_BINARY_DIR");
    if (!dir) return {};
    const std::filesystem::path p = std::filesystem::path(dir) / "examples" / name;
    return std::filesystem::exists(p) ? p : std::filesystem::path();
}

/// The calling test is skipped when the tool is absent.
#define TOMODENOISE_TOOL_OR_SKIP(var, name)                                                  \
    const std::filesystem::path var = ::tomodenoise::testing::tool_path(name);               \
    if (var.empty()) GTEST_SKIP() << "tool " << (name) << " is not built (or "                \
                                  << "TOMODENOISE_BINARY_DIR is unset)"

struct ToolResult {
    int exit_code = -1;
    std::string out, err;
};

/// Runs `tool` with `arguments` (already quoted as the shell needs), output into `scratch`.
inline ToolResult run_tool(const std::filesystem::path& tool, const std::string& arguments,
                           const ScratchDir& scratch) {
    const std::string out = scratch.file("tool.out"), err = scratch.file("tool.err");
    const std::string command =
        "'" + tool.string() + "' " + arguments + " > '" + out + "' 2> '" + err + "'";
    const int status = std::system(command.c_str());
    auto slurp = [](const std::string& path) {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    };
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

}  // namespace tomodenoise::testing
