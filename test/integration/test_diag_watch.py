"""diag watch: events as they happen, and surviving a pcscd restart."""
import json
import os
import queue
import signal
import subprocess
import threading
import time
import unittest

from sscard_test import SOURCE_DIR, SSCARDD, CardTestCase, sim_ctl

READER0 = sim_ctl.READERS[40000]
ENV_SCRIPT = os.path.join(SOURCE_DIR, "test", "env", "pcscd-env.sh")


class Watcher:
    def __init__(self):
        self.proc = subprocess.Popen([SSCARDD, "diag", "watch", "--json"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.events = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def expect(self, event, reader=None, timeout=10.0):
        """Waits for the next event of this kind (for this reader); returns it and what came before."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(e)
            if e["event"] == event and (reader is None or e.get("reader") == reader):
                return e, seen
        raise AssertionError(f"no {event} for {reader} within {timeout}s; saw {seen}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


class WatchTest(CardTestCase):
    def setUp(self):
        super().setUp()
        self.watcher = Watcher()

    def tearDown(self):
        self.watcher.close()
        super().tearDown()

    def test_insert_and_remove_events(self):
        self.watcher.expect("reader.added", READER0)
        card = self.start_card("gen3", port=40000, wait_present=False)
        e, _ = self.watcher.expect("card.inserted", READER0, timeout=5)
        self.assertEqual(e["atr"], card.atr_hex)
        self.assertEqual(e["interface"], "contact")
        card.remove()
        self.watcher.expect("card.removed", READER0, timeout=5)
        self.assertEqual(self.watcher.stop(), 0)

    def test_survives_pcscd_restart(self):
        self.watcher.expect("reader.added", READER0)
        subprocess.run(["bash", ENV_SCRIPT, "restart"], check=True, capture_output=True)
        lost, _ = self.watcher.expect("service.lost", timeout=10)
        self.assertTrue(lost.get("message"))
        self.watcher.expect("reader.added", READER0, timeout=20)
        card = self.start_card("gen2", port=40000, wait_present=False)
        e, _ = self.watcher.expect("card.inserted", READER0, timeout=10)
        self.assertEqual(e["atr"], card.atr_hex)
        self.assertEqual(self.watcher.stop(), 0)

    def test_sigterm_exits_zero_promptly(self):
        self.watcher.expect("reader.added", READER0)
        start = time.monotonic()
        self.assertEqual(self.watcher.stop(), 0)
        self.assertLess(time.monotonic() - start, 5)


if __name__ == "__main__":
    unittest.main()
