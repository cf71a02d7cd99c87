// StackWriter: a stack written slab by slab to an HDF5 dataset, a TIFF folder or a multi-page
// TIFF, under a stable hidden name until commit, with a durable record of the slices written so
// that a later run resumes it.

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "io/hdf5_stack.hpp"
#include "io/temporary_file.hpp"
#include "io/tiff_stack.hpp"
#include "io/tool_files.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace tomodenoise {

namespace {

namespace fs = std::filesystem;
using Attributes = std::map<std::string, std::string>;

// ---- signatures -----------------------------------------------------------------------------

// What a resumed or finished output must match: the run that made it wrote the same stack.
struct Signature {
    StackShape shape;
    PixelType type = PixelType::float32;
    bool two_dimensional = false;  // compared for HDF5 only: a one-page TIFF is both
    Attributes attributes;
};

Signature signature_of(const StackReader& reader) {
    return {reader.shape(), reader.type(), reader.two_dimensional(), reader.attributes()};
}

// Why `found` is not `wanted`, or empty when it is.
std::string mismatch(const Signature& found, const Signature& wanted, bool compare_rank) {
    if (found.shape != wanted.shape)
        return "its shape is " + found.shape.to_string() + ", not " + wanted.shape.to_string();
    if (found.type != wanted.type)
        return "its pixel type is " + to_string(found.type) + ", not " + to_string(wanted.type);
    if (compare_rank && found.two_dimensional != wanted.two_dimensional)
        return found.two_dimensional ? "it is one (H, W) image, not an (N, H, W) stack"
                                     : "it is an (N, H, W) stack, not one (H, W) image";
    for (const auto& [name, value] : wanted.attributes) {
        const auto there = found.attributes.find(name);
        if (there == found.attributes.end()) return "it has no attribute '" + name + "'";
        if (there->second != value)
            return "its attribute '" + name + "' is '" + there->second + "', not '" + value + "'";
    }
    for (const auto& [name, value] : found.attributes)
        if (wanted.attributes.count(name) == 0)
            return "it has an attribute '" + name + "' that this run does not set";
    return {};
}

// The signature of the stack at `location`, or the reason it cannot be read as one.
struct FoundStack {
    std::optional<Signature> signature;
    std::string unreadable;
};

FoundStack find_stack(const StackLocation& location) {
    try {
        return {signature_of(StackReader(location)), {}};
    } catch (const FormatError& error) {
        return {std::nullopt, error.what()};
    }
}

nlohmann::json signature_json(const Signature& s) {
    return {{"shape", {s.shape.n, s.shape.h, s.shape.w}},
            {"type", to_string(s.type)},
            {"two_dimensional", s.two_dimensional},
            {"attributes", s.attributes}};
}

std::optional<Signature> signature_from_json(const std::string& text) {
    const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
    try {
        Signature s;
        const auto& shape = json.at("shape");
        s.shape = {shape.at(0).get<std::int64_t>(), shape.at(1).get<std::int64_t>(),
                   shape.at(2).get<std::int64_t>()};
        s.type = parse_pixel_type(json.at("type").get<std::string>());
        s.two_dimensional = json.at("two_dimensional").get<bool>();
        s.attributes = json.at("attributes").get<Attributes>();
        return s;
    } catch (const std::exception&) {
        return std::nullopt;  // not a signature: the folder's writer died while making it
    }
}

// ---- names ----------------------------------------------------------------------------------

// The hidden name beside `path` that an unfinished output of `path` has.
std::string partial_name(const std::string& path) {
    fs::path p(path);
    if (p.filename().empty()) p = p.parent_path();  // "out/" is the folder "out"
    return (p.parent_path() / ("." + p.filename().string() + ".partial")).string();
}

std::string parent_folder(const std::string& path) {
    const fs::path parent = fs::path(path).parent_path();
    return parent.empty() ? "." : parent.string();
}

// HDF5: the group beside the dataset that holds an unfinished one.
std::string partial_group(const std::string& dataset) {
    const std::size_t slash = dataset.find_last_of('/');
    return dataset.substr(0, slash + 1) + "." + dataset.substr(slash + 1) + ".partial";
}

std::string parent_group(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

// Whether the file at `path` starts with HDF5's signature (files this library creates have their
// superblock at offset 0); a file killed before its first flush does not.
bool starts_as_hdf5(const std::string& path) {
    static constexpr char magic[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    char head[8] = {};
    std::ifstream file(path, std::ios::binary);
    return file.read(head, sizeof head) && std::memcmp(head, magic, sizeof magic) == 0;
}

// An exclusive lock on a file in a TIFF partial folder, held while this process writes it and
// released by the system when the process ends, however it ends.
class FolderLock {
public:
    FolderLock() = default;
    explicit FolderLock(const std::string& folder) {
        const std::string path = (fs::path(folder) / ".lock").string();
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) throw IoError("cannot write in '" + folder + "': " + std::strerror(errno));
        if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd_);
            fd_ = -1;
            throw IoError("'" + folder + "' is being written by another run (it is locked)");
        }
    }
    ~FolderLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    FolderLock(FolderLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    FolderLock& operator=(FolderLock&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }

private:
    int fd_ = -1;
};

// An exclusive lock on a folder itself, held while a writer decides whether to create, resume
// or replace the hidden unfinished file of a new HDF5 output, and while it moves that file into
// place: two runs writing into one new file at once then never both create, nor remove the
// other's. Held for moments, so a run waits for it (up to a minute) rather than failing.
// Where the file system has no such locks (some network file systems) there is nothing to hold.
class FolderDecisionLock {
public:
    explicit FolderDecisionLock(const std::string& folder) {
        fd_ = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_ < 0) throw IoError("cannot open folder '" + folder + "': " + std::strerror(errno));
        for (int waited_ms = 0; flock(fd_, LOCK_EX | LOCK_NB) != 0; waited_ms += 10) {
            if (errno != EWOULDBLOCK && errno != EINTR) return;  // no locks here: nothing to hold
            if (waited_ms >= 60000) {
                ::close(fd_);
                throw IoError("folder '" + folder +
                              "' stayed locked for a minute by another run writing there");
            }
            usleep(10000);
        }
    }
    ~FolderDecisionLock() { ::close(fd_); }  // closing releases the lock
    FolderDecisionLock(const FolderDecisionLock&) = delete;
    FolderDecisionLock& operator=(const FolderDecisionLock&) = delete;

private:
    int fd_ = -1;
};

void remove_all_quietly(const std::string& path) noexcept {
    std::error_code ignored;
    fs::remove_all(path, ignored);
}

// Writes `text` to `path` under another name first, so that `path` is whole or absent.
void write_file_atomically(const std::string& path, const std::string& text) {
    const std::string writing = path + ".writing";
    {
        std::ofstream out(writing, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw IoError("cannot write '" + writing + "'");
    }
    std::error_code error;
    fs::rename(writing, path, error);
    if (error)
        throw IoError("cannot rename '" + writing + "' to '" + path + "': " + error.message());
}

std::string read_small_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int decimal_digits(std::int64_t value) {
    int digits = 1;
    for (; value >= 10; value /= 10) ++digits;
    return digits;
}

}  // namespace

// ---- state --------------------------------------------------------------------------------------

struct StackWriter::State {
    std::string location;
    StackLocation where;
    Signature signature;
    StackWriteOptions options;
    std::vector<bool> written;
    std::int64_t resumed = 0;
    bool finished_already = false;  // a finished output of this signature was found
    bool closed = false;            // committed or discarded
    bool owns_partial = false;      // this writer created or holds (locked) the partial output

    // HDF5
    std::string final_file;       // the file written (a symbolic link's target)
    std::string partial_file;     // new file: where it is written; empty: into the final file
    bool published_file = false;  // the new file itself went into place (not copied into one)
    std::string group;            // the partial group in the file written
    std::optional<hdf5::File> file;
    std::optional<hdf5::Dataset> data, written_flags;

    // TIFF
    std::string final_path;      // folder or file
    std::string partial_folder;  // the slice files
    TiffSeries series;           // their names, in the partial folder and in a final folder
    std::string description;     // every page's ImageDescription
    FolderLock lock;

    std::int64_t n() const { return signature.shape.n; }
    bool is_hdf5() const { return where.format == StackFormat::hdf5; }
    std::string data_path() const { return group + "/data"; }
    std::string flags_path() const { return group + "/written"; }
    std::string slice_path(std::int64_t slice) const {
        return (fs::path(partial_folder) / series.file_name(slice)).string();
    }

    void open_hdf5();
    void open_tiff();
    // A finished output found at the location: resumed as all written when its signature is
    // this one and resume is on; refused unless overwrite.
    bool accept_finished(const FoundStack& found);
    // An unfinished output with signature `found` (nullopt: unreadable): whether to resume it;
    // false means start over. IoError when resume is asked and overwrite is not.
    bool resume_partial(const std::optional<Signature>& found, const std::string& name);
    void create_hdf5_partial();
    void reopen_hdf5_partial();
    void write_hdf5(std::int64_t first, const Stack& slab);
    void write_tiff(std::int64_t first, const Stack& slab);
    void commit_hdf5();
    void commit_tiff_folder();
    void commit_tiff_file();
    void remove_partial() noexcept;
    // IoError naming the slices never written, if any.
    void require_all_written() const;
    // overwrite: removes the finished output that commit() would replace.
    void remove_replaced_output();
    // Removes the output commit() published (committed); never throws.
    void withdraw_published() noexcept;
};

bool StackWriter::State::accept_finished(const FoundStack& found) {
    const std::string reason = found.signature ? mismatch(*found.signature, signature, is_hdf5())
                                               : "it is not a readable stack: " + found.unreadable;
    if (options.resume && reason.empty()) {
        finished_already = true;
        written.assign(static_cast<std::size_t>(n()), true);
        resumed = n();
        return true;
    }
    if (!options.overwrite)
        throw IoError(options.option + " '" + location + "' exists" +
                      (reason.empty() ? "" : " (" + reason + ")") + " and overwriting is off");
    return false;
}

bool StackWriter::State::resume_partial(const std::optional<Signature>& found,
                                        const std::string& name) {
    if (!options.resume) return false;
    const std::string reason = found ? mismatch(*found, signature, is_hdf5())
                                     : "its record of what it holds is unreadable";
    if (reason.empty()) return true;
    if (options.overwrite) return false;
    throw IoError("cannot resume the unfinished output '" + name + "' of " + options.option + " '" +
                  location + "': " + reason +
                  "; it was written by a run with other options or data. Ask to overwrite to "
                  "start over");
}

// ---- HDF5 ---------------------------------------------------------------------------------------

void StackWriter::State::open_hdf5() {
    const std::string& dataset = where.dataset;
    if (dataset.size() < 2 || dataset.front() != '/' || dataset.back() == '/')
        throw InvalidArgument("'" + location + "' does not name a dataset");
    check_output_is_not_an_input(where.tool_file(options.option), options.inputs);
    final_file = output_file_path(where.path);
    group = partial_group(dataset);
    if (!fs::is_directory(parent_folder(final_file)))
        throw IoError("cannot write " + options.option + " '" + location + "': folder '" +
                      parent_folder(final_file) + "' does not exist");
    const FolderDecisionLock decision(parent_folder(final_file));

    if (fs::exists(final_file)) {
        // Read-only first, so that nothing is changed before the decisions below.
        std::optional<Signature> partial;
        bool has_partial = false, has_finished = false;
        {
            const hdf5::File h5 = hdf5::File::open_read(final_file);
            has_finished = hdf5::link_exists(h5, dataset);
            has_partial = hdf5::link_exists(h5, group) && hdf5::link_exists(h5, data_path());
        }
        if (has_finished && accept_finished(find_stack({StackFormat::hdf5, final_file, dataset})))
            return;
        if (has_partial)
            partial = find_stack({StackFormat::hdf5, final_file, data_path()}).signature;
        const bool resume = has_partial && resume_partial(partial, final_file + ":" + group);
        file = hdf5::File::open_read_write(final_file);  // held, locked, until commit
        owns_partial = true;
        if (resume) return reopen_hdf5_partial();
        if (hdf5::link_exists(*file, group)) hdf5::unlink(*file, group);
        return create_hdf5_partial();
    }

    partial_file = partial_name(final_file);
    if (fs::exists(partial_file)) {
        if (!starts_as_hdf5(partial_file)) {
            fs::remove(partial_file);  // killed before its first flush: nothing to resume
        } else {
            std::optional<Signature> partial;
            {
                const hdf5::File h5 = hdf5::File::open_read(partial_file);  // IoError if locked
                if (hdf5::link_exists(h5, data_path()))
                    partial = find_stack({StackFormat::hdf5, partial_file, data_path()}).signature;
            }
            if (resume_partial(partial, partial_file)) {
                file = hdf5::File::open_read_write(partial_file);
                owns_partial = true;
                return reopen_hdf5_partial();
            }
            fs::remove(partial_file);
        }
    }
    file = hdf5::File::create_new(partial_file);
    owns_partial = true;
    create_hdf5_partial();
}

void StackWriter::State::create_hdf5_partial() {
    const StackShape& shape = signature.shape;
    data = create_stack_dataset(*file, data_path(), shape, signature.type, 0,
                                signature.two_dimensional, true);
    for (const auto& [name, value] : signature.attributes)
        hdf5::write_string_attribute(*file, data_path(), name, value);
    hdf5::DatasetLayout layout;
    layout.allocate_early = true;
    written_flags = hdf5::Dataset::create(*file, flags_path(), H5T_STD_U8LE, {shape.n}, layout);
    // Early allocation fills nothing: the space may hold anything until written.
    const std::vector<std::uint8_t> none(static_cast<std::size_t>(shape.n), 0);
    written_flags->write(H5T_NATIVE_UINT8, none.data());
    file->flush();
    written.assign(static_cast<std::size_t>(shape.n), false);
}

void StackWriter::State::reopen_hdf5_partial() {
    data = hdf5::Dataset::open(*file, data_path());
    written_flags = hdf5::Dataset::open(*file, flags_path());
    if (written_flags->dims() != std::vector<std::int64_t>{n()})
        throw FormatError("'" + written_flags->where() + "' has dims " +
                          hdf5::dims_to_string(written_flags->dims()) + ", not (" +
                          std::to_string(n()) + "): the unfinished output is damaged; remove '" +
                          (partial_file.empty() ? file->where(group) : partial_file) + "'");
    std::vector<std::uint8_t> flags(static_cast<std::size_t>(n()));
    written_flags->read(H5T_NATIVE_UINT8, flags.data());
    written.assign(flags.size(), false);
    for (std::size_t i = 0; i < flags.size(); ++i) written[i] = flags[i] == 1;
    resumed = std::count(written.begin(), written.end(), true);
}

void StackWriter::State::write_hdf5(std::int64_t first, const Stack& slab) {
    const StackShape& shape = signature.shape;
    const std::int64_t count = slab.shape().n;
    if (signature.two_dimensional)
        data->write(hdf5_memory_type(signature.type), {0, 0}, {shape.h, shape.w}, slab.data());
    else
        data->write(hdf5_memory_type(signature.type), {first, 0, 0}, {count, shape.h, shape.w},
                    slab.data());
    // The data reaches the file before the flags that say it is there.
    file->flush();
    const std::vector<std::uint8_t> ones(static_cast<std::size_t>(count), 1);
    written_flags->write(H5T_NATIVE_UINT8, {first}, {count}, ones.data());
    file->flush();
}

void StackWriter::State::commit_hdf5() {
    data->close();
    written_flags->close();
    const std::string& dataset = where.dataset;
    if (hdf5::link_exists(*file, dataset)) hdf5::unlink(*file, dataset);  // overwrite: checked
    hdf5::create_groups(*file, parent_group(dataset));
    publish_dataset(*file, data_path(), dataset);
    hdf5::unlink(*file, group);
    if (partial_file.empty()) {
        file->close();
        file.reset();
        return;
    }
    // Between closing the file and moving it into place it is unlocked and unfinished-looking.
    const FolderDecisionLock decision(parent_folder(final_file));
    file->close();
    file.reset();
    // Another writer may have created the file since this one started: its content is kept,
    // and the dataset added to it as if the file had existed from the start.
    published_file = rename_unless_exists(partial_file, final_file);
    if (!published_file) {
        add_dataset_to_existing_file(partial_file, {final_file, dataset}, options.overwrite);
        fs::remove(partial_file);
    }
}

// ---- TIFF ---------------------------------------------------------------------------------------

void StackWriter::State::open_tiff() {
    require_tiff_pixel_type(signature.type, signature.shape, location);
    const bool folder = where.format == StackFormat::tiff_folder;
    if (!folder && n() > max_tiff_pages)
        throw ShapeError("a multi-page TIFF holds 1 to " + std::to_string(max_tiff_pages) +
                         " pages; cannot write " + signature.shape.to_string() + " to '" +
                         location + "'");
    if (folder) {
        final_path = where.path;
        while (final_path.size() > 1 && final_path.back() == '/') final_path.pop_back();
        if (fs::exists(final_path) && !fs::is_directory(final_path))
            throw IoError(options.option + " '" + location + "' is not a folder");
        check_folder_is_not_an_input(where.tool_file(options.option), options.inputs);
        std::error_code error;
        fs::create_directories(parent_folder(fs::path(final_path).lexically_normal().string()),
                               error);
    } else {
        check_output_is_not_an_input(where.tool_file(options.option), options.inputs);
        final_path = output_file_path(where.path);
        if (!fs::is_directory(parent_folder(final_path)))
            throw IoError("cannot write " + options.option + " '" + location + "': folder '" +
                          parent_folder(final_path) + "' does not exist");
    }
    series.prefix = "slice_";
    series.suffix = ".tiff";
    series.digits = std::max(5, decimal_digits(n() - 1));
    series.count = n();
    if (!signature.attributes.empty()) description = nlohmann::json(signature.attributes).dump();

    if (folder && fs::is_directory(final_path) && !fs::is_empty(final_path)) {
        for (const auto& entry : fs::directory_iterator(final_path)) {
            const std::string name = entry.path().filename().string();
            if (!entry.is_regular_file() || !is_tiff_name(name))
                throw IoError(options.option + " folder '" + location + "' holds '" + name +
                              "', which is no TIFF slice; write into a new or empty folder");
        }
        if (accept_finished(find_stack({StackFormat::tiff_folder, final_path, ""}))) return;
    } else if (!folder && fs::exists(final_path)) {
        if (accept_finished(find_stack({StackFormat::tiff_file, final_path, ""}))) return;
    }

    partial_folder = partial_name(final_path);
    series.folder = partial_folder;
    const std::string signature_file = (fs::path(partial_folder) / ".signature.json").string();
    written.assign(static_cast<std::size_t>(n()), false);
    if (fs::is_directory(partial_folder)) {
        lock = FolderLock(partial_folder);
        owns_partial = true;
        if (resume_partial(signature_from_json(read_small_file(signature_file)), partial_folder)) {
            for (std::int64_t slice = 0; slice < n(); ++slice)
                written[static_cast<std::size_t>(slice)] = fs::exists(slice_path(slice));
            resumed = std::count(written.begin(), written.end(), true);
            return;
        }
        // Everything but the lock, which stays held while the folder is filled again.
        for (const auto& entry : fs::directory_iterator(partial_folder))
            if (entry.path().filename() != ".lock") fs::remove_all(entry.path());
    } else {
        std::error_code error;
        fs::create_directory(partial_folder, error);
        if (error)
            throw IoError("cannot write " + options.option + " '" + location +
                          "': cannot create '" + partial_folder + "': " + error.message());
        lock = FolderLock(partial_folder);
        owns_partial = true;
    }
    write_file_atomically(signature_file, signature_json(signature).dump());
}

void StackWriter::State::write_tiff(std::int64_t first, const Stack& slab) {
    const std::size_t slice_bytes = slab.bytes() / static_cast<std::size_t>(slab.shape().n);
    const bool big = slice_bytes > big_tiff_threshold;
    for (std::int64_t i = 0; i < slab.shape().n; ++i) {
        const std::string path = slice_path(first + i);
        const std::string writing = path + ".writing";
        tiff::File file = tiff::File::create(writing, big);
        write_page(file, slab, i, description);
        file.write_page();
        file.close();
        std::error_code error;
        fs::rename(writing, path, error);  // the slice counts as written from here on
        if (error)
            throw IoError("cannot rename '" + writing + "' to '" + path + "': " + error.message());
        written[static_cast<std::size_t>(first + i)] = true;
    }
}

void StackWriter::State::commit_tiff_folder() {
    // Only the slices go into place: not the signature, the lock, nor the file of a slice that
    // a killed run was writing.
    std::set<std::string> slice_names;
    for (std::int64_t slice = 0; slice < n(); ++slice) slice_names.insert(series.file_name(slice));
    for (const auto& entry : fs::directory_iterator(partial_folder))
        if (slice_names.count(entry.path().filename().string()) == 0) fs::remove_all(entry.path());
    // Into place in one step: onto nothing, onto an empty folder, or exchanged with the old
    // series (overwrite was checked at construction), which is then removed.
    if (rename(partial_folder.c_str(), final_path.c_str()) == 0) return;
    if (errno != ENOTEMPTY && errno != EEXIST)
        throw IoError("cannot rename '" + partial_folder + "' to '" + final_path +
                      "': " + std::strerror(errno));
    if (!options.overwrite)
        throw IoError(options.option + " folder '" + location +
                      "' was filled by another writer meanwhile and overwriting is off");
    if (renameat2(AT_FDCWD, partial_folder.c_str(), AT_FDCWD, final_path.c_str(),
                  RENAME_EXCHANGE) != 0)
        throw IoError("cannot exchange '" + partial_folder + "' and '" + final_path +
                      "': " + std::strerror(errno));
    remove_all_quietly(partial_folder);
}

void StackWriter::State::commit_tiff_file() {
    TemporaryFile temporary(final_path);
    const StackShape& shape = signature.shape;
    const std::size_t slice_bytes =
        static_cast<std::size_t>(shape.h * shape.w) * pixel_size(signature.type);
    tiff::File out = tiff::File::create(
        temporary.path(), slice_bytes * static_cast<std::size_t>(n()) > big_tiff_threshold);
    Stack slice({1, shape.h, shape.w}, signature.type);
    const PageFormat format{shape.h, shape.w, signature.type};
    for (std::int64_t page = 0; page < n(); ++page) {
        tiff::File in = tiff::File::open_read(slice_path(page));
        read_page(in, format, static_cast<unsigned char*>(slice.data()));
        append_page(out, slice, 0, page, n(), description);
    }
    out.close();
    temporary.commit();
    remove_all_quietly(partial_folder);
}

// ---- both ---------------------------------------------------------------------------------------

void StackWriter::State::remove_partial() noexcept {
    if (!owns_partial) return;  // another run's, or none
    try {
        data.reset();
        written_flags.reset();
        if (file && partial_file.empty() && hdf5::link_exists(*file, group))
            hdf5::unlink(*file, group);
    } catch (...) {
        // Best effort: the group keeps its hidden name, and the next writer of the dataset
        // resumes or removes it.
    }
    file.reset();
    if (!partial_file.empty()) {
        std::error_code ignored;
        fs::remove(partial_file, ignored);
    }
    if (!partial_folder.empty()) remove_all_quietly(partial_folder);
    lock = FolderLock();
}

void StackWriter::State::require_all_written() const {
    const auto missing = std::find(written.begin(), written.end(), false);
    if (missing != written.end())
        throw IoError("cannot commit '" + location + "': " +
                      std::to_string(std::count(written.begin(), written.end(), false)) + " of " +
                      std::to_string(n()) + " slices were never written, the first is slice " +
                      std::to_string(missing - written.begin()));
}

void StackWriter::State::remove_replaced_output() {
    if (!options.overwrite || closed || finished_already) return;
    if (is_hdf5()) {
        // Only a file that existed holds one; a new file goes into place onto nothing.
        if (partial_file.empty() && hdf5::link_exists(*file, where.dataset)) {
            hdf5::unlink(*file, where.dataset);
            file->flush();
        }
        return;
    }
    std::error_code error;
    fs::remove_all(final_path, error);  // the folder of slices or the multi-page file
    if (error)
        throw IoError("cannot remove " + options.option + " '" + location +
                      "' to replace it: " + error.message());
}

void StackWriter::State::withdraw_published() noexcept {
    std::error_code ignored;
    if (!is_hdf5()) {
        fs::remove_all(final_path, ignored);
    } else if (published_file) {
        fs::remove(final_file, ignored);
    } else {
        try {
            const hdf5::File h5 = hdf5::File::open_read_write(final_file);
            if (hdf5::link_exists(h5, where.dataset)) hdf5::unlink(h5, where.dataset);
        } catch (...) {
            // Best effort: the file can no longer be written; the error being handled says why
            // the set is incomplete.
        }
    }
}

StackWriter::StackWriter(const std::string& location, StackShape shape, PixelType type,
                         bool two_dimensional, const StackWriteOptions& options)
    : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.location = location;
    s.where = StackLocation::parse(location);
    s.options = options;
    s.signature = {shape, type, two_dimensional, options.attributes};
    if (shape.n < 1 || shape.h < 1 || shape.w < 1)
        throw ShapeError("cannot write a stack of dims " + shape.to_string() + " to '" + location +
                         "'");
    if (two_dimensional && shape.n != 1)
        throw ShapeError("cannot write a stack of dims " + shape.to_string() + " to '" + location +
                         "' as one (H, W) image");
    try {
        if (s.is_hdf5())
            s.open_hdf5();
        else
            s.open_tiff();
    } catch (...) {
        if (!options.resume) s.remove_partial();
        throw;
    }
}

StackWriter::~StackWriter() {
    if (!state_ || state_->closed || state_->finished_already) return;
    if (state_->options.resume) {
        // Kept for the next run; closing the file releases its lock.
        state_->data.reset();
        state_->written_flags.reset();
        state_->file.reset();
        return;
    }
    state_->remove_partial();
}

StackWriter::StackWriter(StackWriter&&) noexcept = default;
StackWriter& StackWriter::operator=(StackWriter&&) noexcept = default;

const std::string& StackWriter::location() const {
    return state_->location;
}
StackShape StackWriter::shape() const {
    return state_->signature.shape;
}
PixelType StackWriter::type() const {
    return state_->signature.type;
}
bool StackWriter::written(std::int64_t slice) const {
    return slice >= 0 && slice < state_->n() && state_->written[static_cast<std::size_t>(slice)];
}
std::int64_t StackWriter::written_count() const {
    return std::count(state_->written.begin(), state_->written.end(), true);
}
std::int64_t StackWriter::resumed_count() const {
    return state_->resumed;
}

void StackWriter::write(std::int64_t first, const Stack& slab) {
    State& s = *state_;
    if (s.closed) throw InvalidArgument("'" + s.location + "' is already committed or discarded");
    const StackShape& shape = s.signature.shape;
    if (slab.type() != s.signature.type || slab.shape().h != shape.h || slab.shape().w != shape.w ||
        !range_inside(first, slab.shape().n, shape.n))
        throw InvalidArgument("cannot write a " + to_string(slab.type()) + " slab " +
                              slab.shape().to_string() + " at slice " + std::to_string(first) +
                              " of '" + s.location + "', a " + to_string(s.signature.type) +
                              " stack " + shape.to_string());
    if (slab.shape().n == 0 || s.finished_already) return;
    if (s.is_hdf5()) {
        s.write_hdf5(first, slab);
        std::fill_n(s.written.begin() + first, slab.shape().n, true);
    } else {
        s.write_tiff(first, slab);
    }
}

void StackWriter::commit() {
    State& s = *state_;
    if (s.closed || s.finished_already) {
        s.closed = true;
        return;
    }
    s.require_all_written();
    if (s.is_hdf5())
        s.commit_hdf5();
    else if (s.where.format == StackFormat::tiff_folder)
        s.commit_tiff_folder();
    else
        s.commit_tiff_file();
    s.closed = true;
}

void StackWriter::commit_together(std::vector<StackWriter>& writers) {
    // Those committed or resumed finished before this call are not this call's to publish.
    std::vector<bool> to_publish;
    for (const StackWriter& writer : writers) {
        to_publish.push_back(!writer.state_->closed && !writer.state_->finished_already);
        if (to_publish.back()) writer.state_->require_all_written();
    }
    std::size_t done = 0;
    try {
        for (StackWriter& writer : writers) writer.state_->remove_replaced_output();
        for (; done < writers.size(); ++done) writers[done].commit();
    } catch (...) {
        for (std::size_t i = 0; i < done; ++i)
            if (to_publish[i]) writers[i].state_->withdraw_published();
        for (StackWriter& writer : writers) writer.discard();
        throw;
    }
}

void StackWriter::discard() noexcept {
    State& s = *state_;
    if (s.closed || s.finished_already) return;
    s.remove_partial();
    s.closed = true;
}

}  // namespace tomodenoise
