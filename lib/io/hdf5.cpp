#include "io/hdf5.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

#include "core/system_memory.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise::hdf5 {

namespace {

// HDF5 prints its error stack to stderr by default; the library reports errors itself.
void silence_error_printing() {
    thread_local bool silenced = false;
    if (!silenced) {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        silenced = true;
    }
}

herr_t keep_innermost_description(unsigned depth, const H5E_error2_t* error, void* data) {
    if (depth == 0 && error->desc) *static_cast<std::string*>(data) = error->desc;
    return 0;
}

// The most specific message on the error stack (walking upward starts where the error was
// detected), which is the one that says what was wrong ("object 'x' doesn't exist").
std::string take_error_stack_message() {
    std::string message;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost_description, &message);
    H5Eclear2(H5E_DEFAULT);
    return message;
}

template <typename Result>
Result check(Result result, const char* call, const std::string& where) {
    if (result < 0) {
        const std::string detail = take_error_stack_message();
        throw IoError("HDF5 " + std::string(call) + " failed for '" + where + "'" +
                      (detail.empty() ? std::string() : ": " + detail));
    }
    return result;
}

std::vector<hsize_t> to_hsize(const std::vector<std::int64_t>& dims) {
    return std::vector<hsize_t>(dims.begin(), dims.end());
}

// Each prefix of a path that names a link: "/a/b" gives "/a", "/a/b"; "/" gives none.
std::vector<std::string> path_prefixes(const std::string& path) {
    std::vector<std::string> prefixes;
    for (std::size_t slash = 0; slash != std::string::npos;) {
        slash = path.find('/', slash + 1);
        std::string prefix = path.substr(0, slash);
        if (!prefix.empty() && prefix.back() != '/') prefixes.push_back(std::move(prefix));
    }
    return prefixes;
}

std::string parent_path(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// ---- dataspaces ---------------------------------------------------------------------------

Handle create_scalar_space(const std::string& where) {
    return Handle(check(H5Screate(H5S_SCALAR), "H5Screate", where), H5Sclose);
}

Handle create_simple_space(const std::vector<std::int64_t>& dims, const std::string& where) {
    const std::vector<hsize_t> extent = to_hsize(dims);
    return Handle(check(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr),
                        "H5Screate_simple", where),
                  H5Sclose);
}

std::vector<std::int64_t> space_dims(hid_t space, const std::string& where) {
    const int rank = check(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims", where);
    std::vector<hsize_t> extent(static_cast<std::size_t>(rank));
    check(H5Sget_simple_extent_dims(space, extent.data(), nullptr), "H5Sget_simple_extent_dims",
          where);
    return std::vector<std::int64_t>(extent.begin(), extent.end());
}

std::int64_t element_count(const std::vector<std::int64_t>& dims) {
    return std::accumulate(dims.begin(), dims.end(), std::int64_t{1}, std::multiplies<>());
}

void select_box(hid_t space, const std::vector<std::int64_t>& offset,
                const std::vector<std::int64_t>& count, const std::string& where) {
    const std::vector<hsize_t> start = to_hsize(offset), extent = to_hsize(count);
    check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr),
          "H5Sselect_hyperslab", where);
}

// ---- datatypes ----------------------------------------------------------------------------

H5T_class_t type_class(hid_t type, const std::string& where) {
    return check(H5Tget_class(type), "H5Tget_class", where);
}

std::size_t type_size(hid_t type, const std::string& where) {
    const std::size_t size = H5Tget_size(type);
    if (size == 0) check(-1, "H5Tget_size", where);
    return size;
}

bool is_variable_string(hid_t type, const std::string& where) {
    return check(H5Tis_variable_str(type), "H5Tis_variable_str", where) > 0;
}

H5T_str_t string_padding(hid_t type, const std::string& where) {
    return check(H5Tget_strpad(type), "H5Tget_strpad", where);
}

// A C string type: variable length (UTF-8, as h5py writes `str`) or `size` bytes NUL-padded
// (as h5py writes `bytes`).
Handle string_type(StringStorage storage, std::size_t size, const std::string& where) {
    Handle type(check(H5Tcopy(H5T_C_S1), "H5Tcopy", where), H5Tclose);
    const bool variable = storage == StringStorage::variable;
    check(H5Tset_size(type.id(), variable ? H5T_VARIABLE : std::max<std::size_t>(size, 1)),
          "H5Tset_size", where);
    if (variable)
        check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset", where);
    else
        check(H5Tset_strpad(type.id(), H5T_STR_NULLPAD), "H5Tset_strpad", where);
    return type;
}

void reclaim_variable_strings(hid_t type, hid_t space, void* buffer, const std::string& where) {
    check(H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer), "H5Dvlen_reclaim", where);
}

// ---- attributes ---------------------------------------------------------------------------

std::string attribute_where(const File& file, const std::string& object_path,
                            const std::string& name) {
    return file.where(object_path) + " attribute '" + name + "'";
}

Handle open_attribute(const File& file, const std::string& object_path, const std::string& name) {
    return Handle(check(H5Aopen_by_name(file.id(), object_path.c_str(), name.c_str(), H5P_DEFAULT,
                                        H5P_DEFAULT),
                        "H5Aopen_by_name", attribute_where(file, object_path, name)),
                  H5Aclose);
}

void delete_attribute(const File& file, const std::string& object_path, const std::string& name) {
    check(H5Adelete_by_name(file.id(), object_path.c_str(), name.c_str(), H5P_DEFAULT),
          "H5Adelete_by_name", attribute_where(file, object_path, name));
}

Handle create_attribute(const File& file, const std::string& object_path, const std::string& name,
                        hid_t type, hid_t space) {
    return Handle(check(H5Acreate_by_name(file.id(), object_path.c_str(), name.c_str(), type, space,
                                          H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        "H5Acreate_by_name", attribute_where(file, object_path, name)),
                  H5Aclose);
}

Handle attribute_type(hid_t attribute, const std::string& where) {
    return Handle(check(H5Aget_type(attribute), "H5Aget_type", where), H5Tclose);
}

Handle attribute_space(hid_t attribute, const std::string& where) {
    return Handle(check(H5Aget_space(attribute), "H5Aget_space", where), H5Sclose);
}

void read_attribute(hid_t attribute, hid_t memory_type, void* buffer, const std::string& where) {
    check(H5Aread(attribute, memory_type, buffer), "H5Aread", where);
}

void write_attribute(hid_t attribute, hid_t memory_type, const void* buffer,
                     const std::string& where) {
    check(H5Awrite(attribute, memory_type, buffer), "H5Awrite", where);
}

std::string trim_fixed_string(const char* begin, std::size_t size, H5T_str_t padding) {
    std::string text(begin, std::find(begin, begin + size, '\0'));
    if (padding == H5T_STR_SPACEPAD) text.erase(text.find_last_not_of(' ') + 1);
    return text;
}

// Every element of a string attribute of rank 0 or 1, fixed or variable length.
std::vector<std::string> read_strings(const File& file, const std::string& object_path,
                                      const std::string& name) {
    const std::string where = attribute_where(file, object_path, name);
    const Handle attribute = open_attribute(file, object_path, name);
    const Handle type = attribute_type(attribute.id(), where);
    if (type_class(type.id(), where) != H5T_STRING)
        throw FormatError("'" + where + "' is not a string attribute");
    const Handle space = attribute_space(attribute.id(), where);
    const std::vector<std::int64_t> dims = space_dims(space.id(), where);
    if (dims.size() > 1)
        throw FormatError("'" + where + "' has dims " + dims_to_string(dims) +
                          "; expected a scalar or a list of strings");
    const std::size_t count = static_cast<std::size_t>(element_count(dims));

    std::vector<std::string> values;
    if (count == 0) return values;  // HDF5 refuses to transfer into an empty buffer
    values.reserve(count);
    // The stored type serves as memory type: strings need no byte-order conversion, and a
    // variable-length one reads as char* pointers that HDF5 allocates.
    if (is_variable_string(type.id(), where)) {
        std::vector<char*> pointers(count, nullptr);
        read_attribute(attribute.id(), type.id(), pointers.data(), where);
        for (const char* p : pointers) values.emplace_back(p ? p : "");
        reclaim_variable_strings(type.id(), space.id(), pointers.data(), where);
    } else {
        const std::size_t size = type_size(type.id(), where);
        const H5T_str_t padding = string_padding(type.id(), where);
        std::vector<char> bytes(count * size);
        read_attribute(attribute.id(), type.id(), bytes.data(), where);
        for (std::size_t i = 0; i < count; ++i)
            values.push_back(trim_fixed_string(bytes.data() + i * size, size, padding));
    }
    return values;
}

void write_strings(const File& file, const std::string& object_path, const std::string& name,
                   const std::vector<std::string>& values, bool scalar, StringStorage storage) {
    const std::string where = attribute_where(file, object_path, name);
    if (attribute_exists(file, object_path, name)) delete_attribute(file, object_path, name);
    const Handle space =
        scalar ? create_scalar_space(where)
               : create_simple_space({static_cast<std::int64_t>(values.size())}, where);
    if (storage == StringStorage::variable) {
        const Handle type = string_type(storage, 0, where);
        std::vector<const char*> pointers;
        for (const std::string& v : values) pointers.push_back(v.c_str());
        const Handle attribute = create_attribute(file, object_path, name, type.id(), space.id());
        if (!values.empty()) write_attribute(attribute.id(), type.id(), pointers.data(), where);
    } else {
        std::size_t size = 1;
        for (const std::string& v : values) size = std::max(size, v.size());
        const Handle type = string_type(storage, size, where);
        std::vector<char> bytes(values.size() * size, '\0');
        for (std::size_t i = 0; i < values.size(); ++i)
            std::copy(values[i].begin(), values[i].end(), bytes.begin() + i * size);
        const Handle attribute = create_attribute(file, object_path, name, type.id(), space.id());
        if (!values.empty()) write_attribute(attribute.id(), type.id(), bytes.data(), where);
    }
}

// ---- groups and links ---------------------------------------------------------------------

Handle open_group(const File& file, const std::string& path) {
    return Handle(
        check(H5Gopen2(file.id(), path.c_str(), H5P_DEFAULT), "H5Gopen2", file.where(path)),
        H5Gclose);
}

Handle create_group(const File& file, const std::string& path) {
    return Handle(check(H5Gcreate2(file.id(), path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                        "H5Gcreate2", file.where(path)),
                  H5Gclose);
}

herr_t append_link_name(hid_t, const char* name, const H5L_info_t*, void* data) {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
}

herr_t append_attribute_name(hid_t, const char* name, const H5A_info_t*, void* data) {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
}

// ---- property lists -----------------------------------------------------------------------

Handle create_property_list(hid_t property_class, const std::string& where) {
    return Handle(check(H5Pcreate(property_class), "H5Pcreate", where), H5Pclose);
}

}  // namespace

// ---- Handle -------------------------------------------------------------------------------

Handle::Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) {
    other.id_ = H5I_INVALID_HID;
}

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        reset();
        id_ = std::exchange(other.id_, H5I_INVALID_HID);
        close_ = other.close_;
    }
    return *this;
}

void Handle::reset() noexcept {
    if (id_ >= 0 && close_) {
        close_(id_);
        // A failed close leaves a record on the error stack that would otherwise be reported
        // as the cause of the next, unrelated failure.
        H5Eclear2(H5E_DEFAULT);
    }
    id_ = H5I_INVALID_HID;
}

hid_t Handle::release() noexcept {
    return std::exchange(id_, H5I_INVALID_HID);
}

// ---- File ---------------------------------------------------------------------------------

File File::open(const std::string& path, unsigned flags) {
    silence_error_printing();
    return File(Handle(check(H5Fopen(path.c_str(), flags, H5P_DEFAULT), "H5Fopen", path), H5Fclose),
                path);
}

File File::open_read(const std::string& path) {
    return open(path, H5F_ACC_RDONLY);
}

File File::open_read_write(const std::string& path) {
    return open(path, H5F_ACC_RDWR);
}

File File::create(const std::string& path) {
    silence_error_printing();
    return File(Handle(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
                             "H5Fcreate", path),
                       H5Fclose),
                path);
}

File File::create_new(const std::string& path) {
    silence_error_printing();
    return File(Handle(check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT),
                             "H5Fcreate", path),
                       H5Fclose),
                path);
}

void File::flush() const {
    check(H5Fflush(handle_.id(), H5F_SCOPE_LOCAL), "H5Fflush", path_);
}

std::string File::where(const std::string& object_path) const {
    return path_ + ":" + object_path;
}

void File::close() {
    check(H5Fflush(handle_.id(), H5F_SCOPE_LOCAL), "H5Fflush", path_);
    check(H5Fclose(handle_.release()), "H5Fclose", path_);
}

// ---- links, groups, attributes ------------------------------------------------------------

bool link_exists(const File& file, const std::string& path) {
    for (const std::string& prefix : path_prefixes(path))
        if (check(H5Lexists(file.id(), prefix.c_str(), H5P_DEFAULT), "H5Lexists",
                  file.where(prefix)) <= 0)
            return false;
    return true;
}

void create_groups(const File& file, const std::string& path) {
    for (const std::string& prefix : path_prefixes(path))
        if (!link_exists(file, prefix)) create_group(file, prefix);
}

std::vector<std::string> child_names(const File& file, const std::string& group_path) {
    const Handle group = open_group(file, group_path);
    std::vector<std::string> names;
    check(H5Literate(group.id(), H5_INDEX_NAME, H5_ITER_INC, nullptr, append_link_name, &names),
          "H5Literate", file.where(group_path));
    return names;
}

void unlink(const File& file, const std::string& path) {
    check(H5Ldelete(file.id(), path.c_str(), H5P_DEFAULT), "H5Ldelete", file.where(path));
}

void move_link(const File& file, const std::string& from, const std::string& to) {
    check(H5Lmove(file.id(), from.c_str(), file.id(), to.c_str(), H5P_DEFAULT, H5P_DEFAULT),
          "H5Lmove", file.where(from) + " -> " + to);
}

void copy_object(const File& from, const std::string& from_path, const File& to,
                 const std::string& to_path) {
    const std::string where = from.where(from_path) + " -> " + to.where(to_path);
    const Handle link_properties = create_property_list(H5P_LINK_CREATE, where);
    check(H5Pset_create_intermediate_group(link_properties.id(), 1),
          "H5Pset_create_intermediate_group", where);
    check(H5Ocopy(from.id(), from_path.c_str(), to.id(), to_path.c_str(), H5P_DEFAULT,
                  link_properties.id()),
          "H5Ocopy", where);
}

bool same_object(const File& file, const std::string& a, const std::string& b) {
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info_a{}, info_b{};
    check(H5Oget_info_by_name3(file.id(), a.c_str(), &info_a, H5O_INFO_BASIC, H5P_DEFAULT),
          "H5Oget_info_by_name3", file.where(a));
    check(H5Oget_info_by_name3(file.id(), b.c_str(), &info_b, H5O_INFO_BASIC, H5P_DEFAULT),
          "H5Oget_info_by_name3", file.where(b));
    int order = 0;
    check(H5Otoken_cmp(file.id(), &info_a.token, &info_b.token, &order), "H5Otoken_cmp",
          file.where(a));
    return order == 0;
#else
    H5O_info_t info_a{}, info_b{};
    check(H5Oget_info_by_name2(file.id(), a.c_str(), &info_a, H5O_INFO_BASIC, H5P_DEFAULT),
          "H5Oget_info_by_name2", file.where(a));
    check(H5Oget_info_by_name2(file.id(), b.c_str(), &info_b, H5O_INFO_BASIC, H5P_DEFAULT),
          "H5Oget_info_by_name2", file.where(b));
    return info_a.addr == info_b.addr;
#endif
}

bool attribute_exists(const File& file, const std::string& object_path, const std::string& name) {
    return check(H5Aexists_by_name(file.id(), object_path.c_str(), name.c_str(), H5P_DEFAULT),
                 "H5Aexists_by_name", attribute_where(file, object_path, name)) > 0;
}

std::vector<std::string> attribute_names(const File& file, const std::string& object_path) {
    std::vector<std::string> names;
    check(H5Aiterate_by_name(file.id(), object_path.c_str(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
                             append_attribute_name, &names, H5P_DEFAULT),
          "H5Aiterate_by_name", file.where(object_path));
    return names;
}

bool is_string_attribute(const File& file, const std::string& object_path,
                         const std::string& name) {
    const std::string where = attribute_where(file, object_path, name);
    const Handle attribute = open_attribute(file, object_path, name);
    return type_class(attribute_type(attribute.id(), where).id(), where) == H5T_STRING;
}

std::string read_string_attribute(const File& file, const std::string& object_path,
                                  const std::string& name) {
    std::vector<std::string> values = read_strings(file, object_path, name);
    if (values.size() != 1)
        throw FormatError("'" + attribute_where(file, object_path, name) + "' holds " +
                          std::to_string(values.size()) + " strings; expected one");
    return std::move(values.front());
}

void write_string_attribute(const File& file, const std::string& object_path,
                            const std::string& name, const std::string& value,
                            StringStorage storage) {
    write_strings(file, object_path, name, {value}, true, storage);
}

std::vector<std::string> read_string_list_attribute(const File& file,
                                                    const std::string& object_path,
                                                    const std::string& name) {
    return read_strings(file, object_path, name);
}

void write_string_list_attribute(const File& file, const std::string& object_path,
                                 const std::string& name, const std::vector<std::string>& values,
                                 StringStorage storage) {
    write_strings(file, object_path, name, values, false, storage);
}

double read_double_attribute(const File& file, const std::string& object_path,
                             const std::string& name) {
    const std::string where = attribute_where(file, object_path, name);
    const Handle attribute = open_attribute(file, object_path, name);
    const Handle type = attribute_type(attribute.id(), where);
    const H5T_class_t kind = type_class(type.id(), where);
    const Handle space = attribute_space(attribute.id(), where);
    const std::vector<std::int64_t> dims = space_dims(space.id(), where);
    if ((kind != H5T_FLOAT && kind != H5T_INTEGER) || element_count(dims) != 1)
        throw FormatError("'" + where + "' is not a single number (dims " + dims_to_string(dims) +
                          ")");
    double value = 0;
    read_attribute(attribute.id(), H5T_NATIVE_DOUBLE, &value, where);
    return value;
}

// ---- Dataset ------------------------------------------------------------------------------

Dataset Dataset::open(const File& file, const std::string& path) {
    silence_error_printing();
    const std::string where = file.where(path);
    if (!link_exists(file, path)) throw IoError("no dataset '" + where + "'");
    Dataset dataset(
        Handle(check(H5Dopen2(file.id(), path.c_str(), H5P_DEFAULT), "H5Dopen2", where), H5Dclose),
        where);
    dataset.expect_size_within(file);
    return dataset;
}

// A damaged or crafted header can give a dataset any dims; reading it would then allocate
// memory for data that are not there (a 1 KiB file claiming terabytes). Storage that HDF5 has
// allocated in full lies in the file: no more than the file's size, or, compressed, deflate's
// largest ratio (1032:1) of it. Storage not (fully) allocated reads as the fill value, which a
// dataset created and written in part legitimately has: there only a read larger than the
// machine's memory is refused (read_box). Virtual datasets and external storage keep their
// data in other files and are not checked.
void Dataset::expect_size_within(const File& file) const {
    constexpr std::uint64_t max_compression_ratio = 1032;
    const std::vector<std::int64_t> extent = dims();
    std::uint64_t bytes = element_type().size;
    bool too_large = false;
    for (const std::int64_t d : extent)  // above 2^63, an hsize_t reads back negative
        too_large = too_large || d < 0 || __builtin_mul_overflow(bytes, std::uint64_t(d), &bytes);
    const auto damaged = [&](const std::string& why) {
        return FormatError("'" + where_ + "' claims dims " + dims_to_string(extent) + " of " +
                           std::to_string(element_type().size) + "-byte elements, " + why +
                           ": the file is damaged");
    };
    if (too_large) throw damaged("more bytes than any machine addresses");
    const Handle properties(check(H5Dget_create_plist(id()), "H5Dget_create_plist", where_),
                            H5Pclose);
    if (check(H5Pget_layout(properties.id()), "H5Pget_layout", where_) == H5D_VIRTUAL ||
        check(H5Pget_external_count(properties.id()), "H5Pget_external_count", where_) > 0)
        return;
    H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
    check(H5Dget_space_status(id(), &status), "H5Dget_space_status", where_);
    if (status != H5D_SPACE_STATUS_ALLOCATED) return;
    hsize_t file_bytes = 0;
    check(H5Fget_filesize(file.id(), &file_bytes), "H5Fget_filesize", file.path());
    const bool filtered = check(H5Pget_nfilters(properties.id()), "H5Pget_nfilters", where_) > 0;
    const std::uint64_t limit = filtered ? file_bytes * max_compression_ratio : file_bytes;
    if (bytes > limit)
        throw damaged("more than its file of " + std::to_string(file_bytes) + " bytes can hold" +
                      (filtered ? " compressed" : ""));
}

Dataset Dataset::create(const File& file, const std::string& path, hid_t file_type,
                        const std::vector<std::int64_t>& dims, const DatasetLayout& layout) {
    silence_error_printing();
    const std::string where = file.where(path);
    if (layout.gzip_level < 0 || layout.gzip_level > 9)
        throw InvalidArgument("gzip level " + std::to_string(layout.gzip_level) + " for '" + where +
                              "' is outside 0..9");
    if (layout.gzip_level > 0 && layout.chunk.empty())
        throw InvalidArgument("gzip compression of '" + where + "' needs a chunked layout");
    if (!layout.chunk.empty() && layout.chunk.size() != dims.size())
        throw InvalidArgument("chunk dims " + dims_to_string(layout.chunk) + " for '" + where +
                              "' do not match the rank of dims " + dims_to_string(dims));

    create_groups(file, parent_path(path));
    const Handle space = create_simple_space(dims, where);
    const Handle properties = create_property_list(H5P_DATASET_CREATE, where);
    if (!layout.chunk.empty()) {
        const std::vector<hsize_t> chunk = to_hsize(layout.chunk);
        check(H5Pset_chunk(properties.id(), static_cast<int>(chunk.size()), chunk.data()),
              "H5Pset_chunk", where);
    }
    if (layout.gzip_level > 0)
        check(H5Pset_deflate(properties.id(), static_cast<unsigned>(layout.gzip_level)),
              "H5Pset_deflate", where);
    if (layout.allocate_early) {
        if (layout.gzip_level > 0)
            throw InvalidArgument("'" + where + "': compressed chunks cannot be placed early");
        check(H5Pset_alloc_time(properties.id(), H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time", where);
        check(H5Pset_fill_time(properties.id(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time", where);
        check(H5Pset_obj_track_times(properties.id(), 0), "H5Pset_obj_track_times", where);
    }
    return Dataset(Handle(check(H5Dcreate2(file.id(), path.c_str(), file_type, space.id(),
                                           H5P_DEFAULT, properties.id(), H5P_DEFAULT),
                                "H5Dcreate2", where),
                          H5Dclose),
                   where);
}

Handle Dataset::space() const {
    return Handle(check(H5Dget_space(id()), "H5Dget_space", where_), H5Sclose);
}

std::vector<std::int64_t> Dataset::dims() const {
    return space_dims(space().id(), where_);
}

ElementType Dataset::element_type() const {
    const Handle type(check(H5Dget_type(id()), "H5Dget_type", where_), H5Tclose);
    ElementType element;
    element.type_class = type_class(type.id(), where_);
    element.size = type_size(type.id(), where_);
    if (element.type_class == H5T_INTEGER)
        element.is_signed = check(H5Tget_sign(type.id()), "H5Tget_sign", where_) == H5T_SGN_2;
    return element;
}

struct Dataset::Selection {
    Handle file_space, memory_space;  // invalid for a scalar dataset: H5S_ALL then
    bool empty = false;  // HDF5 refuses to transfer an empty selection into a null buffer
    hid_t file_space_id() const { return file_space.valid() ? file_space.id() : H5S_ALL; }
    hid_t memory_space_id() const { return memory_space.valid() ? memory_space.id() : H5S_ALL; }
};

// A bad box is reported with numbers here rather than as HDF5's selection error.
Dataset::Selection Dataset::select(const std::vector<std::int64_t>& offset,
                                   const std::vector<std::int64_t>& count) const {
    Selection selection;
    selection.file_space = space();
    const std::vector<std::int64_t> extent = space_dims(selection.file_space.id(), where_);
    bool inside = offset.size() == extent.size() && count.size() == extent.size();
    for (std::size_t d = 0; inside && d < extent.size(); ++d)
        inside = offset[d] >= 0 && count[d] >= 0 && offset[d] <= extent[d] &&
                 count[d] <= extent[d] - offset[d];
    if (!inside)
        throw InvalidArgument("box at " + dims_to_string(offset) + " of size " +
                              dims_to_string(count) + " is outside '" + where_ + "' of dims " +
                              dims_to_string(extent));
    selection.empty = element_count(count) == 0;
    if (extent.empty()) {
        selection.file_space.reset();  // a scalar has no hyperslabs; it is read whole
    } else if (!selection.empty) {
        select_box(selection.file_space.id(), offset, count, where_);
        selection.memory_space = create_simple_space(count, where_);
    }
    return selection;
}

void Dataset::read(hid_t memory_type, void* buffer) const {
    const std::vector<std::int64_t> extent = dims();
    read(memory_type, std::vector<std::int64_t>(extent.size(), 0), extent, buffer);
}

void Dataset::read(hid_t memory_type, const std::vector<std::int64_t>& offset,
                   const std::vector<std::int64_t>& count, void* buffer) const {
    const Selection selection = select(offset, count);
    if (selection.empty) return;
    check(H5Dread(id(), memory_type, selection.memory_space_id(), selection.file_space_id(),
                  H5P_DEFAULT, buffer),
          "H5Dread", where_);
}

void Dataset::write(hid_t memory_type, const void* buffer) const {
    const std::vector<std::int64_t> extent = dims();
    write(memory_type, std::vector<std::int64_t>(extent.size(), 0), extent, buffer);
}

void Dataset::write(hid_t memory_type, const std::vector<std::int64_t>& offset,
                    const std::vector<std::int64_t>& count, const void* buffer) const {
    const Selection selection = select(offset, count);
    if (selection.empty) return;
    check(H5Dwrite(id(), memory_type, selection.memory_space_id(), selection.file_space_id(),
                   H5P_DEFAULT, buffer),
          "H5Dwrite", where_);
}

// ---- float arrays -------------------------------------------------------------------------

FloatArray read_float_dataset(const File& file, const std::string& path) {
    const Dataset dataset = Dataset::open(file, path);
    if (dataset.element_type().type_class != H5T_FLOAT)
        throw FormatError("'" + dataset.where() + "' is not a floating-point dataset");
    FloatArray array;
    array.dims = dataset.dims();
    check_fits_in_memory(element_count(array.dims) * std::int64_t(sizeof(float)),
                         "reading '" + dataset.where() + "'");
    array.values.resize(static_cast<std::size_t>(element_count(array.dims)));
    dataset.read(H5T_NATIVE_FLOAT, array.values.data());
    return array;
}

void write_float_dataset(const File& file, const std::string& path,
                         const std::vector<std::int64_t>& dims, const float* values) {
    const Dataset dataset = Dataset::create(file, path, H5T_IEEE_F32LE, dims);
    dataset.write(H5T_NATIVE_FLOAT, values);
}

std::string dims_to_string(const std::vector<std::int64_t>& dims) {
    std::string text = "(";
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
    return text + ")";
}

}  // namespace tomodenoise::hdf5
