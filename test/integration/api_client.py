"""A JSON-RPC 2.0 client for sscardd's local API (newline-delimited JSON over a Unix socket)."""
import json
import queue
import socket
import threading
import time


class ApiClient:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise
        self.responses = {}
        self.notifications = queue.Queue()
        self.cond = threading.Condition()
        self.closed = False
        self.next_id = 1
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cond:
                    self.closed = True
                    self.cond.notify_all()
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if "id" in msg and ("result" in msg or "error" in msg):
                    with self.cond:
                        self.responses[json.dumps(msg["id"])] = msg
                        self.cond.notify_all()
                else:
                    self.notifications.put((time.monotonic(), msg))

    def send_raw(self, data):
        self.sock.sendall(data)

    def call(self, method, params=None, timeout=20.0):
        """Returns the whole response object ({"result": …} or {"error": …})."""
        rid = self.next_id
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            req["params"] = params
        self.sock.sendall((json.dumps(req) + "\n").encode())
        return self.wait_response(rid, timeout)

    def wait_response(self, rid, timeout=20.0):
        key = json.dumps(rid)
        deadline = time.monotonic() + timeout
        with self.cond:
            while key not in self.responses:
                if self.closed:
                    raise ConnectionError("connection closed by sscardd")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to request {rid}")
                self.cond.wait(left)
            return self.responses.pop(key)

    def expect(self, method, predicate=lambda p: True, timeout=10.0):
        """The next notification of this method whose params satisfy predicate: (time, params)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {method} within {timeout}s; saw {seen}")
            try:
                at, msg = self.notifications.get(timeout=left)
            except queue.Empty:
                continue
            seen.append(msg)
            if msg.get("method") == method and predicate(msg.get("params")):
                return at, msg["params"]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
