// Stack locations (an HDF5 dataset, a TIFF folder, a multi-page TIFF), --slices ranges, and the
// streaming StackReader over all three.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <optional>

#include "core/system_memory.hpp"
#include "io/hdf5_stack.hpp"
#include "io/tiff_stack.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace tomodenoise {

namespace {

namespace fs = std::filesystem;

bool ends_with_any(const std::string& text, std::initializer_list<const char*> endings) {
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::any_of(endings.begin(), endings.end(), [&](const std::string& end) {
        return lower.size() > end.size() &&
               lower.compare(lower.size() - end.size(), end.size(), end) == 0;
    });
}

}  // namespace

// ---- StackLocation ----------------------------------------------------------------------------

StackLocation StackLocation::parse(const std::string& text) {
    if (text.empty()) throw InvalidArgument("an empty stack location");
    if (text.find(":/") != std::string::npos) {
        const DatasetAddress address = DatasetAddress::parse(text);
        return {StackFormat::hdf5, address.file, address.dataset};
    }
    if (fs::is_directory(text)) return {StackFormat::tiff_folder, text, ""};
    if (ends_with_any(text, {".tif", ".tiff"})) return {StackFormat::tiff_file, text, ""};
    if (ends_with_any(text, {".h5", ".hdf5", ".hdf", ".he5", ".nxs"}))
        throw InvalidArgument("'" + text + "' names an HDF5 file but no dataset: give " + text +
                              ":/path/to/dataset");
    if (fs::is_regular_file(text)) return {StackFormat::tiff_file, text, ""};
    return {StackFormat::tiff_folder, text, ""};
}

std::string StackLocation::to_string() const {
    return format == StackFormat::hdf5 ? path + ":" + dataset : path;
}

ToolFile StackLocation::tool_file(const std::string& option) const {
    return {option, path, dataset};
}

// ---- --slices ---------------------------------------------------------------------------------

SliceRange parse_slice_range(const std::string& text, std::int64_t slices,
                             const std::string& option) {
    const std::string what = option + " '" + text + "'";
    const std::size_t colon = text.find(':');
    if (colon == std::string::npos || text.find(':', colon + 1) != std::string::npos)
        throw InvalidArgument(what + " is not a range A:B (slices A to B-1)");
    const auto bound = [&](const std::string& part, std::int64_t absent) -> std::int64_t {
        if (part.empty()) return absent;
        std::size_t used = 0;
        std::int64_t value = 0;
        try {
            value = std::stoll(part, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != part.size() || std::isspace(static_cast<unsigned char>(part.front())))
            throw InvalidArgument(what + ": '" + part + "' is not an integer");
        return value < 0 ? slices + value : value;
    };
    const std::int64_t first = bound(text.substr(0, colon), 0);
    const std::int64_t end = bound(text.substr(colon + 1), slices);
    if (!(0 <= first && first < end && end <= slices))
        throw InvalidArgument(what + " selects slices [" + std::to_string(first) + ", " +
                              std::to_string(end) + "), which is not a non-empty range within " +
                              "the stack's " + std::to_string(slices) + " slices [0, " +
                              std::to_string(slices) + ")");
    return {first, end - first};
}

// ---- StackReader ------------------------------------------------------------------------------

struct StackReader::State {
    std::string location;
    StackLocation where;
    StackShape shape;
    PixelType type = PixelType::float32;
    bool two_dimensional = false;
    std::optional<DatasetAddress> address;  // StackFormat::hdf5
    TiffSeries series;                      // StackFormat::tiff_folder
    std::optional<tiff::File> tiff;         // StackFormat::tiff_file
    PageFormat format;                      // TIFF: every page's

    std::string slice_file(std::int64_t slice) const {
        return (fs::path(series.folder) / series.file_name(slice)).string();
    }
    // Opens the folder's file of `slice` and checks that it is one page of the stack's format.
    tiff::File open_slice(std::int64_t slice) const {
        tiff::File file = tiff::File::open_read(slice_file(slice));
        if (file.page_count() != 1)
            throw FormatError("TIFF '" + file.path() + "' in folder '" + series.folder + "' has " +
                              std::to_string(file.page_count()) +
                              " pages; a folder stack holds one image per file");
        const PageFormat here = page_format(file);
        if (slice > 0 && here != format)
            throw FormatError("TIFF folder '" + series.folder + "' mixes images: '" +
                              series.file_name(0) + "' is " + describe(format) + ", '" +
                              series.file_name(slice) + "' is " + describe(here));
        return file;
    }
    void select_page(std::int64_t page) {
        tiff->select_page(page);
        const PageFormat here = page_format(*tiff);
        if (here != format)
            throw FormatError("TIFF '" + where.path + "' mixes pages: page 0 is " +
                              describe(format) + ", page " + std::to_string(page) + " is " +
                              describe(here));
    }
};

StackReader::StackReader(const std::string& location)
    : StackReader(StackLocation::parse(location)) {}

StackReader::StackReader(const StackLocation& location) : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.location = location.to_string();
    s.where = location;
    switch (location.format) {
        case StackFormat::hdf5: {
            // Closed again: a writer in this process may then open the file to add a dataset
            // beside this one, which HDF5 refuses while the file is open read-only.
            s.address = DatasetAddress{location.path, location.dataset};
            const StoredStack stored = open_stored_stack(*s.address);
            s.shape = stored.shape;
            s.type = stored.type;
            s.two_dimensional = stored.single_slice;
            return;
        }
        case StackFormat::tiff_folder: {
            s.series = find_tiff_series(location.path);
            s.format = page_format(tiff::File::open_read(s.slice_file(0)));
            // Every file now, so that a mixed folder fails before any work rather than midway.
            for (std::int64_t slice = 0; slice < s.series.count; ++slice) s.open_slice(slice);
            s.shape = {s.series.count, s.format.h, s.format.w};
            break;
        }
        case StackFormat::tiff_file: {
            s.tiff.emplace(tiff::File::open_read(location.path));
            s.format = page_format(*s.tiff);
            const std::int64_t pages = s.tiff->page_count();
            for (std::int64_t page = 1; page < pages; ++page) s.select_page(page);
            s.shape = {pages, s.format.h, s.format.w};
            s.two_dimensional = pages == 1;
            break;
        }
    }
    s.type = s.format.type;
}

StackReader::~StackReader() = default;
StackReader::StackReader(StackReader&&) noexcept = default;
StackReader& StackReader::operator=(StackReader&&) noexcept = default;

const std::string& StackReader::location() const {
    return state_->location;
}
StackFormat StackReader::format() const {
    return state_->where.format;
}
StackShape StackReader::shape() const {
    return state_->shape;
}
PixelType StackReader::type() const {
    return state_->type;
}
bool StackReader::two_dimensional() const {
    return state_->two_dimensional;
}

std::map<std::string, std::string> StackReader::attributes() const {
    const State& s = *state_;
    std::map<std::string, std::string> attributes;
    if (s.address) {
        const hdf5::File file = hdf5::File::open_read(s.address->file);
        const std::string& path = s.address->dataset;
        for (const std::string& name : hdf5::attribute_names(file, path))
            if (hdf5::is_string_attribute(file, path, name))
                attributes[name] = hdf5::read_string_attribute(file, path, name);
        return attributes;
    }
    std::string description;
    if (s.tiff) {
        // The first page's, where StackWriter puts the same description as on every page.
        tiff::File first = tiff::File::open_read(s.where.path);
        description = first.text(TIFFTAG_IMAGEDESCRIPTION);
    } else {
        description = tiff::File::open_read(s.slice_file(0)).text(TIFFTAG_IMAGEDESCRIPTION);
    }
    const nlohmann::json parsed = nlohmann::json::parse(description, nullptr, false);
    if (!parsed.is_object()) return attributes;
    for (const auto& [key, value] : parsed.items())
        if (value.is_string()) attributes[key] = value.get<std::string>();
    return attributes;
}

Stack StackReader::read(std::int64_t first, std::int64_t count) {
    State& s = *state_;
    if (s.address) {
        const StoredStack stored = open_stored_stack(*s.address);
        if (stored.shape != s.shape || stored.type != s.type)
            throw FormatError("'" + s.location + "' changed while being read: it was a " +
                              to_string(s.type) + " stack " + s.shape.to_string() +
                              ", it is now a " + to_string(stored.type) + " stack " +
                              stored.shape.to_string());
        return read_stored_tile(stored, *s.address, first, count, 0, 0, s.shape.h, s.shape.w);
    }
    if (!range_inside(first, count, s.shape.n))
        throw InvalidArgument("slices [" + std::to_string(first) + ", " +
                              std::to_string(first + count) + ") are outside '" + s.location +
                              "' of shape " + s.shape.to_string());
    check_fits_in_memory(count * s.shape.h * s.shape.w * std::int64_t(pixel_size(s.type)),
                         "reading " + std::to_string(count) + " slices of '" + s.location + "'");
    Stack slab({count, s.shape.h, s.shape.w}, s.type);
    const std::size_t slice_bytes =
        static_cast<std::size_t>(s.shape.h * s.shape.w) * pixel_size(s.type);
    auto* target = static_cast<unsigned char*>(slab.data());
    for (std::int64_t i = 0; i < count; ++i) {
        if (s.tiff) {
            s.select_page(first + i);
            read_page(*s.tiff, s.format, target + i * slice_bytes);
        } else {
            tiff::File file = s.open_slice(first + i);
            read_page(file, s.format, target + i * slice_bytes);
        }
    }
    return slab;
}

Stack read_tiff_stack(const std::string& path) {
    StackReader reader(StackLocation{
        fs::is_directory(path) ? StackFormat::tiff_folder : StackFormat::tiff_file, path, ""});
    return reader.read(0, reader.shape().n);
}

}  // namespace tomodenoise
