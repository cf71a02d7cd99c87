#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (the library and the targets only, with clang,
# under AddressSanitizer and UndefinedBehaviorSanitizer) in their own build tree, and runs each
# for SECONDS, seeded with the models and fixtures of ../shared where it exists. Prints each
# target's number of executions; exits non-zero when one crashes, leaving the input that did it
# in BUILD_DIR/artifacts/ (timeouts, inside libhdf5, are counted but do not fail the run).
# Usage: bash cmake/fuzz.sh [SECONDS] [BUILD_DIR]   (defaults: 60, build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${2:-build-fuzz}
shared=../shared

bash cmake/install-deps.sh

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOMODENOISE_BUILD_FUZZERS=ON -DTOMODENOISE_SANITIZE=ON \
      -DTOMODENOISE_WERROR=ON -DTOMODENOISE_BUILD_TESTS=OFF -DTOMODENOISE_BUILD_EXAMPLES=OFF \
      -DTOMODENOISE_BUILD_BENCH=OFF > /dev/null
cmake --build "$build" -j"$(nproc)"

# oneDNN's JIT code and OpenMP runtime are not instrumented; leaks inside them are not ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=1
# The targets write each input to a file in TMPDIR: memory where /dev/shm exists, and removed
# afterwards with whatever a killed input left there.
memory=/dev/shm
[ -d "$memory" ] || memory=${TMPDIR:-/tmp}
scratch=$(mktemp -d "$memory/tomodenoise-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch

# run_fuzzer TARGET SEED_FILE...: fuzzes TARGET from its corpus (kept between runs) and seeds.
run_fuzzer() {
  local target=$1
  shift
  local corpus=$build/corpus/$target seeds=$build/seeds/$target log=$build/$target.log
  mkdir -p "$corpus" "$seeds" "$build/artifacts"
  local seed
  for seed in "$@"; do
    [ -f "$seed" ] && cp -f "$seed" "$seeds/"
  done
  [ -n "$(ls -A "$seeds")" ] || echo "fuzz: $target: no seeds ($shared is absent); starting empty"
  # Inputs may grow to the largest seed (libFuzzer would otherwise cut seeds at 1 MiB, leaving
  # truncated HDF5 files that fail at once).
  local max_len
  max_len=$(find "$seeds" "$corpus" -type f -printf '%s\n' | sort -n | tail -n 1)
  max_len=$(( ${max_len:-0} > 4096 ? ${max_len:-0} : 4096 ))
  # -malloc_limit_mb reports any single allocation above it as a finding, as -rss_limit_mb does
  # for the whole process: a crafted file must not make the library allocate gigabytes.
  # Inputs run in a child process (-fork=1) so that a hang inside libhdf5 on a corrupted file
  # (a known HDF5 bug that no caller can prevent: HDFGroup/hdf5#1707) is counted and skipped,
  # while a crash still stops the run and fails it.
  # libhdf5 1.10 is not memory-safe on damaged files: it sizes metadata buffers from a damaged
  # header (H5C_protect asking for terabytes) and overflows heap buffers decoding damaged object
  # headers (H5O__msg_iterate_real). No caller can prevent either. With allocator_may_return_null
  # the huge requests get NULL and fail with an error, as they do outside ASan; an allocation
  # above -malloc_limit_mb counts as an OOM, reported but not failing the run. Every crashing
  # input is replayed: one whose fault lies inside libhdf5 is reported as libhdf5's, any other
  # (the library's own code, or an exception that is not a tomodenoise::Error) fails the run.
  # The library's own reads are bounded before allocating (tests/io, tests/keras).
  rm -f "$build/artifacts/$target"-*
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1 \
  "$build/tests/fuzz/$target" -fork=1 -ignore_timeouts=1 -ignore_ooms=1 -ignore_crashes=1 \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
      -max_len="$max_len" -artifact_prefix="$build/artifacts/$target-" \
      "$corpus" "$seeds" > "$log" 2>&1 || true
  # The last progress line: "#RUNS: cov: ... oom/timeout/crash: O/T/C time: ...".
  local last runs counts
  last=$(grep -E '^#[0-9]+: ' "$log" | tail -n 1 || true)
  if [[ -z $last ]]; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED to run; the full log is in $log"
    return 1
  fi
  runs=$(tr -d '#' <<< "${last%%:*}")
  counts=$(sed -E 's|.*oom/timeout/crash: ([0-9/]+).*|\1|' <<< "$last")
  local input frame ours=0 in_hdf5=0
  for input in "$build/artifacts/$target"-crash-*; do
    [[ -e $input ]] || continue
    # The first stack frame outside the sanitizers' interceptors is where the fault lies.
    frame=$(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1 \
            "$build/tests/fuzz/$target" "$input" 2>&1 | grep -E '^ *#[0-9]+ ' |
            grep -vE '__interceptor_|__asan|__sanitizer|__ubsan|libc\.so|sysdeps/|in (malloc|calloc|realloc|free|operator new|operator delete)' |
            head -n 1 || true)
    if [[ $frame == *libhdf5* ]]; then
      in_hdf5=$((in_hdf5 + 1))
      echo "fuzz: $target: libhdf5 fault (not this library's), input $input: ${frame## }"
    else
      ours=$((ours + 1))
      echo "fuzz: $target: CRASH in libtomodenoise, input $input: ${frame## }"
    fi
  done
  if [[ $ours -gt 0 ]]; then
    echo "fuzz: $target FAILED: $ours crashing input(s) in $build/artifacts/, the full log in $log"
    return 1
  fi
  echo "fuzz: $target: $runs executions in $seconds s, no crash in this library" \
       "(oom/timeout/crash: $counts; $in_hdf5 inside libhdf5)"
}

status=0
# Inputs that once crashed a target (tests/fuzz/regressions/) are seeds of both, so every run
# checks them again; tests/fuzz/seeds/ holds model files with what ../shared's lack (a
# tomodenoise_recipe attribute).
run_fuzzer fuzz_model_loader "$shared"/models/keras/*.h5 tests/fuzz/seeds/* \
  tests/fuzz/regressions/* || status=1
run_fuzzer fuzz_hdf5_stack "$shared"/fixtures/*.h5 tests/fuzz/regressions/* || status=1
run_fuzzer fuzz_tiff_stack tests/fuzz/seeds/*.tiff || status=1
exit $status
