#pragma once
// Checks of the model builders' options, with messages naming the builder and the option.

#include <cstdint>
#include <limits>
#include <string>

namespace tomodenoise {

/// Throws InvalidArgument "BUILDER: OPTION must be in LOW..HIGH, got VALUE" (or "at least
/// LOW" when there is no upper bound) unless low <= value <= high.
void expect_option_in_range(const std::string& builder, const std::string& option,
                            std::int64_t value, std::int64_t low,
                            std::int64_t high = std::numeric_limits<std::int64_t>::max());

}  // namespace tomodenoise
