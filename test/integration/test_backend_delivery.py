"""Backend delivery through the outbox, end to end: the real `sscardd run`, pcscd + vpcd virtual
cards, test/env/backend-receiver.py over HTTPS from a test CA, and a real signed feed served by
nginx (test/env/feed-server.sh).

- Events queued while the backend is down survive a daemon restart and are each acknowledged
  exactly once, oldest first, under an Idempotency-Key equal to their event_id; another restart
  sends nothing more.
- A card the list freezes is never activated: no VERIFY or CHANGE PIN reaches it.
- After the module, no PIN used here is in any file the daemon, the receiver or the virtual cards
  wrote (ASCII digits, their hex, BCD as hex text and as raw bytes).

Uses only the vpcd readers on ports 40002 and 40003 (40000/40001 may be in use elsewhere) and never
restarts pcscd."""
import collections
import datetime
import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import unittest

from api_client import ApiClient
from sscard_test import (SOURCE_DIR, SSCARDD, CardTestCase, expected_card, load_profile, sim_ctl,
                         wait_for)

SSCARD_FEED = os.environ.get("SSCARD_FEED", os.path.join(os.path.dirname(SSCARDD), "..",
                                                          "blacklist", "sscard-feed"))
FEED_SERVER = os.path.join(SOURCE_DIR, "test", "env", "feed-server.sh")
RECEIVER = os.path.join(SOURCE_DIR, "test", "env", "backend-receiver.py")

DELIVERY_PORT, FROZEN_PORT = 40002, 40003
DELIVERY_READER, FROZEN_READER = sim_ctl.READERS[DELIVERY_PORT], sim_ctl.READERS[FROZEN_PORT]
PROFILE = "gen3_valid"
CARD = expected_card(PROFILE)
EF05 = load_profile(PROFILE)["ef05"]
INITIAL = load_profile(PROFILE)["pin"]
NEW_PIN = "260713"   # set by card.activate
NEXT_PIN = "851937"  # set by pin.change afterwards
PINS_USED = (INITIAL, NEW_PIN, NEXT_PIN)
TERMINAL_ID = "test-kiosk-delivery"

# The sender's backoff (daemon/outbox/sender.hpp): 0.5-1 s after the first failure, doubling. Two
# answered failures cost at most 1 + 2 s; the rest is TLS handshakes and fsyncs.
DELIVERY_TIMEOUT = 20.0
QUIET_WINDOW = 3.0  # after the last restart: long enough for the sender's first look at the queue

MODULE_TMP = None  # everything the module writes; scanned for PINs, then removed
MUST_SCAN = set()  # files the tests that ran know were written: the scan must cover them


def setUpModule():
    global MODULE_TMP
    MODULE_TMP = tempfile.mkdtemp(prefix="sscard-backend-delivery-")


def tearDownModule():
    try:
        scanned, found = scan_for_pins(MODULE_TMP)
    finally:
        shutil.rmtree(MODULE_TMP, ignore_errors=True)
    # The scan must have covered what the tests wrote, or it proves nothing.
    missing = MUST_SCAN - set(scanned)
    assert not missing, f"PIN scan: files not found: {sorted(missing)} (scanned {sorted(scanned)})"
    assert not found, "PIN found in files written by the daemon, receiver or cards: " + "; ".join(
        f"{path} @{offset}: {label} {context!r}" for path, offset, label, context in found)


# -- helpers ----------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r


def pin_needles(pin):
    """The forms a leaked PIN could take in a file: bytes -> label. (For an even number of digits
    the BCD hex text is the ASCII digits themselves.)"""
    bcd = pin + "F" * (len(pin) % 2)  # F-padded BCD, as apdu/ssse/pin.cpp sends it
    ascii_hex = pin.encode().hex()
    needles = {}
    for label, needle in (("ascii", pin.encode()), ("ascii as hex", ascii_hex.encode()),
                          ("ascii as HEX", ascii_hex.upper().encode()),
                          ("BCD hex text", bcd.upper().encode()),
                          ("bcd hex text", bcd.lower().encode()),
                          ("BCD bytes", bytes.fromhex(bcd))):
        needles.setdefault(needle, label)
    return needles


# Only what the daemon, the receiver and the cards wrote: not the CA, the feed keys or the feed.
SCANNED_DIRS = ("daemon", "receiver", "cards")


def scan_for_pins(root):
    scanned, found = [], []
    for top in SCANNED_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                path = os.path.join(dirpath, name)
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue  # the API socket, left behind by a daemon killed after a failure
                with open(path, "rb") as f:
                    data = f.read()
                scanned.append(path)
                for pin in PINS_USED:
                    for needle, label in pin_needles(pin).items():
                        at = data.find(needle)
                        if at >= 0:
                            found.append((os.path.relpath(path, root), at, f"{pin} as {label}",
                                          data[max(0, at - 40):at + len(needle) + 40]))
    return scanned, found


def make_tls(directory):
    """A test CA and a server certificate for 127.0.0.1 (openssl CLI): (ca, cert, key) paths."""
    os.makedirs(directory, exist_ok=True)
    ca, ca_key = f"{directory}/ca.pem", f"{directory}/ca.key"
    cert, key, csr, ext = (f"{directory}/server.pem", f"{directory}/server.key",
                           f"{directory}/server.csr", f"{directory}/server.ext")
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "2", "-subj", "/CN=sscard backend test CA", "-keyout", ca_key, "-out", ca,
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", csr)
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-days", "2", "-extfile", ext, "-out", cert)
    return ca, cert, key


class Daemon:
    """`sscardd run` with its own configuration and state directory; restartable."""

    def __init__(self, state, config_text):
        self.state = state
        os.makedirs(state, exist_ok=True)
        self.config = f"{state}/sscardd.toml"
        self.socket = f"{state}/sscardd.sock"
        with open(self.config, "w") as f:
            f.write(config_text)
        self.proc = None
        self.log = None

    def start(self, timeout=20.0):
        self.log = open(f"{self.state}/sscardd.log", "a")
        self.proc = subprocess.Popen([SSCARDD, "run", "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if "result" in self.call("status"):
                    MUST_SCAN.update({f"{self.state}/sscardd.log", f"{self.state}/outbox.db"})
                    return
            except (OSError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"sscardd did not start (exit {self.proc.poll()}):\n"
                             + self.log_text())

    def stop(self):
        """SIGTERM; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.log.close()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log is not None:
            self.log.close()

    def log_text(self):
        with open(f"{self.state}/sscardd.log", encoding="utf-8", errors="replace") as f:
            return f.read()

    def call(self, method, params=None, timeout=20.0):
        c = ApiClient(self.socket, timeout=5.0)
        try:
            return c.call(method, params, timeout=timeout)
        finally:
            c.close()

    def result(self, method, params=None):
        r = self.call(method, params)
        if "result" not in r:
            raise AssertionError(f"{method}: {r}")
        return r["result"]

    def query(self, sql):
        """Rows from the outbox/audit database, read-only (the daemon may be running)."""
        db = sqlite3.connect(f"file:{self.state}/outbox.db?mode=ro", uri=True, timeout=5)
        try:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql)]
        finally:
            db.close()


class Receiver:
    """test/env/backend-receiver.py over HTTPS; its JSONL record of every POST."""

    def __init__(self, directory, port, cert, key, fail_first=0):
        os.makedirs(directory, exist_ok=True)
        self.log = f"{directory}/receiver.jsonl"
        self.ready = f"{directory}/ready"
        self.args = [sys.executable, RECEIVER, "--port", str(port), "--log", self.log,
                     "--tls-cert", cert, "--tls-key", key, "--fail-first", str(fail_first),
                     "--ready-file", self.ready]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL)
        if not wait_for(lambda: os.path.exists(self.ready) or self.proc.poll() is not None, 10):
            raise AssertionError("backend-receiver.py did not start")
        if self.proc.poll() is not None:
            raise AssertionError(f"backend-receiver.py exited with {self.proc.returncode}")

    def records(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def keys_named_like_a_pin(value, path=""):
    """Paths of object keys anywhere in a JSON value that name a PIN or PUK."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if "pin" in k.lower() or "puk" in k.lower():
                out.append(path + k)
            out += keys_named_like_a_pin(v, path + k + ".")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += keys_named_like_a_pin(v, f"{path}{i}.")
    return out


class BackendTestCase(CardTestCase):
    """Cards log their APDUs under MODULE_TMP/cards (kept for the PIN scan); their output too."""

    def start_card(self, name, port, **options):
        directory = tempfile.mkdtemp(prefix=f"{port}-", dir=self.dir("cards"))
        card = super().start_card(name, port=port, log=f"{directory}/apdu.log", **options)
        card.kept_dir = directory
        return card

    def tearDown(self):
        while self.cards:
            card = self.cards.pop()
            card.remove()
            with open(f"{card.kept_dir}/card.out", "w", encoding="utf-8") as f:
                f.write(card.output())
            MUST_SCAN.add(f"{card.kept_dir}/card.out")
            if card.apdu_count():
                MUST_SCAN.add(card.log_path)
            card.cleanup()

    def dir(self, *parts):
        path = os.path.join(MODULE_TMP, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def daemon(self, name, config_text):
        d = Daemon(self.dir("daemon", name), config_text)
        self.addCleanup(d.kill)
        return d


# -- 1. exactly-once delivery across restarts -----------------------------------------------------

def foreign(body):
    """An event about a card in another reader: the daemon watches every reader, and readers
    40000/40001 may be in use by other tests while this module runs. Such events are delivered like
    any other, but this module does not count them as its own."""
    return not isinstance(body, dict) or body.get("reader") != DELIVERY_READER


class DeliveryAcrossRestartTest(BackendTestCase):
    def outbox_rows(self, d):
        rows = d.query("SELECT seq, event_id, type, body, attempts FROM outbox ORDER BY seq")
        for r in rows:
            r["body"] = json.loads(r["body"])
        return rows

    def consistent_outbox(self, d):
        """(rows, status.outbox) read without an enqueue or delivery in between, or None."""
        before = self.outbox_rows(d)
        status = d.result("status")["outbox"]
        after = self.outbox_rows(d)
        if [r["event_id"] for r in before] != [r["event_id"] for r in after]:
            return None
        return after, status

    def test_events_queued_while_backend_down_are_delivered_exactly_once_after_restart(self):
        started_at = datetime.datetime.now(datetime.timezone.utc)
        ca, cert, key = make_tls(self.dir("tls"))
        port = free_port()
        receiver = Receiver(self.dir("receiver"), port, cert, key, fail_first=2)
        self.addCleanup(receiver.stop)
        state = self.dir("daemon", "delivery")
        d = self.daemon("delivery", f"""[list]
database = "{state}/list.db"
stale_policy = "allow"
[api]
socket = "{state}/sscardd.sock"
[backend]
url = "https://127.0.0.1:{port}/events"
ca_file = "{ca}"
terminal_id = "{TERMINAL_ID}"
outbox = "{state}/outbox.db"
""")

        # The backend is down (nothing listens on its port) while the card is used.
        d.start()
        events = ApiClient(d.socket)
        self.addCleanup(events.close)
        self.assertEqual(events.call("events.subscribe")["result"], {"subscribed": True})
        card = self.start_card(PROFILE, port=DELIVERY_PORT, wait_present=False)
        _, checked = events.expect("card.checked", lambda p: p.get("reader") == DELIVERY_READER)
        self.assertEqual(checked.get("decision"), "allow", checked)
        # The check's event is written after the notification, on the daemon's writer thread: wait
        # for it, so that the order of the queue below is known.
        self.assertTrue(wait_for(lambda: [r for r in self.outbox_rows(d)
                                          if not foreign(r["body"])], 10),
                        "the automatic check's card.checked event was not queued")

        r = d.result("card.activate", {"reader": DELIVERY_READER, "initial_pin": INITIAL,
                                       "new_pin": NEW_PIN})
        self.assertTrue(r["ok"], r)
        activated_id = r["event_id"]
        r = d.result("pin.change", {"reader": DELIVERY_READER, "old_pin": NEW_PIN,
                                    "new_pin": NEXT_PIN})
        self.assertTrue(r["ok"], r)
        changed_id = r["event_id"]
        self.assertNotEqual(activated_id, changed_id)
        self.assertEqual(d.result("pin.verify", {"reader": DELIVERY_READER, "pin": NEXT_PIN}),
                         {"ok": True, "tries_left": 3})
        # The card really got VERIFY and CHANGE PIN, their data masked in its own log.
        pin_commands = [c for c, _ in card.apdu_log() if c[:4] in ("0020", "805E")]
        self.assertTrue(any(c.startswith("805E") for c in pin_commands), pin_commands)
        self.assertTrue(all(c[10:] == "*" * len(c[10:]) for c in pin_commands), pin_commands)
        # Out of the reader before the restarts: a card present at start-up would be checked again
        # (a new card.checked event), and this test counts events exactly.
        card.remove()

        # Queued, oldest first: the automatic check's card.checked, card.activated, pin.changed.
        snapshot = wait_for(lambda: self.consistent_outbox(d), 10)
        self.assertIsNotNone(snapshot, "the outbox kept changing")
        rows, status = snapshot
        ours = [r for r in rows if not foreign(r["body"])]
        self.assertEqual([(r["type"], r["event_id"]) for r in ours[1:]],
                         [("card.activated", activated_id), ("pin.changed", changed_id)], ours)
        self.assertEqual(ours[0]["type"], "card.checked", ours)
        self.assertEqual(status["queued"], len(rows), (status, rows))
        self.assertEqual(len(ours), 3, ours)  # the brief's two, and the check's audit event
        queued = [r["event_id"] for r in rows]  # with any foreign event: all must arrive
        stored = {r["event_id"]: r["body"] for r in rows}
        # The sender did try, and failed: the backend was noticed down, nothing was dropped.
        self.assertGreaterEqual(status["consecutive_failures"], 1, status)
        self.assertGreaterEqual(rows[0]["attempts"], 1, rows[0])
        self.assertEqual(receiver.records(), [])
        self.assertEqual(d.stop(), 0, d.log_text())

        # The backend comes up (answering 503 twice first); the daemon starts again.
        receiver.start()
        MUST_SCAN.add(receiver.log)
        d.start()

        def all_acknowledged():
            acked = {r["key"] for r in receiver.records() if 200 <= r["status"] <= 299}
            return acked >= set(queued)
        self.assertTrue(wait_for(all_acknowledged, DELIVERY_TIMEOUT, 0.1),
                        f"not all of {queued} acknowledged within {DELIVERY_TIMEOUT}s: "
                        f"{receiver.records()}\n{d.log_text()}")
        # A 2xx is logged by the receiver before it answers: wait for the daemon to have removed
        # them, or the next restart would (rightly) send the last one again.
        self.assertTrue(wait_for(lambda: not [r for r in self.outbox_rows(d)
                                              if r["event_id"] in stored], 10),
                        self.outbox_rows(d))

        records = receiver.records()
        acked = [r for r in records if 200 <= r["status"] <= 299]
        counts = collections.Counter(r["key"] for r in acked)
        self.assertEqual([k for k, n in counts.items() if n != 1], [],
                         f"acknowledged more than once: {records}")
        self.assertTrue(set(queued) <= set(counts), records)
        self.assertEqual([r["key"] for r in acked if r["key"] in stored], queued,
                         "not delivered oldest first")
        # The two 503s: the oldest event, retried after backing off (0.5-1 s, then 1-2 s).
        self.assertEqual([(r["status"], r["key"]) for r in records[:3]],
                         [(503, queued[0]), (503, queued[0]), (200, queued[0])], records)
        self.assertGreaterEqual(records[1]["at"] - records[0]["at"], 0.45)
        self.assertGreaterEqual(records[2]["at"] - records[1]["at"], 0.9)
        self.assertEqual(len(records), len(acked) + 2, records)

        now = datetime.datetime.now(datetime.timezone.utc)
        for rec in records:
            body = rec["body"]
            self.assertIsInstance(body, dict, rec)
            self.assertEqual(rec["key"], body["event_id"], rec)
            self.assertEqual(rec["path"], "/events")
            self.assertEqual(rec["content_type"], "application/json")
            if body["event_id"] in stored:
                self.assertEqual(body, stored[body["event_id"]], "not the stored body")
            self.assertIn(body["type"], ("card.checked", "card.activated", "pin.changed"), body)
            self.assertEqual(body["terminal_id"], TERMINAL_ID)
            self.assertEqual(set(body["card"]), {"card_id", "region", "card_number"}, body)
            if not foreign(body):
                self.assertEqual(body["card"], {"card_id": CARD["card_id"],
                                                "region": CARD["region"],
                                                "card_number": CARD["card_number"]}, body)
            at = datetime.datetime.fromisoformat(body["at"].replace("Z", "+00:00"))
            self.assertIsNotNone(at.tzinfo, body["at"])
            self.assertTrue(started_at - datetime.timedelta(seconds=2) <= at <= now, body["at"])
            self.assertEqual(keys_named_like_a_pin(body), [], body)
            text = json.dumps(body)
            for pin in PINS_USED:
                self.assertNotIn(pin, text)
        by_id = {r["key"]: r["body"] for r in acked}
        self.assertEqual(by_id[activated_id]["type"], "card.activated")
        self.assertEqual(by_id[changed_id]["type"], "pin.changed")

        # Another restart: nothing of ours is left to send, and nothing is sent again.
        self.assertEqual(d.stop(), 0, d.log_text())
        d.start()
        seen = len(records)
        delivered = set(counts)

        def resent_or_ours():
            return [r for r in receiver.records()[seen:]
                    if r["key"] in delivered or not foreign(r["body"])]
        deadline = time.monotonic() + QUIET_WINDOW
        while time.monotonic() < deadline:
            snapshot = self.consistent_outbox(d)
            if snapshot:
                rows, status = snapshot
                self.assertEqual([r for r in rows if not foreign(r["body"])], [], rows)
                self.assertEqual(status["queued"], len(rows), (status, rows))  # 0 but foreign
            self.assertEqual(resent_or_ours(), [])
            time.sleep(0.2)
        self.assertEqual(d.stop(), 0, d.log_text())
        self.assertEqual(resent_or_ours(), [])
        foreign_posts = [r["body"] for r in receiver.records()[seen:]]
        if foreign_posts:  # only when other tests used readers 40000/40001 meanwhile
            print(f"\n  (events about other readers' cards, not counted: {foreign_posts})",
                  file=sys.stderr)


# -- 2. a frozen card is not activated ------------------------------------------------------------

class FrozenCardActivationTest(BackendTestCase):
    def test_frozen_card_is_refused_before_any_pin_command(self):
        t = MODULE_TMP
        keys, feed, nginx = self.dir("feed-keys"), self.dir("feed"), f"{t}/nginx"
        run(SSCARD_FEED, "keygen", "--out", keys + "/k")
        with open(f"{t}/list.csv", "w") as f:
            f.write("region,card_number,card_id,state,effective_at,expires_at,replaced_by\n")
            f.write(",".join([EF05["card_id"][:6], EF05["card_number"], EF05["card_id"], "frozen",
                              "2026-01-01T00:00:00+08:00", "", ""]) + "\n")
        run(SSCARD_FEED, "publish", "--key", f"{keys}/k/feed.key", "--input", f"{t}/list.csv",
            "--out", feed)
        port = free_port()
        run("bash", FEED_SERVER, "start", feed, str(port), nginx)
        self.addCleanup(subprocess.run, ["bash", FEED_SERVER, "stop", feed, str(port), nginx],
                        capture_output=True)
        state = self.dir("daemon", "frozen")
        d = self.daemon("frozen", f"""[list]
feed_url = "https://127.0.0.1:{port}/"
trusted_keys = ["{keys}/k/feed.pub"]
ca_file = "{nginx}/ca.pem"
database = "{state}/list.db"
poll_interval = "1h"
[api]
socket = "{state}/sscardd.sock"
[backend]
terminal_id = "{TERMINAL_ID}"
outbox = "{state}/outbox.db"
""")
        d.start()
        r = d.result("list.sync")  # root is admin
        self.assertGreaterEqual(r["version"], 1, r)
        self.assertFalse(d.result("status")["list"]["stale"])
        hit = d.result("list.lookup", {"card_id": EF05["card_id"]})
        self.assertEqual([e["state"] for e in hit["entries"]], ["frozen"], hit)

        events = ApiClient(d.socket)
        self.addCleanup(events.close)
        self.assertEqual(events.call("events.subscribe")["result"], {"subscribed": True})
        card = self.start_card(PROFILE, port=FROZEN_PORT, wait_present=False)
        _, checked = events.expect("card.checked", lambda p: p.get("reader") == FROZEN_READER)
        self.assertEqual((checked.get("decision"), checked.get("reason")), ("deny", "frozen"),
                         checked)
        before = card.apdu_count()  # the card logs each APDU before answering it
        r = d.call("card.activate", {"reader": FROZEN_READER, "initial_pin": INITIAL,
                                     "new_pin": NEW_PIN})
        self.assertIn("error", r, r)
        self.assertEqual(r["error"]["data"]["code"], "card_denied", r)
        self.assertIn("frozen", r["error"]["message"])
        sent = [c for c, _ in card.apdu_log()]
        # card.activate read the card (the decision rests on its EF05); no PIN command ever came.
        self.assertTrue([c for c in sent[before:] if c.startswith("00B2")], sent)
        self.assertEqual([c for c in sent if c.startswith("0020") or c.startswith("805E")], [],
                         "a PIN command reached a frozen card")
        # Its PIN is the initial one, with every try left.
        self.assertEqual(d.result("pin.verify", {"reader": FROZEN_READER, "pin": INITIAL}),
                         {"ok": True, "tries_left": 3})
        self.assertTrue(wait_for(lambda: d.query(
            "SELECT kind FROM audit WHERE kind = 'card.activate_refused'"), 5),
            d.query("SELECT kind, code FROM audit"))
        self.assertEqual(d.query("SELECT type FROM outbox WHERE type != 'card.checked'"), [])
        self.assertEqual(d.stop(), 0, d.log_text())


if __name__ == "__main__":
    unittest.main()
