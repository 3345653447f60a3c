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
daemon_pid=""
feed_port=""
work=$(mktemp -d /tmp/sscard-demo-feed.XXXXXX)
chmod 755 "$work"
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$feed_port" ] && bash test/env/feed-server.sh stop "$work/feed" "$feed_port" "$work/nginx" >/dev/null 2>&1
  [ -n "$card_pid" ] && kill "$card_pid" 2>/dev/null && wait "$card_pid" 2>/dev/null
  [ "$started_env" = 1 ] && bash test/env/pcscd-env.sh stop >/dev/null
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

insert_demo_card() {
  mkdir -p "$SSCARD_ENV_DIR"
  /usr/bin/python3 test/sim/vpcd_card.py --profile test/sim/profiles/gen3.json --port 40000 \
      --ready-file "$SSCARD_ENV_DIR/demo-card.ready" >"$SSCARD_ENV_DIR/demo-card.log" 2>&1 &
  card_pid=$!
  for _ in $(seq 100); do
    "$SSCARDD" diag readers --json | grep -q '"card_present":true' && break
    sleep 0.1
  done
}

# A pcscd already running with readers (the system's, with real hardware) is used as it is. vpcd's
# virtual readers (test/env/pcscd-env.sh, e.g. left running by a developer or the tests) get the
# simulated card when their first slot is empty.
readers_json=$("$SSCARDD" diag readers --json 2>/dev/null || true)
slot0() {
  printf '%s' "$readers_json" | /usr/bin/python3 -c 'import json, sys
readers = json.load(sys.stdin).get("readers", [])
slot = [r for r in readers if r["name"] == "Virtual PCD 00 00"]
print("none" if not slot else "full" if slot[0]["card_present"] else "empty")' 2>/dev/null || echo none
}
case "$(slot0)" in
  full)
    echo "== using the virtual readers already running, with the card in them" ;;
  empty)
    echo "== using the virtual readers already running; inserting a simulated card"
    insert_demo_card ;;
  *)
    if printf '%s' "$readers_json" | grep -q '"name"'; then
      echo "== using the PC/SC readers already present"
    else
      echo "== no reader present: starting pcscd with virtual readers and a simulated card"
      bash test/env/pcscd-env.sh start
      started_env=1
      insert_demo_card
    fi ;;
esac

echo
echo "== sscardd diag readers"
"$SSCARDD" diag readers
echo
echo "== sscardd diag read"
"$SSCARDD" diag read
echo
echo "== sscardd diag read --json"
"$SSCARDD" diag read --json

# A local feed: a signed list that freezes the demo card (a phone loss report), served over TLS by
# a local nginx, synced, and the card decided against it; then the service itself for a moment.
echo
echo "== a local signed feed freezing card B7K334774, served by nginx over TLS on loopback"
FEED=build/blacklist/sscard-feed
"$FEED" keygen --out "$work/keys" >/dev/null
cat >"$work/list.csv" <<CSV
region,card_number,card_id,state,effective_at,expires_at,replaced_by
330300,B7K334774,330300D15600000599110145FFFFFFFF,temp_frozen,2026-01-01T10:00:00+08:00,2099-01-01T10:00:00+08:00,
CSV
"$FEED" publish --key "$work/keys/feed.key" --input "$work/list.csv" --out "$work/feed"
feed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bash test/env/feed-server.sh start "$work/feed" "$feed_port" "$work/nginx" >/dev/null
cat >"$work/sscardd.toml" <<TOML
[list]
feed_url = "https://127.0.0.1:$feed_port/"
trusted_keys = ["$work/keys/feed.pub"]
ca_file = "$work/nginx/ca.pem"
database = "$work/list.db"
[api]
socket = "$work/sscardd.sock"
[backend]
outbox = "$work/outbox.db"
TOML
echo
echo "== sscardd sync"
"$SSCARDD" sync --config "$work/sscardd.toml"
echo
echo "== sscardd diag check"
"$SSCARDD" diag check --config "$work/sscardd.toml"
echo
echo "== sscardd run (for a few seconds), then sscardd status"
"$SSCARDD" run --config "$work/sscardd.toml" 2>"$work/sscardd.log" &
daemon_pid=$!
sleep 3
"$SSCARDD" status --config "$work/sscardd.toml"
