#pragma once
/// @file
/// Reading and writing image stacks: HDF5 datasets, TIFF stacks, PNG quick looks.

#include <cstdint>
#include <functional>
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
/// read as complete) and is removed by the next writer of that dataset.
void remove_temporaries_on_signal();

}  // namespace tomodenoise
