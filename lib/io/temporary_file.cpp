#include "io/temporary_file.hpp"

#include <filesystem>
#include <random>
#include <system_error>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace fs = std::filesystem;

TemporaryFile::TemporaryFile(std::string final_path) : final_path_(std::move(final_path)) {
    const fs::path target(final_path_);
    if (target.filename().empty())
        throw InvalidArgument("output path '" + final_path_ + "' names no file");
    const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    if (!fs::is_directory(folder))
        throw IoError("cannot write '" + final_path_ + "': folder '" + folder.string() +
                      "' does not exist");
    std::random_device entropy;
    std::uniform_int_distribution<unsigned> hex_digit(0, 15);
    do {
        std::string suffix;
        for (int i = 0; i < 8; ++i) suffix += "0123456789abcdef"[hex_digit(entropy)];
        path_ = (target.parent_path() /
                 ("." + target.filename().string() + ".tmp-" + suffix)).string();
    } while (fs::exists(path_));
}

TemporaryFile::~TemporaryFile() {
    if (!committed_) {
        std::error_code ignored;
        fs::remove(path_, ignored);
    }
}

void TemporaryFile::commit() {
    std::error_code error;
    fs::rename(path_, final_path_, error);
    if (error)
        throw IoError("cannot rename '" + path_ + "' to '" + final_path_ + "': " +
                      error.message());
    committed_ = true;
}

}  // namespace tomodenoise
