"""Model of a social security card (社会保障卡) and its SSSE application.

Pure logic, no I/O: a front end (vpcd_card.py for vpcd, later a PN532 emulator)
feeds it power events and command APDUs and sends back what it answers.

    card = SsseCard(load_profile("profiles/gen3.json"), protocol="t0")
    card.power_on()
    card.process(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF"))  # -> 61 xx

Behaviour (see README.md for the profile format):
  * SELECT by DF name of SSSE (and by FID of DF01..DF04, DF07, EF05, EF06)
  * READ RECORD by number (P2 = SFI<<3|4), by identifier (|0), P1-to-last (|5)
  * T=0: 61xx + GET RESPONSE, 6Cxx for a wrong P3, 6700 for case-4 commands
    that still carry their Le byte
  * VERIFY / CHANGE PIN with a retry counter
  * GET CHALLENGE / EXTERNAL AUTHENTICATE against the card's application keys
    (card_crypto.py; the check stays a hook, see external_auth)
  * 3rd generation: EF06 and optionally EF05 record 07 behind the read key RK, opened by
    EXTERNAL AUTHENTICATE over the card's last two challenges (16-byte cryptogram, own try
    counter); INTERNAL AUTHENTICATE with the internal-authentication key IAK; a "copy" flag gives
    a card whose IAK is not the issuer's (card_crypto.py's docstring has the convention)
  * issuer PIN reset 84 24 00 01 and unblock 84 24 00 00 with MAC checking
State that lives in the card's EEPROM (PIN, retry counters) survives power
cycles; selection, authentication and PIN-verified state do not.
"""

import hmac
import json
import os
import secrets

SSSE_DF_NAME = bytes.fromhex("7378312E73682EC9E7BBE1B1A3D5CF")  # "sx1.sh." + GBK 社会保障

# Sub-applications below SSSE, selected by FID: FID -> AID
SUB_DFS = {
    0xDF01: bytes.fromhex("D15600000500"),
    0xDF02: bytes.fromhex("D15600000501"),
    0xDF03: bytes.fromhex("D15600000502"),
    0xDF04: bytes.fromhex("D15600000503"),
    0xDF07: bytes.fromhex("D15600000504"),
}
# The record file readable only after VERIFY (profile key pin_record_hex)
PIN_PROTECTED_SFI = 7
# EF file identifiers accepted by SELECT for the two record files -> SFI
EF_FIDS = {0xEF05: 5, 0x0005: 5, 0xEF06: 6, 0x0006: 6}

# (tag, profile key, length, format)
EF05_FIELDS = [
    (0x01, "card_id", 16, "cn"),
    (0x02, "card_type", 1, "an"),
    (0x03, "spec_version", 4, "an"),
    (0x04, "issuer_id", 12, "cn"),
    (0x05, "issued_on", 4, "cn"),
    (0x06, "expires_on", 4, "cn"),
    (0x07, "card_number", 9, "an"),
]
EF06_FIELDS = [
    (0x08, "ssn", 18, "an"),
    (0x09, "name", 30, "an"),
    (0x4E, "name_ext", 20, "an"),  # 2nd/3rd generation only
    (0x0A, "sex", 1, "an"),
    (0x0B, "ethnicity", 1, "cn"),
    (0x0C, "birthplace", 3, "cn"),
    (0x0D, "birth_date", 4, "cn"),
]

MULTI_READ_REFUSALS = ("6A86", "6D00", "6A81")

KEY_PURPOSES = ("puk", "read", "update", "maintenance", "internal")
# read: ef06_read_key_id; internal: the INTERNAL AUTHENTICATE key (IAK), P2 of 00 88
DEFAULT_KEY_IDS = {"puk": 0x01, "update": 0x0B, "maintenance": 0x0C, "internal": 0x09}

# A copied card's IAK comes from this master key instead of the issuer's: the copier has the
# card's data but not its keys.
COPIER_MASTER_KEY = bytes.fromhex("C0C0FFEE000000000000000000C0FFEE")

CARD_NUMBER_RECORD = 7  # EF05 record 07 (tag 07)

SW_OK = b"\x90\x00"


def sw(value):
    return bytes(((value >> 8) & 0xFF, value & 0xFF))


class ProfileError(ValueError):
    pass


# --------------------------------------------------------------------------
# Profiles

PROFILE_DEFAULTS = {
    "description": "",
    "ssse": True,
    "historical_hex": "0081314E4300000000000000",
    "atr_hex": None,  # full ATR, overrides the generated one
    "protocol": "t1",  # t0 | t1 (contact cards); contactless cards behave as T=1
    "contactless": False,
    "generation": None,  # 1 | 2 | 3; default from ef05.spec_version
    "algorithm": 1,  # 9F0C/86 in the FCI: 1 DES/3DES, 2 SSF33, 3 SM4; null = no template
    "fci_hex": None,  # full FCI override
    "ef05": {},
    "ef06": {},
    "empty_an_fill": "00",
    "empty_cn_fill": "FF",
    "ef06_locked": None,  # default: True on generation 3
    "ef06_read_key_id": 0x0A,
    "ef06_read_key": None,  # the card's own read key (hex); null: from master_keys.read, if any
    "card_number_locked": False,  # EF05 record 07 (card number) needs the read key as well
    "read_key_max_tries": 3,  # the read key's own try counter (EXTERNAL AUTHENTICATE, 63Cx)
    "read_key_tries_left": None,  # default: read_key_max_tries
    "copy": False,  # a copied card: the issuer's data, but an IAK from COPIER_MASTER_KEY
    "cipher": None,  # card cipher "3des" | "sm4"; default from algorithm (3 -> sm4, else 3des)
    # national master keys (hex, 16 bytes) by purpose (puk, read, update, maintenance, internal);
    # the card's keys are derived from them in three levels with its factors (card_crypto.py).
    # A card holding a read key (from here or ef06_read_key) authenticates it the 3rd-generation
    # way: two challenges, 16-byte cryptogram, its own try counter
    "master_keys": {},
    # EXTERNAL AUTHENTICATE key ids by purpose; read defaults to ef06_read_key_id
    "key_ids": {},
    "pin": "123456",  # null = card without PIN (VERIFY -> 6A88)
    "pin_max_tries": 3,
    "pin_tries_left": None,  # default: pin_max_tries
    "multi_read": True,  # READ RECORD P2=(SFI<<3)|5 supported
    "multi_read_refusal": "6A86",
    "exact_le": False,
    # EF07 (SFI 7): one record (hex) readable only while the PIN is verified (6982 otherwise), a
    # stand-in for the PIN-protected data of real cards; null: no EF07
    "pin_record_hex": None,
}


def _strip_comments(obj):
    if isinstance(obj, dict):
        return {k: _strip_comments(v) for k, v in obj.items() if not k.startswith("_")}
    return obj


def load_profile(source):
    """Load a profile from a path, a JSON string or a dict; fill defaults, validate."""
    if isinstance(source, dict):
        raw = dict(source)
    else:
        source = str(source)
        if source.lstrip().startswith("{"):
            raw = json.loads(source)
        else:
            with open(source, encoding="utf-8") as f:
                raw = json.load(f)
    raw = _strip_comments(raw)
    unknown = set(raw) - set(PROFILE_DEFAULTS)
    if unknown:
        raise ProfileError("unknown profile keys: %s" % ", ".join(sorted(unknown)))
    p = dict(PROFILE_DEFAULTS)
    p.update(raw)
    p["ef05"] = dict(p["ef05"] or {})
    p["ef06"] = dict(p["ef06"] or {})
    for section, fields in (("ef05", EF05_FIELDS), ("ef06", EF06_FIELDS)):
        known = {f[1] for f in fields}
        bad = set(p[section]) - known
        if bad:
            raise ProfileError("unknown %s fields: %s" % (section, ", ".join(sorted(bad))))
    if p["protocol"] not in ("t0", "t1"):
        raise ProfileError("protocol must be t0 or t1")
    if p["multi_read_refusal"].upper() not in MULTI_READ_REFUSALS:
        raise ProfileError("multi_read_refusal must be one of %s" % ", ".join(MULTI_READ_REFUSALS))
    if p["generation"] is None:
        p["generation"] = _generation_from_version(p["ef05"].get("spec_version"))
    if p["generation"] not in (1, 2, 3):
        raise ProfileError("generation must be 1, 2 or 3")
    if p["ef06_locked"] is None:
        p["ef06_locked"] = p["generation"] >= 3
    if p["pin"] is not None:
        pin = str(p["pin"])
        if not (pin.isdigit() and 4 <= len(pin) <= 16):
            raise ProfileError("pin must be 4..16 digits")
        p["pin"] = pin
    if not 1 <= int(p["pin_max_tries"]) <= 15:
        raise ProfileError("pin_max_tries must be 1..15 (a nibble)")
    if p["cipher"] is None:
        p["cipher"] = "sm4" if p["algorithm"] == 3 else "3des"
    if p["cipher"] not in ("3des", "sm4"):
        raise ProfileError("cipher must be 3des or sm4")
    p["master_keys"] = dict(p["master_keys"] or {})
    p["key_ids"] = dict(p["key_ids"] or {})
    for purpose, key in p["master_keys"].items():
        if purpose not in KEY_PURPOSES:
            raise ProfileError("master_keys: unknown purpose %r" % purpose)
        try:
            if len(bytes.fromhex(key)) != 16:
                raise ValueError
        except (TypeError, ValueError):
            raise ProfileError("master_keys.%s: 32 hex digits" % purpose)
    for purpose, key_id in p["key_ids"].items():
        if purpose not in KEY_PURPOSES or not 0 <= int(key_id) <= 255:
            raise ProfileError("key_ids: bad entry %r" % purpose)
    if not 1 <= int(p["read_key_max_tries"]) <= 15:
        raise ProfileError("read_key_max_tries must be 1..15 (a nibble)")
    if p["read_key_tries_left"] is None:
        p["read_key_tries_left"] = p["read_key_max_tries"]
    if not 0 <= int(p["read_key_tries_left"]) <= int(p["read_key_max_tries"]):
        raise ProfileError("read_key_tries_left must be 0..read_key_max_tries")
    if p["pin_tries_left"] is None:
        p["pin_tries_left"] = p["pin_max_tries"]
    if not 0 <= int(p["pin_tries_left"]) <= int(p["pin_max_tries"]):
        raise ProfileError("pin_tries_left must be 0..pin_max_tries")
    if p["algorithm"] is not None and not 0 <= int(p["algorithm"]) <= 255:
        raise ProfileError("algorithm must be a byte or null")
    hist = bytes.fromhex(p["historical_hex"])
    if len(hist) > 15:
        raise ProfileError("historical_hex: at most 15 bytes")
    # build records now so that a bad profile fails at load time
    _build_records(p)
    return p


def _generation_from_version(version):
    if isinstance(version, dict) or not version:
        return 1
    v = str(version)[:3]
    return {"1.0": 1, "2.0": 2, "3.0": 3}.get(v, 1)


def _fill_byte(hexbyte):
    b = bytes.fromhex(hexbyte)
    if len(b) != 1:
        raise ProfileError("fill must be one byte")
    return b


def encode_field(value, length, fmt, empty_an=b"\x00", empty_cn=b"\xff", name="field"):
    """Encode one record value.

    an: ASCII, or GBK for Chinese text, right-padded with 00.
    cn: BCD digits (hex digits allowed, e.g. card id 'D156'), right-padded with F.
    Dates may be written YYYY-MM-DD. {"hex": "..."} gives raw bytes (any length).
    None or "" gives an empty field (all empty_an / empty_cn)."""
    if isinstance(value, dict):
        if set(value) != {"hex"}:
            raise ProfileError("%s: raw value must be {\"hex\": ...}" % name)
        return bytes.fromhex(value["hex"])
    if value is None or value == "":
        return (empty_an if fmt == "an" else empty_cn) * length
    value = str(value)
    if fmt == "an":
        try:
            b = value.encode("gbk")
        except UnicodeEncodeError as e:
            raise ProfileError("%s: not encodable in GBK: %s" % (name, e))
        if len(b) > length:
            raise ProfileError("%s: %d bytes in GBK, field holds %d" % (name, len(b), length))
        return b + b"\x00" * (length - len(b))
    digits = value.replace("-", "")
    if len(digits) > 2 * length:
        raise ProfileError("%s: %d digits, field holds %d" % (name, len(digits), 2 * length))
    digits = digits + "F" * (2 * length - len(digits))
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ProfileError("%s: not hex/BCD: %r" % (name, value))


def _build_records(p):
    empty_an = _fill_byte(p["empty_an_fill"])
    empty_cn = _fill_byte(p["empty_cn_fill"])

    def build(section, fields):
        records = []
        for tag, key, length, fmt in fields:
            if tag == 0x4E and p["generation"] == 1:
                continue
            value = encode_field(p[section].get(key), length, fmt, empty_an, empty_cn,
                                 name="%s.%s" % (section, key))
            if len(value) > 255:
                raise ProfileError("%s.%s: longer than 255 bytes" % (section, key))
            records.append(bytes((tag, len(value))) + value)
        return records

    return build("ef05", EF05_FIELDS), build("ef06", EF06_FIELDS)


# --------------------------------------------------------------------------
# ATR

def build_atr(historical, protocol="t1", contactless=False):
    """ATR for the given historical bytes.

    T=0 only:   3B 6K 00 00 <hist>            (TB1 TC1, no TD1: T=0 only, no TCK)
    T=1:        3B 8K 81 31 FE 45 <hist> TCK  (TD1: T=1; TD2: T=1 with IFSC 254, BWI 4 CWI 5)
    contactless PC/SC part 3 pseudo-ATR: 3B 8K 80 01 <hist> TCK"""
    k = len(historical)
    if k > 15:
        raise ValueError("at most 15 historical bytes")
    if contactless:
        body = bytes((0x80 | k, 0x80, 0x01)) + historical
    elif protocol == "t0":
        return bytes((0x3B, 0x60 | k, 0x00, 0x00)) + historical
    else:
        body = bytes((0x80 | k, 0x81, 0x31, 0xFE, 0x45)) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3B" + body + bytes((tck,))


# --------------------------------------------------------------------------
# Command APDUs

class MalformedApdu(Exception):
    pass


class CommandApdu:
    """A short command APDU: header, optional data, optional Le.

    Parsing per ISO 7816-4 short cases: 4 bytes case 1; 5 bytes case 2 (P3 = Le);
    5+Lc case 3; 6+Lc case 4. Extended length is not supported (6700)."""

    __slots__ = ("raw", "cla", "ins", "p1", "p2", "data", "lc_present", "le_present", "le")

    def __init__(self, raw):
        raw = bytes(raw)
        if len(raw) < 4:
            raise MalformedApdu("shorter than a header")
        self.raw = raw
        self.cla, self.ins, self.p1, self.p2 = raw[0], raw[1], raw[2], raw[3]
        self.data = b""
        self.lc_present = False
        self.le_present = False
        self.le = 0  # Ne, 1..256
        if len(raw) == 4:
            return
        if len(raw) == 5:
            self.le_present = True
            self.le = raw[4] or 256
            return
        lc = raw[4]
        if lc == 0:
            raise MalformedApdu("extended length not supported")
        if len(raw) == 5 + lc:
            self.lc_present = True
        elif len(raw) == 6 + lc:
            self.lc_present = True
            self.le_present = True
            self.le = raw[-1] or 256
        else:
            raise MalformedApdu("Lc does not match the length")
        self.data = raw[5:5 + lc]

    @property
    def p3(self):
        return self.raw[4] if len(self.raw) >= 5 else None


# --------------------------------------------------------------------------
# PIN helpers

def pin_to_bcd(pin):
    digits = str(pin)
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex(digits)


def bcd_to_pin(data):
    """Digits of an F-padded BCD PIN, or None when malformed."""
    h = data.hex().upper()
    if h.endswith("F"):
        h = h[:-1]
    if not h or not h.isdigit():
        return None
    return h


# --------------------------------------------------------------------------
# The card

DF_NONE = None
DF_SSSE = "SSSE"


class SsseCard:
    """One card. `process()` takes a command APDU and returns the response APDU."""

    def __init__(self, profile, protocol=None, *, multi_read=None, multi_read_refusal=None,
                 exact_le=None, external_auth=None, rng=None):
        profile = load_profile(profile)  # idempotent: fills defaults, validates
        self.profile = profile
        self.contactless = bool(profile["contactless"])
        proto = protocol or profile["protocol"]
        if proto not in ("t0", "t1"):
            raise ValueError("protocol must be t0 or t1")
        # ISO 14443-4 has no T=0 mapping: a contactless card always behaves as T=1
        self.protocol = "t1" if self.contactless else proto
        self.multi_read = profile["multi_read"] if multi_read is None else multi_read
        refusal = (multi_read_refusal or profile["multi_read_refusal"]).upper()
        if refusal not in MULTI_READ_REFUSALS:
            raise ValueError("multi_read_refusal must be one of %s" % ", ".join(MULTI_READ_REFUSALS))
        self.multi_read_refusal = bytes.fromhex(refusal)
        self.exact_le = profile["exact_le"] if exact_le is None else exact_le
        self.generation = profile["generation"]
        self.ssse = bool(profile["ssse"])
        self.ef05, self.ef06 = _build_records(profile)
        self.records = {5: self.ef05, 6: self.ef06}
        if profile["pin_record_hex"]:
            self.records[PIN_PROTECTED_SFI] = [bytes.fromhex(profile["pin_record_hex"])]
        self.historical = bytes.fromhex(profile["historical_hex"])
        self._atr = (bytes.fromhex(profile["atr_hex"]) if profile["atr_hex"]
                     else build_atr(self.historical, self.protocol, self.contactless))
        self._fci = self._build_fci()
        # hook: external_auth(card, key_id, challenge, data) -> bool
        self.external_auth = external_auth or default_external_auth
        self.cipher = profile["cipher"]
        self.app_keys = self._build_app_keys()  # key id -> (purpose, card key)
        self.read_key_id = self._key_ids()["read"]
        self.read_key_max_tries = int(profile["read_key_max_tries"])
        self.read_key_tries_left = int(profile["read_key_tries_left"])
        self._random = rng or secrets.token_bytes
        # EEPROM state
        self.pin = profile["pin"]
        self.pin_max_tries = int(profile["pin_max_tries"])
        self.pin_tries_left = int(profile["pin_tries_left"])
        self.powered = False
        self._clear_session()

    # -- power -----------------------------------------------------------------

    def atr(self):
        return self._atr

    def _key_ids(self):
        ids = dict(DEFAULT_KEY_IDS)
        ids["read"] = int(self.profile["ef06_read_key_id"])
        ids.update({k: int(v) for k, v in self.profile["key_ids"].items()})
        return ids

    def _build_app_keys(self):
        """The card's own application keys: key id -> (purpose, 16-byte key)."""
        p = self.profile
        ids = self._key_ids()
        masters = {k: bytes.fromhex(v) for k, v in p["master_keys"].items()}
        if p["copy"]:
            masters["internal"] = COPIER_MASTER_KEY
        keys = {}
        card_id = p["ef05"].get("card_id")
        if masters:
            import card_crypto  # python3-cryptography only for cards with keys
        for purpose, master in masters.items():
            if not isinstance(card_id, str) or len(self.historical) < 13:
                raise ProfileError("master_keys need ef05.card_id and 13 historical bytes")
            keys[ids[purpose]] = (purpose, card_crypto.derive_card_key(
                self.cipher, master, 3, card_id, self.historical))
        if p["ef06_read_key"]:
            keys[ids["read"]] = ("read", bytes.fromhex(p["ef06_read_key"]))
        return keys

    def _clear_session(self):
        self.current_df = DF_NONE
        self.current_ef = None
        self._pending = None  # T=0 response data waiting for GET RESPONSE
        self._challenge = None
        self._challenges = []  # the run of GET CHALLENGE answers since the last other command
        self._run = []  # that run as the current command found it
        self.authenticated = set()  # key ids opened by EXTERNAL AUTHENTICATE
        self.pin_verified = False

    def power_on(self):
        self.powered = True
        self._clear_session()
        return self._atr

    def reset(self):
        self.powered = True
        self._clear_session()
        return self._atr

    def power_off(self):
        self.powered = False
        self._clear_session()

    # -- persistent state --------------------------------------------------------

    def export_state(self):
        return {"pin": self.pin, "pin_tries_left": self.pin_tries_left,
                "read_key_tries_left": self.read_key_tries_left}

    def import_state(self, state):
        if "pin" in state:
            self.pin = state["pin"]
        if "pin_tries_left" in state:
            self.pin_tries_left = int(state["pin_tries_left"])
        if "read_key_tries_left" in state:
            self.read_key_tries_left = int(state["read_key_tries_left"])

    # -- helpers -----------------------------------------------------------------

    @property
    def t0(self):
        return self.protocol == "t0"

    def _build_fci(self):
        if self.profile["fci_hex"]:
            return bytes.fromhex(self.profile["fci_hex"])
        prop = b"\x88\x01\x1E"
        if self.profile["algorithm"] is not None:
            prop += b"\x9F\x0C\x03\x86\x01" + bytes((int(self.profile["algorithm"]),))
        body = b"\x84" + bytes((len(SSSE_DF_NAME),)) + SSSE_DF_NAME
        body += b"\xA5" + bytes((len(prop),)) + prop
        return b"\x6F" + bytes((len(body),)) + body

    def _data(self, data, cmd, le_required=False):
        """Answer with response data, applying the Le rules.

        T=0 (and exact_le): P3 must equal the data length, else 6C xx (00 = 256).
        T=1: Le absent -> all data (6700 for commands that need Le, e.g. READ RECORD);
        Le 00 -> all data; Le < length -> 6C xx; Le > length -> all data + 9000."""
        n = len(data)
        if n > 256:
            raise AssertionError("response longer than 256 bytes")
        if not cmd.le_present:
            if self.t0:
                # a header without P3 on T=0: the reader would send P3 = 00
                return SW_OK if n == 0 else b"\x6C" + bytes((n & 0xFF,))
            if le_required:
                return sw(0x6700)
            return data + SW_OK
        if self.t0 or self.exact_le:
            if cmd.le != n:
                return b"\x6C" + bytes((n & 0xFF,))
            return data + SW_OK
        if cmd.le < n:
            return b"\x6C" + bytes((n & 0xFF,))
        return data + SW_OK

    def _outgoing_t0(self, data):
        """A case-3/4 command with response data on T=0: 61 xx, data kept for GET RESPONSE."""
        if not data:
            return SW_OK
        self._pending = data
        return b"\x61" + bytes((len(data) & 0xFF,))

    # -- dispatch ----------------------------------------------------------------

    def process(self, apdu):
        apdu = bytes(apdu)
        pending = self._pending
        self._pending = None
        # any command but GET CHALLENGE ends the run of challenges (GET CHALLENGE extends it)
        self._run, self._challenges = self._challenges, []
        if len(apdu) < 4:
            return sw(0x6700)
        cla, ins = apdu[0], apdu[1]
        handlers = {
            0x00: {0xA4: self._select, 0xB2: self._read_record, 0xC0: self._get_response,
                   0x84: self._get_challenge, 0x82: self._external_authenticate,
                   0x88: self._internal_authenticate, 0x20: self._verify},
            0x80: {0x5E: self._change_pin},
            0x84: {0x24: self._pin_reset},  # secure messaging
        }
        if cla not in handlers:
            return sw(0x6E00)
        handler = handlers[cla].get(ins)
        if handler is None:
            return sw(0x6D00)
        try:
            cmd = CommandApdu(apdu)
        except MalformedApdu:
            return sw(0x6700)
        if self.t0 and cmd.lc_present and cmd.le_present:
            # on T=0 the terminal must drop Le of a case-4 command (ISO 7816-3)
            return sw(0x6700)
        if ins == 0xC0:
            return self._get_response(cmd, pending)
        return handler(cmd)

    # -- SELECT ------------------------------------------------------------------

    def _select(self, cmd):
        if cmd.p2 not in (0x00, 0x04, 0x0C):
            return sw(0x6A86)
        if cmd.p1 == 0x04:
            if not cmd.lc_present:
                return sw(0x6700)
            if not self.ssse or cmd.data != SSSE_DF_NAME:
                return sw(0x6A82)
            self.current_df = DF_SSSE
            self.current_ef = None
            self.authenticated = set()
            return self._select_answer(self._fci, cmd)
        if cmd.p1 in (0x00, 0x02):
            if not cmd.lc_present or len(cmd.data) != 2:
                return sw(0x6700)
            if self.current_df is DF_NONE:
                return sw(0x6A82)
            fid = (cmd.data[0] << 8) | cmd.data[1]
            if cmd.p1 == 0x00 and fid in SUB_DFS:
                aid = SUB_DFS[fid]
                self.current_df = fid
                self.current_ef = None
                return self._select_answer(b"\x6F" + bytes((len(aid) + 2, 0x84, len(aid))) + aid, cmd)
            if fid in EF_FIDS and self.current_df == DF_SSSE:
                self.current_ef = EF_FIDS[fid]
                return SW_OK
            return sw(0x6A82)
        return sw(0x6A86)

    def _select_answer(self, fci, cmd):
        if cmd.p2 == 0x0C:
            return SW_OK
        if self.t0:
            return self._outgoing_t0(fci)
        return self._data(fci, cmd)

    def _get_response(self, cmd, pending):
        if cmd.p1 != 0 or cmd.p2 != 0:
            return sw(0x6A86)
        if cmd.lc_present:
            return sw(0x6700)
        if pending is None:
            return sw(0x6985)
        n = len(pending)
        le = cmd.le if cmd.le_present else 256
        if le != n:
            self._pending = pending  # still there for a retry with the right Le
            return b"\x6C" + bytes((n & 0xFF,))
        return pending + SW_OK

    # -- READ RECORD ---------------------------------------------------------------

    def _read_record(self, cmd):
        if cmd.lc_present:
            return sw(0x6700)
        sfi, mode, p1 = cmd.p2 >> 3, cmd.p2 & 0x07, cmd.p1
        if sfi == 0x1F:
            return sw(0x6A86)
        if sfi == 0:
            if self.current_ef is None:
                return sw(0x6986)  # no current EF
            sfi = self.current_ef
        elif sfi not in self.records or self.current_df != DF_SSSE:
            return sw(0x6A82)
        if mode not in (0, 1, 4, 5):
            return sw(0x6A86)
        if mode == 5 and not self.multi_read:
            return self.multi_read_refusal
        read_key_open = self.read_key_id in self.authenticated
        if sfi == 6 and self.profile["ef06_locked"] and not read_key_open:
            return sw(0x6982)
        if sfi == PIN_PROTECTED_SFI and not self.pin_verified:
            return sw(0x6982)
        records = self.records[sfi]
        if mode == 4:
            if not 1 <= p1 <= len(records):
                return sw(0x6A83)
            numbers = [p1]
        elif mode in (0, 1):
            found = [i + 1 for i, r in enumerate(records) if r[0] == p1]
            if p1 == 0 or not found:
                return sw(0x6A83)
            numbers = [found[0] if mode == 0 else found[-1]]
        else:
            if not 1 <= p1 <= len(records):
                return sw(0x6A83)
            numbers = list(range(p1, len(records) + 1))
        # P1-to-last including a protected record is refused whole
        if sfi == 5 and self.profile["card_number_locked"] and not read_key_open and \
                CARD_NUMBER_RECORD in numbers:
            return sw(0x6982)
        data = b"".join(records[n - 1] for n in numbers)
        self.current_ef = sfi
        return self._data(data, cmd, le_required=True)

    # -- GET CHALLENGE / EXTERNAL AUTHENTICATE -----------------------------------

    def _get_challenge(self, cmd):
        if cmd.p1 != 0 or cmd.p2 != 0:
            return sw(0x6A86)
        if cmd.lc_present or not cmd.le_present or cmd.le not in (4, 8, 16):
            return sw(0x6700)
        self._challenge = self._random(cmd.le)
        self._challenges = (self._run + [self._challenge])[-2:]
        return self._challenge + SW_OK

    def _external_authenticate(self, cmd):
        if cmd.p1 != 0:
            return sw(0x6A86)
        if not cmd.lc_present or len(cmd.data) != 16:
            return sw(0x6700)
        challenge, self._challenge = self._challenge, None
        if self._holds_read_key(cmd.p2):
            return self._read_key_authenticate(cmd.data)
        if challenge is None:
            return sw(0x6985)
        if self.external_auth(self, cmd.p2, challenge, cmd.data):
            self.authenticated.add(cmd.p2)
            return SW_OK
        return sw(0x6300)

    def _holds_read_key(self, key_id):
        entry = self.app_keys.get(key_id)
        return key_id == self.read_key_id and entry is not None and entry[0] == "read"

    def _read_key_authenticate(self, cryptogram):
        """The read key RK: 16-byte cryptogram over the last two challenges (random, then process
        factor), with its own try counter: 63Cx when wrong, 6983 when blocked, 6985 without the
        two challenges right before."""
        if self.read_key_tries_left == 0:
            return sw(0x6983)
        run = self._run
        if len(run) < 2 or len(run[0]) != 8 or len(run[1]) != 8:
            return sw(0x6985)
        random, factor = run
        import card_crypto
        expected = card_crypto.external_auth_cryptogram(
            self.cipher, self.app_keys[self.read_key_id][1], factor, random)
        if hmac.compare_digest(expected, bytes(cryptogram)):
            self.read_key_tries_left = self.read_key_max_tries
            self.authenticated.add(self.read_key_id)
            return SW_OK
        self.read_key_tries_left -= 1
        self.authenticated.discard(self.read_key_id)
        return sw(0x63C0 | self.read_key_tries_left)

    def _internal_authenticate(self, cmd):
        """00 88 00 <IAK id> 10 <process factor 8 || random 8> -> the first 8 bytes of
        card_crypto.internal_auth_result under the card's IAK. Unknown key id -> 6A88."""
        if cmd.p1 != 0:
            return sw(0x6A86)
        if not cmd.lc_present or len(cmd.data) != 16:
            return sw(0x6700)
        entry = self.app_keys.get(cmd.p2)
        if entry is None or entry[0] != "internal":
            return sw(0x6A88)
        factor, random = cmd.data[:8], cmd.data[8:]
        import card_crypto
        answer = card_crypto.internal_auth_result(self.cipher, entry[1], factor, random)[:8]
        if self.t0:
            return self._outgoing_t0(answer)
        return self._data(answer, cmd)

    # -- PIN -----------------------------------------------------------------------

    def _tries_sw(self):
        return sw(0x63C0 | self.pin_tries_left)

    def _verify(self, cmd):
        if cmd.p1 != 0:
            return sw(0x6A86)
        if self.pin is None or cmd.p2 != 0:
            return sw(0x6A88)
        if not cmd.lc_present:
            if cmd.le_present and cmd.p3 != 0:
                return sw(0x6700)  # "00 20 00 00 03" without the PIN
            # 00 20 00 00 / 00 20 00 00 00: ask for the counter (always 63Cx, even if verified)
            return sw(0x6983) if self.pin_tries_left == 0 else self._tries_sw()
        if self.pin_tries_left == 0:
            return sw(0x6983)
        if not 2 <= len(cmd.data) <= 8:
            return sw(0x6700)
        pin = bcd_to_pin(cmd.data)
        if pin is None:
            return sw(0x6A80)
        return self._check_pin(pin)

    def _check_pin(self, pin):
        if pin == self.pin:
            self.pin_tries_left = self.pin_max_tries
            self.pin_verified = True
            return SW_OK
        self.pin_tries_left -= 1
        self.pin_verified = False
        # the attempt that uses the last try answers 63C0; later ones 6983
        return self._tries_sw()

    def _change_pin(self, cmd):
        if cmd.p1 != 0x01 or cmd.p2 != 0x00:
            return sw(0x6A86)
        if self.pin is None:
            return sw(0x6A88)
        if not cmd.lc_present:
            return sw(0x6700)
        if self.pin_tries_left == 0:
            return sw(0x6983)
        sep = cmd.data.find(b"\xff")
        if sep <= 0:
            return sw(0x6A80)
        old, new = bcd_to_pin(cmd.data[:sep]), bcd_to_pin(cmd.data[sep + 1:])
        if old is None or new is None or not 4 <= len(new) <= 16:
            return sw(0x6A80)
        result = self._check_pin(old)
        if result != SW_OK:
            return result
        self.pin = new
        return SW_OK


    # -- issuer PIN reset / unblock (secure messaging) -------------------------------

    def _pin_reset(self, cmd):
        """84 24 00 01 Lc <PIN block> <MAC>: new PIN; 84 24 00 00 04 <MAC>: unblock.

        Needs EXTERNAL AUTHENTICATE with the PUK key, then a fresh GET CHALLENGE (the
        session key is E(challenge || 00...) under the PUK key). Wrong MAC -> 6988."""
        if cmd.p1 != 0 or cmd.p2 not in (0, 1):
            return sw(0x6A86)
        if not cmd.lc_present or cmd.le_present or len(cmd.data) < 4:
            return sw(0x6700)
        challenge, self._challenge = self._challenge, None
        puk = [kid for kid, (purpose, _) in self.app_keys.items() if purpose == "puk"]
        if not puk or puk[0] not in self.authenticated:
            return sw(0x6982)
        if challenge is None:
            return sw(0x6985)
        import card_crypto
        key = self.app_keys[puk[0]][1]
        session = card_crypto.session_key(self.cipher, key, challenge)
        body, mac = cmd.data[:-4], cmd.data[-4:]
        if card_crypto.card_mac(self.cipher, session, cmd.raw[:5] + body) != mac:
            return sw(0x6988)
        if self.pin is None:
            return sw(0x6A88)
        if cmd.p2 == 0:
            if body:
                return sw(0x6700)
            self.pin_tries_left = self.pin_max_tries
            return SW_OK
        block = card_crypto.block_size(self.cipher)
        if not body or len(body) % block:
            return sw(0x6700)
        pin = card_crypto.parse_pin_block(card_crypto.ecb(self.cipher, session, body, decrypt=True))
        if pin is None:
            return sw(0x6A80)
        self.pin = pin
        self.pin_tries_left = self.pin_max_tries
        self.pin_verified = False
        return SW_OK


def default_external_auth(card, key_id, challenge, data):
    """EXTERNAL AUTHENTICATE check: the first 8 bytes of the data must be the cryptogram of the
    challenge under the card's key with that id (card_crypto.auth_cryptogram); the last 8 bytes
    (the terminal's random) are not checked. A key id the card lacks fails (6300), and so does
    the IAK's (it is no EXTERNAL AUTHENTICATE key)."""
    entry = card.app_keys.get(key_id)
    if entry is None or entry[0] == "internal":
        return False
    import card_crypto
    return card_crypto.auth_cryptogram(card.cipher, entry[1], challenge) == bytes(data[:8])


def profile_path(name):
    """profiles/<name>.json next to this file, or `name` itself when it is a path."""
    if os.path.sep in name or name.endswith(".json"):
        return name
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiles", name + ".json")
