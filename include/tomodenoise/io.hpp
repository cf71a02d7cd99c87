#pragma once
/// @file
/// Reading and writing image stacks: HDF5 datasets, TIFF stacks, PNG quick looks.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// Where a dataset lives: "FILE.h5:/group/dataset".
struct DatasetAddress {
    std::string file;
    std::string dataset;  ///< absolute path inside the file, starting with '/'
    /// Parses "FILE:/path", splitting at the last ":/" (dataset names such as "kernel:0" keep
    /// their colon); throws InvalidArgument naming `text` when there is no ":/", no file name
    /// or no dataset name.
    static DatasetAddress parse(const std::string& text);
    std::string to_string() const;
};

/// How write_hdf5_stack stores a dataset.
struct Hdf5WriteOptions {
    int gzip_level = 0;     ///< 0: no compression; 1..9: gzip (deflate) level
    bool overwrite = true;  ///< replace an existing dataset of the same name
};

// Stacks are stored as rank-3 datasets (N, H, W) of uint8, uint16, int16, float32 or float64
// (any byte order). A rank-2 dataset (H, W) reads as one slice, (1, H, W). Another rank or
// element type is a FormatError naming the file, the dataset and its dims or type. A box
// outside the dataset is an InvalidArgument naming the dataset and its dims.

/// The whole (N, H, W) dataset, in its stored pixel type.
Stack read_hdf5_stack(const DatasetAddress& address);
/// Slices [first, first + count).
Stack read_hdf5_slab(const DatasetAddress& address, std::int64_t first, std::int64_t count);
/// A hyperslab: slices [first, first + count), rows [y, y + h), columns [x, x + w).
Stack read_hdf5_tile(const DatasetAddress& address, std::int64_t first, std::int64_t count,
                     std::int64_t y, std::int64_t x, std::int64_t h, std::int64_t w);
/// Shape and pixel type without reading the data.
StackShape hdf5_stack_shape(const DatasetAddress& address, PixelType* type = nullptr);

/// Writes a whole stack, chunked by slice. The file is created if missing, otherwise the
/// dataset is added to it. Same guarantees as Hdf5StackWriter.
void write_hdf5_stack(const DatasetAddress& address, const Stack& stack,
                      const Hdf5WriteOptions& options = {});

/// Writes an (N, H, W) dataset slab by slab, for stacks larger than memory.
///
/// Nothing that looks complete exists before commit(): a new file is written under a temporary
/// name in the same folder and renamed by commit(); in an existing file the dataset is written
/// under a temporary name in the same group and renamed by commit() (replacing an older
/// dataset of that name only then). A writer destroyed before commit() (an exception, an early
/// return) removes what it wrote.
///
/// Outputs (as every writer below): a path that exists and is not a regular file (a folder,
/// FIFO, device) is refused with IoError; a symbolic link to a regular file is written through.
///
/// Writers at once: one object is not thread-safe. Several writers of one new file all land:
/// the first to commit creates the file, a later one adds its dataset to it (IoError if the
/// dataset is there by then and options.overwrite is off; the file is never replaced). A
/// writer opening an existing file holds it, through HDF5's file locking, until commit or
/// destruction; a writer in another process then fails to open it, with an IoError naming it.
class Hdf5StackWriter {
public:
    /// Prepares an empty dataset of `shape` and `type` (n, h, w all positive), chunked by
    /// slice; IoError when the dataset exists and options.overwrite is off.
    Hdf5StackWriter(const DatasetAddress& address, StackShape shape, PixelType type,
                    const Hdf5WriteOptions& options = {});
    ~Hdf5StackWriter();
    Hdf5StackWriter(const Hdf5StackWriter&) = delete;
    Hdf5StackWriter& operator=(const Hdf5StackWriter&) = delete;

    /// Writes `slab` (same type, H and W) as slices [first, first + slab.shape().n).
    void write_slab(std::int64_t first, const Stack& slab);
    /// Publishes the dataset; IoError naming the slices never written, if any.
    void commit();

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// The TomoGAN training file: train_ns, train_gt, test_ns, test_gt, each (N, H, W).
struct TomoGanDataset {
    Stack train_ns, train_gt, test_ns, test_gt;
};
/// Reads the four datasets; ShapeError naming the file when a noisy stack and its label
/// differ in shape.
TomoGanDataset read_tomogan_dataset(const std::string& file);
/// Writes all four datasets to a new file; a failed write leaves no file behind.
void write_tomogan_dataset(const std::string& file, const TomoGanDataset& data,
                           const Hdf5WriteOptions& options = {});

// ---- TIFF stacks -----------------------------------------------------------------------------
// Pixels are one grey sample: 8- or 16-bit unsigned integers, 16-bit signed integers or 32-bit
// floats (uint8, uint16, int16, float32); anything else is a FormatError naming the file.

/// A folder of 2D TIFFs named PREFIX + index + SUFFIX, such as recon_00000.tiff.
struct TiffSeries {
    std::string folder;
    std::string prefix;            ///< "recon_"
    std::string suffix = ".tiff";  ///< everything after the index, extension included
    int digits = 5;                ///< zero-padded width of the index; 0: not padded
    std::int64_t first = 0;        ///< index of slice 0
    std::int64_t count = 0;        ///< files found (set by find_tiff_series)
    /// File name of slice `slice` (first + slice, padded to `digits`), without the folder.
    std::string file_name(std::int64_t slice) const;
};

/// Finds the series in `folder`: every *.tif / *.tiff file (hidden files skipped) must share
/// one prefix and suffix around its last run of digits, with consecutive indices. FormatError
/// naming the folder on mixed names, a gap or a repeated index; IoError when no TIFF is found.
TiffSeries find_tiff_series(const std::string& folder);
/// A folder (as find_tiff_series) or one multi-page TIFF file (one slice per page); all
/// images must share size and pixel type, else FormatError naming the folder or file.
Stack read_tiff_stack(const std::string& path);
/// One uncompressed TIFF per slice, named by `series` (folder created if missing). Files of
/// the series from an earlier, longer stack would be read back as part of this one, so they
/// are refused (IoError naming one). All files are written under temporary names first and
/// renamed once every slice is written.
void write_tiff_series(const TiffSeries& series, const Stack& stack);
/// One multi-page uncompressed TIFF of 1 to 65535 pages (the PageNumber tag's range; BigTIFF
/// past 2 GiB), written under a temporary name.
void write_multipage_tiff(const std::string& file, const Stack& stack);

// ---- PNG quick looks ---------------------------------------------------------------------------

/// How quick looks map values to 8-bit grey.
struct QuickLookOptions {
    /// The display window: values at or below the low percentile are black, at or above the
    /// high one white, linear between (percentiles of the finite values, as percentile()).
    double low_percent = 0.5, high_percent = 99.5;
    int gap = 4;  ///< white columns between montage panels
};

/// Slice `slice` of `stack` as an 8-bit grey PNG; NaN is black. Written under a temporary name.
void write_png_slice(const std::string& file, const Stack& stack, std::int64_t slice,
                     const QuickLookOptions& options = {});
/// Slice `slice` of every panel side by side (noisy | output | clean), with one display window
/// taken over all panels together so that they compare in the same units. Panels must share
/// H and W; InvalidArgument naming the file otherwise.
void write_png_montage(const std::string& file,
                       const std::vector<std::reference_wrapper<const Stack>>& panels,
                       std::int64_t slice, const QuickLookOptions& options = {});

// ---- Tools' inputs and outputs --------------------------------------------------------------

/// A file, or one dataset in an HDF5 file, that a tool reads or writes, with the command-line
/// option that named it (for messages).
struct ToolFile {
    std::string option;  ///< "--data"
    std::string file;
    std::string dataset;  ///< "/noisy": a dataset in `file`; empty: the whole file
};

/// Checks, before any work, that a tool may write `output`: IoError when it exists and is not a
/// regular file (a folder, FIFO or device; a symbolic link counts as the file it points to), and
/// InvalidArgument naming both options when it is one of `inputs`, which writing it would
/// destroy. Files are compared by identity (device and inode), so another spelling, a hard link
/// or a symbolic link of an input is that input; where output and input both name datasets of
/// one file, only the same dataset (by HDF5 object, whatever its link name) is refused, and a
/// new dataset beside an input is allowed.
void check_output_is_not_an_input(const ToolFile& output, const std::vector<ToolFile>& inputs);

/// Creates the folder `folder.file` (and its parents) when missing and proves it writable now,
/// so that a bad output folder fails before the work rather than after it; IoError naming
/// `folder.option` and the folder otherwise.
void prepare_output_folder(const ToolFile& folder);

/// Makes SIGINT, SIGTERM and SIGHUP remove the temporary files of the outputs this process is
/// writing (the hidden ".NAME.tmp-HOST-PID-RANDOM" files beside them) and then end the process
/// by that signal, as it would have ended without the call (its exit status says so). For
/// tools, called once at the start of main(); it replaces earlier handlers of those signals,
/// except that an ignored signal (the SIGINT of a background job, nohup's SIGHUP) stays ignored.
/// Temporaries of a process that died otherwise (SIGKILL, a crash) are removed by the next
/// writer in their folder on the same host, once their process no longer runs. A dataset being
/// written into an existing HDF5 file keeps its temporary name (".NAME.tmp-writing", never
/// read as complete) and is removed by the next writer of that dataset. Unfinished StackWriter
/// outputs (".NAME.partial") are not temporaries: they are kept for a later run to resume.
void remove_temporaries_on_signal();

// ---- Stacks in any format, streamed ------------------------------------------------------------
// A stack location is one of:
//   "FILE.h5:/group/dataset"  an HDF5 dataset (DatasetAddress), (N, H, W) or (H, W);
//   "FOLDER"                  a folder of 2D TIFFs, one per slice (find_tiff_series);
//   "FILE.tif" / "FILE.tiff"  one multi-page TIFF, one slice per page.
// Text with ":/" is an HDF5 address. Otherwise an existing folder, or for an output a name not
// ending in .tif or .tiff, is a TIFF folder; the rest is a multi-page TIFF file.

/// The three forms of a stack location.
enum class StackFormat { hdf5, tiff_folder, tiff_file };

/// A parsed stack location.
struct StackLocation {
    StackFormat format = StackFormat::hdf5;
    std::string path;     ///< the HDF5 file, the TIFF folder or the TIFF file
    std::string dataset;  ///< HDF5 only: "/group/dataset"
    /// Parses `text` as above; InvalidArgument naming it for an empty text, an HDF5 address
    /// without a dataset name, or an HDF5 file name (*.h5, *.hdf5, *.hdf, *.nxs) without ":/".
    static StackLocation parse(const std::string& text);
    std::string to_string() const;  ///< the text parse() reads back
    /// The location as a tool's file, for check_output_is_not_an_input and messages.
    ToolFile tool_file(const std::string& option) const;
};

/// Slices [first, first + count) of a stack.
struct SliceRange {
    std::int64_t first = 0, count = 0;
};

/// Parses `--slices A:B` for a stack of `slices` slices, as Python slices: A and B count from
/// the end when negative, and an empty A or B means the stack's start or end ("10:", ":-1").
/// InvalidArgument naming `option`, the text and `slices` unless the result is 0 <= A < B <= N
/// (nothing is clamped: a range outside the stack is a mistake, not a request for less).
SliceRange parse_slice_range(const std::string& text, std::int64_t slices,
                             const std::string& option = "--slices");

/// Reads any stack location slab by slab, reading only the slices asked for: an HDF5 hyperslab,
/// only those TIFF files of a folder, only those pages of a multi-page TIFF (the file stays
/// open and pages are reached by their directory, never by reading the pages before them). An
/// HDF5 file is opened for each read and closed after it, so that a StackWriter of the same
/// process may add a dataset to the file meanwhile (HDF5 refuses to open for writing a file
/// that is open read-only).
///
/// Opening checks everything a later read could trip on, so that a bad input fails before any
/// work: the dataset's rank (1 or 4 and up: FormatError naming the file, dataset and dims) and
/// pixel type; for a folder, the series (a gap, a repeated index or mixed names: FormatError
/// naming the folder and the file at fault) and every file's size and pixel type (mixed:
/// FormatError naming both files); for a multi-page TIFF, every page's size and pixel type.
///
/// Threads: one object is used by one thread at a time (a pipeline's serial input stage);
/// objects are independent, so several threads may each read through their own reader.
class StackReader {
public:
    /// Opens `location` (see StackLocation); IoError when it cannot be opened or read.
    explicit StackReader(const std::string& location);
    explicit StackReader(const StackLocation& location);
    ~StackReader();
    StackReader(StackReader&&) noexcept;
    StackReader& operator=(StackReader&&) noexcept;
    StackReader(const StackReader&) = delete;
    StackReader& operator=(const StackReader&) = delete;

    /// The location as given, for messages.
    const std::string& location() const;
    StackFormat format() const;
    /// (N, H, W); an (H, W) source reads as (1, H, W).
    StackShape shape() const;
    /// The stored pixel type, which read() returns.
    PixelType type() const;
    /// Whether the source is one (H, W) image (a rank-2 dataset or a single-page TIFF file), so
    /// that a tool writes an (H, W) output for it.
    bool two_dimensional() const;
    /// The string metadata stored with the stack: an HDF5 dataset's string attributes, or the
    /// attributes a StackWriter put in a TIFF's ImageDescription (a JSON object; other
    /// descriptions give none).
    std::map<std::string, std::string> attributes() const;

    /// Slices [first, first + count) in the stored type; InvalidArgument naming the location
    /// and its shape when the range is outside the stack.
    Stack read(std::int64_t first, std::int64_t count);

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// How a StackWriter treats what it finds at its location.
struct StackWriteOptions {
    /// Replace a finished output found there (at commit(), never before), and start over where
    /// an unfinished one cannot be resumed. Off: a finished output there is an IoError.
    bool overwrite = false;
    /// Continue an unfinished output of the same location left by an earlier run (killed,
    /// failed, interrupted) when its shape, pixel type, dimensionality and attributes are those
    /// given now; a finished one with the same signature counts as all written. Off: an
    /// unfinished output is discarded and the stack written from the start.
    bool resume = false;
    /// Metadata stored with the stack (the model file, its checksum, the options, the library
    /// version): string attributes of an HDF5 dataset; in TIFF, one JSON object in every
    /// page's ImageDescription. They are also the run's signature that resume compares.
    std::map<std::string, std::string> attributes;
    /// The option that named the output and the inputs of the run, for the checks before any
    /// work: an output that is one of the inputs is refused (check_output_is_not_an_input;
    /// for a TIFF folder, also an input inside it).
    std::string option = "--output";
    std::vector<ToolFile> inputs;
};

/// Writes a stack to any location, slab by slab, in any order, resumably.
///
/// Nothing that looks complete exists before commit(). Until then the stack lives under a
/// hidden name that is stable for the location, so that a later run finds it:
///   HDF5, new file:       ".NAME.partial" beside the file, holding the group below;
///   HDF5, existing file:  the group ".DATASET.partial" beside the dataset, holding "data" and
///                         "written" (one uint8 per slice);
///   TIFF folder or file:  the folder ".NAME.partial" beside it, holding one finished TIFF
///                         per written slice and ".signature.json".
/// commit() renames into place (a TIFF folder atomically; a multi-page TIFF is assembled from
/// the slice files under a temporary name first; in an existing HDF5 file the dataset is
/// renamed, replacing an older one only then).
///
/// A slice counts as written only once its data is flushed to the operating system: for HDF5
/// the slab is written and flushed, then its "written" flags are set and flushed (the data's
/// chunks are placed when the dataset is created, so that slice writes never change the file's
/// structure); for TIFF the slice's file is closed and then renamed to its final name in the
/// partial folder. A process killed at any moment therefore leaves an output that a rerun with
/// `resume` reopens, learning from written() which slices to skip; a slice caught mid-write is
/// written again. Finishing a resumed output gives the same stack and attributes as an
/// uninterrupted run.
///
/// Two runs never share an unfinished output: the HDF5 partial file, or the existing file,
/// stays locked (HDF5 file locking) by its writer until commit() or destruction, and a second
/// writer fails to open it with an IoError. TIFF partial folders are not locked.
///
/// A writer destroyed before commit() keeps its unfinished output when `resume` is set (an
/// exception on the way, one failing MPI rank: the next run resumes), and removes it otherwise.
/// remove_temporaries_on_signal() leaves unfinished outputs alone for the same reason; a later
/// writer of the location resumes or discards them.
///
/// Threads: one object is used by one thread at a time (a pipeline's serial output stage).
class StackWriter {
public:
    /// Prepares the output and checks, before any work: `shape` positive, `type` storable
    /// (TIFF: no float64), `two_dimensional` only with shape.n == 1 (the HDF5 dataset is then
    /// (H, W)); that the output is none of options.inputs; that a finished output there is
    /// refused unless options.overwrite (IoError naming its shape when it differs), or resumed
    /// when options.resume and its signature matches; that an unfinished one is resumed only
    /// with the same signature (IoError saying which of shape, type or attribute differs, unless
    /// options.overwrite, which starts over); and that the output can be written (the partial
    /// output is created now: IoError naming the location).
    StackWriter(const std::string& location, StackShape shape, PixelType type, bool two_dimensional,
                const StackWriteOptions& options = {});
    ~StackWriter();
    StackWriter(StackWriter&&) noexcept;
    StackWriter& operator=(StackWriter&&) noexcept;
    StackWriter(const StackWriter&) = delete;
    StackWriter& operator=(const StackWriter&) = delete;

    const std::string& location() const;
    StackShape shape() const;
    PixelType type() const;
    /// Whether slice `slice` is written: by this writer, or by an earlier run it resumed.
    bool written(std::int64_t slice) const;
    /// Slices written so far.
    std::int64_t written_count() const;
    /// Slices an earlier run had written when this writer resumed its output (0 for a fresh one).
    std::int64_t resumed_count() const;

    /// Writes `slab` (this type, H and W) as slices [first, first + slab.shape().n); slices
    /// already written are written again. InvalidArgument naming the location for a slab that
    /// does not fit; IoError when writing fails (the slices stay unwritten).
    void write(std::int64_t first, const Stack& slab);
    /// Publishes the output; IoError naming the slices never written, if any. A second call does
    /// nothing.
    void commit();
    /// Removes the unfinished output now, even when `resume` is set; never throws.
    void discard() noexcept;

    /// Publishes the outputs of `writers` as one set, in their order, so that the last one is
    /// there only once all the others are (a run killed meanwhile leaves the set without it).
    /// First, with overwrite, the finished outputs they replace are removed, so that no set
    /// mixes these outputs with an earlier run's. When one fails, those published by this call
    /// are removed again and the others discarded, then its error is rethrown: none of the set
    /// is left, nor, with overwrite, what it replaced. IoError naming the slices never written,
    /// before anything changes, when one is incomplete.
    static void commit_together(std::vector<StackWriter>& writers);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace tomodenoise
