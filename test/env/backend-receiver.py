#!/usr/bin/python3
"""A stand-in for the card-management backend: receives the events sscardd's outbox POSTs.

Each POST is recorded as one JSON line in --log, written and flushed BEFORE the answer is sent (so a
client that saw a 2xx finds its request in the log):

  {"n": 1, "key": "<Idempotency-Key>", "status": 503, "path": "/events",
   "content_type": "application/json", "body": {...the event...}, "at": 1732456789.123}

("body" is the raw text when it is not JSON.) Options:

  --port N           listen on 127.0.0.1:N (0 = any free port; see --ready-file)
  --log FILE         the JSONL record (appended to)
  --fail-first N     answer --fail-status to the first N POSTs (default 0)
  --fail-status C    the failure answer (default 503)
  --retry-after S    add "Retry-After: S" to failure answers
  --status C         the answer to the others (default 200)
  --start-late S     wait S seconds before listening (the backend is down until then)
  --delay S          wait S seconds before each answer (timeouts)
  --ready-file FILE  written with the port once listening
  --tls-cert/--tls-key PEM files: serve HTTPS
  --client-ca PEM    (with TLS) require a client certificate issued by this CA; the record gets
                     "client": the certificate's common name
  --hmac-key-file F  require X-Sscard-Signature: t=<unix>,hmac=<hex HMAC-SHA256 of "<t>.<body>">
                     under the hex key in F, t within 300 s of this clock; anything else is
                     answered 401 and recorded with "signature": "missing" / "bad" / "stale"
                     (else "valid")

Python standard library only. Stops on SIGTERM or SIGINT.
"""

import argparse
import hashlib
import hmac
import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    p = argparse.ArgumentParser(description="backend event receiver for sscard tests")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=503)
    p.add_argument("--retry-after", type=int, default=None)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--start-late", type=float, default=0.0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--ready-file", default=None)
    p.add_argument("--tls-cert", default=None)
    p.add_argument("--tls-key", default=None)
    p.add_argument("--client-ca", default=None)
    p.add_argument("--hmac-key-file", default=None)
    args = p.parse_args()

    stop = threading.Event()

    def on_signal(_signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.start_late > 0 and stop.wait(args.start_late):
        return 0

    hmac_key = None
    if args.hmac_key_file:
        with open(args.hmac_key_file, encoding="ascii") as f:
            hmac_key = bytes.fromhex(f.read().strip())

    def check_signature(header, raw):
        if not header:
            return "missing"
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            t = int(fields.get("t", ""))
        except ValueError:
            return "bad"
        want = hmac.new(hmac_key, str(t).encode() + b"." + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, fields.get("hmac", "")):
            return "bad"
        if abs(time.time() - t) > 300:
            return "stale"
        return "valid"

    lock = threading.Lock()
    state = {"n": 0}
    log = open(args.log, "a", encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "sscard-backend-receiver/1"

        def log_message(self, fmt, *a):  # quiet: the JSONL file is the record
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            text = raw.decode("utf-8", errors="replace")
            try:
                body = json.loads(text)
            except ValueError:
                body = text
            with lock:
                state["n"] += 1
                n = state["n"]
                status = args.fail_status if n <= args.fail_first else args.status
                signature = None
                if hmac_key is not None:
                    signature = check_signature(self.headers.get("X-Sscard-Signature"), raw)
                    if signature != "valid":
                        status = 401
                client = None
                if args.client_ca:
                    peer = self.connection.getpeercert() or {}
                    for rdn in peer.get("subject", ()):
                        for name, value in rdn:
                            if name == "commonName":
                                client = value
                rec = {
                    "n": n,
                    "key": self.headers.get("Idempotency-Key"),
                    "status": status,
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "body": body,
                    "at": time.time(),
                }
                if signature is not None:
                    rec["signature"] = signature
                if client is not None:
                    rec["client"] = client
                log.write(json.dumps(rec, ensure_ascii=False) + "\n")
                log.flush()
            if args.delay > 0:
                time.sleep(args.delay)
            answer = json.dumps({"ok": 200 <= status < 300, "n": n}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            if status >= 400 and args.retry_after is not None:
                self.send_header("Retry-After", str(args.retry_after))
            self.end_headers()
            self.wfile.write(answer)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server((args.host, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.ready_file)

    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    stop.wait()
    server.shutdown()
    server.server_close()
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
