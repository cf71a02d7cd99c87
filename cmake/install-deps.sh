#!/usr/bin/env bash
# Installs every Debian package libtomodenoise needs to build, test and run its examples.
# Idempotent: packages already present are left alone, and apt-get runs only when one is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libdnnl-dev            # oneDNN 2.x: every convolution, elementwise and reorder
  ocl-icd-opencl-dev opencl-c-headers  # dnnl-config.cmake looks for OpenCL (its GPU runtime)
  libtbb-dev             # oneTBB: tile-parallel inference, simulator
  libhdf5-dev hdf5-tools # HDF5 (C API) for models and stacks; h5dump for inspection
  libtiff-dev libpng-dev # TIFF stacks, PNG quick looks
  nlohmann-json3-dev     # Keras model_config JSON
  libcli11-dev           # command-line options of the examples
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin
  clang libomp-dev       # the fuzz build (cmake/fuzz.sh): clang and its OpenMP runtime
  libclang-rt-dev        # libclang_rt.fuzzer-x86_64.a (libFuzzer) and clang's sanitizer runtimes
  clang-format           # the layout CI checks (cmake/check-format.sh, .clang-format)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
