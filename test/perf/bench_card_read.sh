#!/usr/bin/env bash
# Runs bench_card_read against the virtual card at 0 ms and 20 ms card latency, on T=1 and T=0.
# Needs the test environment (test/env/pcscd-env.sh start). Usage: bench_card_read.sh BINARY [ITERATIONS]
set -euo pipefail
bin=$1
iterations=${2:-200}
here=$(cd "$(dirname "$0")" && pwd)
sim=$here/../sim/vpcd_card.py
profile=$here/../sim/profiles/gen3.json
state=${SSCARD_ENV_DIR:-/tmp/sscard-env}
mkdir -p "$state"

for protocol in t1 t0; do
  for latency in 0 20; do
    n=$iterations
    [ "$latency" -gt 0 ] && n=$(( iterations < 20 ? iterations : 20 ))
    ready=$state/bench-card.ready
    rm -f "$ready"
    /usr/bin/python3 "$sim" --profile "$profile" --port 40000 --protocol "$protocol" \
        --latency-ms "$latency" --ready-file "$ready" >"$state/bench-card.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do [ -e "$ready" ] && break; sleep 0.1; done
    sleep 0.3
    echo "== protocol $protocol, card latency ${latency} ms"
    "$bin" --reader "Virtual PCD 00 00" --iterations "$n" || { kill $pid; exit 1; }
    kill $pid; wait $pid 2>/dev/null || true
    sleep 0.3
  done
done
