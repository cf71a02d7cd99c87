#!/usr/bin/env bash
# Installs the built library into a scratch prefix, moves that prefix (the package must be
# relocatable), then configures, builds and runs a consumer project against it.
set -euo pipefail
build_dir=$1
consumer_src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
mv "$work/prefix" "$work/moved-prefix"
cmake -S "$consumer_src" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/moved-prefix" >/dev/null
cmake --build "$work/build" >/dev/null
LD_LIBRARY_PATH="$work/moved-prefix/lib:$work/moved-prefix/lib64:${LD_LIBRARY_PATH:-}" \
  "$work/build/consumer"
