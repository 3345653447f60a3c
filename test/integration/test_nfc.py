"""Contactless cards through real libnfc and the PN532 emulator on a pty (test/sim/pn532_emulator.py).

Each test starts its own emulator and passes sscardd a config naming it under [nfc] devices. pcscd
(with the vpcd readers) runs too, as the ctest fixture starts it: the PC/SC readers are listed
alongside, and the tests with both transports put a virtual card in one of them."""
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from sscard_test import SSCARDD, CardTestCase, Watcher, expected_atr, expected_card, sim_ctl, sscardd

import nfc_ctl  # noqa: E402  (test/sim is on sys.path through sscard_test)

PROFILE = "contactless"
NFC_READER_PREFIX = "NFC 0 ("
TIMEOUT = 30  # no sscardd run may take longer: a hang fails the test instead of blocking it


class NfcTestCase(CardTestCase):
    def setUp(self):
        super().setUp()
        self.devices = []

    def tearDown(self):
        while self.devices:
            self.devices.pop().cleanup()
        super().tearDown()

    def start_pn532(self, profile=PROFILE, **options):
        dev = nfc_ctl.start_pn532(profile, **options)
        self.devices.append(dev)
        dev.reader = "NFC 0 (%s)" % dev.connstring
        return dev

    def run_sscardd(self, *args, config):
        return sscardd(*args, "--config", config, timeout=TIMEOUT)

    def nfc_readers(self, result):
        return [r for r in result.json()["readers"] if r["name"].startswith(NFC_READER_PREFIX)]


class ReadersTest(NfcTestCase):
    def test_one_contactless_reader_with_card_presence(self):
        dev = self.start_pn532(present=False)
        config = dev.write_config()
        r = self.run_sscardd("diag", "readers", "--json", config=config)
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        nfc = self.nfc_readers(r)
        self.assertEqual(len(nfc), 1, r.stdout)
        self.assertEqual(nfc[0]["name"], dev.reader)
        self.assertEqual(nfc[0]["interface"], "contactless")
        self.assertFalse(nfc[0]["card_present"])
        self.assertIsNone(nfc[0]["atr"])

        dev.insert()
        r = self.run_sscardd("diag", "readers", "--json", config=config)
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        nfc = self.nfc_readers(r)
        self.assertTrue(nfc[0]["card_present"])
        # the PC/SC part 3 pseudo-ATR, as a PC/SC contactless reader shows the same card
        self.assertEqual(nfc[0]["atr"], expected_atr(PROFILE))
        self.assertEqual(dev.apdu_count(), 0)  # listing sends no APDU

    def test_missing_device_is_a_warning_not_a_crash(self):
        dev = self.start_pn532()
        config = dev.write_config()
        dev.kill()
        r = self.run_sscardd("diag", "readers", "--json", config=config)
        self.assertIn(dev.connstring, r.stderr)
        if r.code == 0:  # pcscd's readers are still listed
            self.assertEqual(self.nfc_readers(r), [])
        else:
            self.assertEqual(r.json()["error"]["code"], "no_reader")


class ReadTest(NfcTestCase):
    def test_same_card_json_as_over_pcsc_with_at_most_3_apdus(self):
        dev = self.start_pn532(present=True)
        r = self.run_sscardd("diag", "read", "--json", config=dev.write_config())
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        out = r.json()
        self.assertEqual(out["reader"], dev.reader)
        self.assertEqual(out["interface"], "contactless")
        self.assertEqual(out["atr"], expected_atr(PROFILE))
        self.assertEqual(out["card"], expected_card(PROFILE))
        self.assertLessEqual(dev.apdu_count(), 3, dev.apdu_log())

        # the same profile in a PC/SC reader gives the same card JSON and ATR
        self.start_card(PROFILE, port=40000)
        r = sscardd("diag", "read", "--json", "--reader", sim_ctl.READERS[40000], timeout=TIMEOUT)
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        self.assertEqual(r.json()["card"], out["card"])
        self.assertEqual(r.json()["atr"], out["atr"])
        self.assertEqual(r.json()["interface"], "contactless")

    def test_other_profiles_read_contactless(self):
        for name in ("gen3_valid", "gen2"):
            with self.subTest(profile=name):
                dev = self.start_pn532(name, present=True)
                r = self.run_sscardd("diag", "read", "--json", "--reader", dev.reader,
                                     config=dev.write_config())
                self.assertEqual(r.code, 0, r.stdout + r.stderr)
                self.assertEqual(r.json()["card"], expected_card(name))
                self.assertLessEqual(dev.apdu_count(), 3, dev.apdu_log())
                dev.cleanup()

    def test_no_card_in_the_field(self):
        dev = self.start_pn532(present=False)
        r = self.run_sscardd("diag", "read", "--json", "--reader", dev.reader,
                             config=dev.write_config())
        self.assertNotEqual(r.code, 0)
        self.assertEqual(r.json()["error"]["code"], "no_card")

    def test_oversized_apdu_is_refused_before_libnfc(self):
        dev = self.start_pn532(present=True)
        config = dev.write_config()
        # an extended-length case 3 command of 4 + 3 + 258 = 265 bytes
        big = "00DA0000" + "000102" + "AB" * 258
        r = self.run_sscardd("diag", "apdu", "--json", "--reader", dev.reader, big, config=config)
        self.assertNotEqual(r.code, 0, r.stdout)
        self.assertLess(r.code, 128, "sscardd died of a signal")
        err = r.json()["error"]
        self.assertEqual(err["code"], "card_error")
        self.assertIn("libnfc", err["message"])
        self.assertEqual(dev.apdu_count(), 0)
        # the device still works
        r = self.run_sscardd("diag", "read", "--json", config=config)
        self.assertEqual(r.code, 0, r.stdout + r.stderr)


class FaultTest(NfcTestCase):
    def assert_clean_failure(self, r, codes):
        self.assertNotEqual(r.code, 0, r.stdout)
        self.assertLess(r.code, 128, "sscardd died of a signal: %d\n%s" % (r.code, r.stderr))
        err = r.json()["error"]
        self.assertIn(err["code"], codes, err)
        self.assertTrue(err["message"])
        return err

    def test_device_dying_mid_read(self):
        dev = self.start_pn532(present=True, die_after=1)
        r = self.run_sscardd("diag", "read", "--json", "--reader", dev.reader,
                             config=dev.write_config())
        self.assert_clean_failure(r, ("card_removed", "no_reader", "card_error"))
        dev.proc.wait(5)
        self.assertFalse(dev.running())

    def test_device_gone_before_the_read(self):
        dev = self.start_pn532(present=True)
        config = dev.write_config()
        dev.kill()
        r = self.run_sscardd("diag", "read", "--json", "--reader", dev.reader, config=config)
        self.assert_clean_failure(r, ("no_reader",))

    def test_late_answers_give_an_error_not_a_hang(self):
        dev = self.start_pn532(present=True, late_ms=3000)
        config = dev.write_config()
        r = self.run_sscardd("diag", "read", "--json", config=config)
        err = self.assert_clean_failure(r, ("card_error",))
        self.assertIn("Timeout", err["message"])
        self.assertLess(r.elapsed, 10)

    def test_garbage_frames_give_an_error(self):
        dev = self.start_pn532(present=True, garbage_after=1, seed=7)
        r = self.run_sscardd("diag", "read", "--json", config=dev.write_config())
        self.assert_clean_failure(r, ("card_removed", "card_error", "no_reader"))


class WatchTest(NfcTestCase):
    def setUp(self):
        super().setUp()
        self.watcher = None

    def tearDown(self):
        if self.watcher:
            self.watcher.close()
        super().tearDown()

    def test_tap_and_leave(self):
        dev = self.start_pn532(present=False)
        self.watcher = Watcher(dev.write_config())
        e, _ = self.watcher.expect("reader.added", dev.reader)
        self.assertEqual(e["interface"], "contactless")
        dev.insert()
        e, _ = self.watcher.expect("card.inserted", dev.reader, timeout=5)
        self.assertEqual(e["atr"], expected_atr(PROFILE))
        self.assertEqual(e["interface"], "contactless")
        dev.remove()
        self.watcher.expect("card.removed", dev.reader, timeout=5)
        dev.insert()  # a second tap is a new insertion
        self.watcher.expect("card.inserted", dev.reader, timeout=5)
        self.assertEqual(self.watcher.stop(), 0)

    def test_device_loss_and_return(self):
        dev = self.start_pn532(present=True)
        workdir = dev.workdir
        self.watcher = Watcher(dev.write_config())
        self.watcher.expect("card.inserted", dev.reader)
        dev.kill()
        lost, _ = self.watcher.expect("service.lost", timeout=5)
        self.assertIn(dev.connstring, lost["message"])
        self.watcher.expect("card.removed", dev.reader, timeout=5)
        self.watcher.expect("reader.removed", dev.reader, timeout=5)
        # the device comes back at the same path
        again = self.start_pn532(present=True, workdir=workdir)
        self.watcher.expect("reader.added", dev.reader, timeout=15)
        self.watcher.expect("card.inserted", dev.reader, timeout=5)
        self.assertEqual(again.connstring, dev.connstring)
        self.assertEqual(self.watcher.stop(), 0)


class BothTransportsTest(NfcTestCase):
    def test_prefer_decides_which_card_is_read(self):
        pcsc_card = self.start_card("gen3_valid", port=40000)
        dev = self.start_pn532(present=True)

        r = self.run_sscardd("diag", "readers", "--json", config=dev.write_config())
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        by_name = {x["name"]: x for x in r.json()["readers"]}
        self.assertTrue(by_name[sim_ctl.READERS[40000]]["card_present"])
        self.assertEqual(by_name[sim_ctl.READERS[40000]]["interface"], "contact")
        self.assertTrue(by_name[dev.reader]["card_present"])
        self.assertEqual(by_name[dev.reader]["interface"], "contactless")

        contactless = dev.write_config('[readers]\nprefer = "contactless"', "cl.toml")
        r = self.run_sscardd("diag", "read", "--json", config=contactless)
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        self.assertEqual(r.json()["reader"], dev.reader)
        self.assertEqual(r.json()["card"], expected_card(PROFILE))

        contact = dev.write_config('[readers]\nprefer = "contact"', "c.toml")
        r = self.run_sscardd("diag", "read", "--json", config=contact)
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        self.assertEqual(r.json()["reader"], pcsc_card.reader)
        self.assertEqual(r.json()["card"], expected_card("gen3_valid"))

    def test_watch_sees_both(self):
        dev = self.start_pn532(present=False)
        self.watcher = Watcher(dev.write_config())
        try:
            self.watcher.expect("reader.added", dev.reader)
            card = self.start_card("gen2", port=40001, wait_present=False)
            self.watcher.expect("card.inserted", card.reader, timeout=5)
            dev.insert()
            self.watcher.expect("card.inserted", dev.reader, timeout=5)
            self.assertEqual(self.watcher.stop(), 0)
        finally:
            self.watcher.close()


if __name__ == "__main__":
    unittest.main()


class DaemonTapTest(NfcTestCase):
    """sscardd run with an NFC device: a tap is checked and pushed like a PC/SC insertion."""

    def test_tap_gives_card_checked_and_leaving_gives_card_removed(self):
        from api_client import ApiClient
        from sscard_test import load_profile

        dev = self.start_pn532(present=False)
        state = tempfile.mkdtemp(prefix="sscard-nfc-daemon-")
        config = dev.write_config(
            f'[list]\ndatabase = "{state}/list.db"\n[api]\nsocket = "{state}/sscardd.sock"\n'
            f'[backend]\noutbox = "{state}/outbox.db"', "daemon.toml")
        with open(f"{state}/sscardd.log", "w") as log:
            daemon = subprocess.Popen([SSCARDD, "run", "--config", config], stdout=log,
                                       stderr=subprocess.STDOUT)
        try:
            client = None
            for _ in range(100):
                try:
                    client = ApiClient(f"{state}/sscardd.sock")
                    break
                except OSError:
                    time.sleep(0.1)
            self.assertIsNotNone(client, "sscardd did not open its socket")
            self.addCleanup(client.close)
            client.call("events.subscribe")
            # reader.added went out before we subscribed: wait until the daemon lists the device.
            for _ in range(100):
                names = [r["name"] for r in client.call("readers.list")["result"]["readers"]]
                if dev.reader in names:
                    break
                time.sleep(0.1)
            self.assertIn(dev.reader, names)
            dev.insert()
            t_ins, ins = client.expect("card.inserted", lambda p: p["reader"] == dev.reader)
            self.assertEqual(ins["interface"], "contactless")
            t_chk, checked = client.expect("card.checked", lambda p: p.get("reader") == dev.reader)
            self.assertEqual(checked["interface"], "contactless")
            self.assertEqual(checked["card"]["card_number"],
                             load_profile(PROFILE)["ef05"]["card_number"])
            # No list has ever been synced here: the default stale policy refuses.
            self.assertEqual((checked["decision"], checked["reason"]), ("deny", "no_list"))
            self.assertLessEqual(checked["timing"]["apdus"], 3)
            self.assertLess(t_chk - t_ins, 1.0)
            dev.remove()
            client.expect("card.removed", lambda p: p["reader"] == dev.reader, timeout=5)
            daemon.send_signal(signal.SIGTERM)
            self.assertEqual(daemon.wait(timeout=15), 0)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
            shutil.rmtree(state, ignore_errors=True)
