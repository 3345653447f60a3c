#!/usr/bin/python3
"""A PN532 NFC controller on a pseudo-terminal, carrying the virtual social security card.

libnfc's pn532_uart driver opens the pty slave through a symlink (the connection string is
`pn532_uart:<link>`; the path must not contain ':'). The emulator answers the frames and commands
of docs/readers.md; the card (test/sim/ssse_card.py, any profile; a contact profile is
presented contactless) enters and leaves the RF field on command.

Control: a Unix stream socket (--control PATH). One command per line, one answer line each:
    insert          the card enters the field (a new activation: power on, new session)
    remove          the card leaves the field
    status          "ok present=0|1 apdus=N commands=N"
    quit            the emulator exits (like SIGTERM)
Answers are "ok ..." or "error ...". SIGTERM/SIGINT end the emulator (exit 0).

Faults:
    --late-ms N         InDataExchange answers (APDUs) come N ms late (after the ACK, which is on
                        time); --late-after K: only for APDUs after the Kth (default 0 = all).
                        A host ACK (abort) arriving meanwhile drops the late answer, as a PN532 does.
    --garbage-after N   the answers to APDUs after the Nth are garbage: a frame start with a broken
                        length checksum and random bytes
    --die-after N       after answering APDU N, close the pty and exit (the device vanished)

Log (--log FILE): one line per APDU, "<command hex> -> <response hex>", PIN data masked ("**" per
byte after the header for INS 20, 24, 2C, 5E), written before the answer goes out; an APDU whose
answer is never sent has an empty response.

--ready-file FILE is written (with the pid) once the pty, the symlink and the control socket exist.
Exit status 0 on stop, 2 on bad arguments or profile.
"""

import argparse
import os
import random
import select
import signal
import socket
import sys
import termios
import time
import traceback
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faults import format_line, redact  # noqa: E402
from pn532_frames import ACK, ERROR_FRAME, TFI_HOST, Parser, build_ats, encode_response  # noqa: E402
from ssse_card import ProfileError, SsseCard, load_profile, profile_path  # noqa: E402

FIRMWARE = bytes.fromhex("32010607")  # IC PN532, ver 1.6, support ISO14443A/B + ISO18092
DIAGNOSE_LIBNFC = bytes.fromhex("006C69626E6663")


class Stop(Exception):
    pass


def log(msg):
    print("pn532_emulator[%d]: %s" % (os.getpid(), msg), file=sys.stderr, flush=True)


class Emulator:
    def __init__(self, card, uid, apdu_log=None, late_ms=0.0, late_after=0, garbage_after=None,
                 die_after=None, seed=None, present=False):
        self.card = card
        self.uid = bytes(uid)
        self.ats = build_ats(card.historical)
        self.apdu_log = apdu_log
        self.late_ms = late_ms
        self.late_after = late_after
        self.garbage_after = garbage_after
        self.die_after = die_after
        self.rng = random.Random(seed)
        self.present = False
        self.selected = False  # the host activated the card (InListPassiveTarget found it)
        self.registers = {}
        self.apdus = 0
        self.commands = 0
        self.parser = Parser()
        self.pending = None  # (due monotonic time, bytes) of a late answer
        self.last_answer = b""
        self.dying = False
        if present:
            self.insert()

    # -- the field -----------------------------------------------------------------

    def insert(self):
        if not self.present:
            self.present = True
            self.selected = False
            self.card.power_on()

    def remove(self):
        if self.present:
            self.present = False
            self.selected = False
            self.card.power_off()

    # -- the host link -----------------------------------------------------------

    def receive(self, data):
        """Bytes from the host; returns bytes to write at once."""
        self.parser.feed(data)
        out = b""
        while True:
            item = self.parser.next()
            if item is None:
                return out
            if item[0] == "ack":  # abort: forget any pending answer
                if self.pending is not None:
                    log("host aborted (ACK): late answer dropped")
                self.pending = None
            elif item[0] == "nack":  # send the last answer again
                out += self.last_answer
            elif item[0] == "bad":
                log("bad frame from host: %s" % item[1])
                out += ERROR_FRAME
            else:
                _, tfi, payload = item
                if tfi != TFI_HOST or not payload:
                    out += ERROR_FRAME
                    continue
                self.commands += 1
                out += ACK
                answer, late = self.command(payload)
                if answer is None:
                    continue
                if late > 0:
                    self.pending = (time.monotonic() + late / 1000.0, answer)
                else:
                    self.last_answer = answer
                    out += answer

    def due(self):
        """A late answer whose time has come, or None."""
        if self.pending is not None and time.monotonic() >= self.pending[0]:
            answer = self.pending[1]
            self.pending = None
            self.last_answer = answer
            return answer
        return None

    def timeout(self):
        if self.pending is None:
            return None
        return max(0.0, self.pending[0] - time.monotonic())

    # -- commands ------------------------------------------------------------------

    def command(self, payload):
        """(answer frame bytes or None, delay ms)"""
        cmd, data = payload[0], payload[1:]
        r = lambda body: (encode_response(bytes((cmd + 1,)) + bytes(body)), 0)  # noqa: E731
        if cmd == 0x14:  # SAMConfiguration
            return r(b"")
        if cmd == 0x00:  # Diagnose
            return r(data)  # test 00 (communication line): echo
        if cmd == 0x02:  # GetFirmwareVersion
            return r(FIRMWARE)
        if cmd == 0x12:  # SetParameters
            return r(b"")
        if cmd == 0x06:  # ReadRegister: 2-byte addresses
            values = bytes(self.registers.get((data[i] << 8) | data[i + 1], 0)
                           for i in range(0, len(data) - 1, 2))
            return r(values)
        if cmd == 0x08:  # WriteRegister: addr(2) value(1) ...
            for i in range(0, len(data) - 2, 3):
                self.registers[(data[i] << 8) | data[i + 1]] = data[i + 2]
            return r(b"")
        if cmd == 0x32:  # RFConfiguration
            return r(b"")
        if cmd == 0x4A:  # InListPassiveTarget MaxTg BrTy [init data]
            if len(data) >= 2 and data[1] == 0x00 and self.present:
                self.card.power_on()  # RATS: a fresh activation
                self.selected = True
                target = (b"\x01" + b"\x00\x04" + b"\x20" + bytes((len(self.uid),)) + self.uid
                          + self.ats)
                return r(b"\x01" + target)
            self.selected = False
            return r(b"\x00")
        if cmd == 0x40:  # InDataExchange Tg data
            return self.data_exchange(data)
        if cmd == 0x42:  # InCommunicateThru
            if self.present and self.selected and data[:1] in (b"\xB2", b"\xB3"):
                return r(bytes((0x00, 0xA2 | (data[0] & 1))))  # R(NAK) -> R(ACK)
            return r(b"\x01")
        if cmd in (0x44, 0x52):  # InDeselect, InRelease
            self.selected = False
            return r(b"\x00")
        if cmd == 0x16:  # PowerDown
            return r(b"\x00")
        if cmd == 0x60:  # InAutoPoll
            if self.present:
                self.card.power_on()
                self.selected = True
                target = b"\x01" + b"\x00\x04\x20" + bytes((len(self.uid),)) + self.uid + self.ats
                return r(b"\x01\x20" + bytes((len(target),)) + target)
            return r(b"\x00")
        if cmd == 0x56:  # InJumpForDEP: no DEP target
            return r(b"\x01")
        log("unknown command %02X %s: error frame" % (cmd, data.hex().upper()))
        return ERROR_FRAME, 0

    def data_exchange(self, data):
        def status(s, body=b""):
            return encode_response(bytes((0x41, s)) + body)

        if len(data) < 1 or not self.present or not self.selected:
            return status(0x01), 0  # timeout: no card answered
        apdu = bytes(data[1:])
        self.apdus += 1
        n = self.apdus
        try:
            response = self.card.process(apdu)
        except Exception:  # a bug in the model must not pull the card
            log("error: exception while processing %s:\n%s" % (redact(apdu), traceback.format_exc()))
            response = b"\x6F\x00"
        if self.garbage_after is not None and n > self.garbage_after:
            junk = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(4, 40)))
            if self.apdu_log:
                self.apdu_log.write(format_line(apdu, junk) + "\n")
            return b"\x00\x00\xFF\x10\x11" + junk, 0  # broken length checksum
        if self.apdu_log:
            self.apdu_log.write(format_line(apdu, response) + "\n")
        late = self.late_ms if (self.late_ms > 0 and n > self.late_after) else 0
        if self.die_after is not None and n >= self.die_after:
            self.dying = True
        return status(0x00, response), late


def make_pty(link):
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    tty.setraw(master, termios.TCSANOW)
    name = os.ttyname(slave)
    tmp = link + ".tmp%d" % os.getpid()
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(name, tmp)
    os.replace(tmp, link)
    return master, slave, name


def remove_file(path):
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def parse_args(argv):
    ap = argparse.ArgumentParser(description="PN532 on a pty with a virtual social security card.")
    ap.add_argument("--profile", required=True, help="profile file or name under test/sim/profiles")
    ap.add_argument("--link", required=True,
                    help="symlink to create for the pty slave (no ':' in the path)")
    ap.add_argument("--control", help="Unix socket for insert/remove/status/quit")
    ap.add_argument("--present", action="store_true", help="the card is in the field at start")
    ap.add_argument("--uid", default="08A1B2C3", help="card UID hex (default 08A1B2C3)")
    ap.add_argument("--log", metavar="FILE", help="append '<cmd hex> -> <resp hex>' per APDU")
    ap.add_argument("--ready-file", metavar="FILE")
    ap.add_argument("--late-ms", type=float, default=0.0)
    ap.add_argument("--late-after", type=int, default=0, metavar="K")
    ap.add_argument("--garbage-after", type=int, metavar="N")
    ap.add_argument("--die-after", type=int, metavar="N")
    ap.add_argument("--seed", type=int)
    args = ap.parse_args(argv)
    if ":" in args.link:
        ap.error("--link must not contain ':' (libnfc splits the connection string on it)")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        card = SsseCard(load_profile(profile_path(args.profile)), "t1")  # ISO 14443-4: T=1 behaviour
        uid = bytes.fromhex(args.uid)
    except (OSError, ValueError, ProfileError) as e:
        print("pn532_emulator: bad profile or uid %s: %s" % (args.profile, e), file=sys.stderr)
        return 2

    def on_signal(signum, frame):
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    apdu_log = open(args.log, "a", encoding="ascii", buffering=1) if args.log else None
    emu = Emulator(card, uid, apdu_log, args.late_ms, args.late_after, args.garbage_after,
                   args.die_after, args.seed, args.present)
    master, slave, name = make_pty(args.link)
    ctl = None
    clients = {}
    if args.control:
        remove_file(args.control)
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.bind(args.control)
        ctl.listen(4)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(args.ready_file + ".tmp", args.ready_file)
    log("PN532 on %s (%s), profile %s, card %s" % (args.link, name, args.profile,
                                                     "in the field" if emu.present else "away"))
    try:
        while True:
            fds = [master] + ([ctl] if ctl else []) + list(clients)
            readable, _, _ = select.select(fds, [], [], emu.timeout())
            late = emu.due()
            if late:
                os.write(master, late)
            for fd in readable:
                if fd == master:
                    try:
                        data = os.read(master, 4096)
                    except OSError:
                        data = b""
                    if data:
                        out = emu.receive(data)
                        if out:
                            os.write(master, out)
                        if emu.dying:
                            log("device dies after APDU %d (--die-after)" % emu.apdus)
                            return 0
                elif fd is ctl:
                    conn, _ = ctl.accept()
                    clients[conn] = b""
                else:
                    chunk = fd.recv(1024)
                    if not chunk:
                        fd.close()
                        del clients[fd]
                        continue
                    clients[fd] += chunk
                    while b"\n" in clients[fd]:
                        line, _, rest = clients[fd].partition(b"\n")
                        clients[fd] = rest
                        answer = control(emu, line.decode("ascii", "replace").strip())
                        fd.sendall((answer + "\n").encode())
                        if answer == "ok bye":
                            return 0
    except Stop as e:
        log("stopped by %s" % e)
        return 0
    finally:
        for c in clients:
            c.close()
        if ctl:
            ctl.close()
            remove_file(args.control)
        os.close(master)
        os.close(slave)
        try:
            if os.readlink(args.link) == name:
                os.unlink(args.link)
        except OSError:
            pass
        remove_file(args.ready_file)
        if apdu_log:
            apdu_log.close()


def control(emu, command):
    if command == "insert":
        emu.insert()
        return "ok present=1"
    if command == "remove":
        emu.remove()
        return "ok present=0"
    if command == "status":
        return "ok present=%d apdus=%d commands=%d" % (emu.present, emu.apdus, emu.commands)
    if command == "quit":
        return "ok bye"
    return "error unknown command %r (insert, remove, status, quit)" % command


if __name__ == "__main__":
    sys.exit(main())
