"""The HSM stand-in and the two-step 3rd-generation read end to end, in pure Python: the card's
step-1 values -> hsm_standin -> the card accepts the cryptogram and its internal answer matches
(a copied card's does not). No pcscd."""

import os
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import card_crypto  # noqa: E402
import hsm_standin  # noqa: E402
from ssse_card import SSSE_DF_NAME, SsseCard, load_profile, profile_path  # noqa: E402

H = bytes.fromhex
KEY_FILE = os.path.join(HERE, "keys", "test_issuer.keys")
GET_CHALLENGE = H("0084000008")


def data(c, r):
    if len(r) == 2 and r[0] == 0x61:
        r = c.process(H("00C00000") + r[1:2])
    assert r[-2:] == H("9000"), r.hex()
    return r[:-2]


def read_record(c, number, sfi=5):
    """A record's value, or None when protected (6982); exact Le after 6Cxx."""
    cmd = bytes((0, 0xB2, number, (sfi << 3) | 4, 0))
    r = c.process(cmd)
    if len(r) == 2 and r[0] == 0x6C:
        r = c.process(cmd[:4] + r[1:2])
    if r == H("6982"):
        return None
    return data(c, r)[2:]


def algorithm_id(fci):
    i = fci.find(H("9F0C"))
    return "%02X" % fci[i + 5] if i >= 0 else "01"


class Terminal:
    """Step 1 and step 2 of the HSM read, as the reference implementation does them."""

    def __init__(self, c, serial="T0001"):
        self.c, self.serial = c, serial

    def step1(self):
        c = self.c
        fci = data(c, c.process(H("00A404000F") + SSSE_DF_NAME))
        card_id = read_record(c, 1).hex().upper()
        self.version = read_record(c, 3)
        self.number = read_record(c, 7)
        internal_random = data(c, c.process(GET_CHALLENGE))
        internal_factor = data(c, c.process(GET_CHALLENGE))
        self.internal_answer = data(c, c.process(H("0088000910") + internal_factor +
                                                 internal_random))
        external_random = data(c, c.process(GET_CHALLENGE))
        external_factor = data(c, c.process(GET_CHALLENGE))
        fields = [card_id[:6], c.historical.hex().upper(), algorithm_id(fci), card_id,
                  internal_factor.hex().upper(), internal_random.hex().upper(),
                  external_factor.hex().upper(), external_random.hex().upper(), self.serial]
        return "|".join(fields) + "|"

    def step2(self, hsm_answer):
        """-> (EXTERNAL AUTHENTICATE answer or None when the internal check refused, ssn)."""
        internal, cryptogram, rest = hsm_answer.split("|")
        assert rest == "" and len(internal) == 32 and len(cryptogram) == 32
        if H(internal[:16]) != self.internal_answer:
            return None, None  # -25: 内部认证与加密机不一致
        r = self.c.process(H("0082000A10") + H(cryptogram))
        if r != H("9000"):
            return r, None
        return r, read_record(self.c, 1, sfi=6)


def card(name, protocol=None):
    c = SsseCard(load_profile(profile_path(name)), protocol)
    c.power_on()
    return c


class EndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = hsm_standin.load_keys(KEY_FILE)

    def test_genuine_cards_are_read(self):
        for name, protocol in (("gen3_protected", "t1"), ("gen3_protected_number", "t0"),
                               ("gen3_protected_number", "t1"), ("gen3_protected_des", "t0")):
            c = card(name, protocol)
            t = Terminal(c)
            step1 = t.step1()
            r, ssn = t.step2(hsm_standin.answer(self.keys, step1))
            self.assertEqual(r, H("9000"), name)
            self.assertEqual(ssn, c.profile["ef06"]["ssn"].encode(), name)
            self.assertEqual(read_record(c, 7), c.profile["ef05"]["card_number"].encode())

    def test_step1_string_layout(self):
        c = card("gen3_protected_number", "t1")
        t = Terminal(c, "410100813475")
        fields = t.step1().split("|")
        self.assertEqual(len(fields), 10)
        self.assertEqual(fields[:4], ["330200", "00814E43238697153371005823", "03",
                                      "330200D15600000571005823FFFFFFFF"])
        self.assertEqual(fields[8:], ["410100813475", ""])
        self.assertIsNone(t.number)  # protected before the external authentication
        self.assertEqual(t.version, b"3.00")
        des = Terminal(card("gen3_protected_des")).step1().split("|")
        self.assertEqual(des[2], "01")

    def test_copied_card_is_refused_by_the_internal_check(self):
        c = card("gen3_copy", "t1")
        t = Terminal(c)
        answer = hsm_standin.answer(self.keys, t.step1())
        self.assertEqual(t.step2(answer), (None, None))
        self.assertNotEqual(H(answer[:16]), t.internal_answer)

    def test_wrong_cryptogram_counts_down(self):
        c = card("gen3_protected", "t1")
        t = Terminal(c)
        internal, cryptogram, _ = hsm_standin.answer(self.keys, t.step1()).split("|")
        flipped = "%X" % (int(cryptogram[0], 16) ^ 1) + cryptogram[1:]
        self.assertEqual(t.step2("%s|%s|" % (internal, flipped)), (H("63C2"), None))

    def test_results_match_the_card_keys(self):
        c = card("gen3_protected")
        step1 = hsm_standin.parse_step1(Terminal(c).step1())
        internal, external = hsm_standin.results(self.keys, step1)
        iak = c.app_keys[9][1]
        rk = c.app_keys[10][1]
        self.assertEqual(internal, card_crypto.internal_auth_result(
            "sm4", iak, step1["internal_factor"], step1["internal_random"]))
        self.assertEqual(external, card_crypto.external_auth_cryptogram(
            "sm4", rk, step1["external_factor"], step1["external_random"]))

    def test_cli(self):
        c = card("gen3_protected_des")
        t = Terminal(c)
        step1 = t.step1()
        cli = [sys.executable, os.path.join(HERE, "hsm_standin.py"), "--keys", KEY_FILE]
        out = subprocess.run(cli + [step1], capture_output=True, text=True, check=True)
        self.assertRegex(out.stdout, r"^[0-9A-F]{32}\|[0-9A-F]{32}\|\n$")
        self.assertEqual(out.stdout.strip(), hsm_standin.answer(self.keys, step1))
        piped = subprocess.run(cli, input=step1 + "\n", capture_output=True, text=True)
        self.assertEqual(piped.stdout, out.stdout)
        self.assertEqual(t.step2(out.stdout.strip())[0], H("9000"))
        bad = subprocess.run(cli + ["1|2|"], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("step-1", bad.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".keys", delete=False) as f:
            f.write("internal sm4 3 4949F0E1D2C3B4A5968778695A4B3C2D\n")  # no read key
        try:
            os.chmod(f.name, stat.S_IRUSR | stat.S_IWUSR)
            missing = subprocess.run(cli[:2] + ["--keys", f.name, step1], capture_output=True,
                                     text=True)
        finally:
            os.unlink(f.name)
        self.assertEqual(missing.returncode, 1)  # a 3DES card, only an SM4 key
        self.assertIn("no internal key for 3des", missing.stderr)


class ParseTest(unittest.TestCase):
    STEP1 = ("330100|00814E43238697153390012034|03|330100D15600000590012034FFFFFFFF|"
             "0102030405060708|1112131415161718|2122232425262728|3132333435363738|T1|")

    def test_step1(self):
        s = hsm_standin.parse_step1(self.STEP1)
        self.assertEqual(s["cipher"], "sm4")
        self.assertEqual(s["internal_factor"], H("0102030405060708"))
        self.assertEqual(s["external_random"], H("3132333435363738"))
        for bad in (self.STEP1[:-1],  # no trailing |
                    self.STEP1.replace("|03|", "|02|"),  # SSF33
                    self.STEP1.replace("0102030405060708", "01020304"),
                    self.STEP1.replace("00814E43238697153390012034", "00814E4323"),
                    self.STEP1.replace("|T1|", "|T1|x|")):
            with self.assertRaises(hsm_standin.HsmError, msg=bad):
                hsm_standin.parse_step1(bad)

    def test_key_file(self):
        keys = hsm_standin.parse_keys("# c\n\nread sm4 3 " + "00" * 16 + "  # x\n")
        self.assertEqual(keys, {("read", "sm4"): (3, bytes(16))})
        for bad in ("read sm4 3", "reed sm4 3 " + "00" * 16, "read aes 3 " + "00" * 16,
                    "read sm4 4 " + "00" * 16, "read sm4 3 00", "# nothing"):
            with self.assertRaises(hsm_standin.HsmError, msg=bad):
                hsm_standin.parse_keys(bad)

    def test_levels(self):
        # a province key (levels 2) gives the same answer as the national key (3)
        national = hsm_standin.load_keys(KEY_FILE)
        s = hsm_standin.parse_step1(self.STEP1)
        province = {}
        for (purpose, cipher), (levels, key) in national.items():
            province[(purpose, cipher)] = (2, card_crypto.diversify(
                cipher, key, card_crypto.factors(s["card_id"], s["historical"])[0]))
        self.assertEqual(hsm_standin.answer(province, self.STEP1),
                         hsm_standin.answer(national, self.STEP1))


if __name__ == "__main__":
    unittest.main()
