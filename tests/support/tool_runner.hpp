#pragma once
// Runs a command-line tool from examples/ the way a user would, capturing its exit status,
// stdout and stderr, for tests of the tools' output and error messages.

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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
#define TOMODENOISE_TOOL_OR_SKIP(var, name)                                    \
    const std::filesystem::path var = ::tomodenoise::testing::tool_path(name); \
    if (var.empty())                                                           \
    GTEST_SKIP() << "tool " << (name) << " is not built (or "                  \
                 << "TOMODENOISE_BINARY_DIR is unset)"

struct ToolRun {
    int exit_code = -1;  ///< -1 when the tool did not exit normally (a crash)
    std::string out, err;
    /// Both streams, for looking up a message wherever the tool printed it.
    std::string output() const { return out + err; }
};

/// Runs `tool` with `arguments` (already quoted as the shell needs). stderr goes through a
/// private temporary file outside any folder a test inspects.
inline ToolRun run_tool(const std::filesystem::path& tool, const std::string& arguments) {
    char err_name[] = "/tmp/tomodenoise-tool-stderr-XXXXXX";
    const int fd = mkstemp(err_name);
    if (fd >= 0) close(fd);
    const std::string command = "'" + tool.string() + "' " + arguments + " 2> '" + err_name + "'";
    ToolRun run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe) {
        char buffer[4096];
        std::size_t got;
        while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, got);
        const int status = pclose(pipe);
        if (status != -1 && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
    }
    std::ifstream in(err_name);
    std::stringstream text;
    text << in.rdbuf();
    run.err = text.str();
    std::remove(err_name);
    return run;
}

/// Starts `tool` with `arguments` without waiting, as a shell runs it in the foreground:
/// SIGINT and SIGTERM have their default dispositions. stdout is discarded; stderr goes to
/// `err_file`. Returns the tool's process id (the shell execs it).
inline pid_t start_tool(const std::filesystem::path& tool, const std::string& arguments,
                        const std::string& err_file) {
    const std::string command =
        "exec '" + tool.string() + "' " + arguments + " > /dev/null 2> '" + err_file + "'";
    const pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    return pid;
}

/// Waits for a tool start_tool started; its wait status (WIFEXITED, WIFSIGNALED, ...).
inline int wait_for_tool(pid_t pid) {
    int status = 0;
    return waitpid(pid, &status, 0) == pid ? status : -1;
}

}  // namespace tomodenoise::testing
