#include "io/tiff.hpp"

#include <cstdarg>
#include <cstdio>
#include <utility>

#include "tomodenoise/error.hpp"

namespace tomodenoise::tiff {

namespace {

int keep_error(TIFF*, void* user_data, const char* module, const char* format, va_list args) {
    char text[512];
    std::vsnprintf(text, sizeof text, format, args);
    *static_cast<std::string*>(user_data) = (module ? std::string(module) + ": " : "") + text;
    return 1;  // handled: the global handler (stderr) is not called
}

int ignore_warning(TIFF*, void*, const char*, const char*, va_list) {
    return 1;
}

}  // namespace

File File::open(const std::string& path, const char* mode) {
    auto last_error = std::make_unique<std::string>();
    std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> options(TIFFOpenOptionsAlloc(),
                                                                         TIFFOpenOptionsFree);
    if (!options) throw IoError("cannot allocate libtiff options to open '" + path + "'");
    TIFFOpenOptionsSetErrorHandlerExtR(options.get(), keep_error, last_error.get());
    TIFFOpenOptionsSetWarningHandlerExtR(options.get(), ignore_warning, nullptr);
    TIFF* tiff = TIFFOpenExt(path.c_str(), mode, options.get());
    if (!tiff)
        throw IoError("cannot open TIFF '" + path + "'" +
                      (last_error->empty() ? std::string() : ": " + *last_error));
    return File(tiff, path, std::move(last_error));
}

File File::open_read(const std::string& path) {
    return open(path, "r");
}

File File::create(const std::string& path, bool big) {
    return open(path, big ? "w8" : "w");
}

File::~File() {
    if (tiff_) TIFFClose(tiff_);
}

File::File(File&& other) noexcept
    : tiff_(std::exchange(other.tiff_, nullptr)),
      path_(std::move(other.path_)),
      last_error_(std::move(other.last_error_)) {}

void File::fail(const std::string& what) const {
    throw IoError("TIFF '" + path_ + "': " + what +
                  (last_error_->empty() ? std::string() : ": " + *last_error_));
}

std::uint32_t File::required_u32(ttag_t tag, const char* tag_name) const {
    std::uint32_t value = 0;
    if (TIFFGetField(tiff_, tag, &value) != 1)
        throw FormatError("TIFF '" + path_ + "' has no " + tag_name + " tag");
    return value;
}

std::uint16_t File::defaulted_u16(ttag_t tag) const {
    std::uint16_t value = 0;
    if (TIFFGetFieldDefaulted(tiff_, tag, &value) != 1)
        fail("no value or default for tag " + std::to_string(tag));
    return value;
}

void File::set_field(ttag_t tag, std::uint32_t value) {
    if (TIFFSetField(tiff_, tag, value) != 1) fail("cannot set tag " + std::to_string(tag));
}

void File::set_text(ttag_t tag, const std::string& value) {
    if (TIFFSetField(tiff_, tag, value.c_str()) != 1) fail("cannot set tag " + std::to_string(tag));
}

std::string File::text(ttag_t tag) const {
    const char* value = nullptr;
    if (TIFFGetField(tiff_, tag, &value) != 1 || !value) return {};
    return value;
}

void File::set_page_number(std::uint16_t page, std::uint16_t pages) {
    if (TIFFSetField(tiff_, TIFFTAG_PAGENUMBER, page, pages) != 1)
        fail("cannot set the page number");
}

std::int64_t File::page_count() const {
    return TIFFNumberOfDirectories(tiff_);
}

void File::select_page(std::int64_t page) {
    if (TIFFSetDirectory(tiff_, static_cast<tdir_t>(page)) != 1)
        fail("cannot read page " + std::to_string(page));
}

bool File::is_tiled() const {
    return TIFFIsTiled(tiff_) != 0;
}

std::size_t File::tile_bytes() const {
    const tmsize_t size = TIFFTileSize(tiff_);
    if (size <= 0) fail("invalid tile size");
    return static_cast<std::size_t>(size);
}

void File::read_tile(void* buffer, std::uint32_t x, std::uint32_t y) {
    if (TIFFReadTile(tiff_, buffer, x, y, 0, 0) < 0)
        fail("cannot read the tile at column " + std::to_string(x) + ", row " + std::to_string(y));
}

void File::read_row(void* buffer, std::uint32_t row) {
    if (TIFFReadScanline(tiff_, buffer, row, 0) < 0) fail("cannot read row " + std::to_string(row));
}

void File::write_row(const void* buffer, std::uint32_t row) {
    // libtiff may byte-swap or encode in place for some codecs, hence its non-const signature;
    // uncompressed native-order data, as written here, is left untouched.
    if (TIFFWriteScanline(tiff_, const_cast<void*>(buffer), row, 0) < 0)
        fail("cannot write row " + std::to_string(row));
}

std::uint32_t File::default_strip_rows() const {
    return TIFFDefaultStripSize(tiff_, 0);
}

void File::write_page() {
    if (TIFFWriteDirectory(tiff_) != 1) fail("cannot write the page directory");
}

void File::close() {
    if (TIFFFlush(tiff_) != 1) fail("cannot flush");
    TIFFClose(std::exchange(tiff_, nullptr));
}

}  // namespace tomodenoise::tiff
