"""diag watch: events as they happen, and surviving a pcscd restart."""
import os
import subprocess
import time
import unittest

from sscard_test import SOURCE_DIR, CardTestCase, Watcher, sim_ctl

READER0 = sim_ctl.READERS[40000]
ENV_SCRIPT = os.path.join(SOURCE_DIR, "test", "env", "pcscd-env.sh")


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
