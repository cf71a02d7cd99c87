#pragma once
// Checks on tools' outputs beyond those of tomodenoise/io.hpp.

#include <vector>

#include "tomodenoise/io.hpp"

namespace tomodenoise {

/// check_output_is_not_an_input for an output that is a folder (`folder.file`, absent or a
/// folder): InvalidArgument naming both options when an input is the folder or a file directly
/// in it, which replacing the folder's content would destroy.
void check_folder_is_not_an_input(const ToolFile& folder, const std::vector<ToolFile>& inputs);

}  // namespace tomodenoise
