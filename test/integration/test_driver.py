"""libSSCardDriver.so (driver/) against the real daemon, pcscd, vpcd and the virtual cards.

One module, two ways in (SSCARD_DRIVER_MODE): "c" runs driver_cli, a C program compiled against
SSCardDriver.h (under SSCARD_SANITIZE with AddressSanitizer, its output buffers exactly
SSCARD_DRIVER_OUT_SIZE bytes from malloc); "ctypes" loads the library into this process. Every
output is compared byte for byte with the expected GBK string, and the bytes after the buffer are
checked untouched."""
import ctypes
import os
import subprocess
import threading
import time
import unittest

from sscard_test import SSCARDD, load_profile, expected_card, expected_holder_json, sim_ctl
from test_pin_api import DaemonWithPins

MODE = os.environ.get("SSCARD_DRIVER_MODE", "c")
OUT_SIZE = 1024
GUARD = 64
READERS = [sim_ctl.READERS[p] for p in (40000, 40001, 40002, 40003)]
TERMINAL_ID = "test-kiosk-1"  # [backend] terminal_id of DaemonWithPins' configuration
INITIAL = load_profile("gen3_valid")["pin"]
NEW_PIN = "260713"
WRONG = "975319"
RESET_PIN = "38620417"


class Driver:
    """Calls one function of the library, the C program's way or ctypes', and returns
    (return code, output bytes)."""

    def __init__(self, socket):
        self.socket = socket
        if MODE == "ctypes":
            self.lib = ctypes.CDLL(os.environ["SSCARD_DRIVER_LIB"])
            for name in ("iReadCardBas", "iCheckCard", "iVerifyPIN", "iChangePIN",
                         "iVerifyPin", "iChangePin", "iReloadPIN", "iUnblockPIN",
                         "iReadCardBas_HSM_Step1", "iReadCardBas_HSM_Step2"):
                getattr(self.lib, name).restype = ctypes.c_long

    def call(self, fn, itype, *args):
        if MODE == "c":
            env = dict(os.environ, SSCARD_SOCKET=self.socket)
            proc = subprocess.run([os.environ["SSCARD_DRIVER_CLI"], fn, str(itype), *args],
                                  capture_output=True, text=True, env=env, timeout=120)
            assert proc.returncode == 0, (fn, proc.returncode, proc.stderr)
            lines = dict(line.split("=", 1) for line in proc.stdout.splitlines())
            return int(lines["rc"]), bytes.fromhex(lines["out"])
        os.environ["SSCARD_SOCKET"] = self.socket
        buf = ctypes.create_string_buffer(b"\x5a" * (OUT_SIZE + GUARD), OUT_SIZE + GUARD)
        cargs = [ctypes.c_char_p(a.encode()) for a in args]
        if fn == "iReadCardBas_HSM_Step2":
            rc = self.lib.iReadCardBas_HSM_Step2(*cargs, buf)
        else:
            rc = getattr(self.lib, fn)(ctypes.c_int(itype), *cargs, buf)
        raw = buf.raw
        assert raw[OUT_SIZE:] == b"\x5a" * GUARD, f"{fn} wrote past {OUT_SIZE} bytes"
        assert b"\0" in raw[:OUT_SIZE], f"{fn} left its output without a NUL"
        return rc, raw[:raw.index(b"\0")]

    def hsm(self, itype, answer):
        """Step 1, then Step 2 with answer(step 1's output bytes) as pKey, in one process (the
        library keeps the session's connection between the steps): ((rc1, out1), (rc2, out2))."""
        if MODE == "c":
            env = dict(os.environ, SSCARD_SOCKET=self.socket)
            proc = subprocess.Popen([os.environ["SSCARD_DRIVER_CLI"], "hsm", str(itype)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                    env=env)
            rc1 = int(proc.stdout.readline().strip().split("=", 1)[1])
            out1 = bytes.fromhex(proc.stdout.readline().strip().split("=", 1)[1])
            if rc1 != 0:
                proc.communicate(timeout=60)
                return (rc1, out1), None
            rest, _ = proc.communicate(answer(out1) + "\n", timeout=120)
            assert proc.returncode == 0, proc.returncode
            lines = dict(line.split("=", 1) for line in rest.splitlines())
            return (rc1, out1), (int(lines["rc"]), bytes.fromhex(lines["out"]))
        first = self.call("iReadCardBas_HSM_Step1", itype)
        if first[0] != 0:
            return first, None
        return first, self.call("iReadCardBas_HSM_Step2", 0, answer(first[1]))

    def null_outputs(self):
        """Every function with a NULL pOutInfo: the answers."""
        if MODE == "c":
            env = dict(os.environ, SSCARD_SOCKET=self.socket)
            proc = subprocess.run([os.environ["SSCARD_DRIVER_CLI"], "null", "1"],
                                  capture_output=True, text=True, env=env, timeout=60)
            return proc.returncode, proc.stderr
        os.environ["SSCARD_SOCKET"] = self.socket
        pin, info = b"123456", b"330300D15600000599110145FFFFFFFF|B7K334774|"
        codes = [self.lib.iReadCardBas(1, None), self.lib.iCheckCard(1, None),
                 self.lib.iVerifyPIN(1, None), self.lib.iChangePIN(1, None),
                 self.lib.iVerifyPin(1, pin, None), self.lib.iChangePin(1, pin, pin, None),
                 self.lib.iReloadPIN(1, info, None), self.lib.iUnblockPIN(1, info, None),
                 self.lib.iReadCardBas_HSM_Step1(1, None),
                 self.lib.iReadCardBas_HSM_Step2(info, None)]
        return (0 if codes == [-23] * len(codes) else 5), codes

    def concurrent_reads(self, itype, count):
        """count calls of iReadCardBas at once; the (rc, out) each got."""
        if MODE == "c":
            return [self.call("threads", itype, str(count))]
        results = [None] * count

        def one(i):
            results[i] = self.call("iReadCardBas", itype)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results


def gbk(text):
    return text.encode("gbk")


def expected_basic(profile_name, reader):
    """iReadCardBas's eleven fields for a profile, from the profile alone, in GBK."""
    card = expected_card(profile_name)
    holder = expected_holder_json(profile_name)
    hist = load_profile(profile_name)["historical_hex"].upper()

    def date(d):
        return d.replace("-", "") if d else ""

    fields = [card["region"] or "", holder["ssn"] or "", card["card_number"] or "",
              card["card_id"] or "", holder["name"] or "", hist, card["spec_version"] or "",
              date(card["issued_on"]), date(card["expires_on"]), TERMINAL_ID, reader]
    return gbk("".join(f + "|" for f in fields))


class DriverTestCase(DaemonWithPins):
    EXTRA_CONFIG = """[pin]
attempts_per_minute = 100
"""
    PINS_USED = [INITIAL, NEW_PIN, WRONG, RESET_PIN, "111111", "260714"]

    def setUp(self):
        super().setUp()
        self.driver = Driver(f"{self.tmp}/sscardd.sock")

    def insert(self, name, port, checked_after=2, **faults):
        """A card, once the daemon's automatic check (2 APDUs; 1 for a card without the
        application) has read it."""
        card = self.start_card(name, port=port, **faults)
        deadline = time.monotonic() + 10
        while len(card.apdu_log()) < checked_after:
            self.assertLess(time.monotonic(), deadline, "the daemon never checked the card")
            time.sleep(0.05)
        return card

    def assertFails(self, result, code, text):
        rc, out = result
        self.assertEqual(rc, code, out.decode("gbk", "replace"))
        self.assertTrue(out.startswith(gbk(text)), out.decode("gbk", "replace"))


class ReadTest(DriverTestCase):
    def test_basic_data_of_1st_and_2nd_generation_cards_in_gbk(self):
        for name in ("gen1", "gen2_holder"):
            with self.subTest(profile=name):
                self.insert(name, 40000)
                try:
                    expected = expected_basic(name, READERS[0])
                    self.assertEqual(self.driver.call("iReadCardBas", 1), (0, expected))
                    self.assertEqual(self.driver.call("iReadCardBas", 3), (0, expected))
                    # contactless first, but there is only a contact card
                    self.assertEqual(self.driver.call("iReadCardBas", 4), (0, expected))
                    self.assertEqual(expected.count(b"|"), 11)
                finally:
                    card = self.cards.pop()
                    card.remove()
                    card.cleanup()

    def test_a_chinese_name_is_gbk(self):
        self.insert("gen2_holder", 40001)
        rc, out = self.driver.call("iReadCardBas", 1)
        self.assertEqual(rc, 0)
        name = expected_holder_json("gen2_holder")["name"]
        self.assertTrue(any(ord(c) > 127 for c in name), "the profile's name should be Chinese")
        self.assertEqual(out.split(b"|")[4], gbk(name))

    def test_itype_picks_contact_or_contactless(self):
        self.insert("gen2_holder", 40000)
        self.insert("contactless", 40002)  # a 3rd-generation card: no read key, -2203
        expected = expected_basic("gen2_holder", READERS[0])
        self.assertEqual(self.driver.call("iReadCardBas", 1), (0, expected))
        self.assertEqual(self.driver.call("iReadCardBas", 3), (0, expected))
        self.assertFails(self.driver.call("iReadCardBas", 2), -2203, "无读卡密钥RKSSSE")
        self.assertFails(self.driver.call("iReadCardBas", 4), -2203, "无读卡密钥RKSSSE")

    def test_3rd_generation_without_read_key_asks_for_the_hsm_steps(self):
        self.insert("gen3_valid", 40003)
        self.assertFails(self.driver.call("iReadCardBas", 1), -2203, "无读卡密钥RKSSSE")

    def test_no_card_no_reader_wrong_card_bad_itype(self):
        self.assertFails(self.driver.call("iReadCardBas", 1), -2, "无卡")
        # vpcd readers are contact readers: none is contactless
        self.assertFails(self.driver.call("iReadCardBas", 2), -11, "读卡器连接错误")
        for itype in (0, 5, -1):
            self.assertFails(self.driver.call("iReadCardBas", itype), -23, "传入数据不合法")
        self.insert("not_ssse", 40001, checked_after=1)
        self.assertFails(self.driver.call("iReadCardBas", 1), -1, "卡类型不对")

    def test_a_status_word_is_returned_as_minus_its_decimal_value(self):
        # After the daemon's check, every answer is 6581: SELECT fails with it.
        self.insert("gen2", 40000, sw_after=(2, "6581"))
        self.assertFails(self.driver.call("iReadCardBas", 1), -0x6581, "卡返回状态字")

    def test_a_card_pulled_during_the_read_is_no_answer(self):
        # The card leaves while answering the first APDU after the daemon's check.
        self.insert("gen2_holder", 40000, vanish_during=3, wait_present=False)
        self.assertFails(self.driver.call("iReadCardBas", 1), -4, "卡无应答")

    def test_frozen_card_check_extension(self):
        self.insert("gen3_valid", 40000)
        self.assertEqual(self.driver.call("iCheckCard", 1), (0, b"allow|no_list|"))
        card = self.cards.pop()
        card.remove()
        card.cleanup()
        self.insert("gen3", 40000)  # expired 2020-10-01
        self.assertEqual(self.driver.call("iCheckCard", 1), (0, b"deny|card_expired|"))

    def test_null_output_buffers_are_refused_without_a_write(self):
        self.insert("gen2", 40000)
        status, detail = self.driver.null_outputs()
        self.assertEqual(status, 0, detail)

    def test_concurrent_calls_agree(self):
        self.insert("gen2_holder", 40000)
        expected = expected_basic("gen2_holder", READERS[0])
        for result in self.driver.concurrent_reads(1, 6):
            self.assertEqual(result, (0, expected))

    def test_hsm_steps_need_a_first_step(self):
        self.assertFails(self.driver.call("iReadCardBas_HSM_Step2", 0, "00" * 16 + "|" + "00" * 16 + "|"),
                         -23, "请先执行 iReadCardBas_HSM_Step1")


class HsmTest(DriverTestCase):
    """iReadCardBas_HSM_Step1/Step2 with the project's HSM stand-in (test/sim/hsm_standin.py)."""

    def hsm_answer(self, step1):
        sim = os.path.dirname(sim_ctl.__file__)
        return subprocess.run(["/usr/bin/python3", os.path.join(sim, "hsm_standin.py"), "--keys",
                               os.path.join(sim, "keys", "test_issuer.keys"), step1.decode()],
                              capture_output=True, text=True, check=True).stdout.strip()

    def test_two_step_read_of_a_3rd_generation_card(self):
        self.insert("gen3_protected", 40000)
        (rc1, step1), second = self.driver.hsm(1, self.hsm_answer)
        self.assertEqual(rc1, 0, step1.decode("gbk", "replace"))
        self.assertEqual(step1.count(b"|"), 9)
        self.assertEqual(step1.split(b"|")[2], b"03")  # SM4
        rc2, out = second
        self.assertEqual(rc2, 0, out.decode("gbk", "replace"))
        fields = out.split(b"|")
        holder = load_profile("gen3_protected")["ef06"]
        self.assertEqual(out.count(b"|"), 11)
        self.assertEqual(fields[1], holder["ssn"].encode())
        self.assertEqual(fields[4], gbk(holder["name"]))

    def test_a_copied_card_disagrees_with_the_hsm(self):
        self.insert("gen3_copy", 40000)
        _, second = self.driver.hsm(1, self.hsm_answer)
        self.assertEqual(second[0], -25, second[1].decode("gbk", "replace"))

    def test_a_wrong_cryptogram_is_refused_by_the_card(self):
        self.insert("gen3_protected", 40000)
        wrong = lambda step1: self.hsm_answer(step1).split("|")[0] + "|" + "11" * 16 + "|"
        _, (rc, out) = self.driver.hsm(1, wrong)
        self.assertLess(rc, 0, out.decode("gbk", "replace"))
        self.assertNotEqual(rc, -25)


class PinTest(DriverTestCase):
    def test_verify_and_change_with_pins_as_arguments(self):
        self.insert("gen3_valid", 40000)
        self.assertEqual(self.driver.call("iVerifyPin", 1, INITIAL), (0, b""))
        self.assertFails(self.driver.call("iVerifyPin", 1, WRONG), -51, "密码错误,剩余2次")
        self.assertFails(self.driver.call("iChangePin", 1, INITIAL, "111111"), -36,
                         "新密码不符合密码规则")
        self.assertEqual(self.driver.call("iChangePin", 1, INITIAL, NEW_PIN), (0, b""))
        self.assertEqual(self.driver.call("iVerifyPin", 1, NEW_PIN), (0, b""))
        self.assertFails(self.driver.call("iChangePin", 1, WRONG, "260714"), -51, "密码错误")
        for bad in ("12a456", "123", "12345678901234567", ""):
            self.assertFails(self.driver.call("iVerifyPin", 1, bad), -23, "传入数据不合法")

    def test_blocked_pin(self):
        self.insert("gen3_valid", 40001)
        self.assertFails(self.driver.call("iVerifyPin", 1, WRONG), -51, "密码错误,剩余2次")
        self.assertFails(self.driver.call("iVerifyPin", 1, WRONG), -51, "密码错误,剩余1次")
        self.assertFails(self.driver.call("iVerifyPin", 1, WRONG), -52, "密码已锁")
        self.assertFails(self.driver.call("iVerifyPin", 1, INITIAL), -52, "密码已锁")

    def test_pin_pad_forms_need_a_pin_pad(self):
        self.insert("gen3_valid", 40002)
        self.assertFails(self.driver.call("iVerifyPIN", 1), -13, "不允许或不支持该操作")
        self.assertFails(self.driver.call("iChangePIN", 1), -13, "不允许或不支持该操作")

    def test_issuer_functions_without_issuer_keys(self):
        self.insert("gen3_valid", 40003)
        card_id = expected_card("gen3_valid")["card_id"]
        number = expected_card("gen3_valid")["card_number"]
        self.assertFails(self.driver.call("iReloadPIN", 1, f"{card_id}|{number}|{RESET_PIN}|"),
                         -13, "不允许或不支持该操作")

    def test_a_daemon_restart_between_calls_is_survived(self):
        self.insert("gen2_holder", 40000)
        expected = expected_basic("gen2_holder", READERS[0])
        self.assertEqual(self.driver.call("iReadCardBas", 1), (0, expected))
        cls = type(self)
        cls.daemon.terminate()
        cls.daemon.wait(timeout=15)
        self.assertFails(self.driver.call("iReadCardBas", 1), -11, "读卡器连接错误")
        cls.daemon = subprocess.Popen([SSCARDD, "run", "--config", f"{self.tmp}/sscardd.toml"],
                                      stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(f"{self.tmp}/sscardd.sock"):
            self.assertLess(time.monotonic(), deadline, "the daemon did not come back")
            time.sleep(0.1)
        self.assertEqual(self.driver.call("iReadCardBas", 1), (0, expected))


class RateLimitTest(DriverTestCase):
    EXTRA_CONFIG = ""  # the default: 5 PIN attempts per minute per reader

    def test_the_sixth_attempt_in_a_minute_is_busy(self):
        self.insert("gen2", 40000)
        answers = [self.driver.call("iVerifyPin", 1, INITIAL)[0] for _ in range(6)]
        self.assertEqual(answers[:5], [0] * 5)
        self.assertEqual(answers[5], -12)


class IssuerTest(DriverTestCase):
    EXTRA_CONFIG = f"""[keys]
source = "psam"
psam_reader = "{READERS[1]}"
[pin]
attempts_per_minute = 100
min_length = 6
max_length = 8
"""
    def setUp(self):
        super().setUp()
        self.start_card("psam", port=40001, reconnect=True)

    def card_info(self, profile_name, *extra):
        card = expected_card(profile_name)
        return "|".join([card["card_id"], card["card_number"], *extra]) + "|"

    def test_unblock_and_reset_after_the_card_is_matched(self):
        card = self.insert("gen3_valid", 40000)
        for _ in range(3):
            self.driver.call("iVerifyPin", 1, WRONG)
        self.assertFails(self.driver.call("iVerifyPin", 1, INITIAL), -52, "密码已锁")
        # another card's number: nothing is sent to the card beyond reading it
        before = len(card.apdu_log())
        other = expected_card("gen3_valid")["card_id"] + "|B7K334774|"
        self.assertFails(self.driver.call("iUnblockPIN", 1, other), -22, "传入数据与卡内不符")
        self.assertFalse([c for c, _ in card.apdu_log()[before:] if c.startswith("8424")])
        self.assertFails(self.driver.call("iUnblockPIN", 1, "not card info"), -23, "传入数据不合法")
        self.assertEqual(self.driver.call("iUnblockPIN", 1, self.card_info("gen3_valid")), (0, b""))
        self.assertEqual(self.driver.call("iVerifyPin", 1, INITIAL), (0, b""))
        self.assertFails(self.driver.call("iReloadPIN", 1, self.card_info("gen3_valid", "111111")),
                         -36, "新密码不符合密码规则")
        self.assertEqual(self.driver.call("iReloadPIN", 1, self.card_info("gen3_valid", RESET_PIN)),
                         (0, b""))
        self.assertEqual(self.driver.call("iVerifyPin", 1, RESET_PIN), (0, b""))
        # the lower-case card id of the reference layout is accepted too
        card_id, number = self.card_info("gen3_valid").split("|")[:2]
        self.assertEqual(self.driver.call("iUnblockPIN", 1, f"{card_id.lower()}|{number}|"),
                         (0, b""))

    def test_a_card_the_list_denies_is_not_reset(self):
        self.insert("gen3", 40000)  # expired
        self.assertFails(self.driver.call("iReloadPIN", 1, self.card_info("gen3", RESET_PIN)),
                         -5, "卡已被拒绝使用")


if __name__ == "__main__":
    unittest.main()
