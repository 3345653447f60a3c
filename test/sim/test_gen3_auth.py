"""3rd-generation cards with the read key RK and the internal-authentication key IAK: protected
reads, the P1-to-last refusal, EXTERNAL AUTHENTICATE over two challenges with its try counter,
INTERNAL AUTHENTICATE and the copied card (no pcscd)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import card_crypto  # noqa: E402
from ssse_card import (COPIER_MASTER_KEY, SSSE_DF_NAME, ProfileError, SsseCard,  # noqa: E402
                       load_profile, profile_path)

H = bytes.fromhex
SELECT_SSSE = H("00A404000F") + SSSE_DF_NAME
GET_CHALLENGE = H("0084000008")


def profile(name):
    return load_profile(profile_path(name))


def fetch(c, r):
    """The data of an answer, through GET RESPONSE on T=0."""
    if len(r) == 2 and r[0] == 0x61:
        r = c.process(H("00C00000") + r[1:2])
    assert r[-2:] == H("9000"), r.hex()
    return r[:-2]


def selected(name, protocol=None, **kw):
    p = profile(name) if isinstance(name, str) else load_profile(name)
    c = SsseCard(p, protocol, **kw)
    c.power_on()
    fetch(c, c.process(SELECT_SSSE))
    return c


def master_card_key(c, purpose, master=None):
    """The card's key derived as the issuer does (from the profile's master key)."""
    m = master or H(c.profile["master_keys"][purpose])
    return card_crypto.derive_card_key(c.cipher, m, 3, c.profile["ef05"]["card_id"], c.historical)


def external_cryptogram(c, random, factor):
    rk = master_card_key(c, "read")
    return card_crypto.external_auth_cryptogram(c.cipher, rk, factor, random)


def authenticate_read_key(c, corrupt=False):
    random = c.process(GET_CHALLENGE)[:-2]
    factor = c.process(GET_CHALLENGE)[:-2]
    cr = external_cryptogram(c, random, factor)
    if corrupt:
        cr = bytes((cr[0] ^ 0x01,)) + cr[1:]
    return c.process(H("0082000A10") + cr)


def sw(r):
    return r[-2:].hex().upper()


class ProtectedReadTest(unittest.TestCase):
    def test_number_and_holder_refused_before_authentication(self):
        c = selected("gen3_protected_number")
        self.assertEqual(c.process(H("00B2072C0B")), H("6982"))  # card number by record number
        self.assertEqual(c.process(H("00B2072800")), H("6982"))  # by tag 07
        self.assertEqual(c.process(H("00B2013400")), H("6982"))  # EF06
        self.assertEqual(c.process(H("00B2083000")), H("6982"))
        for rec in range(1, 7):  # records 1..6 of EF05 stay free (T=0: P3 00 -> 6Cxx)
            self.assertEqual(c.process(bytes((0, 0xB2, rec, 0x2C, 0)))[0], 0x6C, rec)
        r = c.process(H("00B2012C00"))  # T=0: P3 00 -> 6C12 (record 01 is 18 bytes)
        self.assertEqual(r, H("6C12"))
        self.assertEqual(c.process(H("00B2012C12"))[-2:], H("9000"))
        self.assertEqual(c.process(H("00B2062C06"))[-2:], H("9000"))
        self.assertEqual(c.process(H("00B2082C00")), H("6A83"))  # absent record: not found

    def test_multi_read_over_record_07_is_refused_whole(self):
        c = selected("gen3_protected_number", "t1")
        self.assertEqual(c.process(H("00B2012D00")), H("6982"))
        self.assertEqual(c.process(H("00B2072D00")), H("6982"))
        self.assertEqual(c.process(H("00B2013500")), H("6982"))  # EF06 P1-to-last
        # the terminal's fallback: single records, 1..6 readable, 7 refused
        for rec in range(1, 7):
            self.assertEqual(sw(c.process(bytes((0, 0xB2, rec, 0x2C, 0)))), "9000", rec)
        self.assertEqual(c.process(H("00B2072C00")), H("6982"))

    def test_reads_after_external_authenticate(self):
        c = selected("gen3_protected_number", "t1")
        self.assertEqual(authenticate_read_key(c), H("9000"))
        self.assertEqual(c.process(H("00B2072C00")), H("0709") + b"NB7100589" + H("9000"))
        everything = c.process(H("00B2012D00"))
        self.assertEqual(sw(everything), "9000")
        self.assertTrue(everything[:-2].endswith(H("0709") + b"NB7100589"))
        self.assertEqual(c.process(H("00B2013400"))[:-2], H("0812") + b"330203197908222040")
        self.assertEqual(sw(c.process(H("00B2013500"))), "9000")

    def test_security_state_lost_on_reset_power_off_and_select(self):
        c = selected("gen3_protected_number", "t1")
        self.assertEqual(authenticate_read_key(c), H("9000"))
        fetch(c, c.process(SELECT_SSSE))  # a new SELECT of SSSE drops it
        self.assertEqual(c.process(H("00B2072C00")), H("6982"))
        self.assertEqual(authenticate_read_key(c), H("9000"))
        c.reset()
        fetch(c, c.process(SELECT_SSSE))
        self.assertEqual(c.process(H("00B2013400")), H("6982"))
        self.assertEqual(authenticate_read_key(c), H("9000"))
        c.power_off()
        c.power_on()
        fetch(c, c.process(SELECT_SSSE))
        self.assertEqual(c.process(H("00B2072C00")), H("6982"))

    def test_gen3_protected_keeps_the_number_free(self):
        c = selected("gen3_protected")
        self.assertEqual(c.process(H("00B2072C00")), H("0709") + b"H3N200340" + H("9000"))
        self.assertEqual(sw(c.process(H("00B2012D00"))), "9000")
        self.assertEqual(c.process(H("00B2013400")), H("6982"))
        self.assertEqual(authenticate_read_key(c), H("9000"))
        self.assertEqual(c.process(H("00B2023400"))[:2], H("091E"))

    def test_old_gen3_profiles_unchanged(self):
        for name in ("gen3", "gen3_valid", "gen3_des", "contactless"):
            c = selected(name, "t1")
            self.assertEqual(sw(c.process(H("00B2072C00"))), "9000", name)  # number free
            self.assertEqual(c.process(H("00B2013400")), H("6982"), name)  # EF06 locked
            # no read key: the old single-challenge path, 6300
            c.process(GET_CHALLENGE)
            c.process(GET_CHALLENGE)
            self.assertEqual(c.process(H("0082000A10") + bytes(16)), H("6300"), name)
            self.assertEqual(c.process(H("0088000910") + bytes(16)), H("6A88"), name)  # no IAK


class ExternalAuthenticateTest(unittest.TestCase):
    def test_3des_card(self):
        c = selected("gen3_protected_des")
        self.assertEqual(c.cipher, "3des")
        self.assertEqual(authenticate_read_key(c), H("9000"))
        self.assertEqual(c.process(H("00B2013400")), H("6C14"))
        self.assertEqual(c.process(H("00B2013414"))[2:-2], b"330106199104073011")

    def test_cryptogram_is_over_random_then_factor(self):
        c = selected("gen3_protected", "t1")
        random = c.process(GET_CHALLENGE)[:-2]
        factor = c.process(GET_CHALLENGE)[:-2]
        swapped = external_cryptogram(c, factor, random)
        self.assertEqual(c.process(H("0082000A10") + swapped), H("63C2"))

    def test_only_the_last_two_challenges_count(self):
        c = selected("gen3_protected", "t1")
        c.process(GET_CHALLENGE)
        random = c.process(GET_CHALLENGE)[:-2]
        factor = c.process(GET_CHALLENGE)[:-2]
        self.assertEqual(c.process(H("0082000A10") + external_cryptogram(c, random, factor)),
                         H("9000"))

    def test_wrong_counts_down_then_blocks(self):
        c = selected("gen3_protected", "t1")
        self.assertEqual(authenticate_read_key(c, corrupt=True), H("63C2"))
        self.assertEqual(authenticate_read_key(c, corrupt=True), H("63C1"))
        self.assertEqual(authenticate_read_key(c), H("9000"))  # success restores the tries
        self.assertEqual(c.read_key_tries_left, 3)
        for left in (2, 1, 0):
            self.assertEqual(authenticate_read_key(c, corrupt=True), bytes((0x63, 0xC0 | left)))
        self.assertEqual(authenticate_read_key(c), H("6983"))  # blocked, even when right
        self.assertEqual(c.process(H("00B2013400")), H("6982"))
        c.power_off()
        c.power_on()  # blocked stays blocked
        fetch(c, c.process(SELECT_SSSE))
        self.assertEqual(authenticate_read_key(c), H("6983"))
        self.assertEqual(c.export_state()["read_key_tries_left"], 0)

    def test_blocked_state_persists_through_export(self):
        c = selected("gen3_protected", "t1")
        c.process(GET_CHALLENGE)
        c.process(GET_CHALLENGE)
        self.assertEqual(c.process(H("0082000A10") + bytes(16)), H("63C2"))
        d = SsseCard(profile("gen3_protected"))
        d.import_state(c.export_state())
        self.assertEqual(d.read_key_tries_left, 2)

    def test_profile_try_counter(self):
        p = profile("gen3_protected")
        p.update(read_key_max_tries=5, read_key_tries_left=1)
        c = selected(p, "t1")
        self.assertEqual(authenticate_read_key(c, corrupt=True), H("63C0"))
        self.assertEqual(authenticate_read_key(c), H("6983"))
        p.update(read_key_tries_left=0)
        self.assertEqual(authenticate_read_key(selected(p, "t1")), H("6983"))
        with self.assertRaises(ProfileError):
            load_profile({"read_key_max_tries": 16})

    def test_challenges_invalidated_by_another_command(self):
        c = selected("gen3_protected", "t1")
        random = c.process(GET_CHALLENGE)[:-2]
        factor = c.process(GET_CHALLENGE)[:-2]
        self.assertEqual(sw(c.process(H("00B2012C00"))), "9000")  # anything in between
        cr = external_cryptogram(c, random, factor)
        self.assertEqual(c.process(H("0082000A10") + cr), H("6985"))
        self.assertEqual(c.read_key_tries_left, 3)  # not counted
        # one challenge only, or challenges of another length
        c.process(GET_CHALLENGE)
        self.assertEqual(c.process(H("0082000A10") + cr), H("6985"))
        c.process(H("0084000004"))
        c.process(GET_CHALLENGE)
        self.assertEqual(c.process(H("0082000A10") + cr), H("6985"))
        # a failed GET CHALLENGE, an unknown instruction: the same
        for between in (H("0084000005"), H("00CA9F7F00")):
            random = c.process(GET_CHALLENGE)[:-2]
            factor = c.process(GET_CHALLENGE)[:-2]
            c.process(between)
            self.assertEqual(c.process(H("0082000A10") + external_cryptogram(c, random, factor)),
                             H("6985"))
        # the challenges are used up by the EXTERNAL AUTHENTICATE itself
        random = c.process(GET_CHALLENGE)[:-2]
        factor = c.process(GET_CHALLENGE)[:-2]
        cr = external_cryptogram(c, random, factor)
        self.assertEqual(c.process(H("0082000A10") + cr), H("9000"))
        self.assertEqual(c.process(H("0082000A10") + cr), H("6985"))

    def test_t0_get_challenge_has_no_get_response(self):
        c = selected("gen3_protected_number", "t0")
        self.assertEqual(authenticate_read_key(c), H("9000"))
        self.assertEqual(fetch(c, c.process(H("00B2072C0B"))), H("0709") + b"NB7100589")

    def test_puk_path_unchanged(self):
        c = selected("gen3_protected", "t1")
        ch = c.process(GET_CHALLENGE)[:-2]
        good = card_crypto.auth_cryptogram(c.cipher, master_card_key(c, "puk"), ch)
        self.assertEqual(c.process(H("0082000110") + good + bytes(8)), H("9000"))
        self.assertIn(1, c.authenticated)
        self.assertEqual(c.process(H("00B2013400")), H("6982"))  # the PUK does not open EF06

    def test_internal_key_id_is_no_external_key(self):
        c = selected("gen3_protected", "t1")
        ch = c.process(GET_CHALLENGE)[:-2]
        iak = master_card_key(c, "internal")
        cr = card_crypto.auth_cryptogram(c.cipher, iak, ch)
        self.assertEqual(c.process(H("0082000910") + cr + bytes(8)), H("6300"))

    def test_apdu_log_shows_authentication_data(self):
        from faults import redact
        apdu = H("0082000A10") + bytes(range(16))
        self.assertEqual(redact(apdu), apdu.hex().upper())
        apdu = H("0088000910") + bytes(range(16))
        self.assertEqual(redact(apdu), apdu.hex().upper())


class InternalAuthenticateTest(unittest.TestCase):
    FACTOR, RANDOM = H("1122334455667788"), H("A1A2A3A4A5A6A7A8")

    def expected(self, c, master=None):
        iak = master_card_key(c, "internal", master)
        return card_crypto.internal_auth_result(c.cipher, iak, self.FACTOR, self.RANDOM)

    def test_answer_t1_and_t0(self):
        for name, protocol in (("gen3_protected", "t1"), ("gen3_protected_number", "t0"),
                               ("gen3_protected_des", "t1"), ("gen3_protected_des", "t0")):
            c = selected(name, protocol)
            r = c.process(H("0088000910") + self.FACTOR + self.RANDOM)
            if protocol == "t0":
                self.assertEqual(r, H("6108"))
            answer = fetch(c, r)
            self.assertEqual(len(answer), 8)
            self.assertEqual(answer, self.expected(c)[:8], name)

    def test_t1_le(self):
        c = selected("gen3_protected", "t1")
        cmd = H("0088000910") + self.FACTOR + self.RANDOM
        self.assertEqual(c.process(cmd + H("08"))[:-2], self.expected(c)[:8])
        self.assertEqual(c.process(cmd + H("00"))[:-2], self.expected(c)[:8])
        self.assertEqual(c.process(cmd + H("04")), H("6C08"))

    def test_result_helper(self):
        # SM4: one block; 3DES: E(random) || E(00*8) under the process key
        key, f, r = bytes(range(16)), self.FACTOR, self.RANDOM
        pk = card_crypto.session_key("sm4", key, f)
        self.assertEqual(pk, card_crypto.ecb("sm4", key, f + bytes(8)))
        self.assertEqual(card_crypto.internal_auth_result("sm4", key, f, r),
                         card_crypto.ecb("sm4", pk, r + bytes(8)))
        pk = card_crypto.process_key("3des", key, f)
        res = card_crypto.internal_auth_result("3des", key, f, r)
        self.assertEqual(len(res), 16)
        self.assertEqual(res[8:], card_crypto.ecb("3des", pk, bytes(8)))
        with self.assertRaises(ValueError):
            card_crypto.internal_auth_result("sm4", key, f[:4], r)

    def test_errors(self):
        c = selected("gen3_protected", "t1")
        self.assertEqual(c.process(H("0088000110") + bytes(16)), H("6A88"))  # the PUK's id
        self.assertEqual(c.process(H("0088000A10") + bytes(16)), H("6A88"))  # the RK's id
        self.assertEqual(c.process(H("0088000908") + bytes(8)), H("6700"))
        self.assertEqual(c.process(H("0088010910") + bytes(16)), H("6A86"))

    def test_profile_key_id(self):
        p = profile("gen3_protected")
        p["key_ids"] = {"puk": 1, "read": 10, "internal": 0x11}
        c = selected(p, "t1")
        self.assertEqual(c.process(H("0088000910") + bytes(16)), H("6A88"))
        self.assertEqual(c.process(H("0088001110") + self.FACTOR + self.RANDOM)[:-2],
                         self.expected(c)[:8])

    def test_copied_card(self):
        genuine = selected("gen3_protected_number", "t1")
        copy = selected("gen3_copy", "t1")
        self.assertEqual(copy.profile["ef05"], genuine.profile["ef05"])
        self.assertEqual(copy.historical, genuine.historical)
        cmd = H("0088000910") + self.FACTOR + self.RANDOM
        a, b = genuine.process(cmd)[:-2], copy.process(cmd)[:-2]
        self.assertEqual(a, self.expected(genuine)[:8])
        self.assertNotEqual(a, b)
        self.assertEqual(b, self.expected(copy, COPIER_MASTER_KEY)[:8])
        # the copy still holds the read key (only its IAK differs)
        self.assertEqual(authenticate_read_key(copy), H("9000"))


if __name__ == "__main__":
    unittest.main()
