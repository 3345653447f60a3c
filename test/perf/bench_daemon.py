#!/usr/bin/env python3
"""Daemon benchmark: insertion -> card.checked latency, the part that is not card I/O, idle CPU and
RSS, against the real pcscd + vpcd + virtual card and a published list of N entries.

usage: bench_daemon.py [--insertions N] [--entries N] [--idle-seconds S]
Needs the pcscd env (test/env/pcscd-env.sh start); SSCARDD and SSCARD_FEED point at the binaries."""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "test", "integration"))
sys.path.insert(0, os.path.join(SOURCE, "test", "sim"))
from api_client import ApiClient  # noqa: E402
import sim_ctl  # noqa: E402

SSCARDD = os.environ.get("SSCARDD", os.path.join(SOURCE, "build", "daemon", "sscardd"))
SSCARD_FEED = os.environ.get("SSCARD_FEED", os.path.join(SOURCE, "build", "blacklist", "sscard-feed"))


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * len(v)))]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--insertions", type=int, default=100)
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--idle-seconds", type=float, default=60)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sscard-bench-daemon-")
    daemon = None
    port = None
    try:
        subprocess.run([SSCARD_FEED, "keygen", "--out", f"{tmp}/keys"], check=True, capture_output=True)
        rng = random.Random(1)
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        with open(f"{tmp}/list.csv", "w") as f:
            f.write("region,card_number,card_id,state,effective_at,expires_at,replaced_by\n")
            for i in range(args.entries):
                number = "".join(rng.choice(alphabet) for _ in range(9))
                f.write(f"{110000 + i % 800000:06d},{number},,frozen,2026-01-01T00:00:00+08:00,,\n")
        subprocess.run([SSCARD_FEED, "publish", "--key", f"{tmp}/keys/feed.key", "--input",
                        f"{tmp}/list.csv", "--out", f"{tmp}/feed"], check=True, capture_output=True)
        # The daemon syncs the list once at start from a temporary nginx (poll interval 1 h).
        port = 40000 + random.Random().randint(500, 900)
        subprocess.run(["bash", os.path.join(SOURCE, "test", "env", "feed-server.sh"), "start",
                        f"{tmp}/feed", str(port), f"{tmp}/nginx"], check=True, capture_output=True)
        with open(f"{tmp}/sscardd.toml", "w") as f:
            f.write(f"""[list]
feed_url = "https://127.0.0.1:{port}/"
trusted_keys = ["{tmp}/keys/feed.pub"]
ca_file = "{tmp}/nginx/ca.pem"
database = "{tmp}/list.db"
poll_interval = "1h"
[api]
socket = "{tmp}/sscardd.sock"
[backend]
outbox = "{tmp}/outbox.db"
""")
        log = open(f"{tmp}/sscardd.log", "w")
        daemon = subprocess.Popen([SSCARDD, "run", "--config", f"{tmp}/sscardd.toml"], stdout=log,
                                  stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        client = None
        while time.monotonic() < deadline:
            try:
                client = ApiClient(f"{tmp}/sscardd.sock")
                if client.call("status")["result"]["list"]["version"] >= 1:
                    break
                client.close()
            except (OSError, KeyError, ConnectionError):
                pass
            time.sleep(0.2)
        else:
            raise SystemExit("sscardd did not sync: " + open(f"{tmp}/sscardd.log").read())
        client.call("events.subscribe")

        connect_to_inserted, inserted_to_checked, read_ms, decide_ms = [], [], [], []
        for _ in range(args.insertions):
            t0 = time.monotonic()
            card = sim_ctl.start_card("gen3_valid", port=40000, protocol="t1", wait_reader=False)
            t_ins, _ = client.expect("card.inserted", timeout=10)
            t_chk, checked = client.expect("card.checked", timeout=10)
            connect_to_inserted.append((t_ins - t0) * 1000)
            inserted_to_checked.append((t_chk - t_ins) * 1000)
            read_ms.append(checked["timing"]["read_ms"])
            decide_ms.append(checked["timing"]["decide_ms"])
            card.remove(wait_reader=False)
            card.cleanup()
            client.expect("card.removed", timeout=10)

        print(f"sscardd: {args.insertions} insertions, list of {args.entries} entries, card latency 0 ms")
        print(f"{'':40} {'p50 ms':>9} {'p99 ms':>9}")
        for name, values in (("card connects -> card.inserted (pcscd)", connect_to_inserted),
                             ("card.inserted -> card.checked", inserted_to_checked),
                             ("  of which card read (2 APDUs)", read_ms),
                             ("  of which decision (list lookup)", decide_ms)):
            print(f"{name:40} {pct(values, 0.5):9.3f} {pct(values, 0.99):9.3f}")
        beyond = [a - b for a, b in zip(inserted_to_checked, read_ms)]
        print(f"{'not card I/O (inserted->checked - read)':40} {pct(beyond, 0.5):9.3f} {pct(beyond, 0.99):9.3f}")

        client.close()
        time.sleep(1)
        before = cpu_ticks(daemon.pid)
        time.sleep(args.idle_seconds)
        used = cpu_ticks(daemon.pid) - before
        hz = os.sysconf("SC_CLK_TCK")
        print(f"idle CPU over {args.idle_seconds:.0f} s: {used} ticks = "
              f"{100.0 * used / hz / args.idle_seconds:.3f} %")
        print(f"RSS: {rss_kib(daemon.pid) / 1024:.1f} MiB")
    finally:
        if daemon and daemon.poll() is None:
            daemon.terminate()
            daemon.wait(timeout=20)
        if port is not None:
            subprocess.run(["bash", os.path.join(SOURCE, "test", "env", "feed-server.sh"), "stop",
                            f"{tmp}/feed", str(port), f"{tmp}/nginx"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
