"""The issuer's PIN reset and unblock through the daemon's API (pin.reset, pin.unblock), with the
virtual PSAM in the SAM slot (a second vpcd reader), and a card pulled at each step of activation
and of reset: every outcome says where the PIN stands (data.pin_state), and the card agrees.

Real pcscd + vpcd + the project's virtual card and PSAM. The card's EEPROM (PIN, counter) lives in
state files outside the directory searched for PINs afterwards, since it holds the PIN by nature."""
import os
import shutil
import tempfile
import time
import unittest

from sscard_test import sim_ctl
from test_pin_api import INITIAL, DaemonWithPins

CARD_PORT, PSAM_PORT = 40000, 40001
CARD_READER, PSAM_READER = sim_ctl.READERS[CARD_PORT], sim_ctl.READERS[PSAM_PORT]
WRONG = "975319"
RESET_PIN = "38620417"
NEW_PIN = "260713"
SSSE_SELECT = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"


class IssuerTest(DaemonWithPins):
    EXTRA_CONFIG = f"""[keys]
source = "psam"
psam_reader = "{PSAM_READER}"
[pin]
attempts_per_minute = 100
min_length = 6
max_length = 8
"""
    PINS_USED = [INITIAL, WRONG, RESET_PIN, NEW_PIN]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eeprom = tempfile.mkdtemp(prefix="sscard-pin-eeprom-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.eeprom, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.psam = self.start_card("psam", port=PSAM_PORT, reconnect=True,
                                    log=f"{self.tmp}/psam-{self.id().split('.')[-1]}.log")

    def insert(self, name="gen3_valid", state=None, **faults):
        """A card in CARD_READER, once the daemon's automatic check (2 APDUs) has read it."""
        # A card with a fault may be gone again before pcscd is asked whether it is present.
        self.inserted = getattr(self, "inserted", 0) + 1
        log = f"{self.tmp}/card-{self.id().split('.')[-1]}-{self.inserted}.log"
        card = self.start_card(name, port=CARD_PORT, state_file=state, wait_present=not faults,
                               log=log, **faults)
        deadline = time.monotonic() + 10
        while len(card.apdu_log()) < 2:
            self.assertLess(time.monotonic(), deadline, "the daemon never checked the card")
            time.sleep(0.05)
        return card

    def pull(self, card):
        card.wait_exit(10)
        card.remove()

    def error(self, method, params):
        r = self.call(method, params)
        self.assertIn("error", r, (method, r))
        return r["error"]["data"]

    def verifies(self, pin):
        r = self.call("pin.verify", {"reader": CARD_READER, "pin": pin})
        return "result" in r and r["result"]["ok"]


class PinResetTest(IssuerTest):
    def test_blocked_pin_is_reset_through_the_psam(self):
        card = self.insert()
        for left in (2, 1):
            r = self.call("pin.verify", {"reader": CARD_READER, "pin": WRONG})["result"]
            self.assertEqual(r, {"ok": False, "tries_left": left})
        self.assertEqual(self.error("pin.verify", {"reader": CARD_READER, "pin": WRONG})["code"],
                         "pin_blocked")
        self.assertEqual(self.error("pin.verify", {"reader": CARD_READER, "pin": INITIAL})["code"],
                         "pin_blocked")

        r = self.call("pin.reset", {"reader": CARD_READER, "new_pin": RESET_PIN})
        self.assertTrue(r["result"]["ok"], r)
        self.assertEqual(r["result"]["pin_state"], "changed")
        self.assertEqual(self.call("pin.verify", {"reader": CARD_READER, "pin": RESET_PIN})["result"],
                         {"ok": True, "tries_left": 3})
        events = [e for e in self.outbox_events() if '"pin.reset"' in e]
        self.assertEqual(len(events), 1)
        self.assertIn(r["result"]["event_id"], events[0])
        # secure messaging on the card, the session key from the PSAM
        commands = [c for c, _ in card.apdu_log()]
        self.assertTrue(any(c.startswith("0082000110") for c in commands), commands)
        self.assertTrue(any(c.startswith("84240001") for c in commands), commands)
        psam = [c for c, _ in self.psam.apdu_log()]
        self.assertIn("00A4040006D15600000590", psam)
        self.assertTrue(any(c.startswith("BFDE2701") for c in psam), psam)

    def test_weak_or_missing_new_pin_is_refused_before_any_authentication(self):
        card = self.insert()
        for weak in ("111111", "12345678", INITIAL):
            data = self.error("pin.reset", {"reader": CARD_READER, "new_pin": weak})
            self.assertEqual((data["code"], data["pin_state"]), ("pin_weak", "unchanged"), weak)
        self.assertEqual(self.call("pin.reset", {"reader": CARD_READER})["error"]["code"], -32602)
        self.assertFalse([c for c, _ in card.apdu_log() if c.startswith("0084") or
                          c.startswith("0082")], "the card was asked to authenticate")
        self.assertTrue(self.verifies(INITIAL))

    def test_unblock_keeps_the_pin_and_restores_the_tries(self):
        self.insert()
        self.assertFalse(self.verifies(WRONG))
        r = self.call("pin.unblock", {"reader": CARD_READER})
        self.assertTrue(r["result"]["ok"], r)
        self.assertNotIn("pin_state", r["result"])
        self.assertEqual(self.call("pin.verify", {"reader": CARD_READER, "pin": INITIAL})["result"],
                         {"ok": True, "tries_left": 3})

    def test_expired_card_is_not_reset(self):
        card = self.insert("gen3")  # expired 2020-10-01
        data = self.error("pin.reset", {"reader": CARD_READER, "new_pin": RESET_PIN})
        self.assertEqual((data["code"], data["pin_state"]), ("card_denied", "unchanged"))
        self.assertFalse([c for c, _ in card.apdu_log() if c.startswith("8424")])

    def test_the_sam_slot_is_not_a_card_reader(self):
        self.insert()
        readers = {r["name"]: r for r in self.call("readers.list", {})["result"]["readers"]}
        self.assertTrue(readers[PSAM_READER].get("sam_slot"), readers)
        self.assertNotIn("sam_slot", readers[CARD_READER])
        self.assertEqual(self.error("card.read", {"reader": PSAM_READER})["code"], "no_reader")
        self.assertEqual(self.call("status", {})["result"]["issuer_keys"], "psam")
        # the daemon never tried the PSAM as a social security card
        self.assertNotIn(SSSE_SELECT, [c for c, _ in self.psam.apdu_log()])

    def test_a_missing_psam_is_a_clear_error(self):
        self.psam.remove()
        self.insert()
        data = self.error("pin.reset", {"reader": CARD_READER, "new_pin": RESET_PIN})
        self.assertEqual(data["code"], "no_card")
        self.assertEqual(data["pin_state"], "unchanged")
        self.assertTrue(self.verifies(INITIAL))


class CardPulledTest(IssuerTest):
    """The card leaves after answering APDU n of the flow (vanish_after), or while carrying out
    the command that changes the PIN (vanish_during: it happened, but no answer came back)."""

    def run_pulled(self, method, params, steps, final_pin):
        after_check = 2  # the automatic check's SELECT + READ RECORD
        last = after_check + steps + 1  # the command that changes the PIN
        cases = [("vanish_after", after_check + n) for n in range(steps + 1)]
        cases += [("vanish_during", last), ("vanish_after", last)]
        for fault, n in cases:
            with self.subTest(fault=fault, n=n):
                state = os.path.join(self.eeprom, f"{method}-{fault}-{n}.json")
                card = self.insert(state=state, **{fault: n})
                r = self.call(method, params)
                self.pull(card)
                again = self.insert(state=state)
                try:
                    self.check_outcome(r, fault, n, last, final_pin)
                finally:
                    again.remove()

    def check_outcome(self, r, fault, n, last, final_pin):
        if fault == "vanish_after" and n == last:
            # the card answered the last command before it went: done
            self.assertTrue(r.get("result", {}).get("ok"), r)
            self.assertEqual(r["result"]["pin_state"], "changed")
            self.assertTrue(self.verifies(final_pin))
            return
        data = r["error"]["data"]
        self.assertIn(data["code"], ("card_removed", "no_card"), r)
        if fault == "vanish_during":
            # the simulated card did carry the command out, and said nothing
            self.assertEqual(data["pin_state"], "unknown", r)
            self.assertTrue(self.verifies(final_pin))
        elif n == last - 1:
            # gone before the command that changes the PIN: the host may not be able to tell
            # that from gone during it, so "unknown" is honest too; the card says which
            self.assertIn(data["pin_state"], ("unchanged", "unknown"), r)
            self.assertTrue(self.verifies(INITIAL))
        else:
            self.assertEqual(data["pin_state"], "unchanged", r)
            self.assertTrue(self.verifies(INITIAL))

    def test_card_pulled_at_each_step_of_activation(self):
        before = [e for e in self.outbox_events() if '"card.activated"' in e]
        # SELECT, READ RECORD, VERIFY, then CHANGE PIN
        self.run_pulled("card.activate", {"reader": CARD_READER, "initial_pin": INITIAL,
                                          "new_pin": NEW_PIN}, 3, NEW_PIN)
        events = [e for e in self.outbox_events() if '"card.activated"' in e]
        self.assertEqual(len(events) - len(before), 1, "one activation went through")

    def test_card_pulled_at_each_step_of_reset(self):
        # SELECT, READ RECORD, SELECT (FCI), GET CHALLENGE, EXTERNAL AUTHENTICATE,
        # GET CHALLENGE, then 84 24
        self.run_pulled("pin.reset", {"reader": CARD_READER, "new_pin": RESET_PIN}, 6, RESET_PIN)

    def test_an_unknown_outcome_is_resumed_with_the_new_pin(self):
        state = os.path.join(self.eeprom, "resume.json")
        card = self.insert(state=state, vanish_during=6)
        r = self.call("card.activate", {"reader": CARD_READER, "initial_pin": INITIAL,
                                        "new_pin": NEW_PIN})
        self.assertEqual(r["error"]["data"]["pin_state"], "unknown", r)
        self.pull(card)
        self.insert(state=state)
        # a wrong guess is not taken as the new PIN
        data = self.error("card.activate", {"reader": CARD_READER, "resume": True,
                                            "new_pin": WRONG})
        self.assertEqual(data["code"], "pin_wrong")
        r = self.call("card.activate", {"reader": CARD_READER, "resume": True, "new_pin": NEW_PIN})
        self.assertTrue(r["result"]["ok"], r)
        self.assertTrue(r["result"]["resumed"])
        events = [e for e in self.outbox_events() if r["result"]["event_id"] in e]
        self.assertEqual(len(events), 1)
        self.assertIn('"resumed":true', events[0].replace(" ", ""))


if __name__ == "__main__":
    unittest.main()
