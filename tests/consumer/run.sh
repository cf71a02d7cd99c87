#!/usr/bin/env bash
# Installs the built library and tools into a scratch prefix, moves that prefix (the package must
# be relocatable), then runs every installed tool from there and configures, builds and runs a
# consumer project against it. Nothing may need LD_LIBRARY_PATH: the tools carry a run path
# relative to themselves, the consumer the path CMake records for the library it linked.
# Usage: run.sh BUILD_DIR CONSUMER_SOURCE_DIR
set -euo pipefail
build_dir=$1
consumer_src=$2
unset LD_LIBRARY_PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
mv "$work/prefix" "$work/moved-prefix"
prefix=$work/moved-prefix

# Runs an installed tool quietly; on failure prints what it said.
run_tool() {
  if ! OMP_NUM_THREADS=1 "$bin/$@" >"$work/tool.log" 2>&1; then
    echo "consumer: '$*' failed from the moved prefix:" >&2
    cat "$work/tool.log" >&2
    exit 1
  fi
}

# The tools, where they were built: each starts, then a tiny real run goes through all of them.
bin=$prefix/bin
if [ -d "$bin" ]; then
  for tool in "$bin"/*; do
    run_tool "$(basename "$tool")" --help
  done
  run_tool simulate_dataset --kind shapes --count 2 --test-count 1 --size 32 --seed 3 \
      --out "$work/data.h5"
  run_tool train_denoiser --data "$work/data.h5" --out "$work/cnn.h5" --arch cnn --epochs 1 \
      --batch 1 --patch 16 --steps 1 --threads 1
  run_tool denoise_stack --model "$work/cnn.h5" --input "$work/data.h5:/test_ns" \
      --output "$work/denoised.h5:/test_dn" --threads 1
  run_tool compare_images "$work/data.h5:/test_gt" "$work/denoised.h5:/test_dn"
  grep -q '"psnr"' "$work/tool.log" || { cat "$work/tool.log" >&2; exit 1; }
  echo "consumer: the installed tools ran from the moved prefix"
fi

cmake -S "$consumer_src" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer"
