"""diag readers / read / apdu against the real pcscd + vpcd + virtual cards."""
import unittest

from sscard_test import CardTestCase, expected_card, expected_holder_json, sscardd, sim_ctl

READER0 = sim_ctl.READERS[40000]
READER1 = sim_ctl.READERS[40001]

EXAMPLE_CARD = {
    "card_id": "330300D15600000599110145FFFFFFFF",
    "region": "330300",
    "card_number": "B7K334774",
    "card_number_valid": True,
    "card_type": "3",
    "spec_version": "3.00",
    "generation": 3,
    "issuer_id": "915600000234120034010A0C",
    "issued_on": "2010-10-01",
    "expires_on": "2020-10-01",
    "protected": [],
}


class ReadersTest(CardTestCase):
    def test_readers_show_presence_per_reader(self):
        r = sscardd("diag", "readers", "--json")
        self.assertEqual(r.code, 0, r.stderr)
        names = [x["name"] for x in r.json()["readers"]]
        self.assertIn(READER0, names)
        self.assertIn(READER1, names)
        for reader in r.json()["readers"]:
            self.assertFalse(reader["card_present"])
            self.assertIsNone(reader["atr"])
            self.assertEqual(reader["interface"], "contact")

        card = self.start_card("gen3", port=40001)
        r = sscardd("diag", "readers", "--json")
        self.assertEqual(r.code, 0, r.stderr)
        by_name = {x["name"]: x for x in r.json()["readers"]}
        self.assertTrue(by_name[READER1]["card_present"])
        self.assertEqual(by_name[READER1]["atr"], card.atr_hex)
        self.assertFalse(by_name[READER0]["card_present"])

    def test_contactless_pseudo_atr_is_reported_contactless(self):
        self.start_card("contactless", port=40000)
        r = sscardd("diag", "readers", "--json")
        by_name = {x["name"]: x for x in r.json()["readers"]}
        self.assertEqual(by_name[READER0]["interface"], "contactless")

    def test_text_output_lists_readers(self):
        self.start_card("gen2", port=40000)
        r = sscardd("diag", "readers")
        self.assertEqual(r.code, 0)
        self.assertIn(READER0, r.stdout)
        self.assertIn("card", r.stdout)


class ReadTest(CardTestCase):
    def check_read(self, profile_name, protocol, expected=None, max_apdus=3, **options):
        card = self.start_card(profile_name, port=40000, protocol=protocol, **options)
        r = sscardd("diag", "read", "--json")
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        out = r.json()
        self.assertEqual(out["reader"], READER0)
        self.assertEqual(out["interface"], "contact")
        self.assertEqual(out["atr"], card.atr_hex)
        self.assertEqual(out["card"], expected or expected_card(profile_name))
        self.assertNotIn("holder", out)
        self.assertLessEqual(card.apdu_count(), max_apdus, card.apdu_log())
        return card, out

    def test_example_card_t1(self):
        self.check_read("gen3", "t1", EXAMPLE_CARD, max_apdus=2)

    def test_example_card_t0_exact_le(self):
        self.check_read("gen3", "t0", EXAMPLE_CARD, max_apdus=3, exact_le=True)

    def test_every_generation_on_both_protocols(self):
        for name in ("gen1", "gen2", "gen3_valid"):
            for protocol in ("t0", "t1"):
                with self.subTest(profile=name, protocol=protocol):
                    self.check_read(name, protocol, exact_le=(protocol == "t0"))
                    self.tearDown()
                    self.setUp()

    def test_card_refusing_multi_record_read_gives_same_answer(self):
        card, _ = self.check_read("gen3", "t1", EXAMPLE_CARD, max_apdus=9, no_multi_read=True)
        self.assertGreater(card.apdu_count(), 3)  # it really took the single-record path

    def test_holder_name_with_extension_in_utf8(self):
        self.start_card("gen2_holder", port=40000)
        r = sscardd("diag", "read", "--holder", "--json")
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        expected = expected_holder_json("gen2_holder")
        self.assertEqual(r.json()["holder"], expected)
        self.assertGreater(len(expected["name"]), 2)

    def test_holder_on_first_generation_layout(self):
        self.start_card("gen1", port=40000, protocol="t0", exact_le=True)
        r = sscardd("diag", "read", "--holder", "--json")
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        self.assertEqual(r.json()["holder"], expected_holder_json("gen1"))

    def test_third_generation_holder_without_read_key_is_protected(self):
        self.start_card("gen3", port=40000)
        r = sscardd("diag", "read", "--holder", "--json")
        self.assertEqual(r.code, 0, r.stdout + r.stderr)
        out = r.json()
        self.assertEqual(out["card"]["card_number"], "B7K334774")
        self.assertTrue(all(v is None for v in out["holder"].values()), out["holder"])
        self.assertIn("holder.ssn", out["card"]["protected"])
        text = sscardd("diag", "read", "--holder")
        self.assertEqual(text.code, 0)
        self.assertIn("Protected", text.stdout)

    def test_named_reader_and_preference(self):
        self.start_card("gen2", port=40000)
        self.start_card("gen3", port=40001)
        r = sscardd("diag", "read", "--reader", READER1, "--json")
        self.assertEqual(r.code, 0, r.stderr)
        self.assertEqual(r.json()["card"], EXAMPLE_CARD)
        r = sscardd("diag", "read", "--reader", "No Such Reader", "--json")
        self.assertEqual(r.json()["error"]["code"], "no_reader")
        self.assertEqual(r.code, 3)

    def test_text_output(self):
        self.start_card("gen3", port=40000)
        r = sscardd("diag", "read")
        self.assertEqual(r.code, 0, r.stderr)
        self.assertIn("B7K334774", r.stdout)
        self.assertIn("2020-10-01", r.stdout)


class FailureTest(CardTestCase):
    def test_no_card(self):
        r = sscardd("diag", "read", "--json")
        self.assertEqual(r.code, 4, r.stdout)
        self.assertEqual(r.json()["error"]["code"], "no_card")

    def test_not_ssse_card(self):
        self.start_card("not_ssse", port=40000)
        r = sscardd("diag", "read", "--json")
        self.assertEqual(r.code, 6, r.stdout)
        self.assertEqual(r.json()["error"]["code"], "not_ssse_card")

    def test_card_pulled_after_each_apdu(self):
        for protocol, limit in (("t1", 2), ("t0", 3)):
            for n in range(1, limit + 1):
                with self.subTest(protocol=protocol, after=n):
                    self.start_card("gen3", port=40000, protocol=protocol, vanish_after=n)
                    r = sscardd("diag", "read", "--json", timeout=20)
                    self.assertLess(r.elapsed, 10)
                    if r.code == 0:
                        # The card answered everything before vanishing: only the last APDU was
                        # pulled, so the read must be complete and right.
                        self.assertEqual(r.json()["card"], EXAMPLE_CARD)
                    else:
                        # The transport sees a failed exchange first; the card's absence is
                        # confirmed with pcscd, so the outcome names the removal.
                        self.assertEqual(r.json()["error"]["code"], "card_removed", r.stdout)
                        self.assertEqual(r.code, 5)
                    self.tearDown()
                    self.setUp()

    def test_card_pulled_during_fallback_reads(self):
        for n in (2, 4, 7):
            with self.subTest(after=n):
                self.start_card("gen3", port=40000, no_multi_read=True, vanish_after=n)
                r = sscardd("diag", "read", "--json", timeout=20)
                self.assertNotEqual(r.code, 0)
                self.assertEqual(r.json()["error"]["code"], "card_removed", r.stdout)
                self.tearDown()
                self.setUp()

    def test_garbage_and_truncated_answers(self):
        for fault in ("garbage_after", "truncate_after"):
            for n in (0, 1):
                with self.subTest(fault=fault, after=n):
                    self.start_card("gen3", port=40000, **{fault: n})
                    r = sscardd("diag", "read", "--json", timeout=20)
                    self.assertNotEqual(r.code, 0, r.stdout)
                    self.assertIn(r.json()["error"]["code"], ("card_error", "not_ssse_card"))
                    self.assertLess(r.elapsed, 10)
                    self.tearDown()
                    self.setUp()

    def test_wrong_status_word(self):
        self.start_card("gen3", port=40000, sw_after="1:6F00")
        r = sscardd("diag", "read", "--json")
        self.assertEqual(r.code, 7, r.stdout)
        self.assertEqual(r.json()["error"]["code"], "card_error")
        self.assertIn("6F00", r.json()["error"]["message"])


class ApduTest(CardTestCase):
    def test_raw_apdus_with_meaning(self):
        card = self.start_card("gen3", port=40000, protocol="t1")
        r = sscardd("diag", "apdu", "--json", "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00",
                    "00B2072C0B")
        self.assertEqual(r.code, 0, r.stderr)
        ex = r.json()["exchanges"]
        self.assertEqual(len(ex), 2)
        self.assertEqual(ex[0]["sw"], "9000")
        self.assertEqual(ex[1]["response"], "070942374B3333343737349000")
        self.assertIn("success", ex[1]["meaning"].lower())
        self.assertEqual(card.apdu_count(), 2)

    def test_pin_is_redacted_in_the_echo(self):
        self.start_card("gen3", port=40000, protocol="t1")
        r = sscardd("diag", "apdu", "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00",
                    "0020000003975319")
        self.assertEqual(r.code, 0, r.stderr)
        self.assertNotIn("97 53 19", r.stdout)
        self.assertNotIn("975319", r.stdout.replace(" ", ""))
        self.assertIn("63C2", r.stdout.replace(" ", ""))  # wrong PIN, 2 tries left

    def test_t0_fixups_fetch_the_fci(self):
        card = self.start_card("gen3", port=40000, protocol="t0")
        r = sscardd("diag", "apdu", "--t0-fixups", "--json",
                    "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00")
        self.assertEqual(r.code, 0, r.stderr)
        ex = r.json()["exchanges"][0]
        self.assertEqual(ex["sw"], "9000")
        self.assertTrue(ex["response"].startswith("6F"))
        self.assertEqual(card.apdu_count(), 2)  # SELECT without Le, then GET RESPONSE

    def test_bad_hex_is_a_usage_error(self):
        r = sscardd("diag", "apdu", "--json", "00A4XX")
        self.assertEqual(r.code, 2)
        self.assertEqual(r.json()["error"]["code"], "usage")


class CommandLineTest(unittest.TestCase):
    def test_no_subcommand_prints_help(self):
        r = sscardd()
        self.assertEqual(r.code, 0)
        self.assertIn("diag", r.stdout)

    def test_unknown_option_is_usage_error(self):
        r = sscardd("diag", "read", "--bogus")
        self.assertEqual(r.code, 2)

    def test_bad_config_names_file_line_key(self):
        import tempfile, os
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write("[list]\npoll_interval = \"60\"\n")
        try:
            r = sscardd("diag", "readers", "--config", f.name, "--json")
            self.assertEqual(r.code, 2)
            msg = r.json()["error"]["message"]
            self.assertIn(f.name + ":2", msg)
            self.assertIn("list.poll_interval", msg)
        finally:
            os.unlink(f.name)

    def test_missing_explicit_config_is_an_error(self):
        r = sscardd("diag", "readers", "--config", "/nonexistent/sscardd.toml")
        self.assertEqual(r.code, 2)


if __name__ == "__main__":
    unittest.main()
