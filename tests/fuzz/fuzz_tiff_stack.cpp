// libFuzzer target: multi-page TIFF files through StackReader (opening checks every page, then
// slabs are read by page) and its attributes (the ImageDescription as JSON). Any input must read
// or throw a tomodenoise::Error; another exception, a crash or a huge allocation is a finding.

#include <cstdint>

#include "fuzz_input_file.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace {

namespace td = tomodenoise;

// Larger slabs are read a page at a time, within libFuzzer's -malloc_limit_mb.
constexpr std::int64_t max_read_pixels = std::int64_t(64) << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const td::fuzz::InputFile input;
    input.write(data, size);
    try {
        td::StackReader reader(td::StackLocation{td::StackFormat::tiff_file, input.path(), ""});
        reader.attributes();
        const td::StackShape shape = reader.shape();
        if (shape.h * shape.w > max_read_pixels) return 0;
        if (shape.pixels() <= max_read_pixels) reader.read(0, shape.n);
        reader.read(shape.n - 1, 1);
        reader.read(shape.n / 2, 1);
    } catch (const td::Error&) {
        // Not a readable stack: refused with a clear error, as it should be.
    }
    return 0;
}
