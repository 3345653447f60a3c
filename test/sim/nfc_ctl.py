"""Start the PN532 emulator (pn532_emulator.py) from Python tests and tap the card, stdlib only.

    import sys; sys.path.insert(0, "<repo>/test/sim")
    import nfc_ctl

    with nfc_ctl.start_pn532("contactless", present=True) as dev:
        dev.connstring            # "pn532_uart:/tmp/sscard-nfc-XXXX/pn532" for [nfc] devices
        dev.remove(); dev.insert()  # the card leaves / enters the field (acknowledged by the emulator)
        dev.apdu_log()            # [(cmd_hex, resp_hex), ...], PIN data as "**"
        dev.apdu_count(); dev.clear_log(); dev.status()
        dev.write_config("prefer = ...")  # a sscardd.toml naming this device; returns its path
    # leaving the block stops the emulator and deletes its directory

No pcscd needed. Each emulator gets a pty of its own and a fresh directory under /tmp (the path
in the connection string must not contain ':')."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SIM_DIR = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(SIM_DIR, "pn532_emulator.py")
PYTHON = "/usr/bin/python3"

sys.path.insert(0, SIM_DIR)
from faults import read_log  # noqa: E402


class NfcSimError(Exception):
    pass


class Pn532Handle:
    """A running pn532_emulator.py."""

    def __init__(self, proc, workdir, link, control, log_path, out_path, command):
        self.proc = proc
        self.workdir = workdir
        self.link = link
        self.control_path = control
        self.log_path = log_path
        self.out_path = out_path
        self.command = command
        self.connstring = "pn532_uart:" + link

    def running(self):
        return self.proc.poll() is None

    def output(self):
        try:
            with open(self.out_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def control(self, command, timeout=5.0):
        """Sends one control line; returns the emulator's answer line (raises on 'error ...')."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.control_path)
            s.sendall((command + "\n").encode())
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                answer += chunk
        finally:
            s.close()
        answer = answer.decode().strip()
        if not answer.startswith("ok"):
            raise NfcSimError("emulator answered %r to %r" % (answer, command))
        return answer

    def insert(self):
        """The card enters the field (a new tap)."""
        return self.control("insert")

    def remove(self):
        """The card leaves the field."""
        return self.control("remove")

    def status(self):
        """{'present': 0|1, 'apdus': N, 'commands': N}"""
        fields = self.control("status").split()[1:]
        return {k: int(v) for k, v in (f.split("=") for f in fields)}

    def apdu_log(self):
        return read_log(self.log_path)

    def apdu_count(self):
        return len(self.apdu_log())

    def clear_log(self):
        with open(self.log_path, "w"):
            pass

    def write_config(self, extra="", name="sscardd.toml"):
        """A configuration file with [nfc] devices = [this device], plus `extra` TOML; its path."""
        path = os.path.join(self.workdir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write('[nfc]\ndevices = ["%s"]\n' % self.connstring)
            if extra:
                f.write("\n" + extra + "\n")
        return path

    def kill(self, sig=signal.SIGKILL):
        """The device vanishes (default: without cleaning up, like a pulled USB adapter)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(5)

    def stop(self, timeout=5.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def __repr__(self):
        return "<Pn532Handle %s pid=%d %s>" % (self.connstring, self.proc.pid,
                                               "running" if self.running() else "ended")


def start_pn532(profile="contactless", *, present=False, late_ms=None, late_after=None,
                garbage_after=None, die_after=None, seed=None, uid=None, workdir=None,
                timeout=10.0, extra_args=()):
    """Starts a PN532 emulator carrying a card of `profile` (a name in profiles/ or a path);
    returns a Pn532Handle once its pty link and control socket exist."""
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="sscard-nfc-")
    if ":" in workdir:
        raise NfcSimError("the device path must not contain ':': %s" % workdir)
    link = os.path.join(workdir, "pn532")
    control = os.path.join(workdir, "ctl")
    log_path = os.path.join(workdir, "apdu.log")
    ready = os.path.join(workdir, "ready")
    out_path = os.path.join(workdir, "emulator.out")
    cmd = [PYTHON, EMULATOR, "--profile", str(profile), "--link", link, "--control", control,
           "--log", log_path, "--ready-file", ready]
    if present:
        cmd.append("--present")
    for flag, value in (("--late-ms", late_ms), ("--late-after", late_after),
                        ("--garbage-after", garbage_after), ("--die-after", die_after),
                        ("--seed", seed), ("--uid", uid)):
        if value is not None:
            cmd += [flag, str(value)]
    cmd += list(extra_args)
    with open(out_path, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    handle = Pn532Handle(proc, workdir, link, control, log_path, out_path, cmd)
    deadline = time.monotonic() + timeout
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() >= deadline:
            output = handle.output()
            handle.stop()
            if own:
                shutil.rmtree(workdir, ignore_errors=True)
            raise NfcSimError("PN532 emulator did not start\ncommand: %s\noutput:\n%s"
                              % (" ".join(cmd), output))
        time.sleep(0.01)
    return handle
