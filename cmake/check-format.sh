#!/usr/bin/env bash
# Every C++ source the repository tracks is laid out as .clang-format says. Reads sources only;
# prints the files that differ (and, with --diff, how) and fails if there is any.
# Usage: bash cmake/check-format.sh [--diff]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed" >&2; exit 2; }
bad=()
while IFS= read -r file; do
    if ! clang-format --dry-run -Werror "$file" >/dev/null 2>&1; then
        bad+=("$file")
        if [[ ${1:-} == --diff ]]; then clang-format "$file" | diff -u "$file" - || true; fi
    fi
done < <(git ls-files '*.cpp' '*.hpp' '*.h')
if [[ ${#bad[@]} -gt 0 ]]; then
    printf 'check-format: not formatted (run clang-format -i on them): %s\n' "${bad[*]}"
    exit 1
fi
echo "check-format: every tracked C++ file follows .clang-format ($(clang-format --version))"
