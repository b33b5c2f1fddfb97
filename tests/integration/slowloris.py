# SPDX-License-Identifier: LGPL-2.1-or-later
"""slowloris: trickle partial request headers at an HTTP server while a
legitimate client keeps asking it for /healthz; report what happened.

slowloris.py HOST PORT N SECONDS: N attacker connections from 127.0.0.2
(another loopback address, so a per-address limit can tell them apart),
each sending a request line and then 8 header bytes every 2 s, never the
blank line that ends the header; meanwhile GET /healthz from 127.0.0.1
every 0.25 s. After SECONDS prints one JSON line:
  legit_ok, legit_failed        the legitimate client's requests
  attack_connected              attacker connections the server accepted
  attack_closed_by_server       of those, closed by the server while trickling
  attack_open_at_end            still open after SECONDS
Only loopback; every loop is bounded by SECONDS.
"""
import http.client, json, socket, sys, time

host, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
conns = []
for _ in range(n):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect((host, port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n")
        s.setblocking(False)
        conns.append(s)
    except OSError:
        s.close()
connected, closed = len(conns), 0
alive = list(conns)
ok = failed = 0
end = time.time() + seconds
next_trickle = time.time() + 2
while time.time() < end:
    try:
        c = http.client.HTTPConnection(host, port, timeout=3, source_address=("127.0.0.1", 0))
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        ok += r.status == 200
        failed += r.status != 200
        c.close()
    except OSError:
        failed += 1
    if time.time() >= next_trickle:
        next_trickle += 2
        still = []
        for s in alive:
            try:
                if s.recv(1) == b"":
                    raise ConnectionResetError  # the server closed it
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
                s.close()
                continue
            try:
                s.send(b"X-a: bb\r"[:8])
                still.append(s)
            except OSError:
                closed += 1
                s.close()
        alive = still
    time.sleep(0.25)
print(json.dumps({"legit_ok": ok, "legit_failed": failed, "attack_connected": connected,
                  "attack_closed_by_server": closed, "attack_open_at_end": len(alive)}))
