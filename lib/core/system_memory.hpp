#pragma once
// The machine's memory, for refusing work that could never fit before allocating for it.

#include <cstdint>
#include <string>

namespace tomodenoise {

/// Bytes of physical memory; 0 when the system does not say.
std::int64_t physical_memory_bytes();

/// InvalidArgument "WHAT needs N GiB, more than this machine's memory (M GiB)" when `bytes`
/// exceeds the physical memory: for refusing a read or an allocation that could never succeed.
void check_fits_in_memory(std::int64_t bytes, const std::string& what);

/// `bytes` as "12.3 GiB", for messages.
std::string gibibytes(std::int64_t bytes);

}  // namespace tomodenoise
