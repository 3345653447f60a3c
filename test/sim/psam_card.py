"""Model of a PSAM (SAM card, application D15600000590) holding the issuer's keys.

What a terminal's SAM slot does for the social security card's issuer operations
(docs/card.md#psam-commands), in the convention the project implements
(apdu/ssse/psam.hpp, PsamKeySource):

  00 A4 04 00 06 D15600000590            SELECT the PSAM application
  BF EC 00 00 01 <b>                     initialise for the province: b = first byte of the
                                         card's 卡识别码 (e.g. 33)
  BF DE <usage> <key id> Lc <factors> [<session factor>]
                                         derive the card's key from the stored key with the
                                         factors (8 bytes each, `levels` of them: city || card
                                         for levels 2), then, when a session factor (challenge)
                                         follows, the session key E(challenge || 00...)
  80 FA 00 00 Lc <blocks>                encrypt (ECB) under the current key     -> 61 xx
  80 FA 05 00 Lc <padded message>        the card's 4-byte MAC                    -> 61 04
  00 C0 00 00 xx                         GET RESPONSE

Usage bytes (P1 of BF DE) by key purpose, the project's convention: 27 PUK, 28 read key RK,
29 update, 2A maintenance, 2B internal-authentication key IAK; key id (P2) 01 for the test
issuer's SM4 keys and 02 for its 3DES keys (profiles/psam.json). For a 3rd-generation read the
terminal derives the card's process key with the process factor as the session factor and
encrypts `random || 00*8` (80 FA 00 00 10): 16 bytes, the expected internal result (IAK) or the
EXTERNAL AUTHENTICATE cryptogram (RK).

Errors of BF DE: no such key (usage, key id) 6A88; a key of a cipher the PSAM lacks (profile
"ciphers", e.g. a PSAM without SM4) 6A81 (function not supported); before SELECT 6985, before
BF EC 6985; factors of the wrong length 6700.

Stored keys are national master keys; with levels 2 the PSAM works one level down, with
the province key for the province named by BF EC (derived here from the master key).
The PSAM is a T=0 card: every answer with data comes as 61 xx.

Profile (JSON, "kind": "psam"):
  {"kind": "psam", "description": "...", "historical_hex": "...", "levels": 2,
   "ciphers": ["3des", "sm4"],
   "keys": [{"usage": "27", "key_id": "01", "cipher": "sm4", "master_key": "<32 hex>"}]}
"""

import json

import card_crypto
from ssse_card import CommandApdu, MalformedApdu, build_atr, sw, SW_OK

PSAM_AID = bytes.fromhex("D15600000590")

PSAM_DEFAULTS = {
    "kind": "psam",
    "description": "",
    "historical_hex": "0050534D0000000000",
    "aid_hex": "D15600000590",
    "levels": 2,
    "ciphers": list(card_crypto.CIPHERS),  # the algorithms the PSAM can compute
    "keys": [],
}

USAGES = {"puk": 0x27, "read": 0x28, "update": 0x29, "maintenance": 0x2A, "internal": 0x2B}


class ProfileError(ValueError):
    pass


def is_psam_profile(path):
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(raw, dict) and raw.get("kind") == "psam"


def load_psam_profile(source):
    if isinstance(source, dict):
        raw = dict(source)
    else:
        with open(source, encoding="utf-8") as f:
            raw = json.load(f)
    raw = {k: v for k, v in raw.items() if not k.startswith("_")}
    unknown = set(raw) - set(PSAM_DEFAULTS)
    if unknown:
        raise ProfileError("unknown PSAM profile keys: %s" % ", ".join(sorted(unknown)))
    p = dict(PSAM_DEFAULTS)
    p.update(raw)
    if p["kind"] != "psam":
        raise ProfileError("kind must be psam")
    if p["levels"] not in (2, 3):
        raise ProfileError("levels must be 2 (province keys) or 3 (national master keys)")
    if not p["ciphers"] or any(c not in card_crypto.CIPHERS for c in p["ciphers"]):
        raise ProfileError("ciphers: a non-empty list of %s" % ", ".join(card_crypto.CIPHERS))
    keys = {}
    for entry in p["keys"]:
        try:
            usage, key_id = int(entry["usage"], 16), int(entry["key_id"], 16)
            cipher, master = entry["cipher"], bytes.fromhex(entry["master_key"])
        except (KeyError, TypeError, ValueError) as e:
            raise ProfileError("bad PSAM key entry %r: %s" % (entry, e))
        if cipher not in card_crypto.CIPHERS or len(master) != 16:
            raise ProfileError("bad PSAM key entry %r" % entry)
        keys[(usage, key_id)] = (cipher, master)
    p["_keys"] = keys
    return p


class PsamCard:
    """One PSAM. Same interface as SsseCard for the vpcd front end."""

    contactless = False

    def __init__(self, profile, protocol=None):
        if not isinstance(profile, dict) or "_keys" not in profile:
            profile = load_psam_profile(profile)
        self.profile = profile
        self.protocol = "t0"  # SAMs are T=0 cards; --protocol is ignored
        self.aid = bytes.fromhex(profile["aid_hex"])
        self.levels = int(profile["levels"])
        self.keys = profile["_keys"]
        self.ciphers = set(profile["ciphers"])
        self._atr = build_atr(bytes.fromhex(profile["historical_hex"]), "t0")
        self.powered = False
        self._clear()

    def _clear(self):
        self.selected = False
        self.province = None
        self.current = None  # (cipher, key)
        self._pending = None

    def atr(self):
        return self._atr

    def power_on(self):
        self.powered = True
        self._clear()
        return self._atr

    def reset(self):
        return self.power_on()

    def power_off(self):
        self.powered = False
        self._clear()

    def export_state(self):
        return {}

    def import_state(self, state):
        pass

    def _answer(self, data):
        self._pending = data
        return b"\x61" + bytes((len(data) & 0xFF,))

    def process(self, apdu):
        pending, self._pending = self._pending, None
        try:
            cmd = CommandApdu(apdu)
        except MalformedApdu:
            return sw(0x6700)
        key = (cmd.cla, cmd.ins)
        if key == (0x00, 0xC0):
            if pending is None:
                return sw(0x6985)
            if not cmd.le_present or cmd.le != len(pending):
                self._pending = pending
                return b"\x6C" + bytes((len(pending) & 0xFF,))
            return pending + SW_OK
        if cmd.lc_present and cmd.le_present:
            return sw(0x6700)  # T=0: case-4 commands go without Le
        if key == (0x00, 0xA4):
            if cmd.p1 != 0x04 or cmd.data != self.aid:
                return sw(0x6A82)
            self._clear()
            self.selected = True
            return SW_OK
        if not self.selected:
            return sw(0x6985)
        if key == (0xBF, 0xEC):
            if len(cmd.data) != 1:
                return sw(0x6700)
            self.province = "%02X" % cmd.data[0]
            self.current = None
            return SW_OK if self.province.isdigit() else sw(0x6A80)
        if key == (0xBF, 0xDE):
            return self._derive(cmd)
        if key == (0x80, 0xFA):
            return self._crypt(cmd)
        return sw(0x6D00)

    def _derive(self, cmd):
        if self.province is None:
            return sw(0x6985)
        entry = self.keys.get((cmd.p1, cmd.p2))
        if entry is None:
            return sw(0x6A88)
        cipher, key = entry
        if cipher not in self.ciphers:
            return sw(0x6A81)
        n = 8 * self.levels
        factors, session = cmd.data[:n], cmd.data[n:]
        if len(factors) != n or len(session) not in (0, 4, 8, 16):
            return sw(0x6700)
        if self.levels == 2:
            key = card_crypto.diversify(cipher, key, (self.province + "0000sh").encode("ascii"))
        for i in range(0, n, 8):
            key = card_crypto.diversify(cipher, key, factors[i:i + 8])
        if session:
            key = card_crypto.session_key(cipher, key, session)
        self.current = (cipher, key)
        return SW_OK

    def _crypt(self, cmd):
        if self.current is None:
            return sw(0x6985)
        cipher, key = self.current
        block = card_crypto.block_size(cipher)
        if not cmd.data or len(cmd.data) % block:
            return sw(0x6700)
        if cmd.p1 == 0x00:
            return self._answer(card_crypto.ecb(cipher, key, cmd.data))
        if cmd.p1 == 0x05:
            return self._answer(card_crypto.mac_padded(cipher, key, cmd.data))
        return sw(0x6A86)
