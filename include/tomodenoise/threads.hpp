#pragma once
/// @file
/// The thread counts the library accepts.

namespace tomodenoise {

/// The most OpenMP threads one computation may ask for (ApplyOptions::threads, and the default
/// OMP_NUM_THREADS gives): 4 x the hardware threads of this machine. More only slows a run
/// down, and far more exhausts the system's threads inside the OpenMP runtime, which then
/// crashes instead of reporting an error.
int max_threads();

}  // namespace tomodenoise
