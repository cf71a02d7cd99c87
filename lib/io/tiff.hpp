#pragma once
// A small RAII layer over libtiff: a file handle that closes itself, whose libtiff errors and
// warnings go to a per-handle handler (nothing reaches stderr) and surface as IoError naming
// the file with libtiff's own message. Every libtiff call is made in one checked place here.

#include <tiffio.h>

#include <cstdint>
#include <memory>
#include <string>

namespace tomodenoise::tiff {

class File {
public:
    static File open_read(const std::string& path);
    /// Creates (truncating) `path`; `big` writes BigTIFF, needed past 4 GiB.
    static File create(const std::string& path, bool big);
    ~File();
    File(File&& other) noexcept;
    File& operator=(File&&) = delete;
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    TIFF* get() const { return tiff_; }
    const std::string& path() const { return path_; }

    /// A required uint32 tag (image width, length); FormatError naming the file if absent.
    std::uint32_t required_u32(ttag_t tag, const char* tag_name) const;
    /// A uint16 tag, or libtiff's default for it.
    std::uint16_t defaulted_u16(ttag_t tag) const;
    void set_field(ttag_t tag, std::uint32_t value);
    /// Sets an ASCII tag such as ImageDescription.
    void set_text(ttag_t tag, const std::string& value);
    /// An ASCII tag's value; empty when the page has none.
    std::string text(ttag_t tag) const;
    void set_page_number(std::uint16_t page, std::uint16_t pages);

    /// Pages (image file directories) in the file.
    std::int64_t page_count() const;
    void select_page(std::int64_t page);

    bool is_tiled() const;
    std::uint32_t tile_width() const { return required_u32(TIFFTAG_TILEWIDTH, "TileWidth"); }
    std::uint32_t tile_length() const { return required_u32(TIFFTAG_TILELENGTH, "TileLength"); }
    std::size_t tile_bytes() const;
    void read_tile(void* buffer, std::uint32_t x, std::uint32_t y);
    void read_row(void* buffer, std::uint32_t row);
    void write_row(const void* buffer, std::uint32_t row);
    /// Rows per strip libtiff suggests for this image (about 8 KiB per strip).
    std::uint32_t default_strip_rows() const;
    /// Ends the current page; the next set_field starts a new one.
    void write_page();
    /// Flushes and closes, throwing IoError when the data could not be written.
    void close();

private:
    File(TIFF* tiff, std::string path, std::unique_ptr<std::string> last_error)
        : tiff_(tiff), path_(std::move(path)), last_error_(std::move(last_error)) {}
    static File open(const std::string& path, const char* mode);
    [[noreturn]] void fail(const std::string& what) const;
    TIFF* tiff_ = nullptr;
    std::string path_;
    // libtiff's latest message, on the heap so the handler's pointer survives moves.
    std::unique_ptr<std::string> last_error_;
};

}  // namespace tomodenoise::tiff
