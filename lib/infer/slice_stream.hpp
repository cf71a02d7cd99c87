#pragma once
// Where the stack pipeline reads slices from and writes them to: a small interface, so that
// HDF5 datasets, TIFF folders and resumable outputs plug in alike.

#include <cstdint>
#include <string>

#include "tomodenoise/stack.hpp"

namespace tomodenoise {

/// A stack of (n, h, w) float slices read slab by slab, in any order; reads come from one
/// thread at a time.
class SliceSource {
public:
    virtual ~SliceSource() = default;
    virtual StackShape shape() const = 0;
    /// Names the stack in messages ("FILE.h5:/dataset").
    virtual std::string name() const = 0;
    /// Reads slices first .. first + count - 1 into `values` (count x h x w).
    virtual void read(std::int64_t first, std::int64_t count, float* values) = 0;
};

/// Where output slices go, slab by slab in increasing order, from one thread at a time. The
/// caller publishes the result once every slice is written.
class SliceSink {
public:
    virtual ~SliceSink() = default;
    /// Writes slices first .. first + count - 1 from `values` (count x h x w).
    virtual void write(std::int64_t first, std::int64_t count, const float* values) = 0;
};

}  // namespace tomodenoise
