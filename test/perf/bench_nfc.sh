#!/usr/bin/env bash
# Runs bench_nfc: the PN532 emulator on a pty for libnfc, the vpcd virtual card for PC/SC, both with
# the contactless profile. Needs the test environment (test/env/pcscd-env.sh start) for the PC/SC
# half. Usage: bench_nfc.sh BINARY [ITERATIONS] [PROFILE]
set -euo pipefail
bin=$1
iterations=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
profile=$here/../sim/profiles/${3:-contactless}.json
dir=$(mktemp -d /tmp/sscard-bench-nfc-XXXXXX)
/usr/bin/python3 "$here/../sim/pn532_emulator.py" --profile "$profile" --link "$dir/pn532" \
    --control "$dir/ctl" --ready-file "$dir/ready" >"$dir/emulator.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -e "$dir/ready" ] && break; sleep 0.1; done
[ -e "$dir/ready" ] || { cat "$dir/emulator.log"; exit 1; }
"$bin" --nfc "pn532_uart:$dir/pn532" --control "$dir/ctl" \
    --vpcd-card "$here/../sim/vpcd_card.py" --profile "$profile" --iterations "$iterations" \
    --port "${SSCARD_BENCH_PORT:-40003}" --pcsc-reader "${SSCARD_BENCH_READER:-Virtual PCD 2 00 01}"
