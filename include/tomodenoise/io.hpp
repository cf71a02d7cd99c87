#pragma once
/// @file
/// Reading and writing image stacks: HDF5 datasets, TIFF stacks, PNG quick looks.

#include <cstdint>
#include <string>

#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// Where a dataset lives: "FILE.h5:/group/dataset".
struct DatasetAddress {
    std::string file;
    std::string dataset;  ///< absolute path inside the file, starting with '/'
    /// Parses "FILE:/path"; throws InvalidArgument naming `text` when there is no ":/".
    static DatasetAddress parse(const std::string& text);
    std::string to_string() const;
};

/// How write_hdf5_stack stores a dataset.
struct Hdf5WriteOptions {
    int gzip_level = 0;        ///< 0: no compression; 1..9: gzip (deflate) level
    bool overwrite = true;     ///< replace an existing dataset of the same name
};

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
/// dataset is added to it.
void write_hdf5_stack(const DatasetAddress& address, const Stack& stack,
                      const Hdf5WriteOptions& options = {});

/// The TomoGAN training file: train_ns, train_gt, test_ns, test_gt, each (N, H, W).
struct TomoGanDataset {
    Stack train_ns, train_gt, test_ns, test_gt;
};
TomoGanDataset read_tomogan_dataset(const std::string& file);
/// Writes all four datasets to a new file; a failed write leaves no file behind.
void write_tomogan_dataset(const std::string& file, const TomoGanDataset& data,
                           const Hdf5WriteOptions& options = {});

}  // namespace tomodenoise
