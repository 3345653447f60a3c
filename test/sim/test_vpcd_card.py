"""Tests of the vpcd front end against a fake vpcd (a local TCP server); no pcscd needed."""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
VPCD_CARD = os.path.join(HERE, "vpcd_card.py")
H = bytes.fromhex


def read(path):
    with open(path) as f:
        return f.read()
SELECT_SSSE = H("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")


class FakeVpcd:
    """The server side of vpcd's protocol."""

    def __init__(self, port=0):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.conn = None

    def accept(self, timeout=10):
        self.srv.settimeout(timeout)
        self.conn, _ = self.srv.accept()
        self.conn.settimeout(timeout)
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv(self):
        head = self._recv_exact(2)
        if head is None:
            return None
        return self._recv_exact(struct.unpack(">H", head)[0])

    def send(self, data):
        self.conn.sendall(struct.pack(">H", len(data)) + data)

    def ctrl(self, c):
        self.send(bytes((c,)))

    def atr(self):
        self.ctrl(4)
        return self.recv()

    def insert(self):
        """What pcscd does when it finds a card: probe, power on, ATR."""
        self.accept()
        atr = self.atr()
        self.ctrl(1)
        self.assert_atr = self.atr()
        return atr

    def apdu(self, hexstr):
        self.send(H(hexstr) if isinstance(hexstr, str) else hexstr)
        return self.recv()

    def close_conn(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def close(self):
        self.close_conn()
        self.srv.close()


class VpcdCardTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.vpcd = FakeVpcd()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stderr.close()
        self.vpcd.close()
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def start(self, *args, profile="gen3", port=None):
        cmd = [sys.executable, VPCD_CARD, "--profile", profile,
               "--port", str(port or self.vpcd.port)] + list(args)
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        return p

    def wait_file(self, path, timeout=5):
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def test_session_log_and_ready_file(self):
        log, ready = self.path("apdu.log"), self.path("ready")
        p = self.start("--log", log, "--ready-file", ready, "--protocol", "t0")
        self.vpcd.accept()
        self.assertEqual(self.vpcd.atr(), H("3B6D000000814E43238697153399110145"))
        time.sleep(0.05)
        self.assertFalse(os.path.exists(ready), "ready only after power-on + ATR")
        self.vpcd.ctrl(1)
        self.vpcd.atr()
        self.assertTrue(self.wait_file(ready))
        self.assertEqual(self.vpcd.apdu(SELECT_SSSE), H("611E"))
        self.assertEqual(self.vpcd.apdu("00C000001E")[-2:], H("9000"))
        self.assertEqual(self.vpcd.apdu("00B2072C0B"), H("0709") + b"B7K334774" + H("9000"))
        self.assertEqual(self.vpcd.apdu("0020000003123456"), H("9000"))
        self.assertEqual(self.vpcd.apdu("805E010007123456FF654321"), H("9000"))
        self.vpcd.ctrl(2)  # reset: selection gone
        self.assertEqual(self.vpcd.apdu("00B2072C0B"), H("6A82"))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(5), 0)
        self.assertIsNone(self.vpcd.recv(), "socket closed = card removed")
        self.assertFalse(os.path.exists(ready))
        lines = read(log).splitlines()
        self.assertEqual(lines, [
            "00A404000F7378312E73682EC9E7BBE1B1A3D5CF -> 611E",
            "00C000001E -> 6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C038601039000",
            "00B2072C0B -> 070942374B3333343737349000",
            "0020000003****** -> 9000",
            "805E010007************** -> 9000",
            "00B2072C0B -> 6A82",
        ])
        self.assertNotIn("123456", read(log))
        err = p.stderr.read()
        self.assertIn("connected to vpcd", err)
        self.assertIn("SIGTERM", err)

    def test_t1_and_contactless_atr(self):
        self.start("--protocol", "t1")
        self.vpcd.accept()
        atr = self.vpcd.atr()
        self.assertEqual(atr[:6], H("3B8D8131FE45"))
        self.assertEqual(self.vpcd.apdu(SELECT_SSSE + b"\x00")[-2:], H("9000"))
        self.vpcd.close_conn()
        vpcd2 = FakeVpcd()
        try:
            self.start(profile="contactless", port=vpcd2.port)
            vpcd2.accept()
            self.assertEqual(vpcd2.atr()[:4], H("3B8D8001"))
        finally:
            vpcd2.close()

    def test_retries_until_vpcd_listens(self):
        port = self.vpcd.port
        self.vpcd.close()
        p = self.start("--connect-timeout", "5", port=port)
        time.sleep(0.3)
        self.vpcd = FakeVpcd(port)
        self.vpcd.accept(5)
        self.assertEqual(self.vpcd.atr()[0], 0x3B)
        p.terminate()
        self.assertEqual(p.wait(5), 0)

    def test_connect_timeout(self):
        port = self.vpcd.port
        self.vpcd.close()
        p = self.start("--connect-timeout", "0.3", port=port)
        self.assertEqual(p.wait(5), 1)
        self.assertIn("does not listen", p.stderr.read())
        self.vpcd = FakeVpcd()

    def test_vpcd_closes(self):
        p = self.start()
        self.vpcd.accept()
        self.vpcd.atr()
        self.vpcd.close_conn()
        self.assertEqual(p.wait(5), 0)
        self.assertIn("vpcd closed", p.stderr.read())

    def test_reconnect(self):
        p = self.start("--reconnect")
        self.vpcd.insert()
        self.vpcd.apdu(SELECT_SSSE)
        self.vpcd.close_conn()
        self.vpcd.accept()  # the card comes back
        self.vpcd.ctrl(1)
        self.assertEqual(self.vpcd.apdu("00B2072C0B"), H("6A82"))  # powered off in between
        p.terminate()
        self.assertEqual(p.wait(5), 0)

    def test_vanish_after(self):
        log = self.path("apdu.log")
        p = self.start("--vanish-after", "2", "--log", log)
        self.vpcd.insert()
        self.assertIsNotNone(self.vpcd.apdu(SELECT_SSSE))
        self.assertIsNotNone(self.vpcd.apdu("00B2072C0B"))
        self.assertIsNone(self.vpcd.recv())
        self.assertEqual(p.wait(5), 0)
        self.assertEqual(len(read(log).splitlines()), 2)

    def test_vanish_after_zero(self):
        log = self.path("apdu.log")
        p = self.start("--vanish-after", "0", "--log", log)
        self.vpcd.insert()
        self.assertIsNone(self.vpcd.apdu(SELECT_SSSE))
        self.assertEqual(p.wait(5), 0)
        self.assertEqual(read(log), "00A404000F7378312E73682EC9E7BBE1B1A3D5CF -> \n")

    def test_sw_after(self):
        self.start("--sw-after", "1:6F00", "--protocol", "t1")
        self.vpcd.insert()
        self.assertEqual(self.vpcd.apdu(SELECT_SSSE)[-2:], H("9000"))
        self.assertEqual(self.vpcd.apdu("00B2072C0B"), H("6F00"))
        self.assertEqual(self.vpcd.apdu("00B2072C0B"), H("6F00"))

    def test_truncate_after(self):
        self.start("--truncate-after", "1", "--protocol", "t1")
        self.vpcd.insert()
        self.vpcd.apdu(SELECT_SSSE)
        self.assertEqual(self.vpcd.apdu("00B2072C0B"), H("0709") + b"B7K")
        self.assertEqual(self.vpcd.apdu("00B2082C0B"), H("6A"))

    def test_garbage_after(self):
        self.start("--garbage-after", "1", "--seed", "1", "--protocol", "t1")
        self.vpcd.insert()
        self.vpcd.apdu(SELECT_SSSE)
        real = H("0709") + b"B7K334774" + H("9000")
        answers = [self.vpcd.apdu("00B2072C0B") for _ in range(20)]
        self.assertTrue(all(1 <= len(a) <= 40 for a in answers))
        self.assertNotIn(real, answers)

    def test_latency(self):
        self.start("--latency-ms", "100")
        self.vpcd.insert()
        t = time.monotonic()
        self.vpcd.atr()  # control messages are not delayed
        self.assertLess(time.monotonic() - t, 0.09)
        t = time.monotonic()
        self.vpcd.apdu(SELECT_SSSE)
        self.assertGreaterEqual(time.monotonic() - t, 0.1)

    def test_state_file_keeps_pin(self):
        state = self.path("state.json")
        p = self.start("--state-file", state)
        self.vpcd.insert()
        self.assertEqual(self.vpcd.apdu("805E010007123456FF654321"), H("9000"))
        self.assertEqual(self.vpcd.apdu("0020000003111111"), H("63C2"))
        p.terminate()
        p.wait(5)
        self.vpcd.close_conn()
        self.start("--state-file", state)
        self.vpcd.insert()
        self.assertEqual(self.vpcd.apdu("00200000"), H("63C2"))
        self.assertEqual(self.vpcd.apdu("0020000003654321"), H("9000"))

    def test_state_file_keeps_the_read_key_counter(self):
        state, log = self.path("state.json"), self.path("apdu.log")
        p = self.start("--state-file", state, "--log", log, profile="gen3_protected")
        self.vpcd.insert()
        self.vpcd.apdu(SELECT_SSSE)
        self.vpcd.apdu("0084000008")
        self.vpcd.apdu("0084000008")
        self.assertEqual(self.vpcd.apdu("0082000A10" + "00" * 16), H("63C2"))
        self.assertTrue(read(log).splitlines()[-1].startswith("0082000A10" + "00" * 16 + " -> "))
        p.terminate()
        p.wait(5)
        self.vpcd.close_conn()
        self.start("--state-file", state, profile="gen3_protected")
        self.vpcd.insert()
        self.vpcd.apdu(SELECT_SSSE)
        self.vpcd.apdu("0084000008")
        self.vpcd.apdu("0084000008")
        self.assertEqual(self.vpcd.apdu("0082000A10" + "00" * 16), H("63C1"))

    def test_vanish_during_carries_out_the_command_without_answering(self):
        state, log = self.path("state.json"), self.path("apdu.log")
        p = self.start("--state-file", state, "--vanish-during", "2", "--log", log)
        self.vpcd.insert()
        self.assertIsNotNone(self.vpcd.apdu(SELECT_SSSE))
        self.assertIsNone(self.vpcd.apdu("805E010007123456FF654321"))  # the card is gone
        self.assertEqual(p.wait(5), 0)
        self.assertTrue(read(log).splitlines()[1].endswith("-> "))
        self.vpcd.close_conn()
        self.start("--state-file", state)
        self.vpcd.insert()
        self.assertEqual(self.vpcd.apdu("0020000003654321"), H("9000"))  # it did happen

    def test_no_multi_read(self):
        self.start("--no-multi-read", "--multi-read-refusal", "6d00", "--protocol", "t1")
        self.vpcd.insert()
        self.vpcd.apdu(SELECT_SSSE)
        self.assertEqual(self.vpcd.apdu("00B2012D00"), H("6D00"))

    def test_bad_profile(self):
        bad = self.path("bad.json")
        with open(bad, "w") as f:
            f.write('{"ef05": {"card_numbr": "B7K334774"}}')
        p = self.start(profile=bad)
        self.assertEqual(p.wait(5), 2)
        self.assertIn("card_numbr", p.stderr.read())


if __name__ == "__main__":
    unittest.main()
