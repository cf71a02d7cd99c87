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
  # libhdf5 itself sizes metadata buffers from a damaged header (H5C_protect asking for
  # terabytes): with allocator_may_return_null it gets NULL and fails with an error, as it does
  # outside ASan, instead of ASan aborting; an allocation between -malloc_limit_mb and that
  # counts as an OOM, reported below but not failing the run. The library's own reads are
  # bounded before allocating (tested in tests/io and tests/keras), and an exception other than
  # a tomodenoise::Error (std::bad_alloc from the library among them) is a crash that fails it.
  # libFuzzer's fork mode ends with the exit code of its last failed job even when that failure
  # was ignored: such a run passes when its counts show no crash.
  local timeout_exit=70 oom_exit=71 rc=0
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1 \
  "$build/tests/fuzz/$target" -fork=1 -ignore_timeouts=1 -ignore_ooms=1 -ignore_crashes=0 \
      -timeout_exitcode="$timeout_exit" -error_exitcode=77 \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
      -max_len="$max_len" -artifact_prefix="$build/artifacts/$target-" \
      "$corpus" "$seeds" > "$log" 2>&1 || rc=$?
  # The last progress line: "#RUNS: cov: ... oom/timeout/crash: O/T/C time: ...".
  local last runs counts crashes
  last=$(grep -E '^#[0-9]+: ' "$log" | tail -n 1 || true)
  runs=$(tr -d '#' <<< "${last%%:*}")
  counts=$(sed -E 's|.*oom/timeout/crash: ([0-9/]+).*|\1|' <<< "$last")
  IFS=/ read -r _ _ crashes <<< "$counts"
  if [[ $rc -ne 0 && ! (($rc -eq $timeout_exit || $rc -eq $oom_exit) && ${crashes:-1} == 0) ]]; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED (exit $rc); the input is in $build/artifacts/, the full log in $log"
    return 1
  fi
  echo "fuzz: $target: $runs executions in $seconds s, no crash (oom/timeout/crash: $counts)"
}

status=0
# Inputs that once crashed a target (tests/fuzz/regressions/) are seeds of both, so every run
# checks them again.
run_fuzzer fuzz_model_loader "$shared"/models/keras/*.h5 tests/fuzz/regressions/* || status=1
run_fuzzer fuzz_hdf5_stack "$shared"/fixtures/*.h5 tests/fuzz/regressions/* || status=1
exit $status
