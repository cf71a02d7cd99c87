#pragma once
// TIFF stack pages, for the readers and writers of lib/io: a page's size and pixel type, reading
// and writing one page, and the files of a series in a folder.

#include <cstdint>
#include <map>
#include <string>

#include "io/tiff.hpp"
#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// Beyond this many bytes a classic TIFF's 32-bit offsets may not reach; BigTIFF is used.
constexpr std::size_t big_tiff_threshold = std::size_t{1} << 31;

/// Size and pixel type of a page.
struct PageFormat {
    std::int64_t h = 0, w = 0;
    PixelType type = PixelType::uint8;
    bool operator==(const PageFormat& o) const { return h == o.h && w == o.w && type == o.type; }
    bool operator!=(const PageFormat& o) const { return !(*this == o); }
};

/// "HxW TYPE".
std::string describe(const PageFormat& format);
/// The current page's format; FormatError naming the file for pixels that are not one grey
/// sample of a supported type.
PageFormat page_format(const tiff::File& file);
/// The current page into `target` (h * w pixels of the page's type), strips or tiles.
void read_page(tiff::File& file, const PageFormat& format, unsigned char* target);
/// Slice `slice` of `stack` as the current page, uncompressed; `description`, when not empty,
/// as its ImageDescription tag.
void write_page(tiff::File& file, const Stack& stack, std::int64_t slice,
                const std::string& description = {});
/// Most pages a multi-page TIFF holds: the range of its PageNumber tag.
constexpr std::int64_t max_tiff_pages = UINT16_MAX;
/// Slice `slice` of `stack` as page `page` of `pages` of a multi-page TIFF, ending the page.
void append_page(tiff::File& file, const Stack& stack, std::int64_t slice, std::int64_t page,
                 std::int64_t pages, const std::string& description = {});
/// FormatError for float64 (TIFF stacks hold uint8, uint16, int16, float32), ShapeError for
/// H or W outside 1..2^32-1; both naming `target`.
void require_tiff_pixel_type(PixelType type, const StackShape& shape, const std::string& target);
/// Whether `name` is a visible *.tif or *.tiff file name (any case).
bool is_tiff_name(const std::string& name);
/// The files of `folder` in the series PREFIX#SUFFIX, by index.
std::map<std::int64_t, std::string> series_members(const std::string& folder,
                                                   const std::string& prefix,
                                                   const std::string& suffix);

}  // namespace tomodenoise
