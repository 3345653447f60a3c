"""Insert and remove virtual cards from Python tests (unittest), stdlib only.

    import sys; sys.path.insert(0, "<repo>/test/sim")
    import sim_ctl

    with sim_ctl.start_card("gen3", 40000, protocol="t0") as card:
        ...  # the card is in sim_ctl.READERS[40000] and pcscd reports it present
        card.apdu_count(); card.apdu_log()  # [(cmd_hex, resp_hex), ...]
    # leaving the block removes the card and waits until pcscd reports the reader empty

    card = sim_ctl.start_card({"ef05": {...}}, 40001, vanish_after=2)   # profile as a dict
    ...
    card.remove()

Needs the environment of test/env/pcscd-env.sh (pcscd with the project's vpcd readers).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SIM_DIR = os.path.dirname(os.path.abspath(__file__))
VPCD_CARD = os.path.join(SIM_DIR, "vpcd_card.py")
PROFILES_DIR = os.path.join(SIM_DIR, "profiles")
PYTHON = "/usr/bin/python3"

sys.path.insert(0, SIM_DIR)
import pcsc_client  # noqa: E402
from faults import read_log  # noqa: E402

# vpcd port -> PC/SC reader name, as pcscd names them with test/env/pcscd-env.sh
READERS = {
    40000: "Virtual PCD 00 00",
    40001: "Virtual PCD 00 01",
    40002: "Virtual PCD 2 00 00",
    40003: "Virtual PCD 2 00 01",
}
PORTS = {name: port for port, name in READERS.items()}


ENV_SCRIPT = os.path.join(os.path.dirname(SIM_DIR), "env", "pcscd-env.sh")
PCSCD_SOCKET = "/run/pcscd/pcscd.comm"


class SimCardError(Exception):
    pass


def env_ready():
    """True when pcscd accepts clients and the vpcd ports listen (test/env/pcscd-env.sh start)."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1)
        s.connect(PCSCD_SOCKET)
    except OSError:
        return False
    finally:
        s.close()
    return all(_port_listening(p) for p in READERS)


def ensure_env():
    """Start the environment if needed (idempotent; shares a running one). Raises SimCardError."""
    if env_ready():
        return
    r = subprocess.run([ENV_SCRIPT, "start"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0 or not env_ready():
        raise SimCardError("test/env/pcscd-env.sh start failed:\n" + r.stdout)


def profile_file(name):
    """Path of a profile shipped in test/sim/profiles ('gen3' -> .../profiles/gen3.json)."""
    return os.path.join(PROFILES_DIR, name + ".json")


def _tcp_entries():
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    yield cols[1], cols[2], cols[3]  # local, remote, state
        except OSError:
            pass


def _port_listening(port):
    needle = ":%04X" % port
    return any(local.endswith(needle) and st == "0A" for local, _, st in _tcp_entries())


def _card_in_port(port):
    """True when some client holds an established TCP connection to 127.0.0.1:port."""
    needle = ":%04X" % port
    return any(remote.endswith(needle) and st == "01" for _, remote, st in _tcp_entries())


class CardHandle:
    """A running virtual card (a vpcd_card.py process)."""

    def __init__(self, proc, port, reader, workdir, log_path, ready_path, out_path, own_workdir):
        self.proc = proc
        self.port = port
        self.reader = reader
        self.workdir = workdir
        self.log_path = log_path
        self.ready_path = ready_path
        self.out_path = out_path
        self._own_workdir = own_workdir

    # -- state -------------------------------------------------------------------

    def running(self):
        return self.proc.poll() is None

    def output(self):
        """What the card printed (stdout and stderr)."""
        try:
            with open(self.out_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def apdu_log(self):
        """[(command_hex, response_hex), ...]; PIN data appears as '**' per byte."""
        return read_log(self.log_path)

    def apdu_count(self):
        return len(self.apdu_log())

    def clear_log(self):
        """Forget the APDUs so far (count from here)."""
        with open(self.log_path, "w"):
            pass

    # -- removal -----------------------------------------------------------------

    def wait_exit(self, timeout=5.0):
        """Wait for the card process to end on its own (e.g. --vanish-after); returns its status."""
        return self.proc.wait(timeout)

    def remove(self, timeout=5.0, wait_reader=True, reader_timeout=5.0):
        """Pull the card: SIGTERM (the card closes its socket), wait; then, with
        wait_reader, wait until pcscd reports the reader empty."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if wait_reader and self.reader and pcsc_client.available():
            with pcsc_client.Context() as ctx:
                ctx.wait_card(self.reader, present=False, timeout_s=reader_timeout)
        return self.proc.returncode

    def cleanup(self):
        """Remove the card if needed and delete its temporary files."""
        if self.proc.poll() is None:
            self.remove(wait_reader=False)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.remove()
        finally:
            self.cleanup()

    def __repr__(self):
        return "<CardHandle port=%d reader=%r pid=%d %s>" % (
            self.port, self.reader, self.proc.pid, "running" if self.running() else "ended")


def start_card(profile, port=40000, *, protocol=None, no_multi_read=False, multi_read_refusal=None,
               exact_le=False, latency_ms=None, vanish_after=None, vanish_during=None,
               garbage_after=None,
               truncate_after=None, sw_after=None, seed=None, state_file=None, reconnect=False,
               host="127.0.0.1", log=None, timeout=10.0, wait_reader=True, extra_args=()):
    """Insert a virtual card into the vpcd reader on `port`; returns a CardHandle.

    profile: a name in test/sim/profiles ("gen3"), a path to a JSON file, or a dict.
    protocol: "t0" | "t1" (default: the profile's). sw_after: "N:XXXX" or (N, "XXXX").
    Waits until the card answered vpcd's power-on and ATR request (its ready file) and,
    with wait_reader, until pcscd reports the card present in READERS[port]."""
    if _card_in_port(port):
        raise SimCardError("port %d (%s) already has a card: remove it first"
                           % (port, READERS.get(port, "?")))
    workdir = tempfile.mkdtemp(prefix="sscard-card-%d-" % port)
    if isinstance(profile, dict):
        profile_path = os.path.join(workdir, "profile.json")
        with open(profile_path, "w", encoding="utf-8") as f:
            json.dump(profile, f, ensure_ascii=False)
    elif os.path.sep in str(profile) or str(profile).endswith(".json"):
        profile_path = str(profile)
    else:
        profile_path = profile_file(profile)
    if not os.path.exists(profile_path):
        shutil.rmtree(workdir, ignore_errors=True)
        raise SimCardError("no such profile: %s" % profile_path)
    log_path = log or os.path.join(workdir, "apdu.log")
    ready_path = os.path.join(workdir, "ready")
    out_path = os.path.join(workdir, "card.out")
    cmd = [PYTHON, VPCD_CARD, "--profile", profile_path, "--port", str(port), "--host", host,
           "--log", log_path, "--ready-file", ready_path]
    if protocol:
        cmd += ["--protocol", protocol]
    if no_multi_read:
        cmd.append("--no-multi-read")
    if multi_read_refusal:
        cmd += ["--multi-read-refusal", str(multi_read_refusal)]
    if exact_le:
        cmd.append("--exact-le")
    if latency_ms:
        cmd += ["--latency-ms", str(latency_ms)]
    for flag, value in (("--vanish-after", vanish_after), ("--vanish-during", vanish_during),
                        ("--garbage-after", garbage_after),
                        ("--truncate-after", truncate_after), ("--seed", seed)):
        if value is not None:
            cmd += [flag, str(value)]
    if sw_after is not None:
        if isinstance(sw_after, (tuple, list)):
            n, value = sw_after
            value = "%04X" % value if isinstance(value, int) else value
            sw_after = "%d:%s" % (n, value)
        cmd += ["--sw-after", sw_after]
    if state_file:
        cmd += ["--state-file", state_file]
    if reconnect:
        cmd.append("--reconnect")
    cmd += list(extra_args)
    with open(out_path, "ab") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    handle = CardHandle(proc, port, READERS.get(port), workdir, log_path, ready_path, out_path,
                        own_workdir=True)
    deadline = time.monotonic() + timeout
    while not os.path.exists(ready_path):
        if proc.poll() == 0 and "card vanished" in handle.output():
            return handle  # inserted, and already gone again by its fault (vanish_*)
        if proc.poll() is not None or time.monotonic() >= deadline:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out = handle.output()
            shutil.rmtree(workdir, ignore_errors=True)
            raise SimCardError("virtual card on port %d not inserted after %.1f s (is the env up? "
                               "test/env/pcscd-env.sh start)\ncommand: %s\noutput:\n%s"
                               % (port, timeout, " ".join(cmd), out))
        time.sleep(0.01)
    if wait_reader and handle.reader and pcsc_client.available():
        try:
            with pcsc_client.Context() as ctx:
                ctx.wait_card(handle.reader, present=True,
                              timeout_s=max(0.5, deadline - time.monotonic()))
        except (TimeoutError, pcsc_client.PcscError) as e:
            handle.cleanup()
            raise SimCardError("pcscd does not report the card in %r: %s" % (handle.reader, e))
    return handle


# an alias reading well in `with` statements
inserted = start_card
