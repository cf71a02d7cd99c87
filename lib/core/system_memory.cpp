#include "core/system_memory.hpp"

#include <unistd.h>

#include <cstdio>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

std::int64_t physical_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page_size > 0 ? std::int64_t(pages) * page_size : 0;
}

void check_fits_in_memory(std::int64_t bytes, const std::string& what) {
    const std::int64_t memory = physical_memory_bytes();
    if (memory > 0 && bytes > memory)
        throw InvalidArgument(what + " needs " + gibibytes(bytes) +
                              ", more than this machine's memory (" + gibibytes(memory) + ")");
}

std::string gibibytes(std::int64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", double(bytes) / double(1LL << 30));
    return text;
}

}  // namespace tomodenoise
