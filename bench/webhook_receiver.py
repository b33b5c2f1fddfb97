#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/webhook's stamping HTTP server (bench/webhook starts and stops it).

  webhook_receiver.py DIR

Listens on 127.0.0.1 (a free port, written to DIR/port once listening) and
answers every request with 204, keeping the connection alive, as the nginx
of the throughput run does. For each request, when its last byte has been
read, it takes time.time_ns() and appends one line per note of the webhook
sink's generic payload to DIR/arrivals.jsonl:

    {"arrived_ns":T,"created":C,"msg_id":"M","webhook_id":"I"}

which bench/e2e_probe.py's run (E2E_PROBE_NAME=webhook) reads like the file
sink's output, taking T as the arrival time instead of the moment it saw the
line. One stamp per request, at the end of the read that completed it:
asyncio hands over what one recv() got, so several requests read together
share a stamp (the later ones are late by the time it takes to parse the
earlier ones, microseconds).

On SIGTERM it writes DIR/sample.http (one request as received: the request
line and headers, a blank line, the body; the one whose body size is the
median of the first 2,000) and DIR/receiver.json (requests, notes, body
sizes, headers seen), for wrk's script, and exits.
"""
import asyncio
import json
import os
import resource
import signal
import sys
import time

SAMPLES = 2000


class State:
    def __init__(self, d):
        self.dir = d
        self.fd = os.open(os.path.join(d, "arrivals.jsonl"),
                          os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.requests = 0
        self.notes = 0
        self.bad = 0
        self.sizes = []
        self.samples = []  # (body size, head, body)
        self.expect = 0
        self.chunked = 0
        self.connections = 0
        self.methods = {}
        self.first = self.last = 0  # time.time_ns() of the first and last request

    def request(self, t, head, body):
        self.requests += 1
        self.first = self.first or t
        self.last = t
        if len(self.samples) < SAMPLES:
            self.samples.append((len(body), head, body))
        self.sizes.append(len(body))
        out = []
        try:
            doc = json.loads(body)
            notes = doc.get("notifications") or []
        except ValueError:
            self.bad += 1
            notes = []
        for n in notes:
            out.append('{"arrived_ns":%d,"created":%d,"msg_id":%s,"webhook_id":%s}\n' % (
                t, int(n.get("created") or 0), json.dumps(n.get("msg_id") or ""),
                json.dumps(n.get("id") or "")))
        self.notes += len(out)
        if out:
            os.write(self.fd, "".join(out).encode())

    def finish(self):
        if self.samples:
            by_size = sorted(self.samples, key=lambda s: s[0])
            _, head, body = by_size[len(by_size) // 2]
            with open(os.path.join(self.dir, "sample.http"), "wb") as f:
                f.write(head + b"\r\n\r\n" + body)
        s = sorted(self.sizes)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        active = (self.last - self.first) / 1e9
        with open(os.path.join(self.dir, "receiver.json"), "w") as f:
            json.dump({"requests": self.requests, "notes": self.notes, "unparsed": self.bad,
                       "connections": self.connections, "expect_100": self.expect,
                       "chunked": self.chunked, "methods": self.methods,
                       "body_bytes_p50": s[len(s) // 2] if s else None,
                       "body_bytes_min": s[0] if s else None,
                       "body_bytes_max": s[-1] if s else None,
                       # its CPU over its whole life, in % of one core over
                       # the time between its first and last request
                       "cpu_pct": round(100 * (ru.ru_utime + ru.ru_stime) / active, 1)
                       if active > 0 else None}, f)


class Conn(asyncio.Protocol):
    def __init__(self, st):
        self.st = st
        self.buf = b""
        self.tr = None
        self.continued = False

    def connection_made(self, tr):
        self.tr = tr
        self.st.connections += 1

    def data_received(self, data):
        t = time.time_ns()
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            lines = head.split(b"\r\n")
            h = {}
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                h[k.strip().lower()] = v.strip()
            start = end + 4
            if h.get(b"transfer-encoding", b"").lower() == b"chunked":
                body, used = self.dechunk(start)
                if body is None:
                    return self.maybe_continue(h)
                nxt = used
            else:
                n = int(h.get(b"content-length", b"0") or 0)
                if len(self.buf) - start < n:
                    return self.maybe_continue(h)
                body = self.buf[start:start + n]
                nxt = start + n
            if h.get(b"expect", b"").lower() == b"100-continue":
                self.st.expect += 1
            if b"transfer-encoding" in h:
                self.st.chunked += 1
            m = lines[0].split(b" ", 1)[0].decode("latin-1")
            self.st.methods[m] = self.st.methods.get(m, 0) + 1
            self.buf = self.buf[nxt:]
            self.continued = False
            self.st.request(t, head, body)
            close = h.get(b"connection", b"").lower() == b"close"
            self.tr.write(b"HTTP/1.1 204 No Content\r\nServer: bench\r\n" +
                          (b"Connection: close\r\n\r\n" if close else b"\r\n"))
            if close:
                self.tr.close()
                return

    def maybe_continue(self, h):
        if not self.continued and h.get(b"expect", b"").lower() == b"100-continue":
            self.continued = True
            self.tr.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def dechunk(self, i):
        """(body, end) of a complete chunked body at self.buf[i:], or (None, 0)."""
        out = []
        b = self.buf
        while True:
            e = b.find(b"\r\n", i)
            if e < 0:
                return None, 0
            size = int(b[i:e].split(b";")[0], 16)
            i = e + 2
            if size == 0:
                t = b.find(b"\r\n\r\n", i - 2)  # no trailers: "0\r\n\r\n"
                return (b"".join(out), t + 4) if t >= 0 else (None, 0)
            if len(b) < i + size + 2:
                return None, 0
            out.append(b[i:i + size])
            i += size + 2


async def main(d):
    st = State(d)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Conn(st), "127.0.0.1", 0, backlog=512)
    port = server.sockets[0].getsockname()[1]
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
    stop = loop.create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set_result, None)
    await stop
    server.close()
    st.finish()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    asyncio.run(main(sys.argv[1]))
