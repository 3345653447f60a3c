"""PIN flows through the daemon's API (pin.verify, pin.change, card.activate) against the real
pcscd + vpcd + virtual cards; and no PIN anywhere in the daemon's log, outbox or audit files."""
import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

from api_client import ApiClient
from sscard_test import SSCARDD, CardTestCase, load_profile, sim_ctl

READERS = [sim_ctl.READERS[p] for p in (40000, 40001, 40002, 40003)]
INITIAL = load_profile("gen3_valid")["pin"]
NEW_PIN = "260713"
WRONG = "975319"
PINS_USED = [INITIAL, NEW_PIN, WRONG, "111111", "654321"]


class DaemonWithPins(CardTestCase):
    """One daemon per test class; no list (stale_policy allow), so decisions rest on the card.
    Subclasses may add configuration (EXTRA_CONFIG) and PINs to search for (PINS_USED)."""

    EXTRA_CONFIG = ""
    PINS_USED = PINS_USED

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sscard-pin-api-")
        with open(f"{cls.tmp}/sscardd.toml", "w") as f:
            f.write(f"""[list]
database = "{cls.tmp}/list.db"
stale_policy = "allow"
[api]
socket = "{cls.tmp}/sscardd.sock"
[backend]
outbox = "{cls.tmp}/outbox.db"
terminal_id = "test-kiosk-1"
# A backend nobody answers on: events are queued (without a url nothing is) and stay there.
url = "https://127.0.0.1:9/events"
""" + cls.EXTRA_CONFIG)
        cls.log = open(f"{cls.tmp}/sscardd.log", "w")
        cls.daemon = subprocess.Popen([SSCARDD, "run", "--config", f"{cls.tmp}/sscardd.toml"],
                                      stdout=cls.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if os.path.exists(f"{cls.tmp}/sscardd.sock"):
                break
            time.sleep(0.1)

    @classmethod
    def tearDownClass(cls):
        if cls.daemon.poll() is None:
            cls.daemon.terminate()
            cls.daemon.wait(timeout=15)
        cls.log.close()
        # No PIN used by these tests may appear in any file the daemon wrote: log, outbox, audit
        # (the SQLite files and their WAL), as ASCII digits or as BCD hex.
        found = []
        for path in glob.glob(f"{cls.tmp}/*"):
            if os.path.isdir(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            for pin in cls.PINS_USED:
                if pin.encode() in data or bytes.fromhex(pin) in data:
                    found.append((os.path.basename(path), pin))
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert not found, f"PIN found in daemon files: {found}"

    def call(self, method, params):
        c = ApiClient(f"{self.tmp}/sscardd.sock")
        try:
            return c.call(method, params)
        finally:
            c.close()

    def outbox_events(self):
        db = sqlite3.connect(f"{self.tmp}/outbox.db")
        try:
            return [row[0] for row in db.execute("SELECT body FROM outbox ORDER BY seq")]
        except sqlite3.OperationalError:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            raise AssertionError(f"no outbox table; tables: {tables}")
        finally:
            db.close()


class ActivationTest(DaemonWithPins):
    def test_activation_sets_the_new_pin_and_sends_one_event(self):
        self.start_card("gen3_valid", port=40000)
        r = self.call("card.activate", {"reader": READERS[0], "initial_pin": INITIAL,
                                        "new_pin": NEW_PIN,
                                        "old_card": {"region": "330300", "card_number": "KD5578904"}})
        self.assertTrue(r["result"]["ok"], r)
        event_id = r["result"]["event_id"]
        self.assertEqual(self.call("pin.verify", {"reader": READERS[0], "pin": NEW_PIN})["result"],
                         {"ok": True, "tries_left": 3})
        r = self.call("pin.verify", {"reader": READERS[0], "pin": INITIAL})["result"]
        self.assertEqual(r, {"ok": False, "tries_left": 2})
        events = [e for e in self.outbox_events() if '"card.activated"' in e]
        self.assertEqual(len(events), 1)
        self.assertIn(event_id, events[0])
        self.assertIn("KD5578904", events[0])  # the old card it replaces
        self.assertIn("test-kiosk-1", events[0])

    def test_weak_pins_are_refused_before_the_card_is_touched(self):
        card = self.start_card("gen3_valid", port=40001)
        for weak in ("111111", "654321", INITIAL, "12345"):
            r = self.call("card.activate", {"reader": READERS[1], "initial_pin": INITIAL,
                                            "new_pin": weak})
            code = r["error"]["data"]["code"]
            self.assertIn(code, ("pin_weak", "usage"), (weak, r))
        self.assertFalse([c for c, _ in card.apdu_log() if c.startswith("0020") or
                          c.startswith("805E")], "a PIN command reached the card")
        self.assertEqual(self.call("pin.verify", {"reader": READERS[1], "pin": INITIAL})["result"],
                         {"ok": True, "tries_left": 3})

    def test_wrong_initial_pin_reports_tries_left_and_then_blocked(self):
        self.start_card("gen3_valid", port=40002)
        r = self.call("card.activate", {"reader": READERS[2], "initial_pin": WRONG,
                                        "new_pin": NEW_PIN})
        self.assertEqual(r["error"]["data"]["code"], "pin_wrong")
        self.assertEqual(r["error"]["data"]["tries_left"], 2)
        self.assertEqual(self.call("pin.verify", {"reader": READERS[2], "pin": WRONG})["result"],
                         {"ok": False, "tries_left": 1})
        r = self.call("pin.verify", {"reader": READERS[2], "pin": WRONG})
        self.assertEqual(r["error"]["data"]["code"], "pin_blocked")
        r = self.call("pin.verify", {"reader": READERS[2], "pin": INITIAL})
        self.assertEqual(r["error"]["data"]["code"], "pin_blocked")

    def test_expired_card_is_not_activated(self):
        card = self.start_card("gen3", port=40003)  # expired 2020-10-01
        r = self.call("card.activate", {"reader": READERS[3], "initial_pin": INITIAL,
                                        "new_pin": NEW_PIN})
        self.assertEqual(r["error"]["data"]["code"], "card_denied")
        self.assertIn("card_expired", r["error"]["message"])
        self.assertFalse([c for c, _ in card.apdu_log() if c.startswith("0020")])


class PinChangeAndLimitsTest(DaemonWithPins):
    def test_change_pin_then_verify(self):
        self.start_card("gen3_valid", port=40000)
        r = self.call("pin.change", {"reader": READERS[0], "old_pin": INITIAL, "new_pin": "111111"})
        self.assertEqual(r["error"]["data"]["code"], "pin_weak")
        r = self.call("pin.change", {"reader": READERS[0], "old_pin": INITIAL, "new_pin": NEW_PIN})
        self.assertTrue(r["result"]["ok"], r)
        self.assertEqual(self.call("pin.verify", {"reader": READERS[0], "pin": NEW_PIN})["result"]["ok"],
                         True)
        self.assertTrue([e for e in self.outbox_events() if '"pin.changed"' in e])

    def test_pin_attempts_are_rate_limited_per_reader(self):
        self.start_card("gen2", port=40001)
        answers = [self.call("pin.verify", {"reader": READERS[1], "pin": INITIAL}) for _ in range(6)]
        self.assertTrue(all("result" in a for a in answers[:5]), answers)
        self.assertEqual(answers[5]["error"]["data"]["code"], "busy")

    def test_no_issuer_keys_no_pinpad_and_bad_old_card_are_clear_errors(self):
        card = self.start_card("gen3_valid", port=40003)
        r = self.call("pin.reset", {"reader": READERS[3], "new_pin": NEW_PIN})
        self.assertEqual(r["error"]["data"]["code"], "not_allowed")
        self.assertIn("[keys]", r["error"]["message"])
        # vpcd readers have no PC/SC part 10 PIN pad
        for method, params in (("pin.verify", {}), ("pin.change", {}), ("card.activate", {})):
            r = self.call(method, dict(params, reader=READERS[3], pin_source="pinpad"))
            self.assertEqual(r["error"]["data"]["code"], "not_allowed", (method, r))
            self.assertIn("no PIN pad", r["error"]["message"])
            self.assertEqual(r["error"]["data"].get("pin_state"),
                             None if method == "pin.verify" else "unchanged")
        r = self.call("pin.verify", {"reader": READERS[3], "pin": INITIAL, "pin_source": "keyboard"})
        self.assertEqual(r["error"]["code"], -32602)
        for old in ("KD5578904", {"card_number": "KD5578904"}, {"card_id": 5}):
            r = self.call("card.activate", {"reader": READERS[3], "initial_pin": INITIAL,
                                            "new_pin": NEW_PIN, "old_card": old})
            self.assertEqual(r["error"]["code"], -32602, (old, r))
        self.assertFalse([c for c, _ in card.apdu_log() if c.startswith("0020") or
                          c.startswith("805E") or c.startswith("8424")])

    def test_bad_pin_parameters(self):
        self.start_card("gen2", port=40002)
        for params in ({}, {"pin": 123456}, {"pin": "12ab56"}, {"pin": "123"}):
            r = self.call("pin.verify", dict(params, reader=READERS[2]))
            self.assertIn("error", r, params)
            self.assertEqual(r["error"]["code"], -32602, r)


if __name__ == "__main__":
    unittest.main()
