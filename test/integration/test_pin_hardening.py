"""What another program or API caller on the terminal can do around the daemon's PIN and issuer
flows (real pcscd + vpcd + the project's virtual card and PSAM): it finds no verified PIN left on a
card after a flow, it cannot forge a resumed activation, it cannot open the PSAM's slot while the
daemon runs, and the daemon takes the PSAM back after it was pulled and reinserted."""
import time
import unittest

from sscard_test import load_profile, sim_ctl, wait_for
from test_pin_api import INITIAL, NEW_PIN, DaemonWithPins
import pcsc_client  # noqa: E402  (test/sim, on the path through sscard_test)

CARD_PORT, PSAM_PORT = 40000, 40001
CARD_READER, PSAM_READER = sim_ctl.READERS[CARD_PORT], sim_ctl.READERS[PSAM_PORT]
SSSE_SELECT = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
PIN_RECORD = "1003414243"
READ_PIN_RECORD = bytes.fromhex("00B2013C00")  # EF07 (SFI 7) record 1: needs a verified PIN
RESET_PIN = "38620417"


def sw(answer):
    return answer[-2:].hex().upper()


class OtherProgram:
    """A second PC/SC client on the card's reader, sharing it with the daemon."""

    def __init__(self, reader):
        self.ctx = pcsc_client.Context()
        self.card = self.ctx.connect(reader)
        self.resets_seen = 0

    def send(self, apdu):
        """One APDU; a reset by someone else is noted, then the handle is reconnected."""
        try:
            return self.card.transmit(apdu)
        except pcsc_client.PcscError as e:
            if e.rv != pcsc_client.SCARD_W_RESET_CARD:
                raise
            self.resets_seen += 1
            self.card.reconnect(pcsc_client.SCARD_LEAVE_CARD)
            return self.card.transmit(apdu)

    def close(self):
        self.card.disconnect()
        self.ctx.close()


def connect_error(reader, share=pcsc_client.SCARD_SHARE_SHARED):
    """What SCardConnect answers another program for `reader` (0 when it gets the card)."""
    with pcsc_client.Context() as ctx:
        try:
            ctx.connect(reader, share=share).disconnect()
            return 0
        except pcsc_client.PcscError as e:
            return e.rv


def held_by_the_daemon(reader):
    return connect_error(reader) == pcsc_client.SCARD_E_SHARING_VIOLATION


class PinStateTest(DaemonWithPins):
    def insert_card_with_pin_record(self):
        profile = load_profile("gen2")
        profile["pin_record_hex"] = PIN_RECORD
        card = sim_ctl.start_card(profile, port=CARD_PORT)
        self.cards.append(card)
        deadline = time.monotonic() + 10
        while card.apdu_count() < 2:  # the daemon's automatic check is done
            self.assertLess(time.monotonic(), deadline, "the daemon never checked the card")
            time.sleep(0.05)
        return card

    def test_a_pin_verified_through_the_api_is_not_left_for_another_program(self):
        self.insert_card_with_pin_record()
        other = OtherProgram(CARD_READER)
        try:
            self.assertEqual(sw(other.send(SSSE_SELECT)), "9000")
            self.assertEqual(sw(other.send(READ_PIN_RECORD)), "6982")
            # The gate is real: with a verified PIN the record reads.
            pin = bytes.fromhex(INITIAL)
            self.assertEqual(sw(other.send(bytes([0, 0x20, 0, 0, len(pin)]) + pin)), "9000")
            self.assertEqual(other.send(READ_PIN_RECORD).hex().upper(), PIN_RECORD + "9000")
            other.card.reconnect(pcsc_client.SCARD_RESET_CARD)

            r = self.call("pin.verify", {"reader": CARD_READER, "pin": INITIAL})
            self.assertEqual(r.get("result"), {"ok": True, "tries_left": 3}, r)
            self.assertEqual(sw(other.send(SSSE_SELECT)), "9000")
            self.assertEqual(sw(other.send(READ_PIN_RECORD)), "6982")
            self.assertGreaterEqual(other.resets_seen, 1, "the daemon did not reset the card")
        finally:
            other.close()


class ResumeTest(DaemonWithPins):
    def test_resume_is_refused_for_an_activation_that_did_not_end_unknown(self):
        self.start_card("gen3_valid", port=CARD_PORT)
        r = self.call("card.activate", {"reader": CARD_READER, "initial_pin": INITIAL,
                                        "new_pin": NEW_PIN})
        self.assertTrue(r.get("result", {}).get("ok"), r)
        # Knowing the PIN, a caller tries to forge a second activation replacing some other card.
        r = self.call("card.activate", {"reader": CARD_READER, "resume": True, "new_pin": NEW_PIN,
                                        "old_card": {"region": "330300",
                                                     "card_number": "KD5578904"}})
        self.assertEqual(r.get("error", {}).get("data", {}).get("code"), "not_allowed", r)
        self.assertIn("unknown", r["error"]["message"])
        events = [e for e in self.outbox_events() if '"card.activated"' in e]
        self.assertEqual(len(events), 1, events)
        self.assertNotIn("KD5578904", events[0])


class SamSlotTest(DaemonWithPins):
    """The daemon starts without a PSAM; it takes the PSAM when it arrives and keeps it."""

    EXTRA_CONFIG = f"""[keys]
source = "psam"
psam_reader = "{PSAM_READER}"
[pin]
attempts_per_minute = 100
min_length = 6
max_length = 8
"""
    PINS_USED = [INITIAL, RESET_PIN]

    def insert_card(self):
        card = self.start_card("gen3_valid", port=CARD_PORT)
        deadline = time.monotonic() + 10
        while card.apdu_count() < 2:  # the daemon's automatic check is done
            self.assertLess(time.monotonic(), deadline, "the daemon never checked the card")
            time.sleep(0.05)
        return card

    def reset_pin(self):
        r = self.call("pin.reset", {"reader": CARD_READER, "new_pin": RESET_PIN})
        self.assertTrue(r.get("result", {}).get("ok"), r)
        r = self.call("pin.verify", {"reader": CARD_READER, "pin": RESET_PIN})
        self.assertEqual(r.get("result"), {"ok": True, "tries_left": 3}, r)

    def test_no_other_program_reaches_the_psam_and_it_is_held_again_after_a_pull(self):
        psam = self.start_card("psam", port=PSAM_PORT, reconnect=True)
        self.assertTrue(wait_for(lambda: held_by_the_daemon(PSAM_READER)),
                        "the daemon did not take the PSAM when it arrived")
        self.assertEqual(connect_error(PSAM_READER, pcsc_client.SCARD_SHARE_EXCLUSIVE),
                         pcsc_client.SCARD_E_SHARING_VIOLATION)
        self.insert_card()
        self.assertEqual(connect_error(CARD_READER), 0, "the card's reader stays shared")
        self.reset_pin()
        self.assertTrue(any(c.startswith("BFDE") for c, _ in psam.apdu_log()))
        self.assertTrue(held_by_the_daemon(PSAM_READER), "the PSAM was let go after the reset")

        psam.remove()
        # pcscd notices the removal at its next poll of vpcd; until then the slot still reads as
        # held (sharing violation).
        self.assertTrue(wait_for(lambda: connect_error(PSAM_READER) == 0x8010000C),  # NO_SMARTCARD
                        f"the PSAM's slot should be empty (last: {connect_error(PSAM_READER):#x})")
        data = self.call("pin.reset", {"reader": CARD_READER, "new_pin": RESET_PIN})
        self.assertEqual(data["error"]["data"]["code"], "no_card", data)

        again = self.start_card("psam", port=PSAM_PORT, reconnect=True)
        self.assertTrue(wait_for(lambda: held_by_the_daemon(PSAM_READER)),
                        "the daemon did not take the reinserted PSAM")
        self.reset_pin()
        self.assertTrue(any(c.startswith("BFDE") for c, _ in again.apdu_log()))
        self.assertTrue(held_by_the_daemon(PSAM_READER))


if __name__ == "__main__":
    unittest.main()
