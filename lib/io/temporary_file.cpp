#include "io/temporary_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <system_error>

#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace tomodenoise {

namespace fs = std::filesystem;

// ---- names the signal handler removes -------------------------------------------------------
// A signal handler may not lock, allocate or free, so the names live in slots that it only
// reads: blocks of slots allocated on demand and never freed, each slot's state saying whether
// its name is complete. A slot moves free -> claimed (its owner writes the name) -> published
// (the handler may remove the file) and back; the handler takes a published slot to removing,
// so that its owner never frees a name the handler is reading.

struct TemporaryNameSlot {
    enum State : int { free, claimed, published, removing };
    std::atomic<int> state{free};
    char* name = nullptr;  // malloc'ed by the owner while claimed
};

namespace {

constexpr std::size_t slots_per_block = 256;
constexpr std::size_t max_slot_blocks = 1024;  // a quarter million temporaries at once
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<void*>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

std::atomic<TemporaryNameSlot*> slot_blocks[max_slot_blocks];

TemporaryNameSlot* register_temporary_name(const std::string& name) {
    for (std::atomic<TemporaryNameSlot*>& entry : slot_blocks) {
        TemporaryNameSlot* block = entry.load(std::memory_order_acquire);
        if (!block) {
            auto* fresh = new TemporaryNameSlot[slots_per_block];
            if (entry.compare_exchange_strong(block, fresh, std::memory_order_acq_rel))
                block = fresh;
            else
                delete[] fresh;  // another thread added this block first; `block` is now it
        }
        for (std::size_t i = 0; i < slots_per_block; ++i) {
            TemporaryNameSlot& slot = block[i];
            int expected = TemporaryNameSlot::free;
            if (slot.state.load(std::memory_order_relaxed) != expected ||
                !slot.state.compare_exchange_strong(expected, TemporaryNameSlot::claimed,
                                                    std::memory_order_acquire))
                continue;
            slot.name = strdup(name.c_str());
            if (!slot.name) {
                slot.state.store(TemporaryNameSlot::free, std::memory_order_release);
                return nullptr;
            }
            slot.state.store(TemporaryNameSlot::published, std::memory_order_release);
            return &slot;
        }
    }
    return nullptr;  // full: the name is still removed by its owner or by a later sweep
}

void unregister_temporary_name(TemporaryNameSlot* slot) {
    if (!slot) return;
    int expected = TemporaryNameSlot::published;
    // When the handler holds the slot the process is ending: the name is left to it.
    if (!slot->state.compare_exchange_strong(expected, TemporaryNameSlot::claimed,
                                             std::memory_order_acquire))
        return;
    std::free(slot->name);
    slot->name = nullptr;
    slot->state.store(TemporaryNameSlot::free, std::memory_order_release);
}

// Async-signal-safe: atomics, unlink, sigaction and raise only.
extern "C" void remove_temporaries_and_reraise(int signal_number) {
    for (std::atomic<TemporaryNameSlot*>& entry : slot_blocks) {
        TemporaryNameSlot* block = entry.load(std::memory_order_acquire);
        if (!block) break;  // blocks are added in order
        for (std::size_t i = 0; i < slots_per_block; ++i) {
            int expected = TemporaryNameSlot::published;
            if (block[i].state.compare_exchange_strong(expected, TemporaryNameSlot::removing,
                                                       std::memory_order_acquire))
                unlink(block[i].name);
        }
    }
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    sigaction(signal_number, &default_action, nullptr);
    // Delivered once this handler returns (the signal is blocked while it runs), so that the
    // process ends as killed by the signal, as its parent expects.
    raise(signal_number);
}

constexpr int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};

// ---- names ----------------------------------------------------------------------------------

constexpr const char* temporary_marker = ".tmp-";
constexpr std::size_t host_name_chars = 32;  // keeps temporary names within NAME_MAX

// This host's name as temporary names carry it: at most host_name_chars characters.
const std::string& host_name() {
    static const std::string name = [] {
        char buffer[256] = {};
        if (gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0')
            return std::string("localhost");
        return std::string(buffer).substr(0, host_name_chars);
    }();
    return name;
}

// What a temporary name says of its writer: "HOST-PID-RANDOM" after ".tmp-".
struct TemporaryWriter {
    std::string host;
    pid_t pid = 0;
};

bool parse_temporary_name(const std::string& name, TemporaryWriter& writer) {
    const std::size_t marker = name.rfind(temporary_marker);
    if (name.empty() || name.front() != '.' || marker == std::string::npos) return false;
    const std::string tail = name.substr(marker + std::strlen(temporary_marker));
    const std::size_t random_dash = tail.rfind('-');
    if (random_dash == std::string::npos || random_dash == 0) return false;
    const std::size_t pid_dash = tail.rfind('-', random_dash - 1);
    if (pid_dash == std::string::npos) return false;
    const std::string pid = tail.substr(pid_dash + 1, random_dash - pid_dash - 1);
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos)
        return false;
    writer.host = tail.substr(0, pid_dash);
    writer.pid = static_cast<pid_t>(std::stol(pid));
    return true;
}

bool process_runs(pid_t pid) {
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

// Removes the temporaries in `folder` that a process of this host left when it died; once per
// folder and process, as a folder of TIFF slices holds as many temporaries as slices. Best
// effort: a folder that cannot be listed is left as it is.
void remove_stale_temporaries(const fs::path& folder) {
    static std::mutex mutex;
    static std::set<std::string> swept;
    std::error_code error;
    const std::string key = fs::absolute(folder, error).lexically_normal().string();
    {
        const std::lock_guard<std::mutex> lock(mutex);
        if (error || !swept.insert(key).second) return;
    }
    for (fs::directory_iterator entry(folder, error), end; !error && entry != end;
         entry.increment(error)) {
        TemporaryWriter writer;
        if (parse_temporary_name(entry->path().filename().string(), writer) &&
            writer.host == host_name() && !process_runs(writer.pid)) {
            std::error_code ignored;
            fs::remove(entry->path(), ignored);
        }
    }
}

std::string describe_file_type(mode_t mode) {
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

// IoError unless `path` is absent or a regular file (not following a link at `path`).
void require_regular_or_absent(const std::string& path, const std::string& named_as) {
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0) return;
    if (!S_ISREG(info.st_mode))
        throw IoError("refusing to write '" + named_as + "': it is " +
                      describe_file_type(info.st_mode) + ", not a regular file");
}

}  // namespace

void remove_temporaries_on_signal() {
    for (const int signal_number : cleanup_signals) {
        struct sigaction current {};
        if (sigaction(signal_number, nullptr, &current) != 0) continue;
        // An ignored signal (SIGINT and SIGHUP of a background job, nohup) stays ignored.
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) continue;
        struct sigaction action {};
        action.sa_handler = remove_temporaries_and_reraise;
        sigemptyset(&action.sa_mask);
        for (const int blocked : cleanup_signals) sigaddset(&action.sa_mask, blocked);
        sigaction(signal_number, &action, nullptr);
    }
}

std::string output_file_path(const std::string& path) {
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0 || !S_ISLNK(info.st_mode)) {
        require_regular_or_absent(path, path);
        return path;
    }
    if (stat(path.c_str(), &info) != 0)
        throw IoError("refusing to write '" + path + "': it is a symbolic link to nothing (" +
                      std::strerror(errno) + ")");
    if (!S_ISREG(info.st_mode))
        throw IoError("refusing to write '" + path + "': it is a symbolic link to " +
                      describe_file_type(info.st_mode) + ", not to a regular file");
    std::error_code error;
    const fs::path target = fs::canonical(path, error);
    if (error) throw IoError("cannot resolve the symbolic link '" + path + "': " + error.message());
    return target.string();
}

TemporaryFile::TemporaryFile(const std::string& final_path)
    : final_path_(output_file_path(final_path)) {
    const fs::path target(final_path_);
    if (target.filename().empty())
        throw InvalidArgument("output path '" + final_path_ + "' names no file");
    const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    if (!fs::is_directory(folder))
        throw IoError("cannot write '" + final_path_ + "': folder '" + folder.string() +
                      "' does not exist");
    remove_stale_temporaries(folder);
    const std::string prefix = "." + target.filename().string() + temporary_marker + host_name() +
                               "-" + std::to_string(getpid()) + "-";
    std::random_device entropy;
    std::uniform_int_distribution<unsigned> hex_digit(0, 15);
    do {
        std::string suffix;
        for (int i = 0; i < 8; ++i) suffix += "0123456789abcdef"[hex_digit(entropy)];
        path_ = (target.parent_path() / (prefix + suffix)).string();
    } while (fs::exists(path_));
    std::error_code error;
    const fs::path absolute = fs::absolute(path_, error);
    signal_slot_ = register_temporary_name(error ? path_ : absolute.string());
}

TemporaryFile::~TemporaryFile() {
    if (!committed_) {
        std::error_code ignored;
        fs::remove(path_, ignored);
    }
    unregister_temporary_name(signal_slot_);
}

void TemporaryFile::commit() {
    require_regular_or_absent(final_path_, final_path_);
    std::error_code error;
    fs::rename(path_, final_path_, error);
    if (error)
        throw IoError("cannot rename '" + path_ + "' to '" + final_path_ + "': " + error.message());
    mark_committed();
}

void TemporaryFile::mark_committed() {
    committed_ = true;
    unregister_temporary_name(signal_slot_);
    signal_slot_ = nullptr;
}

bool rename_unless_exists(const std::string& from, const std::string& to) {
    if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return true;
    if (errno == EEXIST) return false;
    if (errno != EINVAL && errno != ENOSYS)
        throw IoError("cannot rename '" + from + "' to '" + to + "': " + std::strerror(errno));
    // The file system cannot rename without replacing; a new link fails the same way when the
    // name is taken.
    if (link(from.c_str(), to.c_str()) != 0) {
        if (errno == EEXIST) return false;
        throw IoError("cannot link '" + from + "' as '" + to + "': " + std::strerror(errno));
    }
    std::error_code ignored;
    fs::remove(from, ignored);
    return true;
}

bool TemporaryFile::commit_unless_exists() {
    if (!rename_unless_exists(path_, final_path_)) return false;
    mark_committed();
    return true;
}

}  // namespace tomodenoise
