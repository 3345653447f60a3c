"""3rd-generation cards whose holder data (and on some issuers the card number) sit behind the
issuer's read key RKSSSE: the partial read without a key, the HSM two-step read (card.hsm_begin /
card.hsm_finish) with the project's HSM stand-in, and the PSAM path (card.read with holder, the chip
check of [keys] authenticate_cards).

Real pcscd + vpcd + the project's virtual 3.0 cards (gen3_protected: EF06 protected, T=1;
gen3_protected_number: EF06 and the card number protected, T=0; gen3_protected_des: 3DES;
gen3_copy: a copy with another internal-authentication key) and virtual PSAMs."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from api_client import ApiClient
from sscard_test import SSCARDD, load_profile, sim_ctl, sscardd
from test_pin_api import DaemonWithPins

CARD_PORT, PSAM_PORT = 40000, 40001
CARD_READER, PSAM_READER = sim_ctl.READERS[CARD_PORT], sim_ctl.READERS[PSAM_PORT]
SIM = os.path.join(os.path.dirname(sim_ctl.__file__))
HSM = [sys.executable, os.path.join(SIM, "hsm_standin.py"), "--keys",
       os.path.join(SIM, "keys", "test_issuer.keys")]
PROTECTED_HOLDER = ["holder.ssn", "holder.name", "holder.sex", "holder.ethnicity",
                    "holder.birthplace", "holder.birth_date"]


def hsm_answer(step1):
    """The HSM stand-in's answer: (internal result hex, external cryptogram hex)."""
    out = subprocess.run(HSM + [step1], capture_output=True, text=True, check=True).stdout
    internal, external, rest = out.strip().split("|")
    assert rest == ""
    return internal, external


def holder_of(name):
    h = load_profile(name)["ef06"]
    return h["ssn"], h["name"] + h["name_ext"]


class Gen3Daemon(DaemonWithPins):
    EXTRA_CONFIG = """[hsm]
session_timeout = "5s"
"""
    PINS_USED = []

    def insert(self, name, **options):
        """A card in CARD_READER, once the daemon's automatic check has read it."""
        card = self.start_card(name, port=CARD_PORT, **options)
        deadline = time.monotonic() + 10
        while not card.apdu_log():
            self.assertLess(time.monotonic(), deadline, "the daemon never checked the card")
            time.sleep(0.05)
        time.sleep(0.3)  # the check's last APDU
        card.clear_log()
        return card

    def ok(self, method, params, client=None):
        r = (client or self).call(method, params)
        self.assertIn("result", r, (method, r))
        return r["result"]

    def error(self, method, params, client=None):
        r = (client or self).call(method, params)
        self.assertIn("error", r, (method, r))
        return r["error"]["data"]

    def daemon_log(self):
        with open(f"{self.tmp}/sscardd.log", encoding="utf-8", errors="replace") as f:
            return f.read()

    def assertNoHolderDataLogged(self, name):
        ssn, holder_name = holder_of(name)
        log = self.daemon_log()
        self.assertNotIn(ssn, log)
        self.assertNotIn(holder_name, log)


class PartialReadTest(Gen3Daemon):
    def test_protected_number_and_holder_are_null_and_named(self):
        self.insert("gen3_protected_number")
        r = self.ok("card.read", {"reader": CARD_READER, "holder": True})
        profile = load_profile("gen3_protected_number")
        self.assertEqual(r["card"]["card_id"], profile["ef05"]["card_id"].upper())
        self.assertIsNone(r["card"]["card_number"])
        self.assertIsNotNone(r["card"]["expires_on"])
        self.assertEqual(r["card"]["protected"], ["card_number"] + PROTECTED_HOLDER)
        self.assertTrue(all(v is None for v in r["holder"].values()), r["holder"])

    def test_check_identifies_by_card_id_when_the_number_is_protected(self):
        card = self.insert("gen3_protected_number")
        r = self.ok("card.check", {"reader": CARD_READER})
        self.assertEqual(r["identified_by"], "card_id")
        self.assertEqual(r["card"]["protected"], ["card_number"])
        # the refused multi-record read is remembered: the next read goes record by record
        card.clear_log()
        self.ok("card.check", {"reader": CARD_READER})
        reads = [c for c, _ in card.apdu_log() if c.startswith("00B2")]
        self.assertNotIn("00B2012D", [c[:8] for c in reads], reads)

    def test_check_of_a_card_with_a_readable_number(self):
        self.insert("gen3_protected")
        r = self.ok("card.check", {"reader": CARD_READER})
        self.assertEqual(r["identified_by"], "card_id+card_number")
        self.assertEqual(r["card"]["protected"], [])
        r = self.ok("card.read", {"reader": CARD_READER, "holder": True})
        self.assertEqual(r["card"]["protected"], PROTECTED_HOLDER)

    def test_diag_read_without_a_key(self):
        self.insert("gen3_protected_number")
        r = sscardd("diag", "read", "--holder", "--json", "--reader", CARD_READER)
        self.assertEqual(r.code, 0, r.stderr)
        self.assertEqual(r.json()["card"]["protected"], ["card_number"] + PROTECTED_HOLDER)


class HsmReadTest(Gen3Daemon):
    def begin(self, client):
        step1 = self.ok("card.hsm_begin", {"reader": CARD_READER}, client)
        f = step1["factors"]
        self.assertEqual(step1["step1"], "|".join(
            [f["region"], f["atr_hist"], f["algorithm"], f["card_id"], f["internal_factor"],
             f["internal_random"], f["external_factor"], f["external_random"], "test-kiosk-1"]) + "|")
        return step1

    def test_two_step_read_with_the_right_answer(self):
        for name, algorithm, most in (("gen3_protected", "03", 10),
                                      ("gen3_protected_des", "01", 12),
                                      ("gen3_protected_number", "03", 14)):
            with self.subTest(name):
                card = self.insert(name)
                with ApiClient(f"{self.tmp}/sscardd.sock") as c:
                    step1 = self.begin(c)
                    self.assertEqual(step1["factors"]["algorithm"], algorithm)
                    internal, external = hsm_answer(step1["step1"])
                    r = self.ok("card.hsm_finish", {"session": step1["session"],
                                                    "internal_result": internal,
                                                    "external_cryptogram": external}, c)
                ssn, holder_name = holder_of(name)
                self.assertEqual((r["holder"]["ssn"], r["holder"]["name"]), (ssn, holder_name))
                self.assertEqual(r["card"]["protected"], [])
                self.assertIsNotNone(r["card"]["card_number"])
                self.assertEqual(r["identified_by"], "card_id+card_number")
                self.assertIn(r["decision"], ("allow", "deny"))
                commands = [c for c, _ in card.apdu_log()]
                self.assertLessEqual(len(commands), most, commands)
                self.assertEqual(r["timing"]["apdus"], len(commands))
                # EXTERNAL AUTHENTICATE right after the two challenges it answers
                i = next(i for i, c in enumerate(commands) if c.startswith("0082000A10"))
                self.assertEqual([c[:4] for c in commands[i - 2:i]], ["0084", "0084"])
                card.remove()
                self.cards.remove(card)
                self.assertNoHolderDataLogged(name)

    def test_wrong_internal_result_sends_nothing_more(self):
        card = self.insert("gen3_protected")
        with ApiClient(f"{self.tmp}/sscardd.sock") as c:
            step1 = self.begin(c)
            _, external = hsm_answer(step1["step1"])
            card.clear_log()
            data = self.error("card.hsm_finish", {"session": step1["session"],
                                                  "internal_result": "00" * 16,
                                                  "external_cryptogram": external}, c)
        self.assertEqual(data["code"], "card_not_genuine")
        self.assertEqual(card.apdu_log(), [])

    def test_copied_card_is_not_genuine(self):
        card = self.insert("gen3_copy")
        with ApiClient(f"{self.tmp}/sscardd.sock") as c:
            step1 = self.begin(c)
            internal, external = hsm_answer(step1["step1"])
            data = self.error("card.hsm_finish", {"session": step1["session"],
                                                  "internal_result": internal,
                                                  "external_cryptogram": external}, c)
        self.assertEqual(data["code"], "card_not_genuine")
        self.assertFalse([c for c, _ in card.apdu_log() if c.startswith("0082")])

    def test_wrong_cryptogram_counts_down_the_cards_tries(self):
        card = self.insert("gen3_protected")
        for left in (2, 1):
            with ApiClient(f"{self.tmp}/sscardd.sock") as c:
                step1 = self.begin(c)
                internal, _ = hsm_answer(step1["step1"])
                data = self.error("card.hsm_finish", {"session": step1["session"],
                                                      "internal_result": internal,
                                                      "external_cryptogram": "11" * 16}, c)
            self.assertEqual((data["code"], data["tries_left"]), ("auth_failed", left))
        # the right answer still works and restores the tries
        with ApiClient(f"{self.tmp}/sscardd.sock") as c:
            step1 = self.begin(c)
            internal, external = hsm_answer(step1["step1"])
            r = self.ok("card.hsm_finish", {"session": step1["session"],
                                            "internal_result": internal,
                                            "external_cryptogram": external}, c)
        self.assertEqual(r["holder"]["ssn"], holder_of("gen3_protected")[0])
        self.assertEqual(len([c for c, _ in card.apdu_log() if c.startswith("0082")]), 3)

    def test_card_pulled_between_the_steps(self):
        card = self.insert("gen3_protected")
        with ApiClient(f"{self.tmp}/sscardd.sock") as c:
            step1 = self.begin(c)
            internal, external = hsm_answer(step1["step1"])
            card.remove()
            self.cards.remove(card)
            data = self.error("card.hsm_finish", {"session": step1["session"],
                                                  "internal_result": internal,
                                                  "external_cryptogram": external}, c)
        self.assertIn(data["code"], ("card_removed", "no_card"))

    def test_session_expires_and_releases_the_reader(self):
        self.insert("gen3_protected")
        with ApiClient(f"{self.tmp}/sscardd.sock") as c:
            step1 = self.begin(c)
            time.sleep(6.5)  # [hsm] session_timeout = 5s
            t0 = time.monotonic()
            self.ok("card.read", {"reader": CARD_READER})
            self.assertLess(time.monotonic() - t0, 2.0, "the reader was still held")
            internal, external = hsm_answer(step1["step1"])
            data = self.error("card.hsm_finish", {"session": step1["session"],
                                                  "internal_result": internal,
                                                  "external_cryptogram": external}, c)
        self.assertEqual(data["code"], "no_session")

    def test_the_session_holds_the_reader_and_belongs_to_its_connection(self):
        self.insert("gen3_protected")
        a = ApiClient(f"{self.tmp}/sscardd.sock")
        b = ApiClient(f"{self.tmp}/sscardd.sock")
        try:
            step1 = self.begin(a)
            # the daemon waits 3 s for a busy reader, less than the session's 5 s
            self.assertEqual(self.error("card.read", {"reader": CARD_READER}, b)["code"], "busy")
            internal, external = hsm_answer(step1["step1"])
            data = self.error("card.hsm_finish", {"session": step1["session"],
                                                  "internal_result": internal,
                                                  "external_cryptogram": external}, b)
            self.assertEqual(data["code"], "no_session")
            a.close()  # the connection ends: so does its session, and the reader is free
            time.sleep(0.3)
            t0 = time.monotonic()
            self.ok("card.read", {"reader": CARD_READER}, b)
            self.assertLess(time.monotonic() - t0, 2.0)
        finally:
            a.close()
            b.close()

    def test_second_generation_card_skips_the_authentications(self):
        card = self.insert("gen2_holder")
        with ApiClient(f"{self.tmp}/sscardd.sock") as c:
            step1 = self.begin(c)
            self.assertEqual(step1["factors"]["internal_factor"], "")
            r = self.ok("card.hsm_finish", {"session": step1["session"], "internal_result": "",
                                            "external_cryptogram": ""}, c)
        self.assertIsNotNone(r["holder"]["ssn"])
        self.assertFalse([c for c, _ in card.apdu_log() if c[:4] in ("0084", "0088", "0082")])


class PsamReadTest(Gen3Daemon):
    EXTRA_CONFIG = f"""[keys]
source = "psam"
psam_reader = "{PSAM_READER}"
authenticate_cards = true
"""

    def setUp(self):
        super().setUp()
        self.psam = self.start_card("psam", port=PSAM_PORT, reconnect=True)

    def test_holder_read_through_the_psam(self):
        for name, key in (("gen3_protected", "01"), ("gen3_protected_des", "02"),
                          ("gen3_protected_number", "01")):
            with self.subTest(name):
                card = self.insert(name)
                self.psam.clear_log()
                r = self.ok("card.read", {"reader": CARD_READER, "holder": True})
                self.assertEqual((r["holder"]["ssn"], r["holder"]["name"]), holder_of(name))
                self.assertEqual(r["card"]["protected"], [])
                self.assertIsNotNone(r["card"]["card_number"])
                psam = [c[:8] for c, _ in self.psam.apdu_log()]
                self.assertIn("BFDE2B" + key, psam)  # the internal-authentication key
                self.assertIn("BFDE28" + key, psam)  # RKSSSE
                card.remove()
                self.cards.remove(card)
                self.assertNoHolderDataLogged(name)

    def test_automatic_check_refuses_a_copy(self):
        with ApiClient(f"{self.tmp}/sscardd.sock") as c:
            c.call("events.subscribe", {})
            self.start_card("gen3_copy", port=CARD_PORT)
            _, checked = c.expect("card.checked", lambda p: p.get("reader") == CARD_READER)
        self.assertEqual((checked["decision"], checked["reason"]),
                         ("deny", "card_not_genuine"))

    def test_genuine_card_passes_the_chip_check(self):
        self.insert("gen3_protected")
        r = self.ok("card.check", {"reader": CARD_READER})
        self.assertNotEqual(r["reason"], "card_not_genuine")
        self.assertEqual(r["decision"], "allow")


class PsamWithoutReadKeyTest(Gen3Daemon):
    EXTRA_CONFIG = f"""[keys]
source = "psam"
psam_reader = "{PSAM_READER}"
"""

    def test_a_psam_without_rksse_is_a_clear_error(self):
        self.start_card("psam_no_read", port=PSAM_PORT, reconnect=True)
        self.insert("gen3_protected")
        data = self.error("card.read", {"reader": CARD_READER, "holder": True})
        self.assertEqual(data.get("reason"), "psam_no_key", data)

    def test_no_psam_in_the_slot(self):
        self.insert("gen3_protected")
        data = self.error("card.read", {"reader": CARD_READER, "holder": True})
        self.assertEqual(data.get("reason"), "no_psam", data)


if __name__ == "__main__":
    unittest.main()
