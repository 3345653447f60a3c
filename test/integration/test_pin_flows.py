"""PIN flows of the library (apdu/ssse/pin_commands.hpp, issuer.hpp) through the real pcscd + vpcd:
VERIFY with a falling retry counter, the blocked PIN, the issuer reset through the virtual PSAM in
a second reader (and through a software key file), CHANGE PIN; then no PIN in any log, trace or
file the test produced (ASCII or BCD).

The driver (pin_flows_driver, path in SSCARD_PIN_DRIVER) reads PINs from stdin."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from sscard_test import SOURCE_DIR, CardTestCase, profile, sim_ctl

DRIVER = os.environ.get("SSCARD_PIN_DRIVER",
                        os.path.join(SOURCE_DIR, "build", "test", "integration", "pin_flows_driver"))
CARD_PORT, PSAM_PORT = 40000, 40001
CARD_READER, PSAM_READER = sim_ctl.READERS[CARD_PORT], sim_ctl.READERS[PSAM_PORT]

# Every PIN this test types. None of them may be found anywhere afterwards.
WRONG = ["975318", "864207", "531864"]
INITIAL = "123456"
RESET_PIN = "20481357"
CHANGED_PIN = "739146"
SOFT_RESET_PIN = "5190372"
ALL_PINS = WRONG + [RESET_PIN, CHANGED_PIN, SOFT_RESET_PIN]  # INITIAL is public (the profile)


def bcd(pin):
    return (pin + ("F" if len(pin) % 2 else "")).upper()


def needles(pin):
    b = bcd(pin)
    return [pin, b, " ".join(b[i:i + 2] for i in range(0, len(b), 2))]


@unittest.skipUnless(os.path.exists(DRIVER), "pin_flows_driver not built")
class PinFlowsTest(CardTestCase):
    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="sscard-pin-flows-")
        self.trace = os.path.join(self.work, "trace.log")
        self.card_log = os.path.join(self.work, "card-apdu.log")
        self.psam_log = os.path.join(self.work, "psam-apdu.log")
        self.outputs = []
        self.card_handles = []

    def tearDown(self):
        try:
            for card in self.card_handles:
                card.remove()  # the card's logs are complete once it is out
            self.assert_no_pin_anywhere()
        finally:
            super().tearDown()
            shutil.rmtree(self.work, ignore_errors=True)

    def drive(self, commands, *args):
        """Runs the driver with `commands` on stdin; returns the JSON answers."""
        proc = subprocess.run([DRIVER, "--card", CARD_READER, "--trace", self.trace, *args],
                              input="".join(c + "\n" for c in commands), capture_output=True,
                              text=True, timeout=60)
        self.outputs.append(proc.stdout + proc.stderr)
        with open(os.path.join(self.work, "driver-%d.out" % len(self.outputs)), "w") as f:
            f.write(proc.stdout + proc.stderr)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        answers = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        self.assertEqual(len(answers), len(commands), proc.stdout + proc.stderr)
        return answers

    def assert_no_pin_anywhere(self):
        files = [p for p in glob.glob(os.path.join(self.work, "**"), recursive=True)
                 if os.path.isfile(p)]
        for card in self.card_handles:
            files += [p for p in glob.glob(os.path.join(card.workdir, "**"), recursive=True)
                      if os.path.isfile(p)]
        self.assertIn(self.trace, files)
        self.assertIn(self.card_log, files)
        for path in files:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read().upper()
            for pin in ALL_PINS:
                for needle in needles(pin):
                    self.assertNotIn(needle, text, "PIN found in %s" % path)

    def start(self, name="gen3_valid", psam=True):
        card = self.start_card(name, port=CARD_PORT, log=self.card_log)
        self.card_handles.append(card)
        if psam:
            self.card_handles.append(self.start_card("psam", port=PSAM_PORT, log=self.psam_log, reconnect=True))
        return card

    def test_wrong_pins_block_then_psam_reset_then_change(self):
        card = self.start()
        answers = self.drive(["tries"] + ["verify " + p for p in WRONG] +
                             ["verify " + INITIAL, "tries"])
        self.assertEqual(answers[0], {"op": "tries", "ok": True, "tries_left": 3})
        self.assertEqual([a.get("tries_left") for a in answers[1:4]], [2, 1, 0])
        self.assertEqual([a.get("code") for a in answers[1:4]],
                         ["pin_wrong", "pin_wrong", "pin_blocked"])
        self.assertEqual(answers[4]["code"], "pin_blocked")  # 6983, even with the right PIN
        self.assertEqual(answers[5]["tries_left"], 0)
        log = card.apdu_log()
        self.assertIn(("0020000003******", "6983"), log)

        answers = self.drive(["reset " + RESET_PIN, "verify " + RESET_PIN, "tries",
                              "change %s %s" % (RESET_PIN, CHANGED_PIN), "verify " + RESET_PIN,
                              "verify " + CHANGED_PIN, "tries"],
                             "--psam", PSAM_READER, "--cipher", "sm4")
        self.assertTrue(answers[0]["ok"], answers[0])
        self.assertTrue(answers[1]["ok"], answers[1])
        self.assertEqual(answers[2]["tries_left"], 3)
        self.assertTrue(answers[3]["ok"], answers[3])
        self.assertEqual((answers[4]["code"], answers[4]["tries_left"]), ("pin_wrong", 2))
        self.assertTrue(answers[5]["ok"], answers[5])
        self.assertEqual(answers[6]["tries_left"], 3)
        # the card saw the authenticated reset, the PSAM the SM4 session key derivation
        commands = [c for c, _ in card.apdu_log()]
        self.assertTrue(any(c.startswith("0082000110") for c in commands))
        self.assertTrue(any(c.startswith("8424000114") for c in commands))
        psam_commands = [c for c, _ in self.card_handles[1].apdu_log()]
        self.assertIn("00A4040006D15600000590", psam_commands)
        self.assertIn("BFEC00000133", psam_commands)
        self.assertTrue(any(c.startswith("BFDE270118") for c in psam_commands))
        self.assertTrue(any(c.startswith("80FA000010**") for c in psam_commands))

    def test_des_card_reset_with_psam_and_unblock(self):
        self.start("gen3_des")
        answers = self.drive(["verify " + WRONG[0], "unblock", "tries",
                              "reset " + RESET_PIN, "verify " + RESET_PIN],
                             "--psam", PSAM_READER, "--psam-key-id", "2")  # cipher from the FCI
        self.assertEqual(answers[0]["tries_left"], 2)
        self.assertTrue(answers[1]["ok"], answers[1])
        self.assertEqual(answers[2]["tries_left"], 3)
        self.assertTrue(answers[3]["ok"], answers[3])
        self.assertTrue(answers[4]["ok"], answers[4])

    def test_software_key_file_reset(self):
        self.start(psam=False)
        keys = os.path.join(self.work, "keys.txt")
        with open(profile("gen3_valid"), encoding="utf-8") as f:
            master = json.load(f)["master_keys"]["puk"]
        with open(keys, "w") as f:
            f.write("# lab keys\npuk sm4 3 %s\n" % master)
        os.chmod(keys, 0o600)
        # refused unless explicitly enabled
        answers = self.drive(["reset " + SOFT_RESET_PIN], "--keys", keys)
        self.assertEqual(answers[0]["code"], "config")
        answers = self.drive(["reset " + SOFT_RESET_PIN, "verify " + SOFT_RESET_PIN],
                             "--keys", keys, "--allow-software-keys")
        self.assertTrue(answers[0]["ok"], answers[0])
        self.assertTrue(answers[1]["ok"], answers[1])
        self.assertIn("SOFTWARE KEY FILE IN USE", self.outputs[-1])

    def test_wrong_psam_key_is_refused_cleanly(self):
        card = self.start()
        # the 3DES key (PSAM key 02) for an SM4 card: the card refuses the authentication
        answers = self.drive(["reset " + RESET_PIN, "verify " + INITIAL],
                             "--psam", PSAM_READER, "--cipher", "sm4", "--psam-key-id", "2")
        self.assertEqual(answers[0]["code"], "card_error")
        self.assertIn("EXTERNAL AUTHENTICATE", answers[0]["message"])
        self.assertTrue(answers[1]["ok"])  # the PIN is unchanged
        self.assertFalse(any(c.startswith("8424") for c, _ in card.apdu_log()))

    def test_card_pulled_at_each_step_of_reset(self):
        """APDUs of a reset: SELECT, READ RECORD (EF05), SELECT (FCI, for the cipher), GET
        CHALLENGE, EXTERNAL AUTHENTICATE, GET CHALLENGE, 84 24. The card vanishes right after
        answering APDU n."""
        # The simulated card's EEPROM (PIN and counter) persists in a state file, which holds the
        # PIN by nature: it lives outside the directory searched for PINs.
        eeprom = tempfile.mkdtemp(prefix="sscard-pin-eeprom-")
        self.addCleanup(shutil.rmtree, eeprom, True)
        self.card_handles.append(self.start_card("psam", port=PSAM_PORT, log=self.psam_log, reconnect=True))
        for n in range(1, 8):
            with self.subTest(vanish_after=n):
                state = os.path.join(eeprom, "card-%d.json" % n)
                pulled = self.start_card("gen3_valid", port=CARD_PORT, log=self.card_log,
                                         vanish_after=n, state_file=state)
                self.card_handles.append(pulled)
                answer = self.drive(["reset " + RESET_PIN], "--psam", PSAM_READER)[0]
                pulled.wait_exit(10)
                pulled.remove()
                again = self.start_card("gen3_valid", port=CARD_PORT, log=self.card_log,
                                        state_file=state)
                self.card_handles.append(again)
                after = self.drive(["verify " + RESET_PIN, "verify " + INITIAL])
                again.remove()
                if n < 7:
                    # the reset never reached the card: a clean error, the PIN unchanged
                    self.assertFalse(answer["ok"], answer)
                    self.assertIn(answer["code"], ("card_removed", "card_error"), answer)
                    self.assertEqual(after[0]["code"], "pin_wrong")
                    self.assertTrue(after[1]["ok"], after[1])
                else:
                    # the card answered the reset before it went: done, the new PIN holds
                    self.assertTrue(answer["ok"], answer)
                    self.assertTrue(after[0]["ok"], after[0])


if __name__ == "__main__":
    unittest.main()
