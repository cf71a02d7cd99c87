#pragma once
// What every command-line tool in examples/ shares: --version, one error format
// (`TOOL: error: MESSAGE` on stderr) and one set of exit statuses, whatever goes wrong:
//   0  success (also --help and --version)
//   1  bad input: a file, dataset, model or option value the data cannot take, or no memory
//   2  bad command line: an unknown option, a missing or malformed value, a value out of range
// A tool declares its options on a CLI::App, then hands the rest to run_tool().

#include <CLI/CLI.hpp>

#include <exception>
#include <functional>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>

#include "tomodenoise/error.hpp"
#include "tomodenoise/precision.hpp"
#include "tomodenoise/version.hpp"

namespace tomodenoise::tool {

constexpr int exit_success = 0;
constexpr int exit_bad_input = 1;
constexpr int exit_bad_command_line = 2;

/// What the tool is doing now, for messages about failures that do not say it themselves
/// (out of memory, an unexpected exception): "reading 'in.h5:/data'", "training".
inline std::string& current_activity() {
    static std::string activity;
    return activity;
}
inline void doing(std::string activity) {
    current_activity() = std::move(activity);
}

/// Says once, on stderr, when this CPU runs --precision bf16 without bf16 hardware.
inline void note_bf16_support(const std::string& tool) {
    const Bf16Support support = cpu_bf16_support();
    if (support == Bf16Support::native) return;
    const std::string line =
        tool + ": note: this CPU has no fast bf16 (neither AMX nor AVX-512 BF16): " +
        (support == Bf16Support::emulated
             ? "oneDNN emulates bf16, slower than f32\n"
             : "without AVX-512 oneDNN has no bf16 kernels, so the model computes in f32\n");
    std::cerr.write(line.data(), std::streamsize(line.size()));
}

/// Runs `check`, reporting the library's InvalidArgument as a bad command line (exit 2): for
/// option values that only the library can judge, checked before any work starts.
template <typename Check>
void check_command_line(Check&& check) {
    try {
        check();
    } catch (const InvalidArgument& e) {
        throw CLI::ValidationError(e.what());
    }
}

/// Parses the command line into `app`'s options, then runs `body`; returns the exit status.
/// `name` is the tool's name in messages and --version.
inline int run_tool(const std::string& name, CLI::App& app, int argc, char** argv,
                    const std::function<void()>& body) {
    const auto fail = [&](const std::string& message, int status) {
        std::cout.flush();
        // One write, so that the line stays whole beside other processes writing to the same
        // stream (an MPI launcher's messages about the ranks it stops).
        const std::string line =
            name + ": error: " + message +
            (status == exit_bad_command_line ? " (see " + name + " --help)" : "") + "\n";
        std::cerr.write(line.data(), std::streamsize(line.size()));
        std::cerr.flush();
        return status;
    };
    const auto while_doing = [] {
        return current_activity().empty() ? std::string() : " while " + current_activity();
    };
    try {
        app.name(name);
        app.set_version_flag("--version", name + " (libtomodenoise " + version() + ")");
        app.footer(app.get_footer() + (app.get_footer().empty() ? "" : "\n\n") +
                   "Errors print one line '" + name +
                   ": error: ...' on stderr.\n"
                   "Exit status: 0 success, 1 bad input (files, data, models, memory),\n"
                   "2 bad command line (unknown option, missing or invalid value).");
        try {
            app.parse(argc, argv);
        } catch (const CLI::Success& e) {  // --help, --version
            return app.exit(e);
        }
        body();
        return exit_success;
    } catch (const CLI::ParseError& e) {
        return fail(e.what(), exit_bad_command_line);
    } catch (const Error& e) {
        return fail(e.what(), exit_bad_input);
    } catch (const std::bad_alloc&) {
        return fail("out of memory" + while_doing(), exit_bad_input);
    } catch (const std::length_error&) {
        return fail("out of memory (a buffer larger than the address space)" + while_doing(),
                    exit_bad_input);
    } catch (const std::exception& e) {
        return fail(std::string(e.what()) + while_doing(), exit_bad_input);
    } catch (...) {
        return fail("unexpected exception" + while_doing(), exit_bad_input);
    }
}

}  // namespace tomodenoise::tool
