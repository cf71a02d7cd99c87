#pragma once
// A small RAII layer over the HDF5 C API, in the style of HighFive's h5X_wrapper.hpp: handles
// that close themselves (never throwing), and every C call made in exactly one checked place
// that turns a negative return into tomodenoise::IoError naming the file, the object path and
// the innermost message of HDF5's error stack. HDF5's own printing of that stack is switched
// off (per thread: Debian's HDF5 is the thread-safe build, whose error stacks are per thread).
//
// HDF5 object paths here are absolute ("/group/dataset"); messages name them as
// "FILE:/group/dataset", the form DatasetAddress parses.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tomodenoise::hdf5 {

/// Owns one HDF5 identifier and releases it with the H5?close that matches its kind.
class Handle {
public:
    using CloseFunction = herr_t (*)(hid_t);

    Handle() = default;
    Handle(hid_t id, CloseFunction close) noexcept : id_(id), close_(close) {}
    ~Handle() { reset(); }
    Handle(Handle&& other) noexcept;
    Handle& operator=(Handle&& other) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    hid_t id() const { return id_; }
    bool valid() const { return id_ >= 0; }
    /// Closes now; a failure is ignored (use File::close where it matters).
    void reset() noexcept;
    /// Gives up ownership without closing.
    hid_t release() noexcept;

private:
    hid_t id_ = H5I_INVALID_HID;
    CloseFunction close_ = nullptr;
};

/// An open HDF5 file and its name, for messages.
class File {
public:
    /// Opens an existing file read-only; IoError naming `path` when it cannot.
    static File open_read(const std::string& path);
    /// Opens an existing file for reading and writing.
    static File open_read_write(const std::string& path);
    /// Creates `path`, truncating any file of that name.
    static File create(const std::string& path);
    /// Creates `path`; IoError when a file of that name exists (two writers never share it).
    static File create_new(const std::string& path);

    hid_t id() const { return handle_.id(); }
    const std::string& path() const { return path_; }
    /// "FILE:OBJECT", the way messages name an object in this file.
    std::string where(const std::string& object_path) const;
    /// Flushes and closes, throwing IoError on failure: a writer calls it before declaring
    /// its output complete. Objects still open in the file must be closed first.
    void close();
    /// Hands what was written to the operating system, so that it survives the end of the
    /// process (a kill included) and the file reopens as it is now.
    void flush() const;

private:
    static File open(const std::string& path, unsigned flags);
    File(Handle handle, std::string path) : handle_(std::move(handle)), path_(std::move(path)) {}
    Handle handle_;
    std::string path_;
};

/// Whether every link along `path` exists (H5Lexists on each prefix, as it requires).
bool link_exists(const File& file, const std::string& path);
/// Creates the groups along `path` that are missing; existing ones are kept.
void create_groups(const File& file, const std::string& path);
/// Names of the links in the group at `group_path`, in name order.
std::vector<std::string> child_names(const File& file, const std::string& group_path);

/// How strings are stored: fixed-length (h5py's `bytes`, what Keras writes for `layer_names`)
/// or variable-length (h5py's `str`). Readers accept both.
enum class StringStorage { fixed, variable };

/// Whether the object at `object_path` has an attribute `name`.
bool attribute_exists(const File& file, const std::string& object_path, const std::string& name);
/// A scalar (or one-element) string attribute, fixed or variable length; trailing NULs and,
/// for space-padded strings, trailing spaces are removed.
std::string read_string_attribute(const File& file, const std::string& object_path,
                                  const std::string& name);
/// Names of the attributes of the object at `object_path`, in name order.
std::vector<std::string> attribute_names(const File& file, const std::string& object_path);
/// Whether the attribute `name` of the object at `object_path` holds strings.
bool is_string_attribute(const File& file, const std::string& object_path, const std::string& name);
/// Writes (replacing) a scalar string attribute.
void write_string_attribute(const File& file, const std::string& object_path,
                            const std::string& name, const std::string& value,
                            StringStorage storage = StringStorage::fixed);
/// A one-dimensional string array attribute (Keras `layer_names`, `weight_names`).
std::vector<std::string> read_string_list_attribute(const File& file,
                                                    const std::string& object_path,
                                                    const std::string& name);
/// Writes (replacing) a one-dimensional string array attribute; fixed storage uses the length
/// of the longest string, NUL-padded, as h5py does for a list of bytes.
void write_string_list_attribute(const File& file, const std::string& object_path,
                                 const std::string& name, const std::vector<std::string>& values,
                                 StringStorage storage = StringStorage::fixed);
/// A scalar numeric attribute, converted to double.
double read_double_attribute(const File& file, const std::string& object_path,
                             const std::string& name);

/// How Dataset::create lays a dataset out on disk.
struct DatasetLayout {
    std::vector<std::int64_t> chunk;  ///< empty: contiguous
    int gzip_level = 0;               ///< 0: none; 1..9 needs chunks
    /// Every chunk placed in the file at creation (not filled) and no modification times: later
    /// writes then change raw data only, never the file's structure, so a process killed while
    /// writing leaves a file that reopens as it was at its last flush. Not with gzip.
    bool allocate_early = false;
};

/// What a stored element is: HDF5 class, bytes, and for integers whether signed.
struct ElementType {
    H5T_class_t type_class = H5T_NO_CLASS;
    std::size_t size = 0;
    bool is_signed = false;
};

/// An open dataset; reads and writes convert between the stored type and the memory type.
class Dataset {
public:
    /// Opens a dataset to read; FormatError naming it when its dims describe more data than
    /// its file could hold (a damaged header), so that no reader allocates for them.
    static Dataset open(const File& file, const std::string& path);
    /// Creates a dataset of `file_type` (a predefined type such as H5T_IEEE_F32LE) and `dims`,
    /// creating missing groups on the way.
    static Dataset create(const File& file, const std::string& path, hid_t file_type,
                          const std::vector<std::int64_t>& dims, const DatasetLayout& layout = {});

    hid_t id() const { return handle_.id(); }
    /// "FILE:/path", for messages.
    const std::string& where() const { return where_; }
    std::vector<std::int64_t> dims() const;
    ElementType element_type() const;

    /// The whole dataset into `buffer` as `memory_type`; the whole-dataset forms are the box
    /// forms with offset 0 and count dims().
    void read(hid_t memory_type, void* buffer) const;
    /// The box [offset, offset + count) into a dense `buffer` as `memory_type`.
    void read(hid_t memory_type, const std::vector<std::int64_t>& offset,
              const std::vector<std::int64_t>& count, void* buffer) const;
    void write(hid_t memory_type, const void* buffer) const;
    void write(hid_t memory_type, const std::vector<std::int64_t>& offset,
               const std::vector<std::int64_t>& count, const void* buffer) const;
    /// Closes the dataset now, so that its file can be closed.
    void close() { handle_.reset(); }

private:
    Dataset(Handle handle, std::string where)
        : handle_(std::move(handle)), where_(std::move(where)) {}
    struct Selection;
    /// FormatError naming the dataset when its dims describe more bytes than `file` can hold.
    void expect_size_within(const File& file) const;
    /// The file and memory dataspaces of a box, checked against the dims.
    Selection select(const std::vector<std::int64_t>& offset,
                     const std::vector<std::int64_t>& count) const;
    Handle space() const;
    Handle handle_;
    std::string where_;
};

/// Removes the link at `path` (used to take back a dataset whose write failed).
void unlink(const File& file, const std::string& path);
/// Renames the link `from` to `to` within the file (publishing a dataset once complete).
void move_link(const File& file, const std::string& from, const std::string& to);
/// Copies the object at `from_path` in `from` to the new link `to_path` in `to`, creating
/// missing groups on the way.
void copy_object(const File& from, const std::string& from_path, const File& to,
                 const std::string& to_path);
/// Whether the links `a` and `b`, both existing, lead to the same object (an object reached by
/// two names, through hard or soft links, is one object).
bool same_object(const File& file, const std::string& a, const std::string& b);

/// A float32 array of any rank and its dims (row-major).
struct FloatArray {
    std::vector<std::int64_t> dims;
    std::vector<float> values;
};
/// A floating-point dataset of any rank, converted to float32; FormatError naming the dataset
/// when it is not floating point.
FloatArray read_float_dataset(const File& file, const std::string& path);
/// Writes `values` (product of dims of them) as a new float32 dataset, creating groups.
void write_float_dataset(const File& file, const std::string& path,
                         const std::vector<std::int64_t>& dims, const float* values);

/// "(2, 3, 4)".
std::string dims_to_string(const std::vector<std::int64_t>& dims);

}  // namespace tomodenoise::hdf5
