#!/usr/bin/env bash
# Sets up and runs sscard on its built-in default: installs what is missing, builds, and — when no
# real reader is present — starts pcscd with virtual readers and a simulated social security card;
# then shows the readers and reads the card with the technician's diag commands.
# Run as root (apt-get, pcscd). Stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >/dev/null
echo "== building"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
SSCARDD=build/daemon/sscardd

export SSCARD_ENV_DIR=${SSCARD_ENV_DIR:-/tmp/sscard-demo}
started_env=0
card_pid=""
cleanup() {
  [ -n "$card_pid" ] && kill "$card_pid" 2>/dev/null && wait "$card_pid" 2>/dev/null
  [ "$started_env" = 1 ] && bash test/env/pcscd-env.sh stop >/dev/null
  return 0
}
trap cleanup EXIT

# A pcscd already running with readers (the system's, with real hardware) is used as it is.
if "$SSCARDD" diag readers --json 2>/dev/null | grep -q '"name"'; then
  echo "== using the PC/SC readers already present"
else
  echo "== no reader present: starting pcscd with virtual readers and a simulated card"
  bash test/env/pcscd-env.sh start
  started_env=1
  /usr/bin/python3 test/sim/vpcd_card.py --profile test/sim/profiles/gen3.json --port 40000 \
      --ready-file "$SSCARD_ENV_DIR/demo-card.ready" >"$SSCARD_ENV_DIR/demo-card.log" 2>&1 &
  card_pid=$!
  for _ in $(seq 100); do
    "$SSCARDD" diag readers --json | grep -q '"card_present":true' && break
    sleep 0.1
  done
fi

echo
echo "== sscardd diag readers"
"$SSCARDD" diag readers
echo
echo "== sscardd diag read"
"$SSCARDD" diag read
echo
echo "== sscardd diag read --json"
"$SSCARDD" diag read --json
