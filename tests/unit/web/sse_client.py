#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# An EventSource client for test_dashboard, as a browser would be one.
#   read PORT [--count N] [--last-id ID] [--need-rate] [--need-keepalive]
#       reads /events until it has N message events (and a rate event and a
#       keepalive comment if asked), printing one JSON line per event:
#       {"event", "id", "data"} or {"comment"}; the first line is the
#       response's status and headers.
#   slow PORT
#       connects with a tiny receive buffer, sends the request, prints
#       "connected" and reads nothing until its stdin closes; then it reads
#       to the end and prints "eof N" (N message events got) or "open N".
import json
import socket
import sys


def request(port, last_id=None, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    extra = "Last-Event-ID: %s\r\n" % last_id if last_id else ""
    s.sendall(("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
               "%s\r\n" % extra).encode())
    return s


class Stream:
    """HTTP/1.1 chunked body -> lines."""

    def __init__(self, sock):
        self.f = sock.makefile("rb")
        self.head = []
        while True:
            line = self.f.readline().decode().rstrip("\r\n")
            if not line:
                break
            self.head.append(line)
        self.chunked = any(h.lower() == "transfer-encoding: chunked" for h in self.head)
        self.buf = b""

    def _more(self):
        if not self.chunked:
            return self.f.read1(65536)
        size = self.f.readline()
        if not size:
            return b""
        n = int(size.strip() or b"0", 16)
        if n == 0:
            return b""
        data = self.f.read(n)
        self.f.readline()
        return data

    def lines(self):
        while True:
            while b"\n" not in self.buf:
                more = self._more()
                if not more:
                    return
                self.buf += more
            line, self.buf = self.buf.split(b"\n", 1)
            yield line.decode()


def events(stream):
    ev = {}
    for line in stream.lines():
        if line == "":
            if "data" in ev:  # no "event:" field: a browser's "message"
                ev.setdefault("event", "message")
            if ev:
                yield ev
            ev = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            k, _, v = line.partition(": ")
            ev[k] = v


def read(port, args):
    count, last_id, need_rate, need_ka = 0, None, False, False
    i = 0
    while i < len(args):
        if args[i] == "--count":
            count = int(args[i + 1]); i += 1
        elif args[i] == "--last-id":
            last_id = args[i + 1]; i += 1
        elif args[i] == "--need-rate":
            need_rate = True
        elif args[i] == "--need-keepalive":
            need_ka = True
        i += 1
    s = request(port, last_id)
    s.settimeout(60)
    st = Stream(s)
    print(json.dumps({"head": st.head}), flush=True)
    got = 0
    for ev in events(st):
        print(json.dumps(ev), flush=True)
        if ev.get("event") == "message":
            got += 1
        elif ev.get("event") == "rate":
            need_rate = False
        elif ev.get("comment") == "keepalive":
            need_ka = False
        if got >= count and not need_rate and not need_ka:
            break
    s.close()


def slow(port):
    s = request(port, rcvbuf=1024)
    print("connected", flush=True)
    sys.stdin.read()
    s.settimeout(30)
    got, closed = 0, False
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            data += d
    except (ConnectionResetError, socket.timeout):
        closed = True
    got = data.count(b"\nid: ") + data.startswith(b"id: ")  # one per message event
    print("%s %d" % ("eof" if closed else "open", got), flush=True)


if __name__ == "__main__":
    port = int(sys.argv[2])
    if sys.argv[1] == "read":
        read(port, sys.argv[3:])
    else:
        slow(port)
