"""PN532 host-link frames (docs/readers.md, the PN532 frames), pure functions, no I/O.

Host -> PN532 information frame:  00 00 FF LEN LCS D4 <cmd data> DCS 00
  extended (payload > 254 bytes):  00 00 FF FF FF LENm LENl LCS D4 <cmd data> DCS 00
PN532 -> host:                     00 00 FF LEN LCS D5 <cmd+1 data> DCS 00
ACK 00 00 FF 00 FF 00, NACK 00 00 FF FF 00 00, error frame 00 00 FF 01 FF 7F 81 00.
LEN counts TFI + data; LCS = -LEN; DCS = -(TFI + data) (mod 256).
"""

ACK = bytes.fromhex("0000FF00FF00")
NACK = bytes.fromhex("0000FFFF0000")
ERROR_FRAME = bytes.fromhex("0000FF01FF7F8100")
TFI_HOST = 0xD4
TFI_PN532 = 0xD5


def checksum(data):
    """The byte that makes sum(data) + it == 0 (mod 256)."""
    return (-sum(data)) & 0xFF


def encode_frame(tfi, payload):
    """An information frame carrying TFI + payload; the extended form when it does not fit LEN."""
    body = bytes((tfi,)) + bytes(payload)
    n = len(body)
    if n > 0xFFFF:
        raise ValueError("payload too long for a PN532 frame")
    if n <= 0xFF:
        head = bytes((0x00, 0x00, 0xFF, n, checksum((n,))))
    else:
        hi, lo = n >> 8, n & 0xFF
        head = bytes((0x00, 0x00, 0xFF, 0xFF, 0xFF, hi, lo, checksum((hi, lo))))
    return head + body + bytes((checksum(body), 0x00))


def encode_response(payload):
    """PN532 -> host frame with TFI D5; payload starts with the response code (command + 1)."""
    return encode_frame(TFI_PN532, payload)


def encode_command(payload):
    """Host -> PN532 frame with TFI D4 (for tests and clients)."""
    return encode_frame(TFI_HOST, payload)


class FrameError(Exception):
    pass


class Parser:
    """Incremental decoder of what the host writes.

    feed(bytes) then next() repeatedly: returns ("ack",), ("nack",), ("frame", tfi, payload),
    ("bad", reason) for a frame that failed its checksums, or None when more bytes are needed.
    Wake-up bytes (55 and 00) and anything else before a start code 00 FF are skipped (counted
    in .skipped)."""

    def __init__(self):
        self.buf = bytearray()
        self.skipped = 0

    def feed(self, data):
        self.buf += data

    def next(self):
        buf = self.buf
        # find the start code 00 FF
        i = 0
        while i + 1 < len(buf) and not (buf[i] == 0x00 and buf[i + 1] == 0xFF):
            i += 1
        if i:
            self.skipped += i
            del buf[:i]
        if len(buf) < 4:
            return None
        b2, b3 = buf[2], buf[3]
        if b2 == 0x00 and b3 == 0xFF:
            del buf[:4]
            self._postamble()
            return ("ack",)
        if b2 == 0xFF and b3 == 0x00:
            del buf[:4]
            self._postamble()
            return ("nack",)
        if b2 == 0xFF and b3 == 0xFF:  # extended: 00 FF FF FF LENm LENl LCS
            if len(buf) < 7:
                return None
            n = (buf[4] << 8) | buf[5]
            if (buf[4] + buf[5] + buf[6]) & 0xFF:
                del buf[:2]
                return ("bad", "extended length checksum")
            start = 7
        else:
            n = b2
            if (b2 + b3) & 0xFF:
                del buf[:2]
                return ("bad", "length checksum")
            start = 4
        if n == 0:
            del buf[:start]
            return ("bad", "empty frame")
        if len(buf) < start + n + 1:
            return None
        body = bytes(buf[start:start + n])
        dcs = buf[start + n]
        del buf[:start + n + 1]
        self._postamble()
        if (sum(body) + dcs) & 0xFF:
            return ("bad", "data checksum")
        return ("frame", body[0], body[1:])

    def _postamble(self):
        if self.buf[:1] == b"\x00":
            del self.buf[:1]


def decode_all(data):
    """Every item in `data` (for tests)."""
    p = Parser()
    p.feed(data)
    out = []
    while True:
        item = p.next()
        if item is None:
            return out
        out.append(item)


def build_ats(historical, fsci=8):
    """ISO 14443-4 ATS: TL T0 TA TB TC <historical>. TL counts itself."""
    historical = bytes(historical)
    t0 = 0x70 | (fsci & 0x0F)  # TA, TB, TC present
    body = bytes((t0, 0x80, 0x81, 0x02)) + historical  # TA: 106k only; TB: FWI 8 SFGI 1; TC: CID
    return bytes((len(body) + 1,)) + body
