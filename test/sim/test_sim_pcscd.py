"""The virtual card through the real pcscd and vpcd (sim_ctl + pcsc_client).

Opt-in, because it uses the machine's shared pcscd and its virtual readers:

    test/env/pcscd-env.sh start
    SSCARD_SIM_PCSCD=1 /usr/bin/python3 -m unittest discover -s test/sim

Uses the first reader without a card.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pcsc_client  # noqa: E402
import sim_ctl  # noqa: E402

H = bytes.fromhex
SELECT_SSSE = H("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")


def setUpModule():
    if os.environ.get("SSCARD_SIM_PCSCD") != "1":
        raise unittest.SkipTest("set SSCARD_SIM_PCSCD=1 to run against pcscd")
    if not pcsc_client.available():
        raise unittest.SkipTest("libpcsclite.so.1 not found")
    sim_ctl.ensure_env()


def free_port():
    for port in sim_ctl.READERS:
        if not sim_ctl._card_in_port(port):
            return port
    raise unittest.SkipTest("all virtual readers hold a card")


class PcscdTest(unittest.TestCase):
    def test_t0_card(self):
        with sim_ctl.start_card("gen3", free_port(), protocol="t0") as c, \
                pcsc_client.Context() as ctx, ctx.connect(c.reader) as card:
            self.assertEqual(card.protocol, pcsc_client.SCARD_PROTOCOL_T0)
            self.assertEqual(card.transmit(SELECT_SSSE), H("611E"))
            self.assertEqual(card.transmit(H("00C000001E"))[-2:], H("9000"))
            self.assertEqual(card.transmit(H("00B2072C0B")), H("0709") + b"B7K334774" + H("9000"))
            self.assertEqual(card.transmit(H("0020000003123456")), H("9000"))
            self.assertEqual(c.apdu_count(), 4)
            self.assertEqual(c.apdu_log()[3], ("0020000003******", "9000"))

    def test_t1_card(self):
        with sim_ctl.start_card("gen2", free_port(), protocol="t1") as c, \
                pcsc_client.Context() as ctx, ctx.connect(c.reader) as card:
            self.assertEqual(card.protocol, pcsc_client.SCARD_PROTOCOL_T1)
            self.assertEqual(card.transmit(SELECT_SSSE + b"\x00")[-2:], H("9000"))
            self.assertEqual(len(card.transmit(H("00B2012D00"))), 66)

    def test_contactless_card_is_t1(self):
        with sim_ctl.start_card("contactless", free_port()) as c, \
                pcsc_client.Context() as ctx:
            ev, atr = ctx.state(c.reader)
            self.assertEqual(atr[:4], H("3B8D8001"))
            with ctx.connect(c.reader) as card:
                self.assertEqual(card.protocol, pcsc_client.SCARD_PROTOCOL_T1)

    def test_remove_and_vanish(self):
        c = sim_ctl.start_card("gen3_valid", free_port(), vanish_after=1)
        try:
            with pcsc_client.Context() as ctx:
                card = ctx.connect(c.reader)
                card.transmit(SELECT_SSSE)
                with self.assertRaises(pcsc_client.PcscError):
                    card.transmit(H("00B2072C0B"))
                self.assertEqual(c.wait_exit(5), 0)
                ctx.wait_card(c.reader, present=False, timeout_s=5)
                card.disconnect()
        finally:
            c.cleanup()

    def test_reinsert_keeps_pin_state(self):
        port = free_port()
        state = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sscard-sim-state-%d.json" % os.getpid())
        try:
            with sim_ctl.start_card("gen2", port, state_file=state) as c, \
                    pcsc_client.Context() as ctx, ctx.connect(c.reader) as card:
                self.assertEqual(card.transmit(H("805E010007123456FF654321")), H("9000"))
            t = time.monotonic()
            with sim_ctl.start_card("gen2", port, state_file=state) as c, \
                    pcsc_client.Context() as ctx, ctx.connect(c.reader) as card:
                self.assertLess(time.monotonic() - t, 5)
                self.assertEqual(card.transmit(H("0020000003654321")), H("9000"))
        finally:
            if os.path.exists(state):
                os.unlink(state)


if __name__ == "__main__":
    unittest.main()
