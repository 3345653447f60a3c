"""Shared helpers for the integration tests: run the built binaries, start virtual cards.

The tests run against the real pcscd with vpcd readers (started by the ctest fixture through
test/env/pcscd-env.sh) and the project's virtual card (test/sim)."""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import unittest

SOURCE_DIR = os.environ.get("SSCARD_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SSCARDD = os.environ.get("SSCARDD", os.path.join(SOURCE_DIR, "build", "daemon", "sscardd"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "test", "sim"))

import sim_ctl  # noqa: E402  (the simulator's control API)
import ssse_card  # noqa: E402  (the simulator's card model, for ATRs)

PROFILES = os.path.join(SOURCE_DIR, "test", "sim", "profiles")


def profile(name):
    return os.path.join(PROFILES, name + ".json")


def load_profile(name):
    with open(profile(name), encoding="utf-8") as f:
        return json.load(f)


def _check_character(first8):
    """卡号 check character, written here independently of sscardd's C++ implementation."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(first8, weights))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _or_none(value):
    return value if value not in ("", None) else None


def expected_card(profile_name):
    """The card JSON of the contract for a profile, computed from the profile alone."""
    ef05 = load_profile(profile_name)["ef05"]
    number = _or_none(ef05.get("card_number"))
    version = _or_none(ef05.get("spec_version"))
    card_id = _or_none(ef05.get("card_id"))
    return {
        "card_id": card_id.upper() if card_id else None,
        "region": card_id[:6] if card_id else None,
        "card_number": number,
        "card_number_valid": bool(number) and _check_character(number[:8]) == number[8],
        "card_type": _or_none(ef05.get("card_type")),
        "spec_version": version,
        "generation": int(version[0]) if version else 1,
        "issuer_id": _or_none(ef05.get("issuer_id")),
        "issued_on": _or_none(ef05.get("issued_on")),
        "expires_on": _or_none(ef05.get("expires_on")),
        "protected": [],
    }


def expected_holder_json(profile_name):
    ef06 = load_profile(profile_name)["ef06"]
    name = (ef06.get("name") or "") + (ef06.get("name_ext") or "")
    return {
        "ssn": _or_none(ef06.get("ssn")),
        "name": name or None,
        "sex": _or_none(ef06.get("sex")),
        "ethnicity": _or_none(ef06.get("ethnicity")),
        "birthplace": _or_none(ef06.get("birthplace")),
        "birth_date": _or_none(ef06.get("birth_date")),
    }


def expected_atr(profile_name, protocol=None):
    p = load_profile(profile_name)
    return ssse_card.build_atr(bytes.fromhex(p["historical_hex"]), protocol or p.get("protocol", "t1"),
                               bool(p.get("contactless"))).hex().upper()


class Result:
    def __init__(self, proc, elapsed):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    def json(self):
        return json.loads(self.stdout)


def sscardd(*args, timeout=30, env=None):
    """Runs sscardd with a config that does not exist by default (built-in defaults)."""
    start = time.monotonic()
    proc = subprocess.run([SSCARDD, *args], capture_output=True, text=True, timeout=timeout,
                          env=env)
    return Result(proc, time.monotonic() - start)


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def reader_state(name):
    r = sscardd("diag", "readers", "--json")
    if r.code != 0:
        return None
    for reader in r.json()["readers"]:
        if reader["name"] == name:
            return reader
    return None


class CardTestCase(unittest.TestCase):
    """Starts cards with start_card() and removes them all after each test."""

    def setUp(self):
        self.cards = []

    def tearDown(self):
        # remove() waits until pcscd shows the reader empty, so the next test starts clean.
        while self.cards:
            card = self.cards.pop()
            card.remove()
            card.cleanup()

    def start_card(self, name, port=40000, wait_present=True, **options):
        try:
            card = sim_ctl.start_card(profile(name), port=port, wait_reader=wait_present, **options)
        except sim_ctl.SimCardError:
            # The bench, not sscard: after a card vanished mid-APDU, pcscd has been seen (once in
            # many runs) not to power up the next virtual card on that reader. Give it one retry.
            time.sleep(2)
            card = sim_ctl.start_card(profile(name), port=port, wait_reader=wait_present, **options)
        card.atr_hex = expected_atr(name, options.get("protocol"))
        self.cards.append(card)
        return card


class Watcher:
    """`sscardd diag watch --json` running in the background, its events in a queue."""

    def __init__(self, config=None):
        args = [SSCARDD, "diag", "watch", "--json"] + (["--config", config] if config else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.events = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def expect(self, event, reader=None, timeout=10.0):
        """Waits for the next event of this kind (for this reader); returns it and what came before."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(e)
            if e["event"] == event and (reader is None or e.get("reader") == reader):
                return e, seen
        raise AssertionError(f"no {event} for {reader} within {timeout}s; saw {seen}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
