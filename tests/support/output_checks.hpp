#pragma once
// For tests of what writers leave behind: a file's bytes, to show an input untouched, and
// temporary files as a killed writer leaves them: the name a writer gives them
// (".NAME.tmp-HOST-PID-RANDOM", lib/io/temporary_file.hpp) and the id of a process that no
// longer runs.

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

namespace tomodenoise::testing {

/// The whole content of the file at `path`; empty when it cannot be read.
inline std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The id of a process that has ended: a child that exited and was reaped.
inline pid_t ended_process_id() {
    const pid_t child = fork();
    if (child == 0) _exit(0);
    int status = 0;
    waitpid(child, &status, 0);
    return child;
}

/// The name a writer in process `pid` on this host gives a temporary of the file `final_name`.
inline std::string temporary_name(const std::string& final_name, pid_t pid,
                                  const std::string& random = "0123abcd") {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    constexpr std::size_t host_name_chars = 32;  // as the writer shortens it
    return "." + final_name + ".tmp-" + std::string(host).substr(0, host_name_chars) + "-" +
           std::to_string(pid) + "-" + random;
}

}  // namespace tomodenoise::testing
