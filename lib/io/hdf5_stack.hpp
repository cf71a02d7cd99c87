#pragma once
// Stacks in HDF5 files, for the readers and writers of lib/io: an open (N, H, W) or (H, W)
// dataset, reading boxes of it, pixel types as HDF5 types, and publishing a complete dataset.

#include <cstdint>
#include <string>

#include "io/hdf5.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// The native HDF5 type of `type`'s pixels.
hid_t hdf5_memory_type(PixelType type);
/// The little-endian type `type` is stored as, whatever the machine (as h5py and most writers).
hid_t hdf5_file_type(PixelType type);

/// An open stack dataset; a rank-2 dataset is one slice.
struct StoredStack {
    hdf5::File file;
    hdf5::Dataset dataset;
    StackShape shape;
    PixelType type;
    bool single_slice;  // rank 2
};

/// Opens the stack at `address`: FormatError naming it and its dims unless rank 2 or 3, or its
/// element type when that is not a pixel type.
StoredStack open_stored_stack(const DatasetAddress& address);
/// Slices [first, first + count), rows [y, y + h), columns [x, x + w) of `stored`;
/// InvalidArgument naming `address` and the shape when the box is outside.
Stack read_stored_tile(const StoredStack& stored, const DatasetAddress& address, std::int64_t first,
                       std::int64_t count, std::int64_t y, std::int64_t x, std::int64_t h,
                       std::int64_t w);
/// An empty stack dataset of `shape` and `type` at `path` (groups created on the way), chunked
/// by slice so that reading or writing a slab touches only its slices; an empty dataset stays
/// contiguous, as HDF5 cannot chunk an empty fixed-size one. `single_slice`: an (H, W) dataset
/// (shape.n must be 1). `allocate_early`: see hdf5::DatasetLayout.
hdf5::Dataset create_stack_dataset(const hdf5::File& file, const std::string& path,
                                   const StackShape& shape, PixelType type, int gzip_level,
                                   bool single_slice = false, bool allocate_early = false);
/// Whether [first, first + count) lies within [0, extent).
bool range_inside(std::int64_t first, std::int64_t count, std::int64_t extent);
/// Gives the complete dataset at `writing_path` its name `path`, replacing an older dataset of
/// that name.
void publish_dataset(const hdf5::File& file, const std::string& writing_path,
                     const std::string& path);
/// Copies the complete dataset `address.dataset` of the file `source` into the existing file
/// `address.file` under a temporary name and then renames it, as a writer on an existing file
/// does; IoError when the dataset is there and `overwrite` is off. On failure the file keeps
/// what it held.
void add_dataset_to_existing_file(const std::string& source, const DatasetAddress& address,
                                  bool overwrite);

}  // namespace tomodenoise
