// TIFF stacks: folder series and multi-page files, round trips of every TIFF pixel type,
// tiled input, naming detection, bad folders and files, and writes that leave nothing behind.

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/tiff.hpp"
#include "stack_check.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace tomodenoise {
namespace {

namespace fs = std::filesystem;
using testing::expect_error_naming;
using testing::folder_entries;
using testing::random_stack;
using testing::same_pixels;
using testing::ScratchDir;

constexpr PixelType tiff_pixel_types[] = {PixelType::uint8, PixelType::uint16, PixelType::int16,
                                          PixelType::float32};

TiffSeries recon_series(const std::string& folder) {
    TiffSeries series;
    series.folder = folder;
    series.prefix = "recon_";
    return series;
}

TEST(TiffSeries, EveryPixelTypeRoundTripsThroughAFolder) {
    ScratchDir dir;
    for (PixelType type : tiff_pixel_types) {
        const std::string folder = dir.file(to_string(type));
        const Stack stack = random_stack({3, 13, 17}, type, 4);
        write_tiff_series(recon_series(folder), stack);
        EXPECT_EQ(
            folder_entries(folder),
            (std::vector<std::string>{"recon_00000.tiff", "recon_00001.tiff", "recon_00002.tiff"}));
        EXPECT_TRUE(same_pixels(read_tiff_stack(folder), stack)) << to_string(type);
    }
}

TEST(TiffSeries, DetectsNamingAndOrdersUnpaddedIndicesNumerically) {
    ScratchDir dir;
    TiffSeries written;
    written.folder = dir.file("scan");
    written.prefix = "scan2_";  // a digit in the prefix must not be taken for the index
    written.suffix = "_rec.TIF";
    written.digits = 0;
    written.first = 1;
    // Slice i holds the value i, so that order shows: "s10" sorts before "s2" by name.
    Stack stack({12, 4, 5}, PixelType::uint8);
    for (std::int64_t i = 0; i < stack.shape().pixels(); ++i)
        stack.as<std::uint8_t>()[i] = static_cast<std::uint8_t>(i / 20);
    write_tiff_series(written, stack);

    const TiffSeries found = find_tiff_series(written.folder);
    EXPECT_EQ(found.prefix, "scan2_");
    EXPECT_EQ(found.suffix, "_rec.TIF");
    EXPECT_EQ(found.digits, 0);
    EXPECT_EQ(found.first, 1);
    EXPECT_EQ(found.count, 12);
    EXPECT_EQ(found.file_name(9), "scan2_10_rec.TIF");
    EXPECT_TRUE(same_pixels(read_tiff_stack(written.folder), stack));

    write_tiff_series(recon_series(dir.file("padded")), stack);
    const TiffSeries padded = find_tiff_series(dir.file("padded"));
    EXPECT_EQ(padded.digits, 5);
    EXPECT_EQ(padded.first, 0);
    EXPECT_EQ(padded.file_name(11), "recon_00011.tiff");
}

TEST(MultipageTiff, EveryPixelTypeRoundTrips) {
    ScratchDir dir;
    for (PixelType type : tiff_pixel_types) {
        const std::string file = dir.file(to_string(type) + ".tif");
        const Stack stack = random_stack({4, 9, 31}, type, 8);
        write_multipage_tiff(file, stack);
        EXPECT_TRUE(same_pixels(read_tiff_stack(file), stack)) << to_string(type);
    }
    // A plain 2D TIFF is a one-slice stack.
    const Stack single = random_stack({1, 6, 6}, PixelType::uint16, 3);
    write_multipage_tiff(dir.file("single.tiff"), single);
    EXPECT_TRUE(same_pixels(read_tiff_stack(dir.file("single.tiff")), single));
}

// Writes `values` (h x w) with libtiff directly, tiled or in strips, with the given sample
// layout: input no writer in this library produces.
template <typename T>
void write_raw_tiff(const std::string& path, std::uint32_t h, std::uint32_t w,
                    std::uint16_t sample_format, const std::vector<T>& values,
                    std::uint32_t tile = 0) {
    tiff::File file = tiff::File::create(path, false);
    file.set_field(TIFFTAG_IMAGEWIDTH, w);
    file.set_field(TIFFTAG_IMAGELENGTH, h);
    file.set_field(TIFFTAG_SAMPLESPERPIXEL, 1);
    file.set_field(TIFFTAG_BITSPERSAMPLE, 8 * sizeof(T));
    file.set_field(TIFFTAG_SAMPLEFORMAT, sample_format);
    file.set_field(TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    file.set_field(TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    if (tile) {
        file.set_field(TIFFTAG_TILEWIDTH, tile);
        file.set_field(TIFFTAG_TILELENGTH, tile);
        std::vector<T> buffer(tile * tile);
        for (std::uint32_t y = 0; y < h; y += tile)
            for (std::uint32_t x = 0; x < w; x += tile) {
                std::fill(buffer.begin(), buffer.end(), T{});
                for (std::uint32_t r = 0; r < tile && y + r < h; ++r)
                    for (std::uint32_t c = 0; c < tile && x + c < w; ++c)
                        buffer[r * tile + c] = values[(y + r) * w + x + c];
                ASSERT_GE(TIFFWriteTile(file.get(), buffer.data(), x, y, 0, 0), 0);
            }
    } else {
        for (std::uint32_t row = 0; row < h; ++row) file.write_row(&values[row * w], row);
    }
    file.write_page();
    file.close();
}

TEST(MultipageTiff, ReadsTiledImages) {
    ScratchDir dir;
    const std::uint32_t h = 40, w = 35;  // not multiples of the 16-pixel tiles
    const std::vector<float> values = testing::random_values(h * w, 12);
    write_raw_tiff(dir.file("tiled.tif"), h, w, SAMPLEFORMAT_IEEEFP, values, 16);
    const Stack stack = read_tiff_stack(dir.file("tiled.tif"));
    EXPECT_EQ(stack.shape(), (StackShape{1, h, w}));
    EXPECT_EQ(stack.to_float(), values);
}

TEST(TiffSeries, BadFoldersAreNamed) {
    ScratchDir dir;
    const Stack stack = random_stack({4, 8, 8}, PixelType::uint8, 1);

    const std::string gap = dir.file("gap");
    write_tiff_series(recon_series(gap), stack);
    fs::remove(fs::path(gap) / "recon_00002.tiff");
    expect_error_naming<FormatError>([&] { read_tiff_stack(gap); },
                                     {gap, "slice 2", "recon_00002.tiff", "missing"});

    const std::string other = dir.file("other");
    TiffSeries shifted = recon_series(other);
    shifted.first = 4;
    write_tiff_series(shifted, random_stack({1, 8, 9}, PixelType::uint8, 2));
    shifted.folder = dir.file("other16");
    write_tiff_series(shifted, random_stack({1, 8, 8}, PixelType::uint16, 2));

    const std::string sizes = dir.file("sizes");
    write_tiff_series(recon_series(sizes), stack);
    fs::copy_file(fs::path(other) / "recon_00004.tiff", fs::path(sizes) / "recon_00004.tiff");
    expect_error_naming<FormatError>([&] { read_tiff_stack(sizes); },
                                     {sizes, "recon_00004.tiff", "8x9", "8x8"});

    const std::string types = dir.file("types");
    write_tiff_series(recon_series(types), stack);
    fs::copy_file(fs::path(dir.file("other16")) / "recon_00004.tiff",
                  fs::path(types) / "recon_00004.tiff");
    expect_error_naming<FormatError>([&] { read_tiff_stack(types); }, {types, "uint16", "uint8"});

    const std::string names = dir.file("names");
    write_tiff_series(recon_series(names), stack);
    fs::copy_file(fs::path(names) / "recon_00000.tiff", fs::path(names) / "dark_00000.tiff");
    expect_error_naming<FormatError>([&] { read_tiff_stack(names); },
                                     {names, "recon_#.tiff", "dark_#.tiff"});

    const std::string empty = dir.file("empty");
    fs::create_directories(empty);
    expect_error_naming<IoError>([&] { read_tiff_stack(empty); }, {empty});
}

TEST(MultipageTiff, BadFilesAreNamed) {
    ScratchDir dir;
    const std::string missing = dir.file("missing.tif");
    expect_error_naming<IoError>([&] { read_tiff_stack(missing); }, {missing});

    const std::string text = dir.file("text.tif");
    std::ofstream(text) << "not a TIFF";
    expect_error_naming<IoError>([&] { read_tiff_stack(text); }, {text});

    const std::string doubles = dir.file("f64.tif");
    write_raw_tiff(doubles, 3, 4, SAMPLEFORMAT_IEEEFP, std::vector<double>(12, 0.5));
    expect_error_naming<FormatError>([&] { read_tiff_stack(doubles); },
                                     {doubles, "64-bit floating-point"});
    const std::string ints = dir.file("i32.tif");
    write_raw_tiff(ints, 3, 4, SAMPLEFORMAT_INT, std::vector<std::int32_t>(12, 7));
    expect_error_naming<FormatError>([&] { read_tiff_stack(ints); },
                                     {ints, "32-bit signed integer"});
}

TEST(TiffWrites, RefusalsAndFailuresLeaveNothing) {
    ScratchDir dir;
    const Stack doubles = random_stack({2, 4, 4}, PixelType::float64, 1);
    expect_error_naming<FormatError>([&] { write_multipage_tiff(dir.file("d.tif"), doubles); },
                                     {"d.tif", "float64"});
    expect_error_naming<FormatError>(
        [&] { write_tiff_series(recon_series(dir.file("d")), doubles); }, {"float64"});
    EXPECT_TRUE(folder_entries(dir.path()).empty());

    // A shorter stack over a longer one would read back with the old tail: refused.
    const std::string folder = dir.file("series");
    write_tiff_series(recon_series(folder), random_stack({5, 4, 4}, PixelType::uint8, 1));
    const Stack shorter = random_stack({3, 4, 4}, PixelType::uint8, 2);
    expect_error_naming<IoError>([&] { write_tiff_series(recon_series(folder), shorter); },
                                 {folder, "recon_00003.tiff"});
    EXPECT_EQ(read_tiff_stack(folder).shape(), (StackShape{5, 4, 4}));

    // A rename that fails (a folder stands where slice 1 goes) takes back slice 0 and leaves
    // no temporary files.
    const std::string blocked = dir.file("blocked");
    fs::create_directories(fs::path(blocked) / "recon_00001.tiff");
    EXPECT_THROW(
        write_tiff_series(recon_series(blocked), random_stack({3, 4, 4}, PixelType::uint8, 3)),
        IoError);
    EXPECT_EQ(folder_entries(blocked), std::vector<std::string>{"recon_00001.tiff"});
}

}  // namespace
}  // namespace tomodenoise
