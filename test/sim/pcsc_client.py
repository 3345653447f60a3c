#!/usr/bin/python3
"""A minimal PC/SC client over ctypes (libpcsclite.so.1), stdlib only.

For the tests' own use: wait until pcscd sees a card in a reader, send APDUs,
time round trips. Not a model for the daemon's code.

CLI:
  pcsc_client.py readers                       readers and card state
  pcsc_client.py send READER HEX [HEX...]      send APDUs, print responses
  pcsc_client.py bench READER [N] [HEX]        time N transmits (default 200 x READ RECORD)
"""

import ctypes
import ctypes.util
import statistics
import sys
import time

# pcsc-lite on Linux: DWORD = unsigned long, LONG = long
DWORD = ctypes.c_ulong
LONG = ctypes.c_long

SCARD_S_SUCCESS = 0
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_SCOPE_SYSTEM = 2
SCARD_SHARE_EXCLUSIVE = 1
SCARD_SHARE_SHARED = 2
SCARD_E_SHARING_VIOLATION = 0x8010000B
SCARD_W_RESET_CARD = 0x80100068
SCARD_PROTOCOL_T0 = 1
SCARD_PROTOCOL_T1 = 2
SCARD_LEAVE_CARD = 0
SCARD_RESET_CARD = 1
SCARD_UNPOWER_CARD = 2
SCARD_STATE_UNAWARE = 0x0000
SCARD_STATE_CHANGED = 0x0002
SCARD_STATE_UNKNOWN = 0x0004
SCARD_STATE_EMPTY = 0x0010
SCARD_STATE_PRESENT = 0x0020
MAX_ATR_SIZE = 33


class PcscError(Exception):
    def __init__(self, func, rv):
        self.rv = rv & 0xFFFFFFFF
        super().__init__("%s: 0x%08X" % (func, self.rv))


class SCARD_READERSTATE(ctypes.Structure):
    _fields_ = [
        ("szReader", ctypes.c_char_p),
        ("pvUserData", ctypes.c_void_p),
        ("dwCurrentState", DWORD),
        ("dwEventState", DWORD),
        ("cbAtr", DWORD),
        ("rgbAtr", ctypes.c_ubyte * MAX_ATR_SIZE),
    ]


class SCARD_IO_REQUEST(ctypes.Structure):
    _fields_ = [("dwProtocol", DWORD), ("cbPciLength", DWORD)]


_lib = None


def lib():
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("pcsclite") or "libpcsclite.so.1"
        _lib = ctypes.CDLL(name)
    return _lib


def available():
    try:
        lib()
        return True
    except OSError:
        return False


def _check(func, rv):
    if rv != SCARD_S_SUCCESS:
        raise PcscError(func, rv)


class Context:
    def __init__(self):
        self.h = LONG()
        _check("SCardEstablishContext",
               lib().SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), None, None, ctypes.byref(self.h)))

    def close(self):
        if self.h.value:
            lib().SCardReleaseContext(self.h)
            self.h = LONG()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readers(self):
        n = DWORD(0)
        rv = lib().SCardListReaders(self.h, None, None, ctypes.byref(n))
        if (rv & 0xFFFFFFFF) == SCARD_E_NO_READERS_AVAILABLE:
            return []
        _check("SCardListReaders", rv)
        buf = ctypes.create_string_buffer(n.value)
        _check("SCardListReaders", lib().SCardListReaders(self.h, None, buf, ctypes.byref(n)))
        return [r.decode() for r in buf.raw[:n.value].split(b"\0") if r]

    def state(self, reader, current=SCARD_STATE_UNAWARE, timeout_ms=0):
        """(event_state, atr) of one reader; raises PcscError (SCARD_E_TIMEOUT) on timeout."""
        rs = SCARD_READERSTATE()
        rs.szReader = reader.encode()
        rs.dwCurrentState = current
        _check("SCardGetStatusChange",
               lib().SCardGetStatusChange(self.h, DWORD(timeout_ms), ctypes.byref(rs), DWORD(1)))
        return rs.dwEventState, bytes(rs.rgbAtr[:rs.cbAtr])

    def wait_card(self, reader, present=True, timeout_s=10.0):
        """Wait until pcscd reports the reader with (present=True) or without a card.
        Returns the ATR (b'' for no card); raises TimeoutError."""
        deadline = time.monotonic() + timeout_s
        current = SCARD_STATE_UNAWARE
        while True:
            left = deadline - time.monotonic()
            try:
                ev, atr = self.state(reader, current, max(0, int(left * 1000)) if current else 0)
            except PcscError as e:
                if e.rv != SCARD_E_TIMEOUT:
                    raise
                ev, atr = current, b""
            else:
                has_card = bool(ev & SCARD_STATE_PRESENT)
                if has_card == present and not ev & SCARD_STATE_UNKNOWN:
                    return atr if present else b""
            if time.monotonic() >= deadline:
                raise TimeoutError("reader %r: no %s after %.1f s"
                                   % (reader, "card" if present else "removal", timeout_s))
            current = ev & ~SCARD_STATE_CHANGED

    def connect(self, reader, protocols=SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                share=SCARD_SHARE_SHARED):
        return Card(self, reader, protocols, share)


class Card:
    def __init__(self, ctx, reader, protocols, share=SCARD_SHARE_SHARED):
        self.h = LONG()
        proto = DWORD()
        _check("SCardConnect", lib().SCardConnect(ctx.h, reader.encode(), DWORD(share),
                                                  DWORD(protocols), ctypes.byref(self.h),
                                                  ctypes.byref(proto)))
        self.protocol = proto.value
        self._pci = SCARD_IO_REQUEST(self.protocol, ctypes.sizeof(SCARD_IO_REQUEST))
        self._buf = ctypes.create_string_buffer(65538)

    @property
    def protocol_name(self):
        return {SCARD_PROTOCOL_T0: "T=0", SCARD_PROTOCOL_T1: "T=1"}.get(self.protocol, str(self.protocol))

    def transmit(self, apdu):
        apdu = bytes(apdu)
        n = DWORD(len(self._buf))
        _check("SCardTransmit", lib().SCardTransmit(self.h, ctypes.byref(self._pci), apdu,
                                                    DWORD(len(apdu)), None, self._buf, ctypes.byref(n)))
        return self._buf.raw[:n.value]

    def reconnect(self, disposition=SCARD_RESET_CARD):
        proto = DWORD()
        _check("SCardReconnect", lib().SCardReconnect(self.h, DWORD(SCARD_SHARE_SHARED),
                                                      DWORD(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1),
                                                      DWORD(disposition), ctypes.byref(proto)))
        self.protocol = proto.value
        self._pci = SCARD_IO_REQUEST(self.protocol, ctypes.sizeof(SCARD_IO_REQUEST))

    def disconnect(self, disposition=SCARD_LEAVE_CARD):
        if self.h.value:
            lib().SCardDisconnect(self.h, DWORD(disposition))
            self.h = LONG()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()


def _main(argv):
    if not argv or argv[0] not in ("readers", "send", "bench"):
        print(__doc__, file=sys.stderr)
        return 2
    with Context() as ctx:
        if argv[0] == "readers":
            for r in ctx.readers():
                ev, atr = ctx.state(r)
                print("%-24s %s %s" % (r, "card" if ev & SCARD_STATE_PRESENT else "empty",
                                       atr.hex().upper()))
            return 0
        if len(argv) < 2:
            print(__doc__, file=sys.stderr)
            return 2
        reader = argv[1]
        with ctx.connect(reader) as card:
            if argv[0] == "send":
                print("protocol %s" % card.protocol_name)
                for h in argv[2:]:
                    print("> %s\n< %s" % (h.upper(), card.transmit(bytes.fromhex(h)).hex().upper()))
                return 0
            n = int(argv[2]) if len(argv) > 2 else 200
            apdu = bytes.fromhex(argv[3] if len(argv) > 3 else "00B2072C0B")
            card.transmit(bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF"))
            times = []
            for _ in range(n):
                t = time.perf_counter()
                card.transmit(apdu)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            print("%s %s: %d x %s: mean %.3f ms, median %.3f ms, p99 %.3f ms, max %.3f ms"
                  % (reader, card.protocol_name, n, apdu.hex().upper(), statistics.mean(times),
                     statistics.median(times), times[int(0.99 * (n - 1))], times[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
