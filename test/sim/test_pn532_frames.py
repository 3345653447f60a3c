"""Unit tests of the PN532 frame codec and the emulator's command handling (no pty, no libnfc)."""
import io
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pn532_emulator import Emulator  # noqa: E402
from pn532_frames import (ACK, ERROR_FRAME, NACK, Parser, build_ats, checksum, decode_all,  # noqa: E402
                          encode_command, encode_response)
from ssse_card import SsseCard, load_profile, profile_path  # noqa: E402

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")
WAKEUP = b"\x55\x55" + b"\x00" * 14


class FrameTest(unittest.TestCase):
    def test_checksums(self):
        self.assertEqual(checksum(b"\x04"), 0xFC)
        self.assertEqual((sum(b"\xD4\x4A\x01\x00") + checksum(b"\xD4\x4A\x01\x00")) & 0xFF, 0)

    def test_encode_normal_frame(self):
        # InListPassiveTarget 1 target, 106 kbps type A, as libnfc sends it
        self.assertEqual(encode_command(b"\x4A\x01\x00").hex(), "0000ff04fcd44a0100e100")
        self.assertEqual(encode_response(b"\x4B\x00").hex(), "0000ff03fdd54b00e000")

    def test_len_ff_is_a_normal_frame(self):
        payload = bytes(254)  # TFI + 254 = 255 = LEN FF
        frame = encode_command(payload)
        self.assertEqual(frame[:5].hex(), "0000ff" + "ff01")
        self.assertEqual(decode_all(frame), [("frame", 0xD4, payload)])

    def test_extended_frame_round_trip(self):
        payload = bytes(range(256)) + b"\x01\x02"
        frame = encode_command(payload)
        self.assertEqual(frame[:5].hex(), "0000ffffff")
        hi, lo = frame[5], frame[6]
        self.assertEqual((hi << 8) | lo, len(payload) + 1)
        self.assertEqual((hi + lo + frame[7]) & 0xFF, 0)
        self.assertEqual(decode_all(frame), [("frame", 0xD4, payload)])

    def test_ack_nack_and_wakeup_skipping(self):
        items = decode_all(WAKEUP + ACK + NACK + encode_command(b"\x02"))
        self.assertEqual(items, [("ack",), ("nack",), ("frame", 0xD4, b"\x02")])

    def test_incremental_feed(self):
        frame = encode_command(b"\x40\x01" + SELECT_SSSE)
        p = Parser()
        for i, b in enumerate(frame):
            p.feed(bytes((b,)))
            item = p.next()
            if i < len(frame) - 2:  # complete once DCS arrived; the postamble is optional
                self.assertIsNone(item)
            elif item is not None:
                self.assertEqual(item, ("frame", 0xD4, b"\x40\x01" + SELECT_SSSE))
                return
        self.fail("frame never decoded")

    def test_bad_checksums(self):
        frame = bytearray(encode_command(b"\x02"))
        frame[-2] ^= 0xFF  # DCS
        self.assertEqual(decode_all(bytes(frame)), [("bad", "data checksum")])
        bad_len = b"\x00\x00\xFF\x03\x00" + b"\xD4\x02\x2A\x00"
        self.assertEqual(decode_all(bad_len)[0], ("bad", "length checksum"))

    def test_ats(self):
        ats = build_ats(bytes.fromhex("00814E43"))
        self.assertEqual(ats[0], len(ats))  # TL counts itself
        self.assertEqual(ats.hex().upper(), "0978808102" + "00814E43")


def payloads(data):
    """The response payloads (after TFI D5) in what the emulator wrote, ACKs checked and dropped."""
    out = []
    for item in decode_all(data):
        if item == ("ack",):
            continue
        if item[0] == "frame":
            assert item[1] == 0xD5, item
            out.append(item[2])
        else:
            out.append(item)
    return out


class EmulatorTest(unittest.TestCase):
    def setUp(self):
        card = SsseCard(load_profile(profile_path("contactless")), "t1")
        self.log = io.StringIO()
        self.emu = Emulator(card, bytes.fromhex("08A1B2C3"), self.log)

    def cmd(self, payload, wakeup=False):
        out = self.emu.receive((WAKEUP if wakeup else b"") + encode_command(payload))
        self.assertTrue(out.startswith(ACK), out.hex())
        return payloads(out)

    def test_open_sequence_answers(self):
        self.assertEqual(self.cmd(b"\x14\x01", wakeup=True), [b"\x15"])
        diag = bytes.fromhex("00006C69626E6663")
        self.assertEqual(self.cmd(diag), [bytes.fromhex("01006C69626E6663")])
        fw = self.cmd(b"\x02")[0]
        self.assertEqual(fw[:2], b"\x03\x32")
        self.assertTrue(fw[-1] & 0x01)
        self.assertEqual(self.cmd(b"\x12\x14"), [b"\x13"])

    def test_register_file(self):
        self.assertEqual(self.cmd(b"\x06\x63\x3C\x63\x05"), [b"\x07\x00\x00"])
        self.assertEqual(self.cmd(b"\x08\x63\x05\x40"), [b"\x09"])
        self.assertEqual(self.cmd(b"\x06\x63\x05"), [b"\x07\x40"])

    def test_select_exchange_presence_and_removal(self):
        self.assertEqual(self.cmd(b"\x4A\x01\x00"), [b"\x4B\x00"])  # empty field
        self.emu.insert()
        target = self.cmd(b"\x4A\x01\x00")[0]
        self.assertEqual(target[:4], b"\x4B\x01\x01\x00")
        self.assertEqual(target[5], 0x20)  # SAK: ISO 14443-4
        self.assertEqual(target[6], 4)
        self.assertEqual(target[7:11].hex().upper(), "08A1B2C3")
        self.assertEqual(target[11], len(target) - 11)  # TL
        answer = self.cmd(b"\x40\x01" + SELECT_SSSE)[0]
        self.assertEqual(answer[:2], b"\x41\x00")
        self.assertEqual(answer[-2:], b"\x90\x00")
        self.assertEqual(self.cmd(b"\x42\xB2"), [b"\x43\x00\xA2"])
        self.emu.remove()
        self.assertEqual(self.cmd(b"\x42\xB2"), [b"\x43\x01"])
        self.assertEqual(self.cmd(b"\x40\x01\x00\xB2\x01\x2C\x00"), [b"\x41\x01"])
        self.assertEqual(self.cmd(b"\x16\xF0"), [b"\x17\x00"])
        self.assertEqual(self.cmd(b"\x52\x00"), [b"\x53\x00"])
        self.assertEqual(self.emu.apdus, 1)
        self.assertIn(" -> ", self.log.getvalue())

    def test_pin_data_is_redacted_in_the_log(self):
        self.emu.insert()
        self.cmd(b"\x4A\x01\x00")
        self.cmd(b"\x40\x01" + bytes.fromhex("0020000003123456"))
        line = self.log.getvalue().strip()
        self.assertTrue(line.startswith("0020000003****** -> "), line)

    def test_late_answer_and_abort(self):
        self.emu.late_ms = 50
        self.emu.insert()
        self.cmd(b"\x4A\x01\x00")
        out = self.emu.receive(encode_command(b"\x40\x01" + SELECT_SSSE))
        self.assertEqual(out, ACK)  # the answer is held back
        self.assertIsNone(self.emu.due())
        time.sleep(0.06)
        late = self.emu.due()
        self.assertEqual(payloads(late)[0][:2], b"\x41\x00")
        # an ACK from the host aborts a pending answer
        self.assertEqual(self.emu.receive(encode_command(b"\x40\x01" + SELECT_SSSE)), ACK)
        self.emu.receive(ACK)
        time.sleep(0.06)
        self.assertIsNone(self.emu.due())

    def test_garbage_after(self):
        self.emu.garbage_after = 1
        self.emu.insert()
        self.cmd(b"\x4A\x01\x00")
        self.assertEqual(self.cmd(b"\x40\x01" + SELECT_SSSE)[0][:2], b"\x41\x00")
        out = self.emu.receive(encode_command(b"\x40\x01" + SELECT_SSSE))
        self.assertTrue(out.startswith(ACK))
        self.assertEqual(decode_all(out[len(ACK):])[0], ("bad", "length checksum"))

    def test_nack_repeats_and_bad_frames_get_the_error_frame(self):
        first = self.emu.receive(encode_command(b"\x02"))
        self.assertEqual(self.emu.receive(NACK), first[len(ACK):])
        frame = bytearray(encode_command(b"\x02"))
        frame[-2] ^= 1
        self.assertEqual(self.emu.receive(bytes(frame)), ERROR_FRAME)


if __name__ == "__main__":
    unittest.main()
