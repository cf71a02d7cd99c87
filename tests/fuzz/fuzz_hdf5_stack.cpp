// libFuzzer target: HDF5 stack files through the readers (hdf5_stack_shape, read_hdf5_stack,
// read_hdf5_slab, read_hdf5_tile) on every object the file names. Any input must read or throw
// a tomodenoise::Error; another exception, a crash or a huge allocation is a finding.

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input_file.hpp"
#include "io/hdf5.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/io.hpp"

namespace {

namespace td = tomodenoise;

// Objects visited per input: enough for the seeds' layouts, few enough to keep inputs fast.
constexpr int max_objects = 32;
// A dataset created and not (fully) written legitimately claims more than its file holds (it
// reads as its fill value), and the readers allocate what is asked up to the machine's memory:
// whole reads stay below libFuzzer's -malloc_limit_mb, larger stacks are read by a tile.
constexpr std::int64_t max_read_pixels = std::int64_t(64) << 20;

void read_stack(const td::DatasetAddress& address) {
    try {
        const td::StackShape shape = td::hdf5_stack_shape(address);
        if (shape.pixels() <= max_read_pixels) {
            td::read_hdf5_stack(address);
            td::read_hdf5_slab(address, shape.n / 2, shape.n - shape.n / 2);
        } else if (shape.h * shape.w > max_read_pixels) {
            return;  // even one slice is too large for the fuzzer's memory limit
        }
        td::read_hdf5_tile(address, 0, shape.n > 0 ? 1 : 0, shape.h / 3, shape.w / 4, shape.h / 2,
                           shape.w / 2);
    } catch (const td::Error&) {
        // Not a readable stack: refused with a clear error, as it should be.
    }
}

// Every dataset below `group` (depth first, at most max_objects objects in all).
void read_stacks_below(const td::hdf5::File& file, const std::string& group, int& visited) {
    std::vector<std::string> children;
    try {
        children = td::hdf5::child_names(file, group);
    } catch (const td::Error&) {
        return;  // not a group (or an unreadable one)
    }
    for (const std::string& name : children) {
        if (++visited > max_objects) return;
        const std::string path = (group == "/" ? "/" : group + "/") + name;
        read_stack({file.path(), path});
        read_stacks_below(file, path, visited);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const td::fuzz::InputFile input;
    input.write(data, size);
    try {
        const td::hdf5::File file = td::hdf5::File::open_read(input.path());
        int visited = 0;
        read_stacks_below(file, "/", visited);
    } catch (const td::Error&) {
        // Not an HDF5 file.
    }
    return 0;
}
