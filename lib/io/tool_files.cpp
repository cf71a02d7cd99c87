// The checks a tool makes on its output before any work: that it may be written, and that
// writing it destroys none of the tool's inputs.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "io/hdf5.hpp"
#include "io/temporary_file.hpp"
#include "io/tool_files.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace tomodenoise {

namespace {

// Both exist and are one file: same device and inode, after following symbolic links.
bool same_file(const std::string& a, const std::string& b) {
    struct stat info_a {
    }, info_b{};
    return stat(a.c_str(), &info_a) == 0 && stat(b.c_str(), &info_b) == 0 &&
           info_a.st_dev == info_b.st_dev && info_a.st_ino == info_b.st_ino;
}

std::string describe(const ToolFile& file) {
    return file.option + " '" + file.file + (file.dataset.empty() ? "" : ":" + file.dataset) + "'";
}

// Both name datasets of one file: whether they are one dataset (both must exist for that).
bool same_dataset(const std::string& file, const std::string& a, const std::string& b) {
    const hdf5::File h5 = hdf5::File::open_read(file);
    return hdf5::link_exists(h5, a) && hdf5::link_exists(h5, b) && hdf5::same_object(h5, a, b);
}

}  // namespace

void check_output_is_not_an_input(const ToolFile& output, const std::vector<ToolFile>& inputs) {
    output_file_path(output.file);  // IoError when it is not a regular file
    for (const ToolFile& input : inputs) {
        if (!same_file(output.file, input.file)) continue;
        const bool both_datasets = !output.dataset.empty() && !input.dataset.empty();
        if (both_datasets && !same_dataset(input.file, output.dataset, input.dataset)) continue;
        throw InvalidArgument(describe(output) + " is " +
                              (both_datasets ? "the same dataset as " : "the same file as ") +
                              describe(input) + ": writing it would destroy the input; choose " +
                              "another output");
    }
}

void check_folder_is_not_an_input(const ToolFile& folder, const std::vector<ToolFile>& inputs) {
    for (const ToolFile& input : inputs) {
        const std::string input_folder =
            std::filesystem::path(input.file).parent_path().empty()
                ? std::string(".")
                : std::filesystem::path(input.file).parent_path().string();
        if (!same_file(folder.file, input.file) && !same_file(folder.file, input_folder)) continue;
        throw InvalidArgument(describe(folder) + " is or holds " + describe(input) +
                              ": writing it would destroy the input; choose another output");
    }
}

void prepare_output_folder(const ToolFile& folder) {
    const std::string& path = folder.file;
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error || !std::filesystem::is_directory(path))
        throw IoError(folder.option + " '" + path + "': cannot create the folder" +
                      (error ? ": " + error.message() : std::string(": a file has that name")));
    const std::filesystem::path probe = std::filesystem::path(path) / ".write-test";
    if (!std::ofstream(probe))
        throw IoError(folder.option + " '" + path + "': cannot write in the folder");
    std::filesystem::remove(probe, error);
}

}  // namespace tomodenoise
