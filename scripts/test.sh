#!/usr/bin/env bash
# Sets up and runs the whole test suite on Debian 12: installs what is missing, builds the release,
# the AddressSanitizer/UndefinedBehaviorSanitizer and the libFuzzer configurations, checks formatting,
# and runs every test (unit, simulator, integration against the real pcscd + vpcd + virtual cards,
# benchmarks at small scale, short fuzz runs). The test environment (pcscd, nginx) is started and
# stopped by ctest fixtures. Run as root (apt-get, pcscd).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${SSCARD_FUZZ_SECONDS:-20}
JOBS=${SSCARD_JOBS:-$(nproc)}

bash scripts/install-deps.sh

step() { printf '\n==== %s\n' "$*"; }

# ccache makes a second run on the same machine (and a developer's rebuilds) much faster; the cache
# is keyed on content, so a stale entry cannot be used.
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
    LAUNCHER=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

# CI treats warnings as errors; a user's build does not (SSCARD_WERROR is off by default).
STRICT=(-DSSCARD_WERROR=ON)

step "format check"
bash scripts/check-format.sh

# Release (-O3) here, because GCC 12 reports false positives at -O3 that -O2 does not: every build
# type must build with warnings as errors. The -O2 flags are the package build's (dpkg-buildflags),
# Debug is the sanitizer build's.
step "build: release"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${STRICT[@]}" "${LAUNCHER[@]}" >/dev/null
cmake --build build -j "$JOBS"

step "clang-tidy (.clang-tidy's checks on the product's sources)"
bash scripts/check-tidy.sh build

step "build: ASan/UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSSCARD_SANITIZE=ON "${STRICT[@]}" "${LAUNCHER[@]}" >/dev/null
cmake --build build-asan -j "$JOBS"

step "build: libFuzzer (clang)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSCARD_FUZZ=ON \
    -DSSCARD_TESTS=ON "${STRICT[@]}" "${LAUNCHER[@]}" >/dev/null
# Only the fuzz targets: the unit and integration tests already run in the two builds above.
cmake --build build-fuzz -j "$JOBS" --target sscard_fuzzers

step "simulator self-tests"
/usr/bin/python3 -m unittest discover -s test/sim -p 'test_*.py'

step "tests: release build"
ctest --test-dir build --output-on-failure --timeout 600 | tee build/ctest.log

step "tests: ASan/UBSan build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --timeout 900 | tee build-asan/ctest.log

# The Debian packages as an integrator gets them: built with dpkg-buildflags' flags (no tests compiled:
# they ran above), lintian-clean, then installed and exercised in a container booted with systemd.
step "packages: build and lintian"
bash scripts/build-packages.sh build-deb

step "packages: installed-service test (systemd-nspawn)"
bash test/package/installed-service.sh build-deb 2>&1 | tee build-deb/installed-service.log || true

# arm64 cross build with its unit tests under qemu-user: opt-in (SSCARD_ARM64=1), because it costs a
# second full build plus a cached chroot (figures in the README).
if [ "${SSCARD_ARM64:-0}" = 1 ]; then
    step "arm64: cross build and unit tests under qemu-user"
    bash scripts/cross-arm64.sh build-deb-arm64
fi

step "fuzzing, ${FUZZ_SECONDS}s per target"
bash test/fuzz/run-fuzzers.sh build-fuzz "$FUZZ_SECONDS"

# ctest counts a skipped test (one that cannot run here, e.g. without root) among the passed ones in
# its summary; list them apart.
count() { sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2 \1/p' "$1"; }
skipped() { grep -c '(Skipped)$' "$1" || true; }
read -r total1 failed1 < <(count build/ctest.log)
read -r total2 failed2 < <(count build-asan/ctest.log)
skip=$(($(skipped build/ctest.log) + $(skipped build-asan/ctest.log)))
# The installed-service test's checks; no summary line at all (it broke off) counts as one failure.
read -r passed3 failed3 < <(sed -n 's/^package-test: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' \
    build-deb/installed-service.log | grep . || echo 0 1)
passed=$((total1 - failed1 + total2 - failed2 - skip + passed3))
failed=$((failed1 + failed2 + failed3))
printf '\nsscard: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skip"
[ "$failed" -eq 0 ]
