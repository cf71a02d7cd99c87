#pragma once
// An output written under a temporary name in its final folder and renamed into place once
// complete, so that a failed or interrupted write never leaves a file that looks complete.

#include <string>

namespace tomodenoise {

class TemporaryFile {
public:
    /// Picks an unused hidden name beside `final_path` (".NAME.tmp-XXXXXXXX"); creates nothing.
    explicit TemporaryFile(std::string final_path);
    /// Removes the temporary file unless commit() succeeded; never throws.
    ~TemporaryFile();
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;

    /// Where to write.
    const std::string& path() const { return path_; }
    const std::string& final_path() const { return final_path_; }
    /// Renames the temporary file to the final path, replacing any file there; IoError naming
    /// both on failure.
    void commit();

private:
    std::string final_path_;
    std::string path_;
    bool committed_ = false;
};

}  // namespace tomodenoise
