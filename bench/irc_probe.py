#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/irc's client side (bench/irc starts ngircd, the relay and heraldd).

  irc_probe.py IRCPORT PULL ENVELOPES LAT_N LAT_GAP_S FLOOD_N FLOOD_PER_S LIMIT BURST

ENVELOPES are pre-signed JSON lines (herald publish --stdout): one warm-up
message ("w0"), LAT_N latency messages ("l1".."lN"), FLOOD_N flood messages
("f1".."fN"); each becomes one notification to #bench whose one line is
'A new project, NAME, was added to release-monitoring.'.

An IRC client on a raw socket sits in #bench and stamps every PRIVMSG from
herald with time.time_ns() as it reads it; the messages are pushed to the
relay's PULL socket from this process, each stamped right before the send.

1. Warm-up: w0, until its line arrives (herald joins #bench on demand).
2. Latency at low load: LAT_N messages, one every LAT_GAP_S (well under the
   flood limit): bus -> channel latency per message, p50/p99.
3. Flood control: FLOOD_N messages at FLOOD_PER_S (above LIMIT lines/s).
   herald may send BURST lines at once, then LIMIT per second; what it cannot
   send in time it summarises ("... and N more"). The steady rate is the
   number of lines that arrived after the burst allowance, divided by the
   time they took. Every flood notification must be accounted for, once.

Output: JSON lines; the last compares the steady line rate with LIMIT.
"""
import json
import re
import socket
import sys
import threading
import time

import zmq

TITLE = re.compile(r'A new project, ([a-z]\d+), was added to release-monitoring\.')
MORE = re.compile(r"\.\.\. and (\d+) more")


class Peer(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.lock = threading.Lock()
        self.lines = []  # (t_ns, text) of PRIVMSG #bench from herald
        self.joined = threading.Event()
        self.quit = None
        self.send(b"NICK benchpeer")
        self.send(b"USER bench 0 * :bench peer")

    def send(self, b):
        self.sock.sendall(b + b"\r\n")

    def run(self):
        buf = b""
        self.sock.settimeout(None)
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            t = time.time_ns()
            buf += data
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.rstrip(b"\r").decode("utf-8", "replace")
                prefix = ""
                if line.startswith(":"):
                    prefix, _, line = line[1:].partition(" ")
                cmd, _, rest = line.partition(" ")
                if cmd == "PING":
                    self.send(b"PONG " + rest.encode())
                elif cmd == "001":
                    self.send(b"JOIN #bench")
                elif cmd == "JOIN" and prefix.startswith("benchpeer!"):
                    self.joined.set()
                elif cmd == "PRIVMSG" and prefix.startswith("herald!") and \
                        rest.lower().startswith("#bench :"):
                    with self.lock:
                        self.lines.append((t, rest.split(" :", 1)[1]))
                elif cmd in ("QUIT", "KILL") and prefix.startswith("herald!"):
                    self.quit = rest

    def snapshot(self):
        with self.lock:
            return list(self.lines)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def main(argv):
    port, pull, env_path = int(argv[1]), argv[2], argv[3]
    lat_n, lat_gap = int(argv[4]), float(argv[5])
    flood_n, flood_rate = int(argv[6]), float(argv[7])
    limit, burst = float(argv[8]), int(argv[9])

    frames = {}
    for line in open(env_path, "rb"):
        e = json.loads(line)
        frames[e["msg"]["project"]["name"]] = (e["topic"].encode(), line.rstrip(b"\n"))

    peer = Peer(port)
    peer.start()
    if not peer.joined.wait(20):
        raise SystemExit("bench/irc: the test client could not join #bench")
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.connect(pull)
    sent = {}

    def send(name):
        sent[name] = time.time_ns()
        push.send_multipart(list(frames[name]))

    def wait_for(pred, limit_s):
        end = time.time() + limit_s
        while time.time() < end:
            if pred(peer.snapshot()):
                return True
            time.sleep(0.01)
        return False

    def arrived(lines):
        got = {}
        for t, text in lines:
            m = TITLE.fullmatch(text)
            if m and m.group(1) not in got:
                got[m.group(1)] = t
        return got

    # 1. warm-up: the relay, herald's join
    for _ in range(10):
        send("w0")
        if wait_for(lambda ls: "w0" in arrived(ls), 3):
            break
    else:
        raise SystemExit("bench/irc: the warm-up notification never arrived")

    # 2. latency, one message at a time
    for i in range(1, lat_n + 1):
        send("l%d" % i)
        time.sleep(lat_gap)
    names = ["l%d" % i for i in range(1, lat_n + 1)]
    if not wait_for(lambda ls: all(n in arrived(ls) for n in names), 30):
        raise SystemExit("bench/irc: not every latency notification arrived")
    got = arrived(peer.snapshot())
    lat = [(got[n] - sent[n]) / 1e6 for n in names]
    print(json.dumps({"bench": "irc", "phase": "latency", "notifications": lat_n,
                      "gap_s": lat_gap, "p50_ms": round(pct(lat, 0.5), 2),
                      "p99_ms": round(pct(lat, 0.99), 2), "max_ms": round(max(lat), 2)}))

    # 3. flood: above the limit for FLOOD_N / FLOOD_PER_S seconds
    before = len(peer.snapshot())
    t0 = time.time_ns()
    for i in range(1, flood_n + 1):
        due = t0 + int((i - 1) * 1e9 / flood_rate)
        while time.time_ns() < due:
            time.sleep(0.001)
        send("f%d" % i)
    t_end_send = time.time_ns()

    def accounted(ls):
        n = 0
        for t, text in ls[before:]:
            m = MORE.fullmatch(text)
            n += int(m.group(1)) if m else bool(TITLE.fullmatch(text))
        return n

    if not wait_for(lambda ls: accounted(ls) >= flood_n, 120):
        raise SystemExit("bench/irc: the flood's lines account for %d of %d notifications" %
                         (accounted(peer.snapshot()), flood_n))
    time.sleep(1)  # anything more (a duplicate) would show now
    lines = peer.snapshot()[before:]
    titles = [TITLE.fullmatch(x).group(1) for _, x in lines if TITLE.fullmatch(x)]
    more = sum(int(MORE.fullmatch(x).group(1)) for _, x in lines if MORE.fullmatch(x))
    if len(titles) != len(set(titles)) or len(titles) + more != flood_n:
        raise SystemExit("bench/irc: %d titles (%d distinct) + %d summarised != %d" %
                         (len(titles), len(set(titles)), more, flood_n))
    if peer.quit is not None:
        raise SystemExit("bench/irc: herald quit IRC during the flood: %s" % peer.quit)
    # the steady rate: lines after the burst allowance, over the time they took
    times = [t for t, _ in lines]
    steady = times[burst:]
    secs = (steady[-1] - times[0]) / 1e9 if len(steady) > 1 else 0
    rate = (len(steady)) / secs if secs > 0 else 0.0
    print(json.dumps({"bench": "irc", "phase": "flood", "notifications": flood_n,
                      "offered_per_s": flood_rate, "send_s": round((t_end_send - t0) / 1e9, 2),
                      "lines": len(lines), "titles": len(titles), "summaries": sum(
                          1 for _, x in lines if MORE.fullmatch(x)), "summarised": more,
                      "steady_lines": len(steady), "steady_s": round(secs, 2),
                      "lines_per_s": round(rate, 3), "limit": limit, "burst": burst}))
    print(json.dumps({"bench": "irc", "metric": "lines_per_s", "value": round(rate, 3),
                      "baseline": limit, "ratio": round(rate / limit, 3), "goal": 1}))
    push.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
