#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test_api_limits: heraldd's TCP API stays available under slowloris. 200
# connections from one address trickle partial headers (8 bytes every 2 s)
# while a legitimate client from another address keeps asking for /healthz:
# the per-address limit refuses all but 32 of them, and the header deadline
# (10 s from the connection, which trickling does not extend) closes those;
# every legitimate request is answered. Only loopback (127.0.0.1, 127.0.0.2).
. "${top_srcdir:-.}/tests/integration/lib.sh"

delivery_setup
PORT=$(free_port)
{ daemon_base_conf; echo "api_listen = 127.0.0.1:$PORT"; } > heraldd.conf
# api_listen belongs to [daemon]; daemon_base_conf ends in [keys]: move it.
"$PYTHON3" - heraldd.conf <<'PY'
import sys
p = sys.argv[1]
lines = open(p).read().splitlines()
listen = [l for l in lines if l.startswith("api_listen")]
rest = [l for l in lines if not l.startswith("api_listen")]
i = rest.index("[daemon]") + 1
open(p, "w").write("\n".join(rest[:i] + listen + rest[i:]) + "\n")
PY
start_relay
ok $? "relay started"
start_heraldd 1
ok $? "heraldd started with a TCP API on 127.0.0.1:$PORT"
curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null
ok $? "GET /healthz over TCP"

# A slow but honest client: its header in three parts over 3 s, well inside
# the deadline, is served.
"$PYTHON3" - "$PORT" > slow.out <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: herald\r\n", b"\r\n"):
    s.sendall(part)
    time.sleep(1.5)
print(s.recv(200).split(b"\r\n")[0].decode())
PY
grep -q '^HTTP/1.1 200' slow.out
ok $? "a header sent in three parts over 3 s is served ($(cat slow.out))"

"$PYTHON3" "$top_srcdir/tests/integration/slowloris.py" 127.0.0.1 "$PORT" 200 16 > attack.json
ok $? "200 trickling connections for 16 s ($(cat attack.json))"
field() { jfield "d['$1']" < attack.json; }
[ "$(field legit_failed)" = 0 ] && [ "$(field legit_ok)" -gt 10 ]
ok $? "every legitimate request was answered meanwhile ($(field legit_ok) of $(($(field legit_ok) + $(field legit_failed))))"
[ "$(field attack_connected)" -le 32 ] || [ "$(field attack_closed_by_server)" -ge 168 ]
ok $? "one address holds at most 32 connections (the rest refused at once)"
[ "$(field attack_open_at_end)" = 0 ]
ok $? "trickling never kept a connection past the header deadline (closed: $(field attack_closed_by_server))"
grep -q "closed .* connections that sent no complete request within 10 s" daemon1.err
ok $? "heraldd logged the closed connections"
kill -0 "$DPID"
ok $? "heraldd still running"
done_testing
