#pragma once
/// @file
/// Umbrella header: everything in libtomodenoise's public API.

#include "tomodenoise/error.hpp"
#include "tomodenoise/metrics.hpp"
#include "tomodenoise/version.hpp"
