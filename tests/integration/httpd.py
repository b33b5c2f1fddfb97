#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scriptable HTTP server for the webhook sink's tests.

    httpd.py DIR [--bind 127.0.0.1|::1]

http.server's ThreadingHTTPServer speaking HTTP/1.1 with keep-alive, on a
free loopback port written to DIR/port once it listens. Every request is
one line in DIR/log.jsonl, written before the answer goes out:
    {"n", "t" (time.time() on arrival), "method", "path", "headers" (names
    lowercased), "body" (text), "peer" (the client's port: one per
    connection), "conn_req" (the request's number on its connection),
    "action", "status" (0: no answer)}

What it answers, for the first path segment SEG (/SEG/...):
  - /s/CODE/...: always CODE (e.g. /s/410/x answers 410).
  - otherwise the file DIR/ctl/SEG holds actions, one per line, each used by
    one request to that segment, then removed from the file; an empty or
    missing file means 204. Actions:
        CODE [RETRY-AFTER]  answer CODE, with that Retry-After if given
        hang SECONDS        wait that long before answering 204 (the client
                            has given up by then)
        drop                close the connection without an answer
        echo                answer 403 with a text/plain body repeating the
                            request's path and query (as careless servers do)
A 3xx carries Location: http://127.0.0.1:1/elsewhere?token=LOCATIONSECRET
(the sink must neither follow it nor repeat it). A 4xx carries a short
text/plain body "refused by httpd.py". SIGTERM or SIGINT stops it.
"""
import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, top):
        self.top = top
        self.lock = threading.Lock()
        self.n = 0
        os.makedirs(os.path.join(top, "ctl"), exist_ok=True)

    def next_action(self, seg):
        """The next scripted action for a path segment (consumed)."""
        if not seg or "/" in seg or seg.startswith("."):
            return "204"
        path = os.path.join(self.top, "ctl", seg)
        with self.lock:
            try:
                with open(path) as f:
                    lines = [l.strip() for l in f if l.strip()]
            except FileNotFoundError:
                return "204"
            if not lines:
                return "204"
            with open(path, "w") as f:
                f.write("".join(l + "\n" for l in lines[1:]))
            return lines[0]

    def record(self, entry):
        with self.lock:
            self.n += 1
            entry["n"] = self.n
            with open(os.path.join(self.top, "log.jsonl"), "a") as f:
                f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server_version = "httpd.py"

    def setup(self):
        super().setup()
        self.conn_req = 0

    def log_message(self, fmt, *args):
        pass  # the log is log.jsonl

    def do_POST(self):
        self.handle_any()

    def do_GET(self):
        self.handle_any()

    def handle_any(self):
        t = time.time()
        self.conn_req += 1
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = self.path.split("?", 1)[0].split("/")
        seg = parts[1] if len(parts) > 1 else ""
        if seg == "s" and len(parts) > 2 and parts[2].isdigit():
            action = parts[2]
        else:
            action = self.server.state.next_action(seg)
        words = action.split()
        status = {"hang": 0, "drop": 0, "echo": 403}.get(words[0]) if not words[0].isdigit() else int(words[0])
        self.server.state.record({
            "t": t, "method": self.command, "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"), "peer": self.client_address[1],
            "conn_req": self.conn_req, "action": action, "status": status})
        if words[0] == "drop":
            self.close_connection = True
            return
        if words[0] == "hang":
            time.sleep(float(words[1]))
            status = 204
        echo = ("no such hook: %s\n" % self.path).encode() if words[0] == "echo" else None
        self.answer(status, words[1] if len(words) > 1 and words[0] != "hang" else None, echo)

    def answer(self, status, retry_after, out=None):
        if out is None:
            out = b"refused by httpd.py\n" if 400 <= status < 500 else b""
        try:
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:1/elsewhere?token=LOCATIONSECRET")
            self.send_header("Content-Length", str(len(out)))
            if out:
                self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(out)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--bind", default="127.0.0.1", choices=["127.0.0.1", "::1"])
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
        daemon_threads = True
        allow_reuse_address = True

    srv = Server((a.bind, 0), Handler)
    srv.state = State(a.dir)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, os.path.join(a.dir, "port"))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
