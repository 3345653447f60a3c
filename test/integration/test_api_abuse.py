"""sscardd run under abuse of its API: many connections from one user, a descriptor table run full
(the daemon started with a low open-file limit), and a half-sent request line."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from sscard_test import SSCARDD


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def close(s):
    """Closes a socket so that the daemon sees the end at once (another thread may be reading)."""
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


def status_over(s):
    """One status call over a raw socket: the answer line."""
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status"}\n')
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def raw_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s


class ApiAbuseTest(unittest.TestCase):
    def start_daemon(self, api_extra="", nofile=None):
        self.tmp = tempfile.mkdtemp(prefix="sscard-abuse-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.sock = f"{self.tmp}/sscardd.sock"
        with open(f"{self.tmp}/sscardd.toml", "w") as f:
            f.write(f"""
[list]
database = "{self.tmp}/list.db"
[api]
socket = "{self.sock}"
{api_extra}
[backend]
outbox = "{self.tmp}/outbox.db"
""")
        cmd = [SSCARDD, "run", "--config", f"{self.tmp}/sscardd.toml"]
        if nofile:
            cmd = ["prlimit", f"--nofile={nofile}:{nofile}", "--"] + cmd
        self.log = open(f"{self.tmp}/sscardd.log", "w")
        self.addCleanup(self.log.close)
        self.daemon = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_daemon)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                c = raw_connect(self.sock)
                ok = b'"result"' in status_over(c)
                close(c)
                if ok:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.fail("sscardd did not start: " + self.logged())

    def stop_daemon(self):
        if self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()

    def logged(self):
        with open(f"{self.tmp}/sscardd.log") as f:
            return f.read()

    def test_connections_per_user_are_capped(self):
        self.start_daemon("max_clients_per_user = 4")
        held = [raw_connect(self.sock) for _ in range(4)]
        try:
            for c in held:
                self.assertIn(b'"result"', status_over(c))
            extra = raw_connect(self.sock)
            answer = extra.makefile("rb").readline()
            self.assertIn(b'"busy"', answer)
            self.assertEqual(extra.recv(100), b"")  # and closed
            close(extra)
            close(held.pop())
            time.sleep(0.2)
            again = raw_connect(self.sock)
            self.assertIn(b'"result"', status_over(again))
            close(again)
        finally:
            for c in held:
                close(c)

    def test_half_sent_line_is_cut_off_and_others_go_on(self):
        self.start_daemon()
        half = raw_connect(self.sock)
        half.sendall(b'{"jsonrpc":"2.0","id":1,"method":"pin.verify","params":{"pin":"12')
        other = raw_connect(self.sock)
        self.assertIn(b'"result"', status_over(other))
        half.settimeout(20)
        started = time.monotonic()
        self.assertEqual(half.recv(100), b"")  # the daemon hung up on the unfinished line
        self.assertLess(time.monotonic() - started, 15)
        close(half)
        self.assertIn(b'"result"', status_over(other))
        close(other)
        self.assertIn("unfinished", self.logged())
        self.assertNotIn('"12', self.logged())

    def test_full_descriptor_table_does_not_spin_and_recovers(self):
        self.start_daemon("max_clients_per_user = 256", nofile=48)
        clients = []
        try:
            # More connections than the daemon has descriptors: the last ones wait in the backlog.
            for _ in range(60):
                clients.append(raw_connect(self.sock))
            time.sleep(0.5)
            before = cpu_seconds(self.daemon.pid)
            time.sleep(2)
            used = cpu_seconds(self.daemon.pid) - before
            self.assertLess(used, 0.5, "the daemon spins on accept")
            self.assertIsNone(self.daemon.poll(), "the daemon died: " + self.logged())
            self.assertIn("not accepting", self.logged())
        finally:
            for s in clients:
                close(s)
        deadline = time.monotonic() + 10
        answered = False
        while time.monotonic() < deadline and not answered:
            try:
                c = raw_connect(self.sock)
                answered = b'"result"' in status_over(c)
                close(c)
            except OSError:
                time.sleep(0.2)
        self.assertTrue(answered, "no answer after the connections were closed: " + self.logged())


if __name__ == "__main__":
    unittest.main()
