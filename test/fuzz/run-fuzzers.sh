#!/usr/bin/env bash
# Runs every libFuzzer binary BUILD_DIR/test/fuzz/fuzz_* for SECONDS each.
#
#   test/fuzz/run-fuzzers.sh BUILD_DIR SECONDS
#
# Each fuzzer starts from a copy of its seed corpus (test/fuzz/corpus/<name>, where <name> is the
# binary's name without "fuzz_", shortened at "_" until such a folder exists: fuzz_apdu_parsers
# uses corpus/apdu). Everything it writes (grown corpus, crash files, logs) goes to a temporary
# directory, never into the repository; the directory is kept and named when a fuzzer fails.
# Exit status: 0 when no fuzzer found a crash, 1 when one did, 2 on usage errors.
set -euo pipefail

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -eq 0 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build_dir=$(cd "$1" 2>/dev/null && pwd) || { echo "$0: no build directory $1" >&2; exit 2; }
seconds=$2
fuzz_dir=$build_dir/test/fuzz
corpus_root=$(cd "$(dirname "$0")" && pwd)/corpus

if [ ! -d "$fuzz_dir" ]; then
    echo "$0: no $fuzz_dir (configure with CC=clang CXX=clang++ -DSSCARD_FUZZ=ON and build)" >&2
    exit 2
fi

shopt -s nullglob
binaries=()
for f in "$fuzz_dir"/fuzz_*; do
    [ -f "$f" ] && [ -x "$f" ] && binaries+=("$f")
done
if [ ${#binaries[@]} -eq 0 ]; then
    echo "$0: no fuzz_* binaries in $fuzz_dir" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sscard-fuzz.XXXXXX")
failed=()

for bin in "${binaries[@]}"; do
    name=$(basename "$bin")
    seeds=""
    stem=${name#fuzz_}
    while :; do
        if [ -d "$corpus_root/$stem" ]; then
            seeds=$corpus_root/$stem
            break
        fi
        [[ $stem == *_* ]] || break
        stem=${stem%_*}
    done

    run_dir=$work/$name
    mkdir -p "$run_dir/corpus" "$run_dir/artifacts"
    if [ -n "$seeds" ]; then
        cp -R "$seeds"/. "$run_dir/corpus/"
    fi

    echo "== $name: ${seconds}s, seeds: ${seeds:-none}"
    status=0
    (cd "$run_dir" && "$bin" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$run_dir/artifacts/" "$run_dir/corpus") >"$run_dir/log" 2>&1 ||
        status=$?
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$run_dir/log" | sed 's/^/   /' || true

    crashes=("$run_dir"/artifacts/*)
    if [ "$status" -ne 0 ] || [ ${#crashes[@]} -gt 0 ]; then
        echo "!! $name failed (exit $status); log: $run_dir/log" >&2
        for c in "${crashes[@]}"; do echo "   reproducer: $c" >&2; done
        tail -n 30 "$run_dir/log" >&2
        failed+=("$name")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzers that found a problem: ${failed[*]} (kept $work)" >&2
    exit 1
fi
rm -rf "$work"
echo "all ${#binaries[@]} fuzzer(s) ran ${seconds}s each without a crash"
