// TIFF stacks: a folder of 2D TIFFs with a zero-padded index, or one multi-page TIFF.

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <list>
#include <map>
#include <vector>

#include "io/temporary_file.hpp"
#include "io/tiff.hpp"
#include "io/tiff_stack.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace tomodenoise {

namespace fs = std::filesystem;

std::string describe(const PageFormat& format) {
    return std::to_string(format.h) + "x" + std::to_string(format.w) + " " + to_string(format.type);
}

PageFormat page_format(const tiff::File& file) {
    PageFormat format;
    format.w = file.required_u32(TIFFTAG_IMAGEWIDTH, "ImageWidth");
    format.h = file.required_u32(TIFFTAG_IMAGELENGTH, "ImageLength");
    const std::uint16_t samples = file.defaulted_u16(TIFFTAG_SAMPLESPERPIXEL);
    const std::uint16_t bits = file.defaulted_u16(TIFFTAG_BITSPERSAMPLE);
    const std::uint16_t sample_format = file.defaulted_u16(TIFFTAG_SAMPLEFORMAT);
    if (samples != 1)
        throw FormatError("TIFF '" + file.path() + "' has " + std::to_string(samples) +
                          " samples per pixel; a stack slice is one grey sample");
    if (sample_format == SAMPLEFORMAT_UINT && bits == 8)
        format.type = PixelType::uint8;
    else if (sample_format == SAMPLEFORMAT_UINT && bits == 16)
        format.type = PixelType::uint16;
    else if (sample_format == SAMPLEFORMAT_INT && bits == 16)
        format.type = PixelType::int16;
    else if (sample_format == SAMPLEFORMAT_IEEEFP && bits == 32)
        format.type = PixelType::float32;
    else {
        const char* kind = sample_format == SAMPLEFORMAT_UINT     ? " unsigned integer"
                           : sample_format == SAMPLEFORMAT_INT    ? " signed integer"
                           : sample_format == SAMPLEFORMAT_IEEEFP ? " floating-point"
                                                                  : "-bit other";
        throw FormatError("TIFF '" + file.path() + "' has " + std::to_string(bits) + "-bit" + kind +
                          " pixels; supported are uint8, uint16, int16 and float32");
    }
    return format;
}

void read_page(tiff::File& file, const PageFormat& format, unsigned char* target) {
    const std::size_t pixel = pixel_size(format.type);
    const std::size_t row_bytes = static_cast<std::size_t>(format.w) * pixel;
    if (!file.is_tiled()) {
        for (std::int64_t row = 0; row < format.h; ++row)
            file.read_row(target + row * row_bytes, static_cast<std::uint32_t>(row));
        return;
    }
    const std::int64_t tile_w = file.tile_width(), tile_h = file.tile_length();
    std::vector<unsigned char> tile(file.tile_bytes());
    for (std::int64_t y = 0; y < format.h; y += tile_h)
        for (std::int64_t x = 0; x < format.w; x += tile_w) {
            file.read_tile(tile.data(), static_cast<std::uint32_t>(x),
                           static_cast<std::uint32_t>(y));
            // Edge tiles are padded to full size; only their part inside the image is kept.
            const std::int64_t rows = std::min(tile_h, format.h - y);
            const std::int64_t columns = std::min(tile_w, format.w - x);
            for (std::int64_t r = 0; r < rows; ++r)
                std::memcpy(target + (y + r) * row_bytes + x * pixel,
                            tile.data() + r * tile_w * pixel, columns * pixel);
        }
}

void write_page(tiff::File& file, const Stack& stack, std::int64_t slice,
                const std::string& description) {
    const StackShape& shape = stack.shape();
    file.set_field(TIFFTAG_IMAGEWIDTH, static_cast<std::uint32_t>(shape.w));
    file.set_field(TIFFTAG_IMAGELENGTH, static_cast<std::uint32_t>(shape.h));
    file.set_field(TIFFTAG_SAMPLESPERPIXEL, 1);
    file.set_field(TIFFTAG_BITSPERSAMPLE, static_cast<std::uint32_t>(8 * pixel_size(stack.type())));
    file.set_field(TIFFTAG_SAMPLEFORMAT, stack.type() == PixelType::float32 ? SAMPLEFORMAT_IEEEFP
                                         : stack.type() == PixelType::int16 ? SAMPLEFORMAT_INT
                                                                            : SAMPLEFORMAT_UINT);
    file.set_field(TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    file.set_field(TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    file.set_field(TIFFTAG_COMPRESSION, COMPRESSION_NONE);
    file.set_field(TIFFTAG_ROWSPERSTRIP, file.default_strip_rows());
    if (!description.empty()) file.set_text(TIFFTAG_IMAGEDESCRIPTION, description);
    const std::size_t row_bytes = static_cast<std::size_t>(shape.w) * pixel_size(stack.type());
    const auto* rows =
        static_cast<const unsigned char*>(stack.data()) + slice * shape.h * row_bytes;
    for (std::int64_t row = 0; row < shape.h; ++row)
        file.write_row(rows + row * row_bytes, static_cast<std::uint32_t>(row));
}

void append_page(tiff::File& file, const Stack& stack, std::int64_t slice, std::int64_t page,
                 std::int64_t pages, const std::string& description) {
    file.set_field(TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    file.set_page_number(static_cast<std::uint16_t>(page), static_cast<std::uint16_t>(pages));
    write_page(file, stack, slice, description);
    file.write_page();
}

void require_tiff_pixel_type(PixelType type, const StackShape& shape, const std::string& target) {
    if (type == PixelType::float64)
        throw FormatError("cannot write float64 pixels to TIFF '" + target +
                          "'; supported are uint8, uint16, int16 and float32");
    if (shape.h <= 0 || shape.w <= 0 || shape.h > UINT32_MAX || shape.w > UINT32_MAX)
        throw ShapeError("cannot write a stack of dims " + shape.to_string() + " to TIFF '" +
                         target + "'");
}

bool is_tiff_name(const std::string& name) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto ends_with = [&](const std::string& end) {
        return lower.size() > end.size() &&
               lower.compare(lower.size() - end.size(), end.size(), end) == 0;
    };
    return name.front() != '.' && (ends_with(".tif") || ends_with(".tiff"));
}

namespace {

// A file name split around its last run of digits.
struct IndexedName {
    std::string prefix, digits, suffix;
};

bool split_index(const std::string& name, IndexedName& split) {
    const std::size_t last = name.find_last_of("0123456789");
    if (last == std::string::npos) return false;
    const std::size_t before = name.find_last_not_of("0123456789", last);
    const std::size_t first = before == std::string::npos ? 0 : before + 1;
    split = {name.substr(0, first), name.substr(first, last + 1 - first), name.substr(last + 1)};
    return true;
}

std::string pattern(const IndexedName& name) {
    return name.prefix + "#" + name.suffix;
}

}  // namespace

std::map<std::int64_t, std::string> series_members(const std::string& folder,
                                                   const std::string& prefix,
                                                   const std::string& suffix) {
    std::map<std::int64_t, std::string> members;
    if (!fs::is_directory(folder)) return members;
    for (const auto& entry : fs::directory_iterator(folder)) {
        IndexedName split;
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && split_index(name, split) && split.prefix == prefix &&
            split.suffix == suffix && split.digits.size() < 19)
            members.emplace(std::stoll(split.digits), name);
    }
    return members;
}

std::string TiffSeries::file_name(std::int64_t slice) const {
    std::string index = std::to_string(first + slice);
    if (static_cast<int>(index.size()) < digits)
        index.insert(0, static_cast<std::size_t>(digits) - index.size(), '0');
    return prefix + index + suffix;
}

TiffSeries find_tiff_series(const std::string& folder) {
    if (!fs::is_directory(folder)) throw IoError("'" + folder + "' is not a folder");
    std::vector<IndexedName> names;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || !is_tiff_name(name)) continue;
        IndexedName split;
        if (!split_index(name, split) || split.digits.size() >= 19)
            throw FormatError("TIFF folder '" + folder + "' holds '" + name +
                              "', which has no slice index");
        if (!names.empty() && pattern(split) != pattern(names.front()))
            throw FormatError("TIFF folder '" + folder + "' mixes series '" +
                              pattern(names.front()) + "' and '" + pattern(split) + "'");
        names.push_back(split);
    }
    if (names.empty()) throw IoError("no TIFF files (*.tif, *.tiff) in folder '" + folder + "'");

    std::sort(names.begin(), names.end(), [](const IndexedName& a, const IndexedName& b) {
        return std::stoll(a.digits) < std::stoll(b.digits);
    });
    TiffSeries series;
    series.folder = folder;
    series.prefix = names.front().prefix;
    series.suffix = names.front().suffix;
    series.first = std::stoll(names.front().digits);
    series.count = static_cast<std::int64_t>(names.size());
    series.digits = static_cast<int>(names.front().digits.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::int64_t index = std::stoll(names[i].digits);
        const std::int64_t expected = series.first + static_cast<std::int64_t>(i);
        if (index != expected)
            throw FormatError("TIFF folder '" + folder + "': " +
                              (index < expected
                                   ? "index " + std::to_string(index) + " appears twice"
                                   : "slice " + std::to_string(expected) + " ('" +
                                         series.file_name(expected - series.first) +
                                         "') of series '" + pattern(names[i]) + "' is missing"));
        if (names[i].digits.size() != names.front().digits.size()) series.digits = 0;
    }
    return series;
}

void write_tiff_series(const TiffSeries& series, const Stack& stack) {
    require_tiff_pixel_type(stack.type(), stack.shape(), series.folder);
    const std::int64_t n = stack.shape().n;
    for (const auto& [index, name] : series_members(series.folder, series.prefix, series.suffix))
        if (index < series.first || index >= series.first + n)
            throw IoError("TIFF folder '" + series.folder + "' already holds '" + name +
                          "', outside the " + std::to_string(n) +
                          " slices written now; remove it or choose another prefix");
    std::error_code error;
    fs::create_directories(series.folder, error);
    if (error) throw IoError("cannot create folder '" + series.folder + "': " + error.message());

    const bool big = stack.bytes() / std::max<std::int64_t>(n, 1) > big_tiff_threshold;
    std::list<TemporaryFile> files;  // a list: TemporaryFile neither moves nor copies
    for (std::int64_t slice = 0; slice < n; ++slice) {
        files.emplace_back((fs::path(series.folder) / series.file_name(slice)).string());
        tiff::File file = tiff::File::create(files.back().path(), big);
        write_page(file, stack, slice);
        file.write_page();
        file.close();
    }
    // Renames are quick and rarely fail; if one does, the renamed files are taken back.
    std::vector<std::string> renamed;
    try {
        for (TemporaryFile& file : files) {
            file.commit();
            renamed.push_back(file.final_path());
        }
    } catch (...) {
        for (const std::string& name : renamed) fs::remove(name, error);
        throw;
    }
}

void write_multipage_tiff(const std::string& path, const Stack& stack) {
    require_tiff_pixel_type(stack.type(), stack.shape(), path);
    if (stack.shape().n < 1 || stack.shape().n > max_tiff_pages)
        throw ShapeError("a multi-page TIFF holds 1 to 65535 pages; cannot write " +
                         stack.shape().to_string() + " to '" + path + "'");
    TemporaryFile temporary(path);
    tiff::File file = tiff::File::create(temporary.path(), stack.bytes() > big_tiff_threshold);
    for (std::int64_t page = 0; page < stack.shape().n; ++page)
        append_page(file, stack, page, page, stack.shape().n);
    file.close();
    temporary.commit();
}

}  // namespace tomodenoise
