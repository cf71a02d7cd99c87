// What writers may replace and what they must not: outputs that are not regular files, outputs
// that are a tool's inputs, several writers of one new HDF5 file, and temporary files left by
// processes that were killed.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <list>

#include "core/network.hpp"
#include "io/hdf5.hpp"
#include "io/temporary_file.hpp"
#include "keras/model_file.hpp"
#include "layers/convolution.hpp"
#include "output_checks.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/simulate.hpp"

namespace tomodenoise {
namespace {

namespace fs = std::filesystem;
using testing::expect_error_naming;
using testing::file_bytes;
using testing::folder_entries;
using testing::ScratchDir;

Stack small_stack(std::int64_t n = 2) {
    const StackShape shape{n, 6, 7};
    const auto values = testing::random_values(static_cast<std::size_t>(shape.pixels()), 5);
    return Stack::from_float(shape, values.data());
}

void save_small_network(const std::string& path) {
    Network net;
    net.add_input("input_1", 1);
    ConvolutionConfig conv;
    conv.filters = 1;
    net.add<ConvolutionLayer>({"input_1"}, "conv", conv);
    net.build({Dims{1, 1, 8, 8}});
    net.initialize(3);
    save_network(path, net);
}

// Every writer of the library, each writing the output file `path`.
std::vector<std::pair<std::string, std::function<void(const std::string&)>>> every_writer() {
    SimulationOptions sim;
    sim.count = 1;
    sim.test_count = 1;
    sim.size = 8;
    return {
        {"write_hdf5_stack",
         [](const std::string& p) {
             write_hdf5_stack({p, "/s"}, small_stack());
         }},
        {"Hdf5StackWriter",
         [](const std::string& p) {
             Hdf5StackWriter writer({p, "/s"}, {1, 6, 7}, PixelType::float32);
             writer.write_slab(0, small_stack(1));
             writer.commit();
         }},
        {"write_tomogan_dataset",
         [](const std::string& p) {
             write_tomogan_dataset(p, {small_stack(), small_stack(), small_stack(), small_stack()});
         }},
        {"write_simulated_dataset",
         [sim](const std::string& p) {
             SimulationOptions n2n = sim;
             n2n.kind = SimulationKind::n2n;
             write_simulated_dataset(p, simulate(n2n));
         }},
        {"save_network", [](const std::string& p) { save_small_network(p); }},
        {"write_multipage_tiff",
         [](const std::string& p) { write_multipage_tiff(p, small_stack()); }},
        {"write_tiff_series",
         [](const std::string& p) {
             TiffSeries series;
             series.folder = fs::path(p).parent_path().string();
             series.prefix = fs::path(p).filename().string();
             series.suffix = "";
             series.digits = 0;
             write_tiff_series(series, small_stack(1));  // slice 0 is PREFIX + "0"
         }},
        {"write_png_slice", [](const std::string& p) { write_png_slice(p, small_stack(), 0); }},
        {"write_png_montage",
         [](const std::string& p) {
             const Stack a = small_stack();
             write_png_montage(p, {a, a}, 0);
         }},
    };
}

// The name write_tiff_series gives slice 0 of the series every_writer() asks for at `path`.
std::string as_written(const std::string& writer, const std::string& path) {
    return writer == "write_tiff_series" ? path + "0" : path;
}

TEST(OutputSafety, NoWriterReplacesAFifoAFolderOrALinkToADevice) {
    for (const auto& [writer, write] : every_writer()) {
        SCOPED_TRACE(writer);
        ScratchDir dir;
        const std::string fifo = dir.file("fifo"), folder = dir.file("folder"),
                          device_link = dir.file("null"), dangling = dir.file("dangling");
        ASSERT_EQ(mkfifo(as_written(writer, fifo).c_str(), 0600), 0);
        fs::create_directory(as_written(writer, folder));
        // rename() over a link replaces the link, never /dev/null itself.
        fs::create_symlink("/dev/null", as_written(writer, device_link));
        fs::create_symlink(dir.file("absent"), as_written(writer, dangling));

        expect_error_naming<IoError>([&] { write(fifo); }, {"FIFO", "not a regular file"});
        expect_error_naming<IoError>([&] { write(folder); }, {"folder"});
        expect_error_naming<IoError>([&] { write(device_link); }, {"link to a character device"});
        expect_error_naming<IoError>([&] { write(dangling); }, {"link to nothing"});
        EXPECT_TRUE(fs::is_fifo(fs::symlink_status(as_written(writer, fifo))));
        EXPECT_TRUE(fs::is_directory(fs::symlink_status(as_written(writer, folder))));
        EXPECT_EQ(fs::read_symlink(as_written(writer, device_link)), "/dev/null");
        EXPECT_TRUE(fs::is_symlink(fs::symlink_status(as_written(writer, dangling))));
        EXPECT_EQ(folder_entries(dir.path()).size(), 4u);  // no temporary left either
    }
}

TEST(OutputSafety, EveryWriterWritesThroughALinkToARegularFile) {
    for (const auto& [writer, write] : every_writer()) {
        SCOPED_TRACE(writer);
        ScratchDir dir;
        fs::create_directory(dir.file("data"));
        const std::string target = as_written(writer, dir.file("data/target"));
        const std::string link = dir.file("link");
        // An HDF5 file, as the stack writers add their dataset to an existing file.
        write_hdf5_stack({target, "/old"}, small_stack(3));
        const std::string old_bytes = file_bytes(target);
        fs::create_symlink(target, as_written(writer, link));
        write(link);
        EXPECT_EQ(fs::read_symlink(as_written(writer, link)), target);
        EXPECT_NE(file_bytes(target), old_bytes);
        EXPECT_EQ(folder_entries(dir.file("data")),
                  std::vector<std::string>{fs::path(target).filename().string()});
    }
}

TEST(OutputSafety, AnOutputThatIsAnInputIsRefusedWhateverItsName) {
    ScratchDir dir;
    const std::string data = dir.file("data.h5");
    write_hdf5_stack({data, "/a"}, small_stack());
    fs::create_hard_link(data, dir.file("hard.h5"));
    fs::create_symlink(data, dir.file("soft.h5"));
    const std::string spelled = (dir.path() / "." / "data.h5").string();
    for (const std::string& output : {data, dir.file("hard.h5"), dir.file("soft.h5"), spelled}) {
        SCOPED_TRACE(output);
        expect_error_naming<InvalidArgument>(
            [&] {
                check_output_is_not_an_input({"--out", output, ""}, {{"--data", data, ""}});
            },
            {"--out '" + output + "'", "--data '" + data + "'", "same file"});
        // A dataset in an input file that is read whole is refused as well.
        EXPECT_THROW(
            check_output_is_not_an_input({"--out", output, "/new"}, {{"--model", data, ""}}),
            InvalidArgument);
    }
    EXPECT_NO_THROW(
        check_output_is_not_an_input({"--out", dir.file("other.h5"), ""}, {{"--data", data, ""}}));
    write_hdf5_stack({dir.file("other.h5"), "/a"}, small_stack());
    EXPECT_NO_THROW(
        check_output_is_not_an_input({"--out", dir.file("other.h5"), ""}, {{"--data", data, ""}}));
    EXPECT_EQ(read_hdf5_stack({data, "/a"}).to_float(), small_stack().to_float());
}

TEST(OutputSafety, ADatasetBesideTheInputIsAllowedTheInputDatasetIsNot) {
    ScratchDir dir;
    const std::string data = dir.file("data.h5");
    write_hdf5_stack({data, "/group/a"}, small_stack());
    {
        const hdf5::File file = hdf5::File::open_read_write(data);
        ASSERT_GE(
            H5Lcreate_hard(file.id(), "/group/a", file.id(), "/alias", H5P_DEFAULT, H5P_DEFAULT),
            0);
        ASSERT_GE(H5Lcreate_soft("/group/a", file.id(), "/soft", H5P_DEFAULT, H5P_DEFAULT), 0);
    }
    const ToolFile input{"--input", data, "/group/a"};
    EXPECT_NO_THROW(check_output_is_not_an_input({"--output", data, "/group/b"}, {input}));
    EXPECT_NO_THROW(check_output_is_not_an_input({"--output", data, "/new/b"}, {input}));
    for (const char* name : {"/group/a", "/alias", "/soft"}) {
        SCOPED_TRACE(name);
        expect_error_naming<InvalidArgument>(
            [&] {
                check_output_is_not_an_input({"--output", dir.file("./data.h5"), name}, {input});
            },
            {"same dataset", "--input '" + data + ":/group/a'"});
    }
}

TEST(OutputSafety, ANonRegularOutputIsRefusedBeforeAnyWork) {
    ScratchDir dir;
    ASSERT_EQ(mkfifo(dir.file("fifo").c_str(), 0600), 0);
    expect_error_naming<IoError>(
        [&] {
            check_output_is_not_an_input({"--out", dir.file("fifo"), ""}, {});
        },
        {dir.file("fifo"), "FIFO"});
}

TEST(Hdf5StackWriter, TwoWritersOfOneNewFileBothLand) {
    ScratchDir dir;
    const std::string file = dir.file("new.h5");
    const Stack one = small_stack(), two = small_stack(3);
    // Both start while the file does not exist; the second commit finds it there.
    Hdf5StackWriter first({file, "/one"}, one.shape(), one.type());
    Hdf5StackWriter second({file, "/deeper/two"}, two.shape(), two.type());
    first.write_slab(0, one);
    second.write_slab(0, two);
    first.commit();
    second.commit();
    EXPECT_EQ(read_hdf5_stack({file, "/one"}).to_float(), one.to_float());
    EXPECT_EQ(read_hdf5_stack({file, "/deeper/two"}).to_float(), two.to_float());
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"new.h5"});
    EXPECT_EQ(hdf5::child_names(hdf5::File::open_read(file), "/deeper"),
              std::vector<std::string>{"two"});
}

TEST(Hdf5StackWriter, ASecondWriterOfTheSameNewDatasetFailsWithoutOverwrite) {
    ScratchDir dir;
    const std::string file = dir.file("new.h5");
    const Stack one = small_stack(), two = small_stack(3);
    Hdf5WriteOptions keep;
    keep.overwrite = false;
    Hdf5StackWriter first({file, "/s"}, one.shape(), one.type(), keep);
    {
        Hdf5StackWriter second({file, "/s"}, two.shape(), two.type(), keep);
        first.write_slab(0, one);
        second.write_slab(0, two);
        first.commit();
        expect_error_naming<IoError>([&] { second.commit(); },
                                     {file + ":/s", "another writer", "overwriting is off"});
    }
    EXPECT_EQ(read_hdf5_stack({file, "/s"}).to_float(), one.to_float());
    EXPECT_EQ(hdf5::child_names(hdf5::File::open_read(file), "/"), std::vector<std::string>{"s"});
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"new.h5"});

    // With overwrite on (the default), the later commit replaces the dataset, not the file.
    write_hdf5_stack({file, "/other"}, one);
    Hdf5StackWriter third({file, "/s"}, two.shape(), two.type());
    third.write_slab(0, two);
    third.commit();
    EXPECT_EQ(read_hdf5_stack({file, "/s"}).to_float(), two.to_float());
    EXPECT_EQ(read_hdf5_stack({file, "/other"}).to_float(), one.to_float());
}

TEST(TemporaryFile, NamesCarryHostAndProcessAndStaleOnesAreRemoved) {
    ScratchDir dir;
    using testing::ended_process_id;
    using testing::temporary_name;
    const std::string dead = temporary_name("out.h5", ended_process_id());
    const std::string dead_other_name = temporary_name("x.tiff", ended_process_id(), "89abcdef");
    const std::string live = temporary_name("out.h5", getppid());
    const std::string other_host =
        ".out.h5.tmp-elsewhere.example-" + std::to_string(ended_process_id()) + "-0123abcd";
    const std::string not_ours = ".out.h5.tmp-notes";
    for (const std::string& name : {dead, dead_other_name, live, other_host, not_ours})
        std::ofstream(dir.file(name)) << "left";

    {
        TemporaryFile temporary(dir.file("out.h5"));
        const std::string name = fs::path(temporary.path()).filename().string();
        const std::string expected = temporary_name("out.h5", getpid(), "");
        EXPECT_EQ(name.substr(0, expected.size()), expected);
        EXPECT_EQ(name.size(), expected.size() + 8) << name;  // 8 random hex digits
    }
    std::vector<std::string> kept = {live, other_host, not_ours};
    std::sort(kept.begin(), kept.end());
    EXPECT_EQ(folder_entries(dir.path()), kept);
}

// Runs `body` in a child process and returns its wait status.
int run_in_child(const std::function<void()>& body) {
    const pid_t child = fork();
    if (child == 0) {
        body();
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return status;
}

TEST(TemporaryFile, TheSignalHandlerRemovesEveryTemporaryAndEndsByTheSignal) {
    for (const int signal_number : {SIGINT, SIGTERM}) {
        SCOPED_TRACE(signal_number);
        ScratchDir dir;
        const int status = run_in_child([&] {
            signal(signal_number, SIG_DFL);
            remove_temporaries_on_signal();
            // More than a block of the handler's slots, and one committed and one dropped.
            std::list<TemporaryFile> files;
            for (int i = 0; i < 300; ++i) {
                files.emplace_back(dir.file("slice_" + std::to_string(i)));
                std::ofstream(files.back().path()) << i;
            }
            files.front().commit();
            files.pop_back();
            kill(getpid(), signal_number);
            _exit(0);  // not reached
        });
        ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
        EXPECT_EQ(WTERMSIG(status), signal_number);
        EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"slice_0"});
    }
}

TEST(TemporaryFile, AnIgnoredSignalStaysIgnored) {
    ScratchDir dir;
    const int status = run_in_child([&] {
        signal(SIGINT, SIG_IGN);
        remove_temporaries_on_signal();
        TemporaryFile temporary(dir.file("out"));
        std::ofstream(temporary.path()) << "x";
        kill(getpid(), SIGINT);
        temporary.commit();
    });
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
    EXPECT_EQ(folder_entries(dir.path()), std::vector<std::string>{"out"});
}

}  // namespace
}  // namespace tomodenoise
