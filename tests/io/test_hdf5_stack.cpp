// Stacks in HDF5 files: addresses, round trips of every pixel type, slabs and tiles against
// the whole read, compression, bad input, and writes that fail without leaving output.

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "io/hdf5.hpp"
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

constexpr PixelType all_pixel_types[] = {PixelType::uint8, PixelType::uint16, PixelType::int16,
                                         PixelType::float32, PixelType::float64};

// The part of `whole` a tile read must return, cut out with plain loops.
Stack cut(const Stack& whole, std::int64_t first, std::int64_t count, std::int64_t y,
          std::int64_t x, std::int64_t h, std::int64_t w) {
    Stack part({count, h, w}, whole.type());
    const std::size_t size = pixel_size(whole.type());
    const auto* source = static_cast<const unsigned char*>(whole.data());
    auto* target = static_cast<unsigned char*>(part.data());
    const StackShape& s = whole.shape();
    for (std::int64_t n = 0; n < count; ++n)
        for (std::int64_t r = 0; r < h; ++r)
            std::memcpy(target + ((n * h + r) * w) * size,
                        source + (((first + n) * s.h + y + r) * s.w + x) * size, w * size);
    return part;
}

TEST(DatasetAddress, ParsesAndPrints) {
    const DatasetAddress a = DatasetAddress::parse("data/scan 1.h5:/exchange/data");
    EXPECT_EQ(a.file, "data/scan 1.h5");
    EXPECT_EQ(a.dataset, "/exchange/data");
    EXPECT_EQ(a.to_string(), "data/scan 1.h5:/exchange/data");
    const DatasetAddress k = DatasetAddress::parse("m.h5:/w/conv/kernel:0");
    EXPECT_EQ(k.file, "m.h5");
    EXPECT_EQ(k.dataset, "/w/conv/kernel:0");
    for (const char* bad : {"scan.h5", ":/data", "scan.h5:/", "scan.h5:data"})
        expect_error_naming<InvalidArgument>([&] { DatasetAddress::parse(bad); },
                                             {std::string("'") + bad + "'"});
}

TEST(Hdf5Stack, EveryPixelTypeRoundTrips) {
    ScratchDir dir;
    const std::string file = dir.file("all.h5");
    for (PixelType type : all_pixel_types) {
        const Stack stack = random_stack({3, 5, 7}, type, 11);
        const DatasetAddress address{file, "/stacks/" + to_string(type)};
        write_hdf5_stack(address, stack);
        PixelType stored = PixelType::float64;
        EXPECT_EQ(hdf5_stack_shape(address, &stored), (StackShape{3, 5, 7}));
        EXPECT_EQ(stored, type);
        EXPECT_TRUE(same_pixels(read_hdf5_stack(address), stack)) << to_string(type);
    }
    // The datasets were added to one file, side by side.
    const hdf5::File h5 = hdf5::File::open_read(file);
    EXPECT_EQ(hdf5::child_names(h5, "/stacks").size(), 5u);
}

TEST(Hdf5Stack, SlabsAndTilesEqualTheWholeRead) {
    ScratchDir dir;
    for (PixelType type : {PixelType::uint16, PixelType::float32}) {
        const DatasetAddress address{dir.file("t.h5"), "/v"};
        write_hdf5_stack(address, random_stack({6, 9, 11}, type, 5));
        const Stack whole = read_hdf5_stack(address);
        EXPECT_TRUE(same_pixels(read_hdf5_slab(address, 2, 3), cut(whole, 2, 3, 0, 0, 9, 11)));
        EXPECT_TRUE(same_pixels(read_hdf5_slab(address, 5, 1), cut(whole, 5, 1, 0, 0, 9, 11)));
        EXPECT_TRUE(
            same_pixels(read_hdf5_tile(address, 1, 4, 3, 2, 5, 7), cut(whole, 1, 4, 3, 2, 5, 7)));
        EXPECT_TRUE(
            same_pixels(read_hdf5_tile(address, 0, 6, 8, 10, 1, 1), cut(whole, 0, 6, 8, 10, 1, 1)));
        EXPECT_EQ(read_hdf5_slab(address, 6, 0).shape(), (StackShape{0, 9, 11}));
        expect_error_naming<InvalidArgument>([&] { read_hdf5_tile(address, 0, 1, 5, 0, 5, 11); },
                                             {address.to_string(), "(6, 9, 11)", "rows [5, 10)"});
        expect_error_naming<InvalidArgument>([&] { read_hdf5_slab(address, 4, 3); },
                                             {address.to_string(), "slices [4, 7)"});
    }
}

TEST(Hdf5Stack, RankTwoDatasetIsOneSlice) {
    ScratchDir dir;
    const std::string file = dir.file("r2.h5");
    const std::vector<float> image = testing::random_values(4 * 6, 9);
    {
        const hdf5::File h5 = hdf5::File::create(file);
        hdf5::write_float_dataset(h5, "/image", {4, 6}, image.data());
    }
    const Stack stack = read_hdf5_stack({file, "/image"});
    EXPECT_EQ(stack.shape(), (StackShape{1, 4, 6}));
    EXPECT_EQ(stack.to_float(), image);
    EXPECT_TRUE(same_pixels(read_hdf5_tile({file, "/image"}, 0, 1, 1, 2, 3, 3),
                            cut(stack, 0, 1, 1, 2, 3, 3)));
}

TEST(Hdf5Stack, GzipRoundTripsAndIsStoredCompressed) {
    ScratchDir dir;
    const DatasetAddress address{dir.file("z.h5"), "/z"};
    // Smooth data compresses; random data would not show whether the filter is applied.
    Stack stack({4, 64, 64}, PixelType::uint16);
    for (std::int64_t i = 0; i < stack.shape().pixels(); ++i)
        stack.as<std::uint16_t>()[i] = static_cast<std::uint16_t>(i / 64);
    write_hdf5_stack(address, stack, {6, true});
    EXPECT_TRUE(same_pixels(read_hdf5_stack(address), stack));

    const hdf5::File h5 = hdf5::File::open_read(address.file);
    const hdf5::Dataset dataset = hdf5::Dataset::open(h5, "/z");
    const hdf5::Handle properties(H5Dget_create_plist(dataset.id()), H5Pclose);
    ASSERT_EQ(H5Pget_nfilters(properties.id()), 1);
    unsigned flags = 0, level = 0;
    std::size_t level_count = 1;
    EXPECT_EQ(H5Pget_filter2(properties.id(), 0, &flags, &level_count, &level, 0, nullptr, nullptr),
              H5Z_FILTER_DEFLATE);
    EXPECT_EQ(level, 6u);
    hsize_t chunk[3] = {};
    ASSERT_EQ(H5Pget_chunk(properties.id(), 3, chunk), 3);
    EXPECT_EQ(chunk[0], 1u);
    EXPECT_EQ(chunk[1], 64u);
    EXPECT_EQ(chunk[2], 64u);
    EXPECT_LT(H5Dget_storage_size(dataset.id()), stack.bytes() / 4);
}

TEST(Hdf5Stack, BadInputNamesTheFile) {
    ScratchDir dir;
    const std::string missing = dir.file("missing.h5");
    expect_error_naming<IoError>([&] { read_hdf5_stack({missing, "/x"}); }, {missing});

    const std::string file = dir.file("bad.h5");
    {
        const hdf5::File h5 = hdf5::File::create(file);
        const std::vector<float> values(2 * 2 * 2 * 2, 1.f);
        hdf5::write_float_dataset(h5, "/rank4", {2, 2, 2, 2}, values.data());
        hdf5::write_float_dataset(h5, "/rank1", {16}, values.data());
        const std::vector<std::int32_t> ints(8, 3);
        hdf5::Dataset::create(h5, "/int32", H5T_STD_I32LE, {2, 2, 2})
            .write(H5T_NATIVE_INT32, ints.data());
        const std::vector<std::int8_t> bytes(8, 3);
        hdf5::Dataset::create(h5, "/int8", H5T_STD_I8LE, {2, 2, 2})
            .write(H5T_NATIVE_INT8, bytes.data());
    }
    expect_error_naming<IoError>([&] { read_hdf5_stack({file, "/absent"}); }, {file + ":/absent"});
    expect_error_naming<FormatError>(
        [&] {
            read_hdf5_stack({file, "/rank4"});
        },
        {file + ":/rank4", "(2, 2, 2, 2)"});
    expect_error_naming<FormatError>(
        [&] {
            hdf5_stack_shape({file, "/rank1"});
        },
        {file + ":/rank1", "(16)"});
    expect_error_naming<FormatError>(
        [&] {
            read_hdf5_stack({file, "/int32"});
        },
        {file + ":/int32", "32-bit signed integer"});
    expect_error_naming<FormatError>(
        [&] {
            read_hdf5_slab({file, "/int8"}, 0, 1);
        },
        {file + ":/int8", "8-bit signed integer"});
}

TEST(Hdf5Stack, UnsupportedTypeClassesAreNamedNotNumbered) {
    ScratchDir dir;
    const std::string file = dir.file("classes.h5");
    {
        // h5py's bool arrays: an enum of int8 with FALSE = 0 and TRUE = 1.
        const hid_t h5 = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        const hid_t boolean = H5Tenum_create(H5T_NATIVE_INT8);
        for (const auto& [name, value] :
             {std::pair<const char*, std::int8_t>{"FALSE", 0}, {"TRUE", 1}})
            H5Tenum_insert(boolean, name, &value);
        const hsize_t dims[3] = {1, 2, 2};
        const hid_t space = H5Screate_simple(3, dims, nullptr);
        const hid_t dataset =
            H5Dcreate2(h5, "/mask", boolean, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ASSERT_GE(dataset, 0);
        H5Dclose(dataset);
        H5Sclose(space);
        H5Tclose(boolean);
        H5Fclose(h5);
    }
    expect_error_naming<FormatError>(
        [&] {
            read_hdf5_stack({file, "/mask"});
        },
        {file + ":/mask", "enum", "not supported"});
}

// A dataset created and never (or partly) written holds its fill value: its shape and any part
// of it read, while a read larger than the machine's memory is refused before allocating for
// it (found by tests/fuzz/fuzz_hdf5_stack: the 1.4 KB file of
// tests/fuzz/regressions/huge-dims-stack.h5 claims 10 TB and ended in std::bad_alloc).
TEST(Hdf5Stack, ReadsLargerThanMemoryAreRefusedBeforeAllocating) {
    ScratchDir dir;
    const std::string file = dir.file("claims.h5");
    {
        const hdf5::File h5 = hdf5::File::create(file);
        // Created and never written: HDF5 allocates no storage, the file stays tiny.
        hdf5::Dataset::create(h5, "/huge", H5T_STD_U8LE, {100000, 100000, 1000});
        hdf5::Dataset::create(h5, "/huge_gzip", H5T_IEEE_F32LE, {4000000, 1000, 1000},
                              {{1, 1000, 1000}, 6});
        hdf5::Dataset::create(h5, "/fits", H5T_STD_U8LE, {1, 4, 4});
    }
    const std::string huge = file + ":/huge";
    EXPECT_EQ(hdf5_stack_shape({file, "/huge"}), (StackShape{100000, 100000, 1000}));
    expect_error_naming<InvalidArgument>(
        [&] {
            read_hdf5_stack({file, "/huge"});
        },
        {huge, "100000 x 100000 x 1000", "memory"});
    expect_error_naming<InvalidArgument>(
        [&] {
            read_hdf5_stack({file, "/huge_gzip"});
        },
        {file + ":/huge_gzip", "memory"});
    const hdf5::File h5 = hdf5::File::open_read(file);
    expect_error_naming<InvalidArgument>([&] { hdf5::read_float_dataset(h5, "/huge_gzip"); },
                                         {file + ":/huge_gzip", "memory"});
    // A small part of the unwritten dataset reads as its fill value.
    const Stack tile = read_hdf5_tile({file, "/huge"}, 99999, 1, 5, 7, 2, 3);
    EXPECT_EQ(tile.shape(), (StackShape{1, 2, 3}));
    for (std::int64_t i = 0; i < 6; ++i) EXPECT_EQ(tile.as<std::uint8_t>()[i], 0);
    EXPECT_EQ(read_hdf5_stack({file, "/fits"}).shape(), (StackShape{1, 4, 4}));
}

// Storage that HDF5 allocated lies in the file: a header claiming more than the file holds
// is damaged, and is named so before anything is allocated.
TEST(Hdf5Stack, AllocatedStorageBeyondTheFileIsNamedDamaged) {
    ScratchDir dir;
    const std::string file = dir.file("damaged.h5");
    {
        const hdf5::File h5 = hdf5::File::create(file);
        const hdf5::Dataset d = hdf5::Dataset::create(h5, "/data", H5T_STD_U8LE, {1, 64, 64});
        const std::vector<std::uint8_t> zeros(64 * 64, 0);
        d.write(H5T_NATIVE_UINT8, zeros.data());
    }
    // Grow the dataspace's dims in the file's header where they are stored (64 -> 64 * 2^24),
    // as a damaged header would: the allocated contiguous storage stays 4 KiB.
    std::string bytes;
    {
        std::ifstream in(file, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const std::string dims = std::string("\x01\0\0\0\0\0\0\0", 8) +
                             std::string("\x40\0\0\0\0\0\0\0", 8) +
                             std::string("\x40\0\0\0\0\0\0\0", 8);
    const std::size_t at = bytes.find(dims);
    if (at == std::string::npos) GTEST_SKIP() << "this HDF5 stores dims differently";
    bytes[at + 8 + 3] = 0x40;  // 64 rows become 64 + 2^30
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), std::streamsize(bytes.size()));
    }
    try {
        read_hdf5_stack({file, "/data"});
        FAIL() << "a damaged header was read";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(file + ":/data"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
    }
}

TEST(Hdf5StackWriter, WritesSlabByCommittedSlabOnly) {
    ScratchDir dir;
    const DatasetAddress address{dir.file("out.h5"), "/recon"};
    const Stack stack = random_stack({5, 6, 7}, PixelType::float32, 21);
    {
        Hdf5StackWriter writer(address, stack.shape(), PixelType::float32, {4, true});
        writer.write_slab(3, cut(stack, 3, 2, 0, 0, 6, 7));
        writer.write_slab(0, cut(stack, 0, 3, 0, 0, 6, 7));
        // Until commit only a hidden temporary file exists.
        EXPECT_FALSE(fs::exists(address.file));
        const std::vector<std::string> entries = folder_entries(dir.path());
        ASSERT_EQ(entries.size(), 1u);
        EXPECT_EQ(entries[0].rfind(".out.h5.tmp-", 0), 0u) << entries[0];
        writer.commit();
    }
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"out.h5"});
    EXPECT_TRUE(same_pixels(read_hdf5_stack(address), stack));
}

TEST(Hdf5StackWriter, FailureMidStreamLeavesNoFile) {
    ScratchDir dir;
    const DatasetAddress address{dir.file("out.h5"), "/recon"};
    const Stack slab = random_stack({2, 4, 4}, PixelType::uint8, 2);
    EXPECT_THROW(
        {
            Hdf5StackWriter writer(address, {6, 4, 4}, PixelType::uint8);
            writer.write_slab(0, slab);
            throw std::runtime_error("the denoiser failed");
        },
        std::runtime_error);
    EXPECT_TRUE(folder_entries(dir.path()).empty());

    // Committing with slices missing is refused, and the writer then cleans up.
    {
        Hdf5StackWriter writer(address, {6, 4, 4}, PixelType::uint8);
        writer.write_slab(0, slab);
        writer.write_slab(4, slab);
        expect_error_naming<IoError>([&] { writer.commit(); },
                                     {address.to_string(), "2 of 6", "slice 2"});
    }
    EXPECT_TRUE(folder_entries(dir.path()).empty());
}

TEST(Hdf5StackWriter, ExistingDatasetIsReplacedOnlyOnCommit) {
    ScratchDir dir;
    const DatasetAddress address{dir.file("keep.h5"), "/g/data"};
    const Stack old_stack = random_stack({2, 3, 3}, PixelType::int16, 1);
    const Stack new_stack = random_stack({4, 3, 3}, PixelType::float64, 2);
    write_hdf5_stack(address, old_stack);
    write_hdf5_stack({address.file, "/g/other"}, old_stack);

    try {
        Hdf5StackWriter writer(address, new_stack.shape(), new_stack.type());
        writer.write_slab(0, cut(new_stack, 0, 2, 0, 0, 3, 3));
        throw std::runtime_error("interrupted");
    } catch (const std::runtime_error&) {
    }
    EXPECT_TRUE(same_pixels(read_hdf5_stack(address), old_stack));
    {
        const hdf5::File h5 = hdf5::File::open_read(address.file);
        EXPECT_EQ(hdf5::child_names(h5, "/g"), (std::vector<std::string>{"data", "other"}));
    }

    expect_error_naming<IoError>(
        [&] {
            write_hdf5_stack(address, new_stack, {0, false});
        },
        {address.to_string(), "exists"});
    write_hdf5_stack(address, new_stack);
    EXPECT_TRUE(same_pixels(read_hdf5_stack(address), new_stack));
    EXPECT_TRUE(same_pixels(read_hdf5_stack({address.file, "/g/other"}), old_stack));
}

TEST(Hdf5StackWriter, RefusesSlabsThatDoNotFit) {
    ScratchDir dir;
    const DatasetAddress address{dir.file("fit.h5"), "/d"};
    Hdf5StackWriter writer(address, {3, 4, 5}, PixelType::uint16);
    expect_error_naming<InvalidArgument>(
        [&] {
            writer.write_slab(0, Stack({1, 4, 5}, PixelType::uint8));
        },
        {address.to_string(), "uint8", "uint16"});
    expect_error_naming<InvalidArgument>(
        [&] {
            writer.write_slab(0, Stack({1, 5, 4}, PixelType::uint16));
        },
        {address.to_string(), "(1, 5, 4)", "(3, 4, 5)"});
    expect_error_naming<InvalidArgument>(
        [&] {
            writer.write_slab(2, Stack({2, 4, 5}, PixelType::uint16));
        },
        {address.to_string(), "slice 2"});
    expect_error_naming<InvalidArgument>(
        [] {
            Hdf5StackWriter({"x.h5", "/"}, {1, 1, 1}, PixelType::uint8);
        },
        {"x.h5:/"});
}

TEST(TomoGan, DatasetRoundTripsAndChecksPairs) {
    ScratchDir dir;
    const std::string file = dir.file("train.h5");
    TomoGanDataset data;
    data.train_ns = random_stack({4, 8, 8}, PixelType::uint8, 1);
    data.train_gt = random_stack({4, 8, 8}, PixelType::uint8, 2);
    data.test_ns = random_stack({2, 8, 8}, PixelType::float32, 3);
    data.test_gt = random_stack({2, 8, 8}, PixelType::float32, 4);
    write_tomogan_dataset(file, data, {1, true});
    const TomoGanDataset read = read_tomogan_dataset(file);
    EXPECT_TRUE(same_pixels(read.train_ns, data.train_ns));
    EXPECT_TRUE(same_pixels(read.train_gt, data.train_gt));
    EXPECT_TRUE(same_pixels(read.test_ns, data.test_ns));
    EXPECT_TRUE(same_pixels(read.test_gt, data.test_gt));

    const std::string mismatched = dir.file("mismatched.h5");
    data.test_gt = random_stack({3, 8, 8}, PixelType::float32, 4);
    write_tomogan_dataset(mismatched, data);
    expect_error_naming<ShapeError>([&] { read_tomogan_dataset(mismatched); },
                                    {mismatched, "test_ns", "test_gt", "(3, 8, 8)"});
}

TEST(TomoGan, FailedWriteLeavesNoFile) {
    ScratchDir dir;
    TomoGanDataset data;
    data.train_ns = data.train_gt = data.test_ns = data.test_gt =
        random_stack({1, 4, 4}, PixelType::uint8, 1);
    // An invalid gzip level is found only after the temporary file has been created.
    EXPECT_THROW(write_tomogan_dataset(dir.file("t.h5"), data, {12, true}), InvalidArgument);
    EXPECT_TRUE(folder_entries(dir.path()).empty());
    expect_error_naming<IoError>(
        [&] { write_tomogan_dataset(dir.file("no/such/folder/t.h5"), data); }, {"no/such/folder"});
}

}  // namespace
}  // namespace tomodenoise
