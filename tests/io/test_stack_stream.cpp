// Stacks in any format, streamed: locations, --slices ranges, StackReader on HDF5 datasets, TIFF
// folders and multi-page TIFFs, and StackWriter: commit and abort, refusals before any work, and
// resuming after a SIGKILL to the output of an uninterrupted run.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "io/hdf5.hpp"
#include "io/tiff_stack.hpp"
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

// Slices [first, first + count) of `whole`.
Stack slices(const Stack& whole, std::int64_t first, std::int64_t count) {
    const StackShape& s = whole.shape();
    Stack part({count, s.h, s.w}, whole.type());
    const std::size_t slice_bytes = whole.bytes() / static_cast<std::size_t>(s.n);
    std::memcpy(part.data(), static_cast<const unsigned char*>(whole.data()) + first * slice_bytes,
                count * slice_bytes);
    return part;
}

// The three forms of one stack, written by the existing whole-stack writers.
struct ThreeForms {
    std::string hdf5, folder, file;
};

ThreeForms write_three_forms(const ScratchDir& dir, const Stack& stack) {
    ThreeForms forms{dir.file("stack.h5") + ":/g/volume", dir.file("series"),
                     dir.file("pages.tiff")};
    write_hdf5_stack(DatasetAddress::parse(forms.hdf5), stack);
    TiffSeries series;
    series.folder = forms.folder;
    series.prefix = "recon_";
    write_tiff_series(series, stack);
    write_multipage_tiff(forms.file, stack);
    return forms;
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---- locations and ranges -------------------------------------------------------------------

TEST(StackLocation, ParsesTheThreeForms) {
    ScratchDir dir;
    const StackLocation h5 = StackLocation::parse("scan 1.h5:/exchange/data");
    EXPECT_EQ(h5.format, StackFormat::hdf5);
    EXPECT_EQ(h5.path, "scan 1.h5");
    EXPECT_EQ(h5.dataset, "/exchange/data");
    EXPECT_EQ(h5.to_string(), "scan 1.h5:/exchange/data");
    EXPECT_EQ(StackLocation::parse(dir.path().string()).format, StackFormat::tiff_folder);
    EXPECT_EQ(StackLocation::parse(dir.file("new_folder")).format, StackFormat::tiff_folder);
    EXPECT_EQ(StackLocation::parse(dir.file("stack.TIF")).format, StackFormat::tiff_file);
    EXPECT_EQ(StackLocation::parse(dir.file("stack.tiff")).format, StackFormat::tiff_file);
    const ToolFile tool = h5.tool_file("--input");
    EXPECT_EQ(tool.option, "--input");
    EXPECT_EQ(tool.file, "scan 1.h5");
    EXPECT_EQ(tool.dataset, "/exchange/data");
    expect_error_naming<InvalidArgument>([] { StackLocation::parse("scan.h5"); },
                                         {"scan.h5", "dataset"});
    expect_error_naming<InvalidArgument>([] { StackLocation::parse("scan.h5:/"); }, {"scan.h5:/"});
    expect_error_naming<InvalidArgument>([] { StackLocation::parse(""); }, {"empty"});
}

TEST(SliceRange, ParsesPythonLikeRangesWithinTheStack) {
    auto range = [](const std::string& text) {
        const SliceRange r = parse_slice_range(text, 10);
        return std::make_pair(r.first, r.count);
    };
    EXPECT_EQ(range("2:5"), std::make_pair(std::int64_t{2}, std::int64_t{3}));
    EXPECT_EQ(range("0:10"), std::make_pair(std::int64_t{0}, std::int64_t{10}));
    EXPECT_EQ(range(":4"), std::make_pair(std::int64_t{0}, std::int64_t{4}));
    EXPECT_EQ(range("7:"), std::make_pair(std::int64_t{7}, std::int64_t{3}));
    EXPECT_EQ(range("-3:"), std::make_pair(std::int64_t{7}, std::int64_t{3}));
    EXPECT_EQ(range("1:-1"), std::make_pair(std::int64_t{1}, std::int64_t{8}));
    for (const char* bad :
         {"5:5", "6:2", "0:11", "10:", "-11:", "3", "1:2:3", "a:4", "1:4x", " 1:4"})
        expect_error_naming<InvalidArgument>([&] { parse_slice_range(bad, 10, "--slices"); },
                                             {"--slices", std::string("'") + bad + "'"});
    expect_error_naming<InvalidArgument>([] { parse_slice_range("0:11", 10); },
                                         {"10 slices", "[0, 11)"});
}

// ---- StackReader ----------------------------------------------------------------------------

TEST(StackReader, ReadsSlabsOfEveryFormatAsTheWholeStack) {
    ScratchDir dir;
    const Stack stack = random_stack({5, 7, 9}, PixelType::uint16, 3);
    const ThreeForms forms = write_three_forms(dir, stack);
    for (const std::string& location : {forms.hdf5, forms.folder, forms.file}) {
        SCOPED_TRACE(location);
        StackReader reader(location);
        EXPECT_EQ(reader.location(), location);
        EXPECT_EQ(reader.shape(), (StackShape{5, 7, 9}));
        EXPECT_EQ(reader.type(), PixelType::uint16);
        EXPECT_FALSE(reader.two_dimensional());
        EXPECT_TRUE(same_pixels(reader.read(0, 5), stack));
        // Out of order, as a pipeline's resumed run or a depth halo reads.
        EXPECT_TRUE(same_pixels(reader.read(3, 2), slices(stack, 3, 2)));
        EXPECT_TRUE(same_pixels(reader.read(1, 3), slices(stack, 1, 3)));
        EXPECT_EQ(reader.read(4, 0).shape(), (StackShape{0, 7, 9}));
    }
    EXPECT_EQ(StackReader(forms.hdf5).format(), StackFormat::hdf5);
    EXPECT_EQ(StackReader(forms.folder).format(), StackFormat::tiff_folder);
    EXPECT_EQ(StackReader(forms.file).format(), StackFormat::tiff_file);
}

TEST(StackReader, AFolderReadReadsOnlyTheFilesOfItsSlices) {
    ScratchDir dir;
    const Stack stack = random_stack({4, 6, 6}, PixelType::float32, 4);
    const ThreeForms forms = write_three_forms(dir, stack);
    StackReader reader(forms.folder);
    fs::remove(fs::path(forms.folder) / "recon_00003.tiff");
    EXPECT_TRUE(same_pixels(reader.read(0, 3), slices(stack, 0, 3)));
    expect_error_naming<IoError>([&] { reader.read(3, 1); }, {"recon_00003.tiff"});
}

TEST(StackReader, OneImageSourcesAreTwoDimensional) {
    ScratchDir dir;
    const Stack image = random_stack({1, 5, 8}, PixelType::float32, 5);
    const std::string file = dir.file("image.h5");
    {
        const hdf5::File h5 = hdf5::File::create(file);
        hdf5::write_float_dataset(h5, "/image", {5, 8}, image.as<float>());
    }
    write_multipage_tiff(dir.file("image.tif"), image);
    for (const std::string& location : {file + ":/image", dir.file("image.tif")}) {
        StackReader reader(location);
        EXPECT_TRUE(reader.two_dimensional()) << location;
        EXPECT_EQ(reader.shape(), (StackShape{1, 5, 8})) << location;
        EXPECT_TRUE(same_pixels(reader.read(0, 1), image)) << location;
    }
}

TEST(StackReader, RefusesDatasetsOfRankOneOrFourNamingFileDatasetAndDims) {
    ScratchDir dir;
    const std::string file = dir.file("ranks.h5");
    {
        const hdf5::File h5 = hdf5::File::create(file);
        const std::vector<float> values(16, 1.f);
        hdf5::write_float_dataset(h5, "/line", {16}, values.data());
        hdf5::write_float_dataset(h5, "/cube4", {2, 2, 2, 2}, values.data());
    }
    expect_error_naming<FormatError>([&] { StackReader(file + ":/line"); },
                                     {file, "/line", "(16)"});
    expect_error_naming<FormatError>([&] { StackReader(file + ":/cube4"); },
                                     {file, "/cube4", "(2, 2, 2, 2)"});
}

TEST(StackReader, RefusesAFolderWithAGapOrMixedImagesWhenOpened) {
    ScratchDir dir;
    const Stack stack = random_stack({4, 8, 8}, PixelType::uint8, 6);
    TiffSeries series;
    series.prefix = "recon_";

    series.folder = dir.file("gap");
    write_tiff_series(series, stack);
    fs::remove(fs::path(series.folder) / "recon_00002.tiff");
    expect_error_naming<FormatError>([&] { StackReader reader(dir.file("gap")); },
                                     {dir.file("gap"), "recon_00002.tiff", "missing"});

    // The odd file is the last: the reader finds it when opened, before any slice is read.
    series.folder = dir.file("sizes");
    write_tiff_series(series, stack);
    write_multipage_tiff((fs::path(series.folder) / "recon_00003.tiff").string(),
                         random_stack({1, 8, 9}, PixelType::uint8, 7));
    expect_error_naming<FormatError>([&] { StackReader reader(dir.file("sizes")); },
                                     {dir.file("sizes"), "recon_00003.tiff", "8x9", "8x8"});

    series.folder = dir.file("types");
    write_tiff_series(series, stack);
    write_multipage_tiff((fs::path(series.folder) / "recon_00003.tiff").string(),
                         random_stack({1, 8, 8}, PixelType::uint16, 7));
    expect_error_naming<FormatError>([&] { StackReader reader(dir.file("types")); },
                                     {dir.file("types"), "recon_00003.tiff", "uint16", "uint8"});

    // A multi-page file whose last page differs, likewise.
    const std::string pages = dir.file("pages.tif");
    {
        tiff::File file = tiff::File::create(pages, false);
        append_page(file, stack, 0, 0, 3);
        append_page(file, stack, 1, 1, 3);
        append_page(file, random_stack({1, 8, 9}, PixelType::uint8, 7), 0, 2, 3);
        file.close();
    }
    expect_error_naming<FormatError>([&] { StackReader reader(pages); },
                                     {pages, "page 2", "8x9", "8x8"});
    expect_error_naming<IoError>([&] { StackReader(dir.file("absent.tif")); }, {"absent.tif"});
}

TEST(StackReader, RefusesSlicesOutsideTheStackNamingIt) {
    ScratchDir dir;
    const ThreeForms forms = write_three_forms(dir, random_stack({5, 4, 4}, PixelType::int16, 8));
    for (const std::string& location : {forms.hdf5, forms.folder, forms.file}) {
        StackReader reader(location);
        for (const auto& [first, count] : {std::make_pair(4, 2), std::make_pair(-1, 1),
                                           std::make_pair(5, 1), std::make_pair(0, 6)})
            expect_error_naming<InvalidArgument>([&, f = first, c = count] { reader.read(f, c); },
                                                 {location, "(5, 4, 4)"});
    }
}

// ---- StackWriter ----------------------------------------------------------------------------

// An output of every form in `dir`.
std::vector<std::string> output_locations(const ScratchDir& dir) {
    return {dir.file("out.h5") + ":/results/denoised", dir.file("out_folder"),
            dir.file("out.tiff")};
}

const std::map<std::string, std::string> run_attributes = {
    {"model", "TomoGAN.h5"}, {"model_sha256", "0123abcd"}, {"version", "1.2.3"}};

TEST(StackWriter, CommitPublishesAndAbortLeavesNothing) {
    ScratchDir dir;
    const Stack stack = random_stack({6, 5, 7}, PixelType::float32, 9);
    StackWriteOptions options;
    options.attributes = run_attributes;
    for (const std::string& location : output_locations(dir)) {
        SCOPED_TRACE(location);
        {
            StackWriter writer(location, stack.shape(), stack.type(), false, options);
            EXPECT_EQ(writer.resumed_count(), 0);
            writer.write(3, slices(stack, 3, 3));  // any order
            EXPECT_TRUE(writer.written(4));
            EXPECT_FALSE(writer.written(0));
            expect_error_naming<IoError>([&] { writer.commit(); }, {location, "3 of 6", "slice 0"});
            writer.write(0, slices(stack, 0, 3));
            EXPECT_EQ(writer.written_count(), 6);
            // Complete but not committed: nothing at the location yet.
            EXPECT_FALSE(fs::exists(StackLocation::parse(location).path));
            writer.commit();
            writer.commit();
        }
        EXPECT_EQ(folder_entries(dir.path()).size(), 1u);  // the output alone
        StackReader reader(location);
        EXPECT_TRUE(same_pixels(reader.read(0, 6), stack));
        EXPECT_EQ(reader.attributes(), run_attributes);
        fs::remove_all(StackLocation::parse(location).path);

        {  // abandoned: destroyed uncommitted, by an exception or an early return
            StackWriter writer(location, stack.shape(), stack.type(), false, options);
            writer.write(0, slices(stack, 0, 6));
        }
        EXPECT_TRUE(folder_entries(dir.path()).empty());
        {
            StackWriter writer(location, stack.shape(), stack.type(), false, options);
            writer.write(0, slices(stack, 0, 2));
            writer.discard();
            EXPECT_TRUE(folder_entries(dir.path()).empty());
            expect_error_naming<InvalidArgument>([&] { writer.write(2, slices(stack, 2, 1)); },
                                                 {location});
        }
    }
}

TEST(StackWriter, WritesIntoAnExistingHdf5FileOnlyAtCommit) {
    ScratchDir dir;
    const std::string file = dir.file("scan.h5");
    const Stack input = random_stack({3, 4, 4}, PixelType::uint8, 10);
    write_hdf5_stack({file, "/exchange/data"}, input);
    const Stack output = random_stack({3, 4, 4}, PixelType::float32, 11);
    StackWriteOptions options;
    options.inputs = {{"--input", file, "/exchange/data"}};
    {
        StackWriter writer(file + ":/exchange/denoised", output.shape(), output.type(), false,
                           options);
        writer.write(0, output);
        const hdf5::File h5 = hdf5::File::open_read(file);
        EXPECT_FALSE(hdf5::link_exists(h5, "/exchange/denoised"));
    }
    EXPECT_EQ(hdf5::child_names(hdf5::File::open_read(file), "/exchange"),
              std::vector<std::string>{"data"});
    {
        StackWriter writer(file + ":/exchange/denoised", output.shape(), output.type(), false,
                           options);
        writer.write(0, output);
        writer.commit();
    }
    EXPECT_EQ(hdf5::child_names(hdf5::File::open_read(file), "/exchange"),
              (std::vector<std::string>{"data", "denoised"}));
    EXPECT_TRUE(same_pixels(read_hdf5_stack({file, "/exchange/denoised"}), output));
    EXPECT_TRUE(same_pixels(read_hdf5_stack({file, "/exchange/data"}), input));
}

TEST(StackWriter, AnOneImageStackBecomesAnHdf5ImageOfRankTwo) {
    ScratchDir dir;
    const Stack image = random_stack({1, 6, 5}, PixelType::int16, 12);
    const std::string location = dir.file("image.h5") + ":/image";
    StackWriter writer(location, image.shape(), image.type(), true);
    writer.write(0, image);
    writer.commit();
    EXPECT_EQ(hdf5::Dataset::open(hdf5::File::open_read(dir.file("image.h5")), "/image").dims(),
              (std::vector<std::int64_t>{6, 5}));
    StackReader reader(location);
    EXPECT_TRUE(reader.two_dimensional());
    EXPECT_TRUE(same_pixels(reader.read(0, 1), image));
    expect_error_naming<ShapeError>(
        [&] {
            StackWriter(dir.file("two.h5") + ":/x", {2, 6, 5}, image.type(), true);
        },
        {"two.h5", "(2, 6, 5)"});
}

TEST(StackWriter, RefusesBeforeAnyWork) {
    ScratchDir dir;
    const Stack stack = random_stack({3, 4, 4}, PixelType::float32, 13);
    const ThreeForms inputs = write_three_forms(dir, stack);
    StackWriteOptions options;
    options.inputs = {StackLocation::parse(inputs.hdf5).tool_file("--input"),
                      StackLocation::parse(inputs.folder).tool_file("--reference"),
                      StackLocation::parse(inputs.file).tool_file("--mask")};
    const auto entries = folder_entries(dir.path());
    // An output that is one of the inputs, whatever its form.
    expect_error_naming<InvalidArgument>(
        [&] { StackWriter(inputs.hdf5, stack.shape(), stack.type(), false, options); },
        {"--output", "--input"});
    expect_error_naming<InvalidArgument>(
        [&] { StackWriter(inputs.folder, stack.shape(), stack.type(), false, options); },
        {"--output", "--reference"});
    expect_error_naming<InvalidArgument>(
        [&] { StackWriter(inputs.file, stack.shape(), stack.type(), false, options); },
        {"--output", "--mask"});
    // Unwritable: a folder that cannot be made, a file in a missing folder.
    const std::string blocker = dir.file("stack.h5");  // a file, so no folder below it
    expect_error_naming<IoError>(
        [&] { StackWriter(blocker + "/sub/out", stack.shape(), stack.type(), false); }, {"sub"});
    expect_error_naming<IoError>(
        [&] {
            StackWriter(dir.file("missing/out.h5") + ":/d", stack.shape(), stack.type(), false);
        },
        {"missing"});
    expect_error_naming<FormatError>(
        [&] { StackWriter(dir.file("d.tif"), stack.shape(), PixelType::float64, false); },
        {"d.tif", "float64"});
    EXPECT_EQ(folder_entries(dir.path()), entries);
}

TEST(StackWriter, AFinishedOutputIsReplacedOnlyWithOverwriteAndOnlyAtCommit) {
    ScratchDir dir;
    const Stack old_stack = random_stack({3, 4, 4}, PixelType::uint16, 14);
    const Stack new_stack = random_stack({5, 4, 4}, PixelType::uint16, 15);
    for (const std::string& location : output_locations(dir)) {
        SCOPED_TRACE(location);
        {
            StackWriter writer(location, old_stack.shape(), old_stack.type(), false);
            writer.write(0, old_stack);
            writer.commit();
        }
        expect_error_naming<IoError>(
            [&] { StackWriter(location, new_stack.shape(), new_stack.type(), false); },
            {location, "(3, 4, 4)", "(5, 4, 4)", "overwriting is off"});
        StackWriteOptions overwrite;
        overwrite.overwrite = true;
        StackWriter writer(location, new_stack.shape(), new_stack.type(), false, overwrite);
        writer.write(0, new_stack);
        EXPECT_TRUE(same_pixels(StackReader(location).read(0, 3), old_stack));
        writer.commit();
        EXPECT_TRUE(same_pixels(StackReader(location).read(0, 5), new_stack));
    }
}

// ---- resuming -------------------------------------------------------------------------------

// Writes `stack` slice by slice to `location` resumably, skipping the slices written already.
void write_remaining(const std::string& location, const Stack& stack,
                     const StackWriteOptions& options, std::int64_t* resumed = nullptr) {
    StackWriter writer(location, stack.shape(), stack.type(), false, options);
    if (resumed) *resumed = writer.resumed_count();
    for (std::int64_t slice = 0; slice < stack.shape().n; ++slice)
        if (!writer.written(slice)) writer.write(slice, slices(stack, slice, 1));
    writer.commit();
}

// Starts a child process that writes the first `done` slices resumably, says so through a pipe,
// and then writes the others over and over until killed; kills it `delay` later with SIGKILL.
void kill_while_writing(const std::string& location, const Stack& stack,
                        const StackWriteOptions& options, std::int64_t done,
                        std::chrono::milliseconds delay) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        close(ready[0]);
        try {
            StackWriter writer(location, stack.shape(), stack.type(), false, options);
            for (std::int64_t slice = 0; slice < done; ++slice)
                if (!writer.written(slice)) writer.write(slice, slices(stack, slice, 1));
            const char byte = 1;
            if (write(ready[1], &byte, 1) != 1) _exit(2);
            for (std::int64_t i = 0;; ++i) {
                const std::int64_t slice = done + i % (stack.shape().n - done);
                writer.write(slice, slices(stack, slice, 1));
            }
        } catch (...) {
            _exit(3);
        }
    }
    close(ready[1]);
    char byte = 0;
    const bool started = read(ready[0], &byte, 1) == 1;
    close(ready[0]);
    std::this_thread::sleep_for(delay);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(started) << "the writing child failed";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
}

TEST(StackWriter, ARunKilledMidWriteResumesToTheOutputOfAnUninterruptedRun) {
    ScratchDir dir;
    const Stack stack = random_stack({12, 64, 48}, PixelType::float32, 16);
    StackWriteOptions options;
    options.resume = true;
    options.attributes = run_attributes;
    const std::vector<std::string> resumed_outputs = output_locations(dir);
    const std::vector<std::string> reference_outputs = {
        dir.file("reference.h5") + ":/results/denoised", dir.file("reference_folder"),
        dir.file("reference.tiff")};
    for (std::size_t form = 0; form < resumed_outputs.size(); ++form) {
        const std::string& location = resumed_outputs[form];
        SCOPED_TRACE(location);
        write_remaining(reference_outputs[form], stack, options);
        // Twice, so that the second run resumes a resumed output.
        kill_while_writing(location, stack, options, 4, std::chrono::milliseconds(20));
        kill_while_writing(location, stack, options, 7, std::chrono::milliseconds(5));
        EXPECT_FALSE(fs::exists(StackLocation::parse(location).path))
            << "an unfinished output looks finished";
        std::int64_t resumed = 0;
        write_remaining(location, stack, options, &resumed);
        EXPECT_GE(resumed, 7);
        EXPECT_LT(resumed, 12 + 1);
        StackReader result(location), reference(reference_outputs[form]);
        EXPECT_TRUE(same_pixels(result.read(0, 12), reference.read(0, 12)));
        EXPECT_TRUE(same_pixels(result.read(0, 12), stack));
        EXPECT_EQ(result.attributes(), reference.attributes());
        EXPECT_EQ(result.two_dimensional(), reference.two_dimensional());
    }
    // TIFF outputs are the same files, byte for byte.
    EXPECT_EQ(file_bytes(dir.file("out.tiff")), file_bytes(dir.file("reference.tiff")));
    EXPECT_EQ(folder_entries(dir.file("out_folder")), folder_entries(dir.file("reference_folder")));
    for (const std::string& name : folder_entries(dir.file("reference_folder")))
        EXPECT_EQ(file_bytes(dir.file("out_folder/" + name)),
                  file_bytes(dir.file("reference_folder/" + name)))
            << name;
    // Nothing left behind but the outputs.
    EXPECT_EQ(folder_entries(dir.path()),
              (std::vector<std::string>{"out.h5", "out.tiff", "out_folder", "reference.h5",
                                        "reference.tiff", "reference_folder"}));
}

TEST(StackWriter, ResumesOnlyTheSameRun) {
    ScratchDir dir;
    const Stack stack = random_stack({6, 8, 8}, PixelType::uint8, 17);
    StackWriteOptions options;
    options.resume = true;
    options.attributes = run_attributes;
    for (const std::string& location : output_locations(dir)) {
        SCOPED_TRACE(location);
        {
            StackWriter writer(location, stack.shape(), stack.type(), false, options);
            writer.write(0, slices(stack, 0, 3));
        }  // kept for a later run: resume is on
        EXPECT_FALSE(fs::exists(StackLocation::parse(location).path));

        StackWriteOptions other_model = options;
        other_model.attributes["model_sha256"] = "ffff";
        expect_error_naming<IoError>(
            [&] { StackWriter(location, stack.shape(), stack.type(), false, other_model); },
            {location, "cannot resume", "model_sha256", "0123abcd", "ffff"});
        StackWriteOptions fewer = options;
        fewer.attributes.erase("version");
        expect_error_naming<IoError>(
            [&] { StackWriter(location, stack.shape(), stack.type(), false, fewer); },
            {location, "cannot resume", "version"});
        expect_error_naming<IoError>(
            [&] {
                StackWriter(location, {7, 8, 8}, stack.type(), false, options);
            },
            {location, "cannot resume", "(6, 8, 8)", "(7, 8, 8)"});
        expect_error_naming<IoError>(
            [&] { StackWriter(location, stack.shape(), PixelType::uint16, false, options); },
            {location, "cannot resume", "uint8", "uint16"});
        {  // the refusals changed nothing: the same run still resumes
            StackWriter writer(location, stack.shape(), stack.type(), false, options);
            EXPECT_EQ(writer.resumed_count(), 3);
            EXPECT_TRUE(writer.written(2));
            EXPECT_FALSE(writer.written(3));
        }
        {  // with overwrite another run starts over
            StackWriteOptions restart = other_model;
            restart.overwrite = true;
            StackWriter writer(location, stack.shape(), stack.type(), false, restart);
            EXPECT_EQ(writer.resumed_count(), 0);
            EXPECT_EQ(writer.written_count(), 0);
        }
        {  // and without resume any run does
            StackWriteOptions fresh = options;
            fresh.resume = false;
            StackWriter writer(location, stack.shape(), stack.type(), false, fresh);
            EXPECT_EQ(writer.resumed_count(), 0);
        }
        EXPECT_TRUE(folder_entries(dir.path()).empty());  // the fresh writer removed it all
    }
}

TEST(StackWriter, ResumingAFinishedRunWritesNothing) {
    ScratchDir dir;
    const Stack stack = random_stack({4, 8, 8}, PixelType::int16, 18);
    StackWriteOptions options;
    options.resume = true;
    options.attributes = run_attributes;
    for (const std::string& location : output_locations(dir)) {
        SCOPED_TRACE(location);
        write_remaining(location, stack, options);
        const fs::path path = StackLocation::parse(location).path;
        const auto modified = fs::last_write_time(path);
        StackWriter writer(location, stack.shape(), stack.type(), false, options);
        EXPECT_EQ(writer.written_count(), 4);
        EXPECT_EQ(writer.resumed_count(), 4);
        writer.commit();
        EXPECT_EQ(fs::last_write_time(path), modified);
        StackWriteOptions other = options;
        other.attributes["model"] = "other.h5";
        expect_error_naming<IoError>(
            [&] { StackWriter(location, stack.shape(), stack.type(), false, other); },
            {location, "exists", "model", "overwriting is off"});
    }
}

TEST(StackWriter, TwoRunsNeverShareAnUnfinishedOutput) {
    ScratchDir dir;
    const Stack stack = random_stack({4, 8, 8}, PixelType::float32, 19);
    StackWriteOptions options;
    options.resume = true;
    for (const std::string& location : output_locations(dir)) {
        SCOPED_TRACE(location);
        int ready[2], finish[2];
        ASSERT_EQ(pipe(ready), 0);
        ASSERT_EQ(pipe(finish), 0);
        const pid_t child = fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            try {
                StackWriter writer(location, stack.shape(), stack.type(), false, options);
                writer.write(0, slices(stack, 0, 1));
                char byte = 1;
                if (write(ready[1], &byte, 1) != 1 || read(finish[0], &byte, 1) != 1) _exit(2);
            } catch (...) {
                _exit(3);
            }
            _exit(0);
        }
        char byte = 0;
        ASSERT_EQ(read(ready[0], &byte, 1), 1);
        expect_error_naming<IoError>(
            [&] { StackWriter(location, stack.shape(), stack.type(), false, options); }, {});
        ASSERT_EQ(write(finish[1], &byte, 1), 1);
        int status = 0;
        waitpid(child, &status, 0);
        for (const int fd : {ready[0], ready[1], finish[0], finish[1]}) close(fd);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        // Once the first run is gone its output resumes.
        write_remaining(location, stack, options);
        EXPECT_TRUE(same_pixels(StackReader(location).read(0, 4), stack));
    }
}

}  // namespace
}  // namespace tomodenoise

namespace tomodenoise {
namespace {

TEST(StackWriter, WritesBesideItsInputInOneHdf5FileWhileReadingIt) {
    ScratchDir dir;
    const std::string file = dir.file("scan.h5");
    const Stack input = random_stack({4, 6, 6}, PixelType::uint16, 20);
    write_hdf5_stack({file, "/exchange/data"}, input);
    for (const bool resume : {false, true}) {
        StackReader reader(file + ":/exchange/data");
        StackWriteOptions options;
        options.resume = resume;
        options.overwrite = true;
        options.inputs = {StackLocation::parse(reader.location()).tool_file("--input")};
        StackWriter writer(file + ":/exchange/copy", reader.shape(), reader.type(), false, options);
        for (std::int64_t slice = 0; slice < 4; ++slice) writer.write(slice, reader.read(slice, 1));
        writer.commit();
        EXPECT_TRUE(same_pixels(reader.read(0, 4), input));
        EXPECT_TRUE(same_pixels(StackReader(file + ":/exchange/copy").read(0, 4), input));
    }
}

}  // namespace
}  // namespace tomodenoise
