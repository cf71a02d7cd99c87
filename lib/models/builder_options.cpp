#include "models/builder_options.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

void expect_option_in_range(const std::string& builder, const std::string& option,
                            std::int64_t value, std::int64_t low, std::int64_t high) {
    if (value >= low && value <= high) return;
    const std::string range = high == std::numeric_limits<std::int64_t>::max()
                                  ? "at least " + std::to_string(low)
                                  : "in " + std::to_string(low) + ".." + std::to_string(high);
    throw InvalidArgument(builder + ": " + option + " must be " + range + ", got " +
                          std::to_string(value));
}

}  // namespace tomodenoise
