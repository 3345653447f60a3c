"""sscardd run: the service end to end, against the real pcscd + vpcd + virtual cards and a real
signed feed served by nginx over TLS from a test CA."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from api_client import ApiClient
from sscard_test import SOURCE_DIR, SSCARDD, CardTestCase, load_profile, sim_ctl

SSCARD_FEED = os.environ.get("SSCARD_FEED", os.path.join(os.path.dirname(SSCARDD), "..", "blacklist",
                                                          "sscard-feed"))
FEED_SERVER = os.path.join(SOURCE_DIR, "test", "env", "feed-server.sh")
PCSCD_ENV = os.path.join(SOURCE_DIR, "test", "env", "pcscd-env.sh")
READER0, READER1 = sim_ctl.READERS[40000], sim_ctl.READERS[40001]
FROZEN = load_profile("gen3_valid")["ef05"]       # frozen in the first list version
CLEAN = load_profile("gen2")["ef05"]              # frozen only in the second version
HOLDER = load_profile("gen2_holder")              # read with holder data: must not reach the logs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()
KIOSK_USER, NOROLE_USER, KIOSK_GROUP = "sscard-test-kiosk", "sscard-test-norole", "sscard-kiosk"


def run(*args, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{args} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r


def ensure_user(name, group=None):
    if subprocess.run(["id", name], capture_output=True).returncode != 0:
        own_group = subprocess.run(["getent", "group", name], capture_output=True).returncode == 0
        run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
            *(["-g", name] if own_group else []), name)
    if group:
        if subprocess.run(["getent", "group", group], capture_output=True).returncode != 0:
            run("groupadd", "--system", group)
        run("usermod", "-a", "-G", group, name)


# Credentials in the feed URL (nginx ignores them): they must never be shown.
FEED_SECRET = "s3cr3t-feed-pass"
FEED_USERINFO = f"feed-user:{FEED_SECRET}@"


def csv_row(ef05, state, card_id=True, expires=""):
    return ",".join([ef05["card_id"][:6], ef05["card_number"], ef05["card_id"] if card_id else "",
                     state, "2026-01-01T00:00:00+08:00", expires, ""])


class DaemonTest(CardTestCase):
    @classmethod
    def setUpClass(cls):
        # unittest skips tearDownClass when setUpClass fails: clean up what was started here.
        cls.daemon = None
        cls.log = None
        try:
            cls.start_everything()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_everything(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sscard-daemon-")
        os.chmod(cls.tmp, 0o755)  # other test users must reach the socket
        t = cls.tmp
        run(SSCARD_FEED, "keygen", "--out", f"{t}/keys")
        cls.feed = f"{t}/feed"
        cls.publish([csv_row(FROZEN, "frozen")])
        run("bash", FEED_SERVER, "start", cls.feed, str(PORT), f"{t}/nginx")
        cls.config = f"{t}/sscardd.toml"
        with open(cls.config, "w") as f:
            f.write(f"""
[list]
feed_url = "https://{FEED_USERINFO}127.0.0.1:{PORT}/"
trusted_keys = ["{t}/keys/feed.pub"]
ca_file = "{t}/nginx/ca.pem"
database = "{t}/list.db"
poll_interval = "2s"
[api]
socket = "{t}/sscardd.sock"
[backend]
outbox = "{t}/outbox.db"
[roles]
kiosk = ["{KIOSK_GROUP}"]
admin = ["sscard-admin"]
""")
        ensure_user(KIOSK_USER, KIOSK_GROUP)
        ensure_user(NOROLE_USER)
        cls.log = open(f"{t}/sscardd.log", "w")
        cls.daemon = subprocess.Popen([SSCARDD, "run", "--config", cls.config], stdout=cls.log,
                                      stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.path.exists(f"{t}/sscardd.sock"):
                try:
                    c = ApiClient(f"{t}/sscardd.sock")
                    version = c.call("status")["result"]["list"]["version"]
                    c.close()
                    if version >= 1:
                        return
                except (OSError, KeyError):
                    pass
            time.sleep(0.2)
        raise AssertionError("sscardd did not start and sync: " + open(f"{t}/sscardd.log").read())

    @classmethod
    def publish(cls, rows):
        with open(f"{cls.tmp}/list.csv", "w") as f:
            f.write("region,card_number,card_id,state,effective_at,expires_at,replaced_by\n")
            f.write("\n".join(rows) + "\n")
        run(SSCARD_FEED, "publish", "--key", f"{cls.tmp}/keys/feed.key", "--input",
            f"{cls.tmp}/list.csv", "--out", cls.feed)

    @classmethod
    def tearDownClass(cls):
        if cls.daemon is not None and cls.daemon.poll() is None:
            cls.daemon.kill()
            cls.daemon.wait()
        if cls.log is not None:
            cls.log.close()
        if getattr(cls, "tmp", None):
            subprocess.run(["bash", FEED_SERVER, "stop", f"{cls.tmp}/feed", str(PORT),
                            f"{cls.tmp}/nginx"], capture_output=True)
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def client(self):
        c = ApiClient(f"{self.tmp}/sscardd.sock")
        self.addCleanup(c.close)
        return c

    def subscribed(self):
        c = self.client()
        self.assertEqual(c.call("events.subscribe")["result"], {"subscribed": True})
        return c

    def test_frozen_card_is_denied_on_insertion_within_a_second(self):
        c = self.subscribed()
        self.start_card("gen3_valid", port=40000, wait_present=False)
        t_inserted, ins = c.expect("card.inserted", lambda p: p["reader"] == READER0)
        t_checked, checked = c.expect("card.checked", lambda p: p.get("reader") == READER0)
        self.assertEqual(checked["decision"], "deny", checked)
        self.assertEqual(checked["reason"], "frozen")
        self.assertEqual(checked["card"]["card_number"], FROZEN["card_number"])
        self.assertEqual(checked["entry"]["state"], "frozen")
        self.assertGreaterEqual(checked["list"]["version"], 1)
        self.assertLess(t_checked - t_inserted, 1.0)
        self.cards[-1].remove(wait_reader=False)
        c.expect("card.removed", lambda p: p["reader"] == READER0)

    def test_two_readers_at_once(self):
        c = self.subscribed()
        self.start_card("gen3_valid", port=40000, wait_present=False)
        self.start_card("gen2", port=40001, wait_present=False)
        got = {}
        for _ in range(2):
            _, p = c.expect("card.checked")
            got[p["reader"]] = p
        self.assertEqual(got[READER0]["decision"], "deny")
        self.assertEqual(got[READER1]["card"]["card_number"], CLEAN["card_number"])

    def test_card_read_and_check_on_request(self):
        self.start_card("gen2_holder", port=40000)
        c = self.client()
        r = c.call("card.read", {"holder": True})["result"]
        self.assertEqual(r["holder"]["ssn"], HOLDER["ef06"]["ssn"])
        r = c.call("card.check", {"reader": READER0})["result"]
        self.assertIn(r["decision"], ("allow", "deny"))
        self.assertIn("list", r)
        r = c.call("card.read", {"reader": "No Such Reader"})
        self.assertEqual(r["error"]["data"]["code"], "no_reader")

    def as_user(self, user, requests):
        """Runs a tiny client as another Unix user; returns its printed answers or the error."""
        script = (
            "import json,socket,sys\n"
            "s=socket.socket(socket.AF_UNIX);\n"
            "try:\n s.connect(sys.argv[1])\n"
            "except OSError as e:\n print(json.dumps({'connect_error': e.errno})); sys.exit(0)\n"
            "f=s.makefile('rwb')\n"
            "for line in sys.argv[2:]:\n"
            " f.write(line.encode()+b'\\n'); f.flush(); a=f.readline()\n"
            " print(a.decode().strip() if a else json.dumps({'closed': True}))\n")
        gid = run("id", "-g", user).stdout.strip()
        out = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={gid}", "--init-groups",
                              sys.executable, "-c", script, f"{self.tmp}/sscardd.sock", *requests],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        return [json.loads(line) for line in out.stdout.splitlines()]

    def test_caller_without_role_gets_nothing(self):
        answers = self.as_user(NOROLE_USER, ['{"jsonrpc":"2.0","id":1,"method":"status"}',
                                             '{"jsonrpc":"2.0","id":2,"method":"readers.list"}'])
        # Either the socket's permissions stop it, or the daemon answers not_allowed and hangs up.
        first = answers[0]
        if "connect_error" not in first:
            self.assertEqual(first["error"]["data"]["code"], "not_allowed")
            self.assertNotIn("result", first)
            self.assertEqual(answers[1], {"closed": True})

    def test_kiosk_role_is_not_admin_and_gets_no_personal_data(self):
        self.start_card("gen2_holder", port=40000)
        answers = self.as_user(KIOSK_USER, [
            '{"jsonrpc":"2.0","id":1,"method":"status"}',
            '{"jsonrpc":"2.0","id":2,"method":"list.sync"}',
            '{"jsonrpc":"2.0","id":3,"method":"card.read","params":{"holder":true}}',
            '{"jsonrpc":"2.0","id":4,"method":"card.read"}'])
        self.assertIn("result", answers[0], answers)
        self.assertEqual(answers[1]["error"]["data"]["code"], "not_allowed")
        self.assertEqual(answers[2]["error"]["data"]["code"], "not_allowed")
        self.assertNotIn("holder", answers[3]["result"])
        self.assertEqual(answers[3]["result"]["card"]["card_number"],
                         HOLDER["ef05"]["card_number"])

    def test_kiosk_user_reaches_the_api_not_the_files(self):
        answers = self.as_user(KIOSK_USER, ['{"jsonrpc":"2.0","id":1,"method":"status"}'])
        self.assertIn("result", answers[0], answers)
        state = [f"{self.tmp}/{name}" for name in ("list.db", "outbox.db", "outbox.db-wal")]
        for path in state:
            self.assertTrue(os.path.exists(path), path)
            self.assertEqual(os.stat(path).st_mode & 0o077, 0, path)  # 0600: the daemon's alone
        script = ("import sys\n"
                  "for p in sys.argv[1:]:\n"
                  " try:\n  open(p, 'rb').close(); print('opened', p)\n"
                  " except PermissionError:\n  pass\n")
        gid = run("id", "-g", KIOSK_USER).stdout.strip()
        out = subprocess.run(["setpriv", f"--reuid={KIOSK_USER}", f"--regid={gid}", "--init-groups",
                              sys.executable, "-c", script, *state],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "")

    def test_published_freeze_reaches_the_terminal(self):
        c = self.subscribed()
        published = time.monotonic()
        # A phone report: temporary, by region + card number (no chip id), lifting itself in 2099.
        self.publish([csv_row(FROZEN, "frozen"),
                      csv_row(CLEAN, "temp_frozen", card_id=False,
                              expires="2099-01-01T00:00:00+08:00")])
        _, upd = c.expect("list.updated", timeout=15)
        self.assertGreater(upd["version"], upd["previous_version"])
        self.start_card("gen2", port=40000, wait_present=False)
        _, checked = c.expect("card.checked", lambda p: p.get("reader") == READER0)
        self.assertEqual(checked["decision"], "deny", checked)
        self.assertEqual(checked["reason"], "temp_frozen")
        self.assertLess(time.monotonic() - published, 2 + 5 + 2)  # poll interval + 5 s (+ jitter)

    def test_events_resume_after_pcscd_restart(self):
        c = self.subscribed()
        run("bash", PCSCD_ENV, "restart")
        c.expect("reader.added", lambda p: p["reader"] == READER0, timeout=20)
        self.start_card("gen3_valid", port=40000, wait_present=False)
        _, checked = c.expect("card.checked", lambda p: p.get("reader") == READER0, timeout=10)
        self.assertEqual(checked["decision"], "deny")

    def test_garbage_and_huge_lines(self):
        c = self.client()
        c.send_raw(b"this is not json\n")
        c.send_raw(b'{"jsonrpc":"2.0","id":7,"method":"status"}\n')
        self.assertIn("result", c.wait_response(7))
        big = self.client()
        # The daemon answers "request too large" and hangs up, possibly while we are still sending.
        with self.assertRaises((ConnectionError, TimeoutError, OSError)):
            big.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"status","params":{"x":"' +
                         b"A" * (2 * 1024 * 1024) + b'"}}\n')
            for _ in range(3):
                big.call("status", timeout=5)
        self.assertIn("result", self.client().call("status"))

    def test_zy_feed_credentials_never_shown(self):
        # A failing sync puts the feed URL into an error: in list.sync's answer, status and the log
        # it must appear as ***@, never with the user and password.
        top = f"{self.feed}/timestamp.json"
        os.rename(top, top + ".away")
        try:
            answer = self.client().call("list.sync", timeout=60)
            status = self.client().call("status")["result"]
            cli = subprocess.run([SSCARDD, "status", "--config", self.config, "--json"],
                                 capture_output=True, text=True, timeout=30)
            human = subprocess.run([SSCARDD, "status", "--config", self.config],
                                   capture_output=True, text=True, timeout=30)
        finally:
            os.rename(top + ".away", top)
        shown = json.dumps(answer) + json.dumps(status) + cli.stdout + cli.stderr + human.stdout
        self.assertIn("error", answer, answer)
        self.assertIn("***@127.0.0.1", json.dumps(answer))
        self.assertIn("***@127.0.0.1", json.dumps(status["list"]["last_sync_error"]))
        with open(f"{self.tmp}/sscardd.log", encoding="utf-8", errors="replace") as f:
            shown += f.read()
        self.assertNotIn(FEED_SECRET, shown)
        self.assertNotIn("feed-user", shown)

    def test_zz_no_personal_data_in_logs_and_sigterm_exits_zero(self):
        # Other tests read holder data (SSN, name); none of it may reach the daemon's log.
        self.start_card("gen2_holder", port=40000)
        self.assertIn("holder", self.client().call("card.read", {"holder": True})["result"])
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(timeout=15), 0)
        with open(f"{self.tmp}/sscardd.log", encoding="utf-8", errors="replace") as f:
            log = f.read()
        for secret in (HOLDER["ef06"]["ssn"], HOLDER["ef06"]["name"], HOLDER["ef06"]["name_ext"],
                       HOLDER["ef05"]["card_number"]):
            self.assertNotIn(secret, log)
        self.assertIn("stopped", log)


if __name__ == "__main__":
    unittest.main()
