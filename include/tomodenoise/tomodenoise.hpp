#pragma once
/// @file
/// Umbrella header: everything in libtomodenoise's public API.

#include "tomodenoise/distributed.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/infer.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/metrics.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/normalize.hpp"
#include "tomodenoise/precision.hpp"
#include "tomodenoise/recipe.hpp"
#include "tomodenoise/reconstruct.hpp"
#include "tomodenoise/simulate.hpp"
#include "tomodenoise/stack.hpp"
#include "tomodenoise/threads.hpp"
#include "tomodenoise/train.hpp"
#include "tomodenoise/version.hpp"
