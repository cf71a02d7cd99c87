#pragma once
// The fuzz input as a file the library opens by name, so the loaders run exactly as for any
// file (HDF5's default driver, the public entry points). It lives in the temporary folder
// (TMPDIR), which cmake/fuzz.sh points to a fresh folder in /dev/shm (memory) to spare the disk
// millions of writes and to remove what a killed run leaves. HDF5 cannot open an anonymous
// memfd through /proc/self/fd (it fails to resolve its real path), hence a named file.

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace tomodenoise::fuzz {

class InputFile {
public:
    InputFile() {
        const std::string name =
            (std::filesystem::temp_directory_path() / "tomodenoise-fuzz-XXXXXX").string();
        std::vector<char> buffer(name.begin(), name.end());
        buffer.push_back('\0');
        fd_ = mkstemp(buffer.data());
        if (fd_ < 0) fail("mkstemp");
        path_ = buffer.data();
    }
    ~InputFile() {
        close(fd_);
        unlink(path_.c_str());
    }
    InputFile(const InputFile&) = delete;
    InputFile& operator=(const InputFile&) = delete;

    /// Replaces the file's content with `size` bytes at `data`.
    void write(const std::uint8_t* data, std::size_t size) const {
        if (ftruncate(fd_, 0) != 0) fail("ftruncate");
        for (std::size_t done = 0; done < size;) {
            const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
            if (n <= 0) fail("pwrite");
            done += static_cast<std::size_t>(n);
        }
    }

    const std::string& path() const { return path_; }

private:
    [[noreturn]] static void fail(const char* call) {
        std::perror(call);
        std::abort();
    }
    int fd_ = -1;
    std::string path_;
};

}  // namespace tomodenoise::fuzz
