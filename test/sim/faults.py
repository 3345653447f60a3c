"""Fault injection and the APDU log, shared by the card front ends (vpcd, PN532).

APDUs are counted from 1. Faults apply to the answers of APDUs after the Nth:

    vanish_after N    answer APDU N normally, then the card is gone (N = 0: the
                      first APDU is never answered)
    vanish_during N   APDU N is carried out (its effect on PIN and counter is kept)
                      but the card is gone before it answers: the host cannot tell
                      whether it happened (vpcd front end)
    garbage_after N   later answers are random bytes, random length 1..40
    truncate_after N  later answers lose their tail: data + SW -> first half of
                      the data (no SW); a bare SW -> its first byte
    sw_after (N, SW)  later answers are exactly that status word
"""

import random

# INS whose data field carries a PIN: VERIFY, CHANGE PIN (80 5E), CHANGE REFERENCE DATA,
# RESET RETRY COUNTER / PIN reset (84 24)
PIN_INS = (0x20, 0x24, 0x2C, 0x5E)


class Faults:
    def __init__(self, vanish_after=None, garbage_after=None, truncate_after=None,
                 sw_after=None, seed=None, vanish_during=None):
        """sw_after: None or (n, bytes of the status word)."""
        self.vanish_after = vanish_after
        self.vanish_during = vanish_during
        self.garbage_after = garbage_after
        self.truncate_after = truncate_after
        self.sw_after = sw_after
        self._rng = random.Random(seed)

    def vanish_before_answer(self, n):
        """True when APDU n must not be answered at all (the card is already gone)."""
        return self.vanish_after is not None and n > self.vanish_after

    def vanish_unanswered(self, n):
        """True when APDU n is carried out but never answered (the card left during it)."""
        return self.vanish_during is not None and n >= self.vanish_during

    def vanish_after_answer(self, n):
        """True when the card disappears right after answering APDU n."""
        return self.vanish_after is not None and n >= self.vanish_after

    def apply(self, n, response):
        """The answer actually sent for APDU n, given the card's real response."""
        if self.sw_after is not None and n > self.sw_after[0]:
            return bytes(self.sw_after[1])
        if self.garbage_after is not None and n > self.garbage_after:
            length = self._rng.randint(1, 40)
            return bytes(self._rng.getrandbits(8) for _ in range(length))
        if self.truncate_after is not None and n > self.truncate_after:
            return truncate(response)
        return response


def truncate(response):
    if len(response) > 2:
        data = response[:-2]
        return data[:max(1, len(data) // 2)]
    return response[:1]


def parse_sw_after(text):
    """'N:XXXX' -> (N, b'\\xXX\\xXX')"""
    try:
        n, value = text.split(":", 1)
        sw = bytes.fromhex(value)
        if len(sw) != 2:
            raise ValueError
        return int(n), sw
    except ValueError:
        raise ValueError("expected N:XXXX (e.g. 3:6F00), got %r" % text)


def redact(apdu):
    """Upper-case hex of a command APDU with any PIN data shown as ** per byte.

    For PIN commands everything after the 5-byte header (Lc) is masked, so a PIN
    can never reach a log, whatever the command's shape."""
    apdu = bytes(apdu)
    # 80 FA: a PSAM encrypting (or MACing) data, the plaintext PIN block of an issuer reset among it
    if len(apdu) > 5 and (apdu[1] in PIN_INS or (apdu[0] == 0x80 and apdu[1] == 0xFA)):
        return apdu[:5].hex().upper() + "**" * (len(apdu) - 5)
    return apdu.hex().upper()


def format_line(command, response):
    """One APDU log line: '<command hex> -> <response hex>'."""
    resp = "" if response is None else bytes(response).hex().upper()
    return "%s -> %s" % (redact(command), resp)


def parse_line(line):
    """(cmd_hex, resp_hex) of a log line; resp_hex is '' for an unanswered APDU."""
    cmd, _, resp = line.rstrip("\n").partition(" -> ")
    return cmd.strip(), resp.strip()


def read_log(path):
    """The APDU log written with format_line: [(command_hex, response_hex), ...]; [] if none yet."""
    try:
        with open(path, encoding="ascii") as f:
            return [parse_line(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
