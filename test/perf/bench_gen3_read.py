#!/usr/bin/env python3
"""3rd-generation holder read benchmark: card APDUs and time of the HSM two-step read (step 1 and
step 2 apart, the HSM's own time excluded) and of the PSAM read (card.read with holder), through the
daemon against the real pcscd + vpcd + virtual 3.0 cards and the virtual PSAM.

The baseline is the public reference sequence of iReadCardBas_HSM_Step1/Step2 (docs/card.md#the-
hsm-two-step-read): about 20 card APDUs, because it re-selects the application and reads each record
alone. It is printed from that description, not measured: its cryptogram needs the HSM in the middle
of one card transaction, which no tool here can replay.

usage: bench_gen3_read.py [--rounds N]
Needs the pcscd env (test/env/pcscd-env.sh start); SSCARDD points at the binary."""
import argparse
import os
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
import hsm_standin  # noqa: E402
import sim_ctl  # noqa: E402

SSCARDD = os.environ.get("SSCARDD", os.path.join(SOURCE, "build", "daemon", "sscardd"))
CARD_PORT, PSAM_PORT = 40000, 40001
REFERENCE_APDUS = 20
PROFILES = ("gen3_protected", "gen3_protected_des", "gen3_protected_number")


def ms(seconds):
    return seconds * 1000.0


def summary(values):
    v = sorted(values)
    return "p50 %6.1f  p90 %6.1f" % (statistics.median(v), v[min(len(v) - 1, int(0.9 * len(v)))])


def wait_checked(card):
    deadline = time.monotonic() + 10
    while not card.apdu_log():
        if time.monotonic() > deadline:
            raise RuntimeError("the daemon never checked the card")
        time.sleep(0.05)
    time.sleep(0.3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    sim_ctl.ensure_env()
    keys = hsm_standin.load_keys(os.path.join(SOURCE, "test", "sim", "keys", "test_issuer.keys"))
    tmp = tempfile.mkdtemp(prefix="sscard-bench-gen3-")
    psam_reader = sim_ctl.READERS[PSAM_PORT]
    with open(f"{tmp}/sscardd.toml", "w") as f:
        f.write(f"""[list]
database = "{tmp}/list.db"
stale_policy = "allow"
[api]
socket = "{tmp}/sscardd.sock"
[backend]
outbox = "{tmp}/outbox.db"
terminal_id = "bench-1"
[keys]
source = "psam"
psam_reader = "{psam_reader}"
""")
    log = open(f"{tmp}/sscardd.log", "w")
    daemon = subprocess.Popen([SSCARDD, "run", "--config", f"{tmp}/sscardd.toml"], stdout=log,
                              stderr=subprocess.STDOUT)
    psam = card = None
    try:
        for _ in range(100):
            if os.path.exists(f"{tmp}/sscardd.sock"):
                break
            time.sleep(0.1)
        psam = sim_ctl.start_card("psam", PSAM_PORT, reconnect=True)
        print("3rd-generation holder read, %d rounds per card (times in ms, card APDUs)" % args.rounds)
        print("baseline: the reference two-step sequence, about %d card APDUs" % REFERENCE_APDUS)
        for name in PROFILES:
            card = sim_ctl.start_card(name, CARD_PORT)
            wait_checked(card)
            reader = card.reader
            step1_t, step2_t, hsm_apdus, psam_t, psam_apdus, psam_sam_apdus = [], [], [], [], [], []
            with ApiClient(f"{tmp}/sscardd.sock") as c:
                for _ in range(args.rounds):
                    card.clear_log()
                    t0 = time.monotonic()
                    r = c.call("card.hsm_begin", {"reader": reader})["result"]
                    t1 = time.monotonic()
                    answer = hsm_standin.answer(keys, r["step1"]).split("|")
                    t2 = time.monotonic()
                    done = c.call("card.hsm_finish", {"session": r["session"],
                                                      "internal_result": answer[0],
                                                      "external_cryptogram": answer[1]})
                    t3 = time.monotonic()
                    if "result" not in done or done["result"]["holder"]["ssn"] is None:
                        raise RuntimeError("HSM read failed: %r" % done)
                    step1_t.append(ms(t1 - t0))
                    step2_t.append(ms(t3 - t2))
                    hsm_apdus.append(card.apdu_count())

                    card.clear_log()
                    psam.clear_log()
                    t0 = time.monotonic()
                    done = c.call("card.read", {"reader": reader, "holder": True})
                    psam_t.append(ms(time.monotonic() - t0))
                    if "result" not in done or done["result"]["holder"]["ssn"] is None:
                        raise RuntimeError("PSAM read failed: %r" % done)
                    psam_apdus.append(card.apdu_count())
                    psam_sam_apdus.append(psam.apdu_count())
            print("%-22s HSM  step 1 %s | step 2 %s | card APDUs %d (baseline ~%d)"
                  % (name, summary(step1_t), summary(step2_t), max(hsm_apdus), REFERENCE_APDUS))
            print("%-22s PSAM read   %s | card APDUs %d, PSAM APDUs %d"
                  % (name, summary(psam_t), max(psam_apdus), max(psam_sam_apdus)))
            card.remove()
            card.cleanup()
            card = None
    finally:
        for handle in (card, psam):
            if handle is not None:
                handle.remove()
                handle.cleanup()
        daemon.terminate()
        daemon.wait(timeout=15)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
