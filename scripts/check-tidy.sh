#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy on the product's sources (tests excluded), using the
# compile commands of a configured build directory (default: build). Fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
JOBS=${SSCARD_JOBS:-$(nproc)}
[ -f "$BUILD/compile_commands.json" ] || { echo "check-tidy: no $BUILD/compile_commands.json"; exit 2; }
mapfile -t files < <(git ls-files 'apdu/*.cpp' 'base/*.cpp' 'blacklist/*.cpp' 'config/*.cpp' \
    'crypto/*.cpp' 'daemon/*.cpp' 'driver/*.cpp')
printf '%s\n' "${files[@]}" | xargs -P "$JOBS" -n 4 clang-tidy -p "$BUILD" --quiet
echo "check-tidy: ${#files[@]} files clean"
