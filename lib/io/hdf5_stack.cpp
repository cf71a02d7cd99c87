// Stacks in HDF5 files: (N, H, W) datasets read whole, by slab or by tile, and written slab by
// slab without ever leaving a dataset that looks complete before it is.

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/system_memory.hpp"
#include "io/hdf5.hpp"
#include "io/hdf5_stack.hpp"
#include "io/temporary_file.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace tomodenoise {

hid_t hdf5_memory_type(PixelType type) {
    switch (type) {
        case PixelType::uint8:
            return H5T_NATIVE_UINT8;
        case PixelType::uint16:
            return H5T_NATIVE_UINT16;
        case PixelType::int16:
            return H5T_NATIVE_INT16;
        case PixelType::float32:
            return H5T_NATIVE_FLOAT;
        case PixelType::float64:
            return H5T_NATIVE_DOUBLE;
    }
    throw InvalidArgument("unknown pixel type " + std::to_string(static_cast<int>(type)));
}

hid_t hdf5_file_type(PixelType type) {
    switch (type) {
        case PixelType::uint8:
            return H5T_STD_U8LE;
        case PixelType::uint16:
            return H5T_STD_U16LE;
        case PixelType::int16:
            return H5T_STD_I16LE;
        case PixelType::float32:
            return H5T_IEEE_F32LE;
        case PixelType::float64:
            return H5T_IEEE_F64LE;
    }
    throw InvalidArgument("unknown pixel type " + std::to_string(static_cast<int>(type)));
}

namespace {

std::string describe(const hdf5::ElementType& element) {
    const std::string bits = std::to_string(element.size * 8) + "-bit ";
    switch (element.type_class) {
        case H5T_INTEGER:
            return bits + (element.is_signed ? "signed" : "unsigned") + " integer";
        case H5T_FLOAT:
            return bits + "floating-point";
        case H5T_STRING:
            return "string";
        case H5T_COMPOUND:
            return "compound";
        case H5T_ENUM:
            return "enum (h5py stores bool arrays so)";
        case H5T_TIME:
            return "time";
        case H5T_BITFIELD:
            return "bitfield";
        case H5T_OPAQUE:
            return "opaque";
        case H5T_REFERENCE:
            return "reference";
        case H5T_VLEN:
            return "variable-length";
        case H5T_ARRAY:
            return "array";
        default:
            return "HDF5 type class " + std::to_string(static_cast<int>(element.type_class));
    }
}

PixelType stored_pixel_type(const hdf5::Dataset& dataset) {
    const hdf5::ElementType element = dataset.element_type();
    if (element.type_class == H5T_INTEGER) {
        if (element.size == 1 && !element.is_signed) return PixelType::uint8;
        if (element.size == 2) return element.is_signed ? PixelType::int16 : PixelType::uint16;
    } else if (element.type_class == H5T_FLOAT) {
        if (element.size == 4) return PixelType::float32;
        if (element.size == 8) return PixelType::float64;
    }
    throw FormatError("'" + dataset.where() + "' holds " + describe(element) +
                      " elements, which are not supported: a stack is uint8, uint16, int16, "
                      "float32 or float64");
}

}  // namespace

StoredStack open_stored_stack(const DatasetAddress& address) {
    hdf5::File file = hdf5::File::open_read(address.file);
    hdf5::Dataset dataset = hdf5::Dataset::open(file, address.dataset);
    const std::vector<std::int64_t> dims = dataset.dims();
    StackShape shape;
    if (dims.size() == 3)
        shape = {dims[0], dims[1], dims[2]};
    else if (dims.size() == 2)
        shape = {1, dims[0], dims[1]};
    else
        throw FormatError("'" + dataset.where() + "' has dims " + hdf5::dims_to_string(dims) +
                          "; a stack is (N, H, W), or (H, W) for one slice");
    const PixelType type = stored_pixel_type(dataset);
    return {std::move(file), std::move(dataset), shape, type, dims.size() == 2};
}

bool range_inside(std::int64_t first, std::int64_t count, std::int64_t extent) {
    return first >= 0 && count >= 0 && first <= extent && count <= extent - first;
}

hdf5::Dataset create_stack_dataset(const hdf5::File& file, const std::string& path,
                                   const StackShape& shape, PixelType type, int gzip_level,
                                   bool single_slice, bool allocate_early) {
    hdf5::DatasetLayout layout;
    if (shape.pixels() > 0) layout = {{1, shape.h, shape.w}, gzip_level, allocate_early};
    if (single_slice) {
        if (shape.n != 1)
            throw ShapeError("'" + file.where(path) + "': a stack of dims " + shape.to_string() +
                             " is not one (H, W) slice");
        if (!layout.chunk.empty()) layout.chunk.erase(layout.chunk.begin());
        return hdf5::Dataset::create(file, path, hdf5_file_type(type), {shape.h, shape.w}, layout);
    }
    return hdf5::Dataset::create(file, path, hdf5_file_type(type), {shape.n, shape.h, shape.w},
                                 layout);
}

namespace {

std::string temporary_dataset_path(const std::string& path) {
    const std::size_t slash = path.find_last_of('/');
    return path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".tmp-writing";
}

}  // namespace

void publish_dataset(const hdf5::File& file, const std::string& writing_path,
                     const std::string& path) {
    if (hdf5::link_exists(file, path)) hdf5::unlink(file, path);
    hdf5::move_link(file, writing_path, path);
}

// HDF5's file locking keeps other processes from writing the file meanwhile (each opens it
// read-write or fails).
void add_dataset_to_existing_file(const std::string& source_path, const DatasetAddress& address,
                                  bool overwrite) {
    output_file_path(address.file);  // IoError if no longer a regular file
    const hdf5::File source = hdf5::File::open_read(source_path);
    hdf5::File target = hdf5::File::open_read_write(address.file);
    if (!overwrite && hdf5::link_exists(target, address.dataset))
        throw IoError("'" + address.to_string() +
                      "' was created by another writer meanwhile and overwriting is off");
    const std::string writing_path = temporary_dataset_path(address.dataset);
    try {
        if (hdf5::link_exists(target, writing_path)) hdf5::unlink(target, writing_path);
        hdf5::copy_object(source, address.dataset, target, writing_path);
        publish_dataset(target, writing_path, address.dataset);
    } catch (...) {
        try {
            if (hdf5::link_exists(target, writing_path)) hdf5::unlink(target, writing_path);
        } catch (...) {
            // The dataset keeps its temporary name, so it does not look complete; the next
            // writer of this dataset removes it.
        }
        throw;
    }
    target.close();
}

DatasetAddress DatasetAddress::parse(const std::string& text) {
    const std::size_t separator = text.rfind(":/");
    if (separator == std::string::npos || separator == 0 || separator + 2 == text.size())
        throw InvalidArgument("'" + text +
                              "' is not a dataset address of the form FILE:/group/dataset");
    return {text.substr(0, separator), text.substr(separator + 1)};
}

std::string DatasetAddress::to_string() const {
    return file + ":" + dataset;
}

Stack read_stored_tile(const StoredStack& stored, const DatasetAddress& address, std::int64_t first,
                       std::int64_t count, std::int64_t y, std::int64_t x, std::int64_t h,
                       std::int64_t w) {
    if (!range_inside(first, count, stored.shape.n) || !range_inside(y, h, stored.shape.h) ||
        !range_inside(x, w, stored.shape.w))
        throw InvalidArgument("slices [" + std::to_string(first) + ", " +
                              std::to_string(first + count) + "), rows [" + std::to_string(y) +
                              ", " + std::to_string(y + h) + "), columns [" + std::to_string(x) +
                              ", " + std::to_string(x + w) + ") are outside '" +
                              address.to_string() + "' of shape " + stored.shape.to_string());
    check_fits_in_memory(count * h * w * std::int64_t(pixel_size(stored.type)),
                         "reading " + std::to_string(count) + " x " + std::to_string(h) + " x " +
                             std::to_string(w) + " pixels of '" + address.to_string() + "'");
    Stack tile({count, h, w}, stored.type);
    // A rank-2 box has no slice count, so zero slices would still read a whole image.
    if (stored.single_slice && count == 0) return tile;
    if (stored.single_slice)
        stored.dataset.read(hdf5_memory_type(stored.type), {y, x}, {h, w}, tile.data());
    else
        stored.dataset.read(hdf5_memory_type(stored.type), {first, y, x}, {count, h, w},
                            tile.data());
    return tile;
}

Stack read_hdf5_stack(const DatasetAddress& address) {
    const StoredStack stored = open_stored_stack(address);
    return read_stored_tile(stored, address, 0, stored.shape.n, 0, 0, stored.shape.h,
                            stored.shape.w);
}

Stack read_hdf5_slab(const DatasetAddress& address, std::int64_t first, std::int64_t count) {
    const StoredStack stored = open_stored_stack(address);
    return read_stored_tile(stored, address, first, count, 0, 0, stored.shape.h, stored.shape.w);
}

Stack read_hdf5_tile(const DatasetAddress& address, std::int64_t first, std::int64_t count,
                     std::int64_t y, std::int64_t x, std::int64_t h, std::int64_t w) {
    return read_stored_tile(open_stored_stack(address), address, first, count, y, x, h, w);
}

StackShape hdf5_stack_shape(const DatasetAddress& address, PixelType* type) {
    const StoredStack stored = open_stored_stack(address);
    if (type) *type = stored.type;
    return stored.shape;
}

// ---- Hdf5StackWriter ----------------------------------------------------------------------

struct Hdf5StackWriter::State {
    DatasetAddress address;
    StackShape shape;
    PixelType type = PixelType::float32;
    bool overwrite = true;
    std::optional<TemporaryFile> temporary;  // only when the file is new
    std::optional<hdf5::File> file;
    std::optional<hdf5::Dataset> dataset;
    std::string writing_path;  // the dataset's name until commit
    std::vector<bool> written;
    bool committed = false;
};

Hdf5StackWriter::Hdf5StackWriter(const DatasetAddress& address, StackShape shape, PixelType type,
                                 const Hdf5WriteOptions& options)
    : state_(std::make_unique<State>()) {
    if (shape.n < 0 || shape.h < 0 || shape.w < 0)
        throw ShapeError("cannot write a stack of dims " + shape.to_string() + " to '" +
                         address.to_string() + "'");
    if (address.dataset.size() < 2 || address.dataset.front() != '/' ||
        address.dataset.back() == '/')
        throw InvalidArgument("'" + address.to_string() + "' does not name a dataset");
    State& s = *state_;
    s.address = address;
    s.shape = shape;
    s.type = type;
    s.overwrite = options.overwrite;
    if (!std::filesystem::exists(output_file_path(address.file))) {
        s.temporary.emplace(address.file);
        s.file = hdf5::File::create(s.temporary->path());
        s.writing_path = address.dataset;
    } else {
        s.file = hdf5::File::open_read_write(address.file);
        if (!options.overwrite && hdf5::link_exists(*s.file, address.dataset))
            throw IoError("'" + address.to_string() + "' exists and overwriting is off");
        s.writing_path = temporary_dataset_path(address.dataset);
        // Left by a writer that was killed before it could clean up.
        if (hdf5::link_exists(*s.file, s.writing_path)) hdf5::unlink(*s.file, s.writing_path);
    }
    s.dataset = create_stack_dataset(*s.file, s.writing_path, shape, type, options.gzip_level);
    s.written.assign(static_cast<std::size_t>(shape.n), false);
}

Hdf5StackWriter::~Hdf5StackWriter() {
    if (!state_ || state_->committed) return;
    State& s = *state_;
    try {
        s.dataset.reset();
        if (s.file && !s.temporary) hdf5::unlink(*s.file, s.writing_path);
    } catch (...) {
        // Cleanup is best effort: a destructor must not throw, and the dataset still carries
        // its temporary name, so it does not look complete.
    }
    s.file.reset();
    s.temporary.reset();
}

void Hdf5StackWriter::write_slab(std::int64_t first, const Stack& slab) {
    State& s = *state_;
    if (s.committed) throw InvalidArgument("'" + s.address.to_string() + "' is already committed");
    if (slab.type() != s.type || slab.shape().h != s.shape.h || slab.shape().w != s.shape.w ||
        !range_inside(first, slab.shape().n, s.shape.n))
        throw InvalidArgument("cannot write a " + to_string(slab.type()) + " slab " +
                              slab.shape().to_string() + " at slice " + std::to_string(first) +
                              " of '" + s.address.to_string() + "', a " + to_string(s.type) +
                              " stack " + s.shape.to_string());
    if (slab.bytes() == 0) return;
    s.dataset->write(hdf5_memory_type(s.type), {first, 0, 0},
                     {slab.shape().n, s.shape.h, s.shape.w}, slab.data());
    std::fill_n(s.written.begin() + first, slab.shape().n, true);
}

void Hdf5StackWriter::commit() {
    State& s = *state_;
    if (s.committed) return;
    const auto missing = std::find(s.written.begin(), s.written.end(), false);
    if (missing != s.written.end()) {
        const auto count = std::count(s.written.begin(), s.written.end(), false);
        throw IoError("cannot commit '" + s.address.to_string() + "': " + std::to_string(count) +
                      " of " + std::to_string(s.shape.n) +
                      " slices were never written, the first is slice " +
                      std::to_string(missing - s.written.begin()));
    }
    s.dataset->close();
    if (!s.temporary) publish_dataset(*s.file, s.writing_path, s.address.dataset);
    s.file->close();
    s.file.reset();
    // Another writer may have created the file since this one started: its content is kept,
    // and the dataset added to it as if the file had existed from the start.
    if (s.temporary && !s.temporary->commit_unless_exists()) {
        add_dataset_to_existing_file(s.temporary->path(), s.address, s.overwrite);
        s.temporary.reset();  // removes the temporary file
    }
    s.committed = true;
}

void write_hdf5_stack(const DatasetAddress& address, const Stack& stack,
                      const Hdf5WriteOptions& options) {
    Hdf5StackWriter writer(address, stack.shape(), stack.type(), options);
    writer.write_slab(0, stack);
    writer.commit();
}

// ---- TomoGAN training files ---------------------------------------------------------------

namespace {
constexpr const char* tomogan_names[] = {"train_ns", "train_gt", "test_ns", "test_gt"};
}

TomoGanDataset read_tomogan_dataset(const std::string& file) {
    TomoGanDataset data;
    Stack* stacks[] = {&data.train_ns, &data.train_gt, &data.test_ns, &data.test_gt};
    for (int i = 0; i < 4; ++i)
        *stacks[i] = read_hdf5_stack({file, std::string("/") + tomogan_names[i]});
    for (int i = 0; i < 4; i += 2)
        if (stacks[i]->shape() != stacks[i + 1]->shape())
            throw ShapeError("'" + file + "': " + tomogan_names[i] + " " +
                             stacks[i]->shape().to_string() + " and " + tomogan_names[i + 1] + " " +
                             stacks[i + 1]->shape().to_string() + " differ in shape");
    return data;
}

void write_tomogan_dataset(const std::string& file, const TomoGanDataset& data,
                           const Hdf5WriteOptions& options) {
    TemporaryFile temporary(file);
    hdf5::File h5 = hdf5::File::create(temporary.path());
    const Stack* stacks[] = {&data.train_ns, &data.train_gt, &data.test_ns, &data.test_gt};
    for (int i = 0; i < 4; ++i) {
        const hdf5::Dataset dataset =
            create_stack_dataset(h5, std::string("/") + tomogan_names[i], stacks[i]->shape(),
                                 stacks[i]->type(), options.gzip_level);
        dataset.write(hdf5_memory_type(stacks[i]->type()), stacks[i]->data());
    }
    h5.close();
    temporary.commit();
}

}  // namespace tomodenoise
