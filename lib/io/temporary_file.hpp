#pragma once
// An output written under a temporary name in its final folder and renamed into place once
// complete, so that a failed or interrupted write never leaves a file that looks complete.
//
// Temporary names are ".NAME.tmp-HOST-PID-RANDOM", after the host and process writing them.
// A TemporaryFile removes its file when destroyed uncommitted; the handler that
// remove_temporaries_on_signal() installs (tomodenoise/io.hpp) removes those of a process
// ended by SIGINT, SIGTERM or SIGHUP; and the first TemporaryFile a process makes in a folder
// removes the ones there that a process of this host left when it died without either (SIGKILL,
// a crash): those whose process no longer runs.

#include <string>

namespace tomodenoise {

struct TemporaryNameSlot;  // the signal handler's record of one temporary name

/// The file that an output named `path` is written to: `path` itself, or for a symbolic link to
/// a regular file the file it points to (written through, the link kept). IoError naming `path`
/// when it exists and is not a regular file (a folder, FIFO, device or socket) or is a link to
/// nothing: outputs never replace those.
std::string output_file_path(const std::string& path);

/// Renames `from` to `to` only if nothing is at `to`, atomically where the file system allows
/// (renameat2 RENAME_NOREPLACE, else link() and unlink); false, nothing changed, when something
/// is there. IoError naming both on failure.
bool rename_unless_exists(const std::string& from, const std::string& to);

class TemporaryFile {
public:
    /// Picks an unused hidden name beside the file output_file_path(`final_path`) names, and
    /// registers it for removal on a signal; creates nothing. IoError as output_file_path, or
    /// when the folder does not exist.
    explicit TemporaryFile(const std::string& final_path);
    /// Removes the temporary file unless commit() succeeded; never throws.
    ~TemporaryFile();
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;

    /// Where to write.
    const std::string& path() const { return path_; }
    /// The file committed to: the output path, or the file a symbolic link there points to.
    const std::string& final_path() const { return final_path_; }
    /// Renames the temporary file to the final path, replacing any regular file there; IoError
    /// naming both on failure, or when something else than a regular file appeared there.
    void commit();
    /// Renames the temporary file to the final path only if nothing is there, atomically where
    /// the file system allows (renameat2 RENAME_NOREPLACE, else link()); false, the temporary
    /// file kept until destruction, when a file is there. IoError naming both on failure.
    bool commit_unless_exists();

private:
    void mark_committed();  // the name is gone: the destructor and the signal handler skip it

    std::string final_path_;
    std::string path_;
    TemporaryNameSlot* signal_slot_ = nullptr;  // null when the registry is full
    bool committed_ = false;
};

}  // namespace tomodenoise
