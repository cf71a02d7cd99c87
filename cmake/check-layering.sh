#!/usr/bin/env bash
# The library's folders depend on each other in one direction: a file in lib/Y may include
# headers of the folders before Y in `order` (and of Y itself), never of a folder after Y. This
# checks every include between lib/ folders and fails on any against the order, naming its file
# and line. It reads sources only; no build is needed.
#
# Usage: bash cmake/check-layering.sh [--list] [--examples] [ROOT]
#        bash cmake/check-layering.sh --self-test
#   --list      also print the includes between folders that the order allows
#   --examples  also check that the tools in examples/ (*.cpp, and the *.hpp they share) include
#               only the public headers (tomodenoise/*.hpp), their shared headers in examples/
#               and system or third-party headers (<CLI/CLI.hpp>, ...)
#   --self-test checks the checker: a forbidden include added to a copy of this tree, and to a
#               small made-up tree, must fail; allowed ones must pass
#   ROOT        the source tree to check (default: the one this script belongs to)
set -euo pipefail

# Lower first. core: tensors, oneDNN context, the Layer contract, Network, padded inference on
# any image size; io: generic HDF5, TIFF and PNG files, knowing no model; data, metrics: stacks,
# normalization and quality measures; layers: one layer per pair, and the initializers that
# fill their parameters; train: losses, optimizers, the training loop; models: model builders;
# keras: the Keras model format; infer: tiled inference and the stack pipeline; sim: simulated
# data sets; api: the facade behind the public headers. README.md's Layout section gives the
# same order.
order=(core io data metrics layers train models keras infer sim api)

rank_of() {
    local i
    for i in "${!order[@]}"; do
        if [[ ${order[$i]} == "$1" ]]; then
            echo "$i"
            return
        fi
    done
    echo -1
}

# Prints "FILE LINE DELIMITER HEADER" for every #include "..." or <...> in the files given
# (DELIMITER: " or <).
includes_of() {
    [[ $# -gt 0 ]] || return 0
    grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<][^">]+[">]' "$@" |
        sed -E 's/^([^:]+):([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*(["<])([^">]+)[">].*/\1 \2 \3 \4/'
}

# Whether $1, the first folder of an included path, is one of the library's folders.
is_lib_folder() {
    [[ -n $1 && ($(rank_of "$1") -ge 0 || -d $root_checked/lib/$1) ]]
}

# Checks ROOT's lib/ (and examples/ with $2 = 1); prints what is wrong and returns 1 if anything
# is. $3 = 1 also lists the allowed includes between folders.
check_tree() {
    local root=$1 examples=$2 list=$3 failed=0
    root_checked=$root
    local folder
    for folder in "$root"/lib/*/; do
        folder=$(basename "$folder")
        if [[ $(rank_of "$folder") -lt 0 ]]; then
            echo "lib/$folder is not in the layering order of cmake/check-layering.sh: add it"
            failed=1
        fi
    done

    local files=()
    mapfile -t files < <(cd "$root" && find lib -mindepth 2 -type f \( -name '*.hpp' \
                                             -o -name '*.cpp' -o -name '*.h' \) | sort)
    local file line delimiter header from to
    while read -r file line delimiter header; do
        from=${file#lib/}
        from=${from%%/*}
        to=${header%%/*}
        [[ $header == */* && $to != "$from" ]] && is_lib_folder "$to" || continue
        if [[ $(rank_of "$to") -ge 0 && $(rank_of "$to") -lt $(rank_of "$from") ]]; then
            if [[ $list == 1 ]]; then echo "ok: $file:$line includes $header"; fi
        else
            echo "$file:$line: includes \"$header\", but lib/$to comes after lib/$from in the" \
                 "order ${order[*]}"
            failed=1
        fi
    done < <(cd "$root" && includes_of "${files[@]}")

    if [[ $examples == 1 ]]; then
        local tools=()
        mapfile -t tools < <(cd "$root" && find examples -maxdepth 1 \( -name '*.cpp' \
                                                -o -name '*.hpp' \) | sort)
        while read -r file line delimiter header; do
            # Quoted includes are the project's own headers: only the public ones and the
            # tools' shared headers beside them (checked here too). Angle includes are system
            # and third-party headers, unless they name a lib/ folder.
            if [[ $delimiter == '"' ]]; then
                [[ $header == tomodenoise/* ]] && continue
                [[ $header != */* && -f $root/examples/$header ]] && continue
            elif ! { [[ $header == */* ]] && is_lib_folder "${header%%/*}"; }; then
                continue
            fi
            echo "$file:$line: includes \"$header\"; tools use the public API" \
                 "(include/tomodenoise/) only: add what they need there"
            failed=1
        done < <(cd "$root" && includes_of "${tools[@]}")
    fi
    return $failed
}

# Runs check_tree and expects it to pass ($1 = pass) or fail with output containing $5.
expect() {
    local want=$1 root=$2 examples=$3 what=$4 message=${5:-} output status=0
    output=$(check_tree "$root" "$examples" 0) || status=$?
    if [[ $want == pass && $status -ne 0 ]]; then
        echo "self-test: $what: expected to pass, got:"
        echo "$output"
        return 1
    fi
    if [[ $want == fail && ($status -eq 0 || $output != *"$message"*) ]]; then
        echo "self-test: $what: expected a failure naming '$message', got status $status:"
        echo "$output"
        return 1
    fi
    echo "self-test: $what: ok"
}

self_test() {
    local source_root=$1 failed=0
    tmp=$(mktemp -d)  # global: the exit trap removes it
    trap 'rm -rf "$tmp"' EXIT

    # A copy of this tree's lib/ passes; an include against the order added to it fails.
    mkdir -p "$tmp/copy"
    cp -r "$source_root/lib" "$tmp/copy/lib"
    expect pass "$tmp/copy" 0 "this tree's lib/" || failed=1
    printf '#include "layers/concatenation.hpp"\n' >> "$tmp/copy/lib/core/network.cpp"
    expect fail "$tmp/copy" 0 "core including a layer" \
        'lib/core/network.cpp:' || failed=1

    # A made-up tree: the order in both directions.
    local t=$tmp/made_up
    mkdir -p "$t/lib/core" "$t/lib/layers" "$t/lib/train" "$t/lib/io" "$t/lib/models" \
             "$t/examples"
    printf '#pragma once\n#include <vector>\n#include "tomodenoise/error.hpp"\n' \
        > "$t/lib/core/tensor.hpp"
    printf '#include "core/tensor.hpp"\n#include "version_config.hpp"\n' > "$t/lib/layers/a.cpp"
    printf '#include "layers/a.hpp"\n#  include "core/tensor.hpp"\n' > "$t/lib/train/b.cpp"
    printf '#include "tomodenoise/model.hpp"\n#include <CLI/CLI.hpp>\n#include <vector>\n' \
        > "$t/examples/tool.cpp"
    printf '#pragma once\n#include "tomodenoise/error.hpp"\n' > "$t/examples/shared.hpp"
    printf '#include "shared.hpp"\n' >> "$t/examples/tool.cpp"
    expect pass "$t" 1 "allowed includes" || failed=1

    printf '#include "train/loss.hpp"\n' > "$t/lib/layers/c.hpp"
    expect fail "$t" 0 "layers including train" 'lib/layers/c.hpp:1: includes "train/loss.hpp"' ||
        failed=1
    rm "$t/lib/layers/c.hpp"
    printf '#include <layers/a.hpp>\n' > "$t/lib/core/d.hpp"
    expect fail "$t" 0 "an angle include against the order" 'lib/core/d.hpp:1:' || failed=1
    rm "$t/lib/core/d.hpp"
    printf '#include "models/x.hpp"\n' > "$t/lib/io/hdf5.cpp"
    expect fail "$t" 0 "io including models" 'lib/io/hdf5.cpp:1:' ||
        failed=1
    rm "$t/lib/io/hdf5.cpp"
    mkdir "$t/lib/extra"
    expect fail "$t" 0 "a folder missing from the order" 'lib/extra is not in the layering order' ||
        failed=1
    rmdir "$t/lib/extra"

    printf '#include "train/trainer.hpp"\n' >> "$t/examples/tool.cpp"
    expect fail "$t" 1 "a tool including an internal header" \
        'examples/tool.cpp:5: includes "train/trainer.hpp"' || failed=1
    expect pass "$t" 0 "the same tree without --examples" || failed=1
    printf '#include <core/tensor.hpp>\n' > "$t/examples/other.cpp"
    sed -i '$d' "$t/examples/tool.cpp"
    expect fail "$t" 1 "a tool including an internal header with <>" \
        'examples/other.cpp:1: includes "core/tensor.hpp"' || failed=1
    rm "$t/examples/other.cpp"
    printf '#include "absent.hpp"\n' > "$t/examples/other.cpp"
    expect fail "$t" 1 "a tool including a header that is not beside it" \
        'examples/other.cpp:1: includes "absent.hpp"' || failed=1
    rm "$t/examples/other.cpp"
    printf '#include "api/model_impl.hpp"\n' >> "$t/examples/shared.hpp"
    expect fail "$t" 1 "the tools' shared header including an internal header" \
        'examples/shared.hpp:3: includes "api/model_impl.hpp"' || failed=1

    [[ $failed == 0 ]] && echo "self-test: all ok"
    return $failed
}

root=$(cd "$(dirname "$0")/.." && pwd)
examples=0
list=0
self=0
for arg in "$@"; do
    case $arg in
        --examples) examples=1 ;;
        --list) list=1 ;;
        --self-test) self=1 ;;
        -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "check-layering.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
        *) root=$(cd "$arg" && pwd) ;;
    esac
done

if [[ $self == 1 ]]; then
    self_test "$root"
    exit
fi
if check_tree "$root" "$examples" "$list"; then
    echo "check-layering: lib/ folders follow the order ${order[*]}$([[ $examples == 1 ]] &&
        echo '; examples/ use the public headers only')"
else
    echo "check-layering: failed (see above)"
    exit 1
fi
