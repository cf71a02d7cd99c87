#pragma once
/// @file
/// Library version.

#include <string>

namespace tomodenoise {

/// The library's version, "MAJOR.MINOR.PATCH".
std::string version();

/// The oneDNN version the library runs on, "MAJOR.MINOR.PATCH".
std::string backend_version();

}  // namespace tomodenoise
