#!/usr/bin/env bash
# The README's test command: installs the Debian packages, configures Release with warnings as
# errors, builds, and runs every test. Usage: bash cmake/test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bash cmake/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOMODENOISE_WERROR=ON
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
