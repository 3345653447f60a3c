#!/usr/bin/python3
"""A stand-in for the hospital's encryption machine (加密机, HSM) in tests: the answer to the
step-1 string of a 3rd-generation card read (iReadCardBas_HSM_Step1 / Step2).

    hsm_standin.py --keys keys/test_issuer.keys '<step-1 string>'
    echo '<step-1 string>' | hsm_standin.py --keys keys/test_issuer.keys

The step-1 string (hex upper case, trailing `|`):
    区划|ATR历史字节|算法标识|卡识别码|内部认证过程因子|内部认证原始信息|外部认证过程因子|外部认证原始信息|终端序列号|
算法标识 01 DES/3DES, 03 SM4. Printed: `<internal result 32 hex>|<external cryptogram 32 hex>|`
(the reference layout of the HSM's answer; the terminal compares the first 16 hex digits of the
internal result with the card's INTERNAL AUTHENTICATE answer and sends the cryptogram with
00 82 00 0A 10).

Keys: the lab key file of the C++ SoftwareKeySource, `<purpose> <cipher> <levels> <key hex>` a
line, '#' comments; purposes used here: `internal` (IAK) and `read` (RK). The card's keys are
derived with card_crypto.derive_card_key, the results computed with
card_crypto.internal_auth_result and external_auth_cryptogram (the convention in card_crypto.py).

Exit status: 0 answered; 1 no key for the card's algorithm; 2 bad arguments, key file or step-1
string (message on stderr).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import card_crypto  # noqa: E402

PURPOSES = ("puk", "read", "update", "maintenance", "internal")
ALGORITHMS = {"01": "3des", "03": "sm4"}  # 02 SSF33: not supported
STEP1_FIELDS = ("region", "historical", "algorithm", "card_id", "internal_factor",
                "internal_random", "external_factor", "external_random", "terminal_serial")


class HsmError(ValueError):
    """A bad key file or step-1 string."""


class MissingKey(HsmError):
    """The key file has no key for that purpose and cipher."""


def parse_keys(text):
    """Key-file text -> {(purpose, cipher): (levels, key bytes)}."""
    keys = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        where = "key file line %d: " % number
        if len(fields) != 4:
            raise HsmError(where + "expected <purpose> <cipher> <levels> <key hex>")
        purpose, cipher, levels, key = fields
        if purpose not in PURPOSES:
            raise HsmError(where + "unknown purpose %r" % purpose)
        if cipher not in card_crypto.CIPHERS:
            raise HsmError(where + "unknown cipher %r" % cipher)
        if levels not in ("0", "1", "2", "3"):
            raise HsmError(where + "levels must be 0..3")
        try:
            key = bytes.fromhex(key)
        except ValueError:
            key = b""
        if len(key) != 16:
            raise HsmError(where + "the key must be 32 hex digits")
        keys[(purpose, cipher)] = (int(levels), key)
    if not keys:
        raise HsmError("the key file holds no key")
    return keys


def load_keys(path):
    with open(path, encoding="utf-8") as f:
        return parse_keys(f.read())


def _hex(value, name, length=None):
    try:
        b = bytes.fromhex(value)
    except ValueError:
        raise HsmError("%s: not hex: %r" % (name, value))
    if length is not None and len(b) != length:
        raise HsmError("%s: %d bytes expected, got %d" % (name, length, len(b)))
    return b


def parse_step1(text):
    """The step-1 string -> dict with the fields of STEP1_FIELDS (bytes where hex)."""
    parts = text.strip().split("|")
    if len(parts) != len(STEP1_FIELDS) + 1 or parts[-1] != "":
        raise HsmError("step-1 string: %d fields separated and ended by '|' expected"
                       % len(STEP1_FIELDS))
    f = dict(zip(STEP1_FIELDS, parts))
    if f["algorithm"] not in ALGORITHMS:
        raise HsmError("算法标识 %r: 01 (DES/3DES) or 03 (SM4) expected" % f["algorithm"])
    out = {"region": f["region"], "terminal_serial": f["terminal_serial"],
           "cipher": ALGORITHMS[f["algorithm"]]}
    out["historical"] = _hex(f["historical"], "ATR历史字节")
    if len(out["historical"]) < 13:
        raise HsmError("ATR历史字节: at least 13 bytes (the card factor is T6..T13)")
    out["card_id"] = f["card_id"].upper()
    _hex(out["card_id"], "卡识别码", 16)
    if not out["card_id"][:6].isdigit():
        raise HsmError("卡识别码: the first 6 digits are the region")
    for name in STEP1_FIELDS[4:8]:
        out[name] = _hex(f[name], name, 8)
    return out


def card_key(keys, purpose, step1):
    entry = keys.get((purpose, step1["cipher"]))
    if entry is None:
        raise MissingKey("no %s key for %s" % (purpose, step1["cipher"]))
    levels, master = entry
    return card_crypto.derive_card_key(step1["cipher"], master, levels, step1["card_id"],
                                       step1["historical"])


def results(keys, step1):
    """(internal result 16 bytes, external cryptogram 16 bytes) for a parsed step-1 string."""
    cipher = step1["cipher"]
    internal = card_crypto.internal_auth_result(
        cipher, card_key(keys, "internal", step1), step1["internal_factor"],
        step1["internal_random"])
    external = card_crypto.external_auth_cryptogram(
        cipher, card_key(keys, "read", step1), step1["external_factor"], step1["external_random"])
    return internal, external


def answer(keys, step1_text):
    """The HSM's answer string for a step-1 string: `<internal 32 hex>|<cryptogram 32 hex>|`."""
    internal, external = results(keys, parse_step1(step1_text))
    return "%s|%s|" % (internal.hex().upper(), external.hex().upper())


def main(argv=None):
    ap = argparse.ArgumentParser(description="HSM stand-in: answers a 3.0 card's step-1 string")
    ap.add_argument("--keys", required=True, help="lab key file: <purpose> <cipher> <levels> <hex>")
    ap.add_argument("step1", nargs="?", help="the step-1 string (default: one line from stdin)")
    args = ap.parse_args(argv)
    step1 = args.step1 if args.step1 is not None else sys.stdin.readline()
    try:
        keys = load_keys(args.keys)
        print(answer(keys, step1))
    except MissingKey as e:
        print("hsm_standin: %s" % e, file=sys.stderr)
        return 1
    except (OSError, HsmError) as e:
        print("hsm_standin: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
