"""The virtual PSAM, the card's EXTERNAL AUTHENTICATE with real keys and the issuer PIN reset
(84 24) with MAC checking, driven as a terminal would (no pcscd)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import card_crypto  # noqa: E402
import psam_card  # noqa: E402
from faults import redact  # noqa: E402
from ssse_card import SSSE_DF_NAME, SsseCard, load_profile, profile_path  # noqa: E402

H = bytes.fromhex


def card(name):
    c = SsseCard(load_profile(profile_path(name)))
    c.power_on()
    r = c.process(H("00A404000F") + SSSE_DF_NAME)
    if len(r) == 2 and r[0] == 0x61:
        r = c.process(H("00C00000") + r[1:2])
    assert r[-2:] == H("9000")
    return c


def psam(name="psam"):
    p = psam_card.PsamCard(psam_card.load_psam_profile(profile_path(name)))
    p.power_on()
    return p


class Terminal:
    """What apdu/ssse/pin.cpp does with a PSAM (PsamKeySource) and the card."""

    def __init__(self, c, p, psam_key_id):
        self.c, self.p, self.key_id = c, p, psam_key_id
        self.block = card_crypto.block_size(c.cipher)
        cid = c.profile["ef05"]["card_id"]
        self.cid = cid
        self.factors = card_crypto.factors(cid, c.historical)

    def ps(self, cmd, expect="9000"):
        r = self.p.process(cmd)
        if len(r) == 2 and r[0] == 0x61:
            r = self.p.process(H("00C00000") + r[1:2])
        assert r[-2:] == H(expect), (cmd.hex(), r.hex())
        return r[:-2]

    def prepare(self, session=b"", usage=0x27, expect="9000"):
        self.ps(H("00A4040006D15600000590"))
        self.ps(H("BFEC000001") + H(self.cid[:2]))
        data = self.factors[1] + self.factors[2] + session
        return self.ps(bytes((0xBF, 0xDE, usage, self.key_id, len(data))) + data, expect)

    def process_encrypt(self, usage, factor, random):
        """What the terminal asks the PSAM for a 3rd-generation read: 16 bytes."""
        self.prepare(factor, usage)
        return self.ps(H("80FA000010") + random + bytes(8))

    def card_data(self, r):
        if len(r) == 2 and r[0] == 0x61:
            r = self.c.process(H("00C00000") + r[1:2])
        assert r[-2:] == H("9000"), r.hex()
        return r[:-2]

    def internal_check(self):
        """GET CHALLENGE twice (random, factor), INTERNAL AUTHENTICATE; compare with the PSAM."""
        random = self.c.process(H("0084000008"))[:-2]
        factor = self.c.process(H("0084000008"))[:-2]
        answer = self.card_data(self.c.process(H("0088000910") + factor + random))
        return answer == self.process_encrypt(0x2B, factor, random)[:8]

    def read_key_authenticate(self):
        random = self.c.process(H("0084000008"))[:-2]
        factor = self.c.process(H("0084000008"))[:-2]
        cryptogram = self.process_encrypt(0x28, factor, random)
        return self.c.process(H("0082000A10") + cryptogram)

    def external_authenticate(self, key_id=1):
        ch = self.c.process(H("0084000008"))[:-2]
        self.prepare()
        cr = self.ps(bytes((0x80, 0xFA, 0, 0, self.block)) + ch + bytes(self.block - 8))[:8]
        return self.c.process(bytes((0, 0x82, 0, key_id, 16)) + cr + bytes(8))

    def reset(self, pin, corrupt_mac=False):
        ch = self.c.process(H("0084000008"))[:-2]
        self.prepare(ch)
        pb = card_crypto.plain_pin_block(pin, self.block)
        enc = self.ps(bytes((0x80, 0xFA, 0, 0, len(pb))) + pb)
        header = H("84240001") + bytes((len(enc) + 4,))
        padded = card_crypto.pad2(header + enc, self.block)
        mac = self.ps(bytes((0x80, 0xFA, 5, 0, len(padded))) + padded)
        if corrupt_mac:
            mac = bytes((mac[0] ^ 1,)) + mac[1:]
        return self.c.process(header + enc + mac)


class PinResetTest(unittest.TestCase):
    def check_reset(self, profile, key_id):
        c = card(profile)
        t = Terminal(c, psam(), key_id)
        self.assertEqual(t.external_authenticate(), H("9000"))
        self.assertEqual(t.reset("24681357"), H("9000"))
        self.assertEqual(c.pin, "24681357")
        self.assertEqual(c.process(H("002000000424681357")), H("9000"))

    def test_sm4_card(self):
        self.check_reset("gen3_valid", 1)

    def test_des_card(self):
        self.check_reset("gen3_des", 2)

    def test_wrong_mac_6988(self):
        c = card("gen3_valid")
        t = Terminal(c, psam(), 1)
        self.assertEqual(t.external_authenticate(), H("9000"))
        self.assertEqual(t.reset("24681357", corrupt_mac=True), H("6988"))
        self.assertEqual(c.pin, "123456")

    def test_reset_needs_puk_authentication(self):
        c = card("gen3_valid")
        t = Terminal(c, psam(), 1)
        self.assertEqual(t.reset("24681357"), H("6982"))
        # a wrong key (the DES master for an SM4 card) fails authentication
        t2 = Terminal(c, psam(), 2)
        t2.block = 16
        self.assertNotEqual(t2.external_authenticate(), H("9000"))

    def test_reset_unblocks_a_blocked_pin(self):
        c = card("gen3_valid")
        for _ in range(3):
            c.process(H("0020000003111111"))
        self.assertEqual(c.process(H("0020000003123456")), H("6983"))
        t = Terminal(c, psam(), 1)
        self.assertEqual(t.external_authenticate(), H("9000"))
        self.assertEqual(t.reset("135790"), H("9000"))
        self.assertEqual(c.process(H("0020000003135790")), H("9000"))
        self.assertEqual(c.pin_tries_left, 3)

    def test_unblock(self):
        c = card("gen3_valid")
        for _ in range(3):
            c.process(H("0020000003111111"))
        t = Terminal(c, psam(), 1)
        self.assertEqual(t.external_authenticate(), H("9000"))
        ch = c.process(H("0084000008"))[:-2]
        key = c.app_keys[1][1]
        sk = card_crypto.session_key("sm4", key, ch)
        mac = card_crypto.card_mac("sm4", sk, H("8424000004"))
        self.assertEqual(c.process(H("8424000004") + mac), H("9000"))
        self.assertEqual(c.process(H("0020000003123456")), H("9000"))

    def test_external_authenticate_with_profile_keys(self):
        c = card("gen3_des")
        ch = c.process(H("0084000008"))[:-2]
        key = c.app_keys[1][1]
        good = card_crypto.auth_cryptogram("3des", key, ch)
        self.assertEqual(c.process(H("0082000110") + good + bytes(8)), H("9000"))
        ch = c.process(H("0084000008"))[:-2]
        self.assertEqual(c.process(H("0082000110") + bytes(16)), H("6300"))
        ch = c.process(H("0084000008"))[:-2]
        self.assertEqual(c.process(H("0082000910") + bytes(16)), H("6300"))  # no key 09
        del ch


class Gen3ReadWithPsamTest(unittest.TestCase):
    CASES = (("gen3_protected", 1), ("gen3_protected_number", 1), ("gen3_protected_des", 2))

    def test_internal_and_external_authentication(self):
        for name, key_id in self.CASES:
            c = card(name)
            t = Terminal(c, psam(), key_id)
            self.assertTrue(t.internal_check(), name)
            self.assertEqual(t.read_key_authenticate(), H("9000"), name)
            ssn = t.card_data(c.process(H("00B2013414")))[2:]
            self.assertEqual(ssn, c.profile["ef06"]["ssn"].encode(), name)

    def test_expected_internal_result_is_16_bytes(self):
        c = card("gen3_protected")
        t = Terminal(c, psam(), 1)
        f, r = H("0102030405060708"), H("1112131415161718")
        iak = card_crypto.derive_card_key("sm4", H(c.profile["master_keys"]["internal"]), 3,
                                          t.cid, c.historical)
        self.assertEqual(t.process_encrypt(0x2B, f, r),
                         card_crypto.internal_auth_result("sm4", iak, f, r))

    def test_copied_card_disagrees_with_the_psam(self):
        c = card("gen3_copy")
        t = Terminal(c, psam(), 1)
        self.assertFalse(t.internal_check())
        c = card("gen3_protected_number")
        self.assertTrue(Terminal(c, psam(), 1).internal_check())

    def test_wrong_psam_key_id_gives_a_wrong_cryptogram(self):
        c = card("gen3_protected")
        t = Terminal(c, psam(), 2)  # the 3DES key for an SM4 card
        self.assertEqual(t.read_key_authenticate(), H("63C2"))

    def test_psam_without_read_key(self):
        c = card("gen3_protected")
        t = Terminal(c, psam("psam_no_read"), 1)
        self.assertTrue(t.internal_check())
        t.prepare(H("0102030405060708"), 0x28, expect="6A88")
        t.prepare(b"", 0x28, expect="6A88")

    def test_psam_without_sm4(self):
        c = card("gen3_protected")
        t = Terminal(c, psam("psam_no_sm4"), 1)
        for usage in (0x27, 0x28, 0x2B):
            t.prepare(H("0102030405060708"), usage, expect="6A81")
        d = card("gen3_protected_des")
        t = Terminal(d, psam("psam_no_sm4"), 2)
        self.assertTrue(t.internal_check())
        self.assertEqual(t.read_key_authenticate(), H("9000"))

    def test_bad_ciphers_list(self):
        with self.assertRaises(psam_card.ProfileError):
            psam_card.load_psam_profile({"kind": "psam", "ciphers": ["aes"]})
        with self.assertRaises(psam_card.ProfileError):
            psam_card.load_psam_profile({"kind": "psam", "ciphers": []})


class PsamTest(unittest.TestCase):
    def test_needs_select_and_init(self):
        p = psam()
        self.assertEqual(p.process(H("BFEC00000133")), H("6985"))
        self.assertEqual(p.process(H("00A4040006D15600000590")), H("9000"))
        self.assertEqual(p.process(H("BFDE2701080102030405060708")), H("6985"))
        self.assertEqual(p.process(H("BFEC00000133")), H("9000"))
        self.assertEqual(p.process(H("BFDE2709100102030405060708") + bytes(8)), H("6A88"))
        self.assertEqual(p.process(H("80FA000010") + bytes(16)), H("6985"))
        self.assertEqual(p.process(H("00A4040006D15600000591")), H("6A82"))

    def test_t0_get_response(self):
        p = psam()
        p.process(H("00A4040006D15600000590"))
        p.process(H("BFEC00000133"))
        self.assertEqual(p.process(H("BFDE270110") + bytes(16)), H("9000"))
        self.assertEqual(p.process(H("80FA000010") + bytes(16)), H("6110"))
        self.assertEqual(p.process(H("00C0000008"))[-2:], H("6C10"))
        self.assertEqual(len(p.process(H("00C0000010"))), 18)

    def test_psam_log_masks_80FA(self):
        self.assertEqual(redact(H("80FA0000080612345680000000")), "80FA000008" + "**" * 8)


if __name__ == "__main__":
    unittest.main()
