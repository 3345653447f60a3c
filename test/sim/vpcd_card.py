#!/usr/bin/python3
"""A virtual social security card for vsmartcard's vpcd reader driver.

Connects to vpcd (inside pcscd) as a TCP client: connecting = card inserted,
closing = card removed. vpcd protocol, both directions: 2-byte big-endian
length + bytes. From vpcd, 1-byte control messages 00 power off, 01 power on,
02 reset, 04 get ATR (answered with the ATR); longer messages are command APDUs,
answered with the response APDU.

Usage: vpcd_card.py --profile FILE [options]   (see --help)
Exit status: 0 on SIGTERM/SIGINT, vpcd closing, or --vanish-after; 1 when vpcd
cannot be reached; 2 on a bad command line or profile.
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from faults import Faults, format_line, parse_sw_after, redact  # noqa: E402
import psam_card  # noqa: E402
from ssse_card import MULTI_READ_REFUSALS, ProfileError, SsseCard, load_profile, profile_path  # noqa: E402

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0x00, 0x01, 0x02, 0x04


class Stop(Exception):
    pass


def log(msg):
    print("vpcd_card[%d]: %s" % (os.getpid(), msg), file=sys.stderr, flush=True)


class VpcdLink:
    """The TCP connection to vpcd, with the socket options that keep it fast."""

    def __init__(self, host, port, quickack=True):
        self.host, self.port, self.quickack = host, port, quickack
        self.sock = None

    def connect(self, timeout_s, interval_s=0.05):
        deadline = time.monotonic() + timeout_s if timeout_s is not None else None
        while True:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.connect((self.host, self.port))
            except OSError:
                s.close()
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(interval_s)
                continue
            # vpcd writes length and body separately; without NODELAY/QUICKACK every
            # exchange waits for a delayed ACK (~40 ms)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock = s
            return True

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            if self.quickack:
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv_msg(self):
        """The next message from vpcd, or None when vpcd closed the connection."""
        try:
            head = self._recv_exact(2)
            if head is None:
                return None
            (length,) = struct.unpack(">H", head)
            if length == 0:
                return b""
            return self._recv_exact(length)
        except ConnectionError:
            return None

    def send_msg(self, data):
        self.sock.sendall(struct.pack(">H", len(data)) + data)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


class ApduLog:
    def __init__(self, path):
        self.f = open(path, "a", encoding="ascii", buffering=1) if path else None

    def write(self, command, response):
        if self.f:
            self.f.write(format_line(command, response) + "\n")
            self.f.flush()

    def close(self):
        if self.f:
            self.f.close()


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Virtual social security card for vpcd (vsmartcard) readers in pcscd.")
    ap.add_argument("--profile", required=True,
                    help="profile JSON file, or a name under test/sim/profiles (e.g. gen3)")
    ap.add_argument("--port", type=int, default=40000, help="vpcd slot port (default 40000)")
    ap.add_argument("--host", default="127.0.0.1", help="vpcd host (default 127.0.0.1)")
    ap.add_argument("--protocol", choices=("t0", "t1"),
                    help="T=0-only or T=1 ATR and card behaviour (default: the profile's)")
    ap.add_argument("--no-multi-read", action="store_true",
                    help="refuse READ RECORD P2=(SFI<<3)|5 (records P1 to last)")
    ap.add_argument("--multi-read-refusal", choices=MULTI_READ_REFUSALS, type=str.upper,
                    help="status word of that refusal (default: the profile's, 6A86)")
    ap.add_argument("--exact-le", action="store_true",
                    help="Le must equal the data length (else 6Cxx), also on T=1")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="sleep this long before each APDU answer")
    ap.add_argument("--vanish-after", type=int, metavar="N",
                    help="after answering APDU N close the socket and exit (card pulled)")
    ap.add_argument("--vanish-during", type=int, metavar="N",
                    help="carry out APDU N (state kept) but exit before answering it")
    ap.add_argument("--garbage-after", type=int, metavar="N",
                    help="APDUs after the Nth get random garbage (1..40 bytes)")
    ap.add_argument("--truncate-after", type=int, metavar="N",
                    help="answers after the Nth lose their tail")
    ap.add_argument("--sw-after", metavar="N:XXXX",
                    help="answers after the Nth are exactly status word XXXX")
    ap.add_argument("--seed", type=int, help="random seed for --garbage-after")
    ap.add_argument("--log", metavar="FILE",
                    help="append '<command hex> -> <response hex>' per APDU (PINs masked)")
    ap.add_argument("--ready-file", metavar="FILE",
                    help="created once the card answered vpcd's first power-on/ATR request")
    ap.add_argument("--state-file", metavar="FILE",
                    help="keep PIN and retry counter here across runs (re-insertion)")
    ap.add_argument("--connect-timeout", type=float, default=10.0,
                    help="seconds to keep retrying until vpcd listens (default 10)")
    ap.add_argument("--reconnect", action="store_true",
                    help="when vpcd closes (pcscd restart), power off and connect again")
    ap.add_argument("--no-quickack", action="store_true",
                    help="do not set TCP_QUICKACK (only to measure its effect)")
    args = ap.parse_args(argv)
    if args.sw_after:
        try:
            args.sw_after = parse_sw_after(args.sw_after)
        except ValueError as e:
            ap.error(str(e))
    for name in ("vanish_after", "vanish_during", "garbage_after", "truncate_after"):
        v = getattr(args, name)
        if v is not None and v < 0:
            ap.error("--%s must be >= 0" % name.replace("_", "-"))
    return args


def remove_file(path):
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def write_state(path, card):
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(card.export_state(), f)
        os.replace(tmp, path)


def serve(args, card, link, faults, apdu_log):
    """Answer vpcd until it closes (returns 'closed') or the card vanishes ('vanished')."""
    n = 0
    powered_seen = False
    ready = False
    state_before = card.export_state()
    while True:
        msg = link.recv_msg()
        if msg is None:
            return "closed"
        if len(msg) == 1:
            ctrl = msg[0]
            if ctrl == CTRL_OFF:
                card.power_off()
            elif ctrl == CTRL_ON:
                card.power_on()
                powered_seen = True
            elif ctrl == CTRL_RESET:
                card.reset()
                powered_seen = True
            elif ctrl == CTRL_ATR:
                link.send_msg(card.atr())
                if powered_seen and not ready and args.ready_file:
                    with open(args.ready_file, "w") as f:
                        f.write("%d\n" % os.getpid())
                    ready = True
            else:
                log("ignoring unknown control message %02X" % ctrl)
            continue
        if len(msg) == 0:
            log("ignoring empty message")
            continue
        n += 1
        if faults.vanish_before_answer(n):
            apdu_log.write(msg, None)
            return "vanished"
        try:
            response = card.process(msg)
        except Exception:  # a bug in the model must not pull the card: answer 6F00
            log("error: exception while processing %s:\n%s" % (redact(msg), traceback.format_exc()))
            response = b"\x6F\x00"
        response = faults.apply(n, response)
        state = card.export_state()
        if state != state_before:
            write_state(args.state_file, card)
            state_before = state
        if faults.vanish_unanswered(n):
            apdu_log.write(msg, None)
            return "vanished"
        if args.latency_ms > 0:
            time.sleep(args.latency_ms / 1000.0)
        apdu_log.write(msg, response)  # before sending: a client that got the answer sees the line
        link.send_msg(response)
        if faults.vanish_after_answer(n):
            return "vanished"


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        path = profile_path(args.profile)
        if psam_card.is_psam_profile(path):  # "kind": "psam": the virtual SAM in its own reader
            card = psam_card.PsamCard(psam_card.load_psam_profile(path))
        else:
            card = _ssse_card(args, path)
    except (OSError, ValueError, ProfileError) as e:
        print("vpcd_card: bad profile %s: %s" % (args.profile, e), file=sys.stderr)
        return 2
    return run(args, card)


def _ssse_card(args, path):
    profile = load_profile(path)
    return SsseCard(profile, args.protocol,
                    multi_read=False if args.no_multi_read else None,
                    multi_read_refusal=args.multi_read_refusal,
                    exact_le=True if args.exact_le else None)


def run(args, card):
    if args.protocol and card.contactless and args.protocol != "t1":
        log("contactless profile: --protocol %s ignored (pseudo-ATR, T=1 behaviour)" % args.protocol)
    if args.state_file and os.path.exists(args.state_file):
        with open(args.state_file, encoding="utf-8") as f:
            card.import_state(json.load(f))
    faults = Faults(args.vanish_after, args.garbage_after, args.truncate_after, args.sw_after,
                    seed=args.seed, vanish_during=args.vanish_during)
    apdu_log = ApduLog(args.log)
    remove_file(args.ready_file)

    def on_signal(signum, frame):
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    link = VpcdLink(args.host, args.port, quickack=not args.no_quickack)
    status = 0
    try:
        timeout = args.connect_timeout
        while True:
            if not link.connect(timeout):
                log("error: vpcd does not listen on %s:%d after %.0f s "
                    "(is pcscd running? test/env/pcscd-env.sh start)"
                    % (args.host, args.port, args.connect_timeout))
                status = 1
                break
            log("connected to vpcd at %s:%d (profile %s, %s, ATR %s)"
                % (args.host, args.port, args.profile,
                   "contactless" if card.contactless else "T=" + card.protocol[1],
                   card.atr().hex().upper()))
            outcome = serve(args, card, link, faults, apdu_log)
            link.close()
            card.power_off()
            if outcome == "vanished":
                if args.vanish_during is not None:
                    log("card vanished during APDU %d (--vanish-during)" % args.vanish_during)
                else:
                    log("card vanished after APDU %d (--vanish-after)" % args.vanish_after)
                break
            log("vpcd closed the connection")
            if not args.reconnect:
                break
            timeout = None  # wait for pcscd to come back, until stopped
    except Stop as e:
        log("stopped by %s: card removed" % e)
    except OSError as e:
        log("error: %s" % e)
        status = 1
    finally:
        link.close()
        apdu_log.close()
        remove_file(args.ready_file)
    return status


if __name__ == "__main__":
    sys.exit(main())
