#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 14, the live dashboard on a running heraldd fed by the relay: GET
# /events on the web listener ([web] dashboard = public) streams every
# accepted message in order as JSON (a title with <script> is a string),
# Last-Event-ID resumes, and with dashboard = off /events is a 404. The
# stream's own behaviour (slow clients, rates, keepalives) is
# tests/unit/web/test_dashboard's.
. "${top_srcdir:-.}/tests/integration/lib.sh"

delivery_setup
P_WEB=$(free_port)
mkdir www
conf() { # conf DASHBOARD
	cat <<CONF
$(daemon_base_conf)
[web]
listen = 127.0.0.1:$P_WEB
base_url = http://127.0.0.1:$P_WEB
assets = www
dashboard = $1
CONF
}
conf public > heraldd.conf
CLIENT="$top_srcdir/tests/unit/web/sse_client.py"

start_relay
ok $? "relay is up"
start_heraldd 1
ok $? "heraldd is up with the web app and a public dashboard"
say_hello
ok $? "heraldd hears the bus"

# a new client first gets the last 20 messages (at most): the hellos so far
BACK=$(stat accepted)
[ "$BACK" -gt 20 ] && BACK=20
"$PYTHON3" "$CLIENT" read "$P_WEB" --count $((BACK + 30)) > sse1.out 2> sse1.err &
C1=$!
PIDS="$PIDS $C1"
wait_for 20 grep -q head sse1.out
ok $? "a client is connected to /events"
"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
	--topic org.test.dash --json '{"n": 1}' --count 20 > /dev/null 2>&1
"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
	--topic 'org.test.<script>alert(1)</script>' --json '{"n": 2}' --count 10 > /dev/null 2>&1
wait_for 30 sh -c "! kill -0 $C1 2>/dev/null"
ok $? "the client got the $BACK it started with and the 30 new ones, and left"
"$PYTHON3" - sse1.out "$BACK" > check1.out 2>&1 <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
head = lines[0]["head"]
msgs = [l for l in lines[1:] if l.get("event") == "message"]
ids = [int(m["id"]) for m in msgs]
data = [json.loads(m["data"]) for m in msgs]
assert head[0].startswith("HTTP/1.1 200"), head
assert any(h.lower() == "content-type: text/event-stream; charset=utf-8" for h in head), head
# the backfill (hellos) first, then the 30 in acceptance order
assert len(data) == int(sys.argv[2]) + 30, len(data)
assert all(d["topic"] == "org.test.hello" for d in data[:-30]), data[:-30]
tail = data[-30:]
assert [d["topic"] for d in tail] == ["org.test.dash"] * 20 + ["org.test.<script>alert(1)</script>"] * 10, [d["topic"] for d in tail]
assert ids == list(range(ids[0], ids[0] + len(ids))), ids
assert all(set(d) == {"id", "topic", "app", "title", "link", "time"} for d in data), data[0]
print("ok", ids[0], ids[-1])
PY
ok $? "in order, consecutive ids, JSON data with id/topic/app/title/link/time ($(cat check1.out | tail -1))"
LAST=$(tail -1 sse1.out | jfield "d['id']")
N=$(stat accepted)
"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
	--topic org.test.after --json '{"n": 3}' --count 5 > /dev/null 2>&1
stat_ge() { [ "$(stat "$1")" -ge "$2" ] 2>/dev/null; }
wait_for 20 stat_ge accepted $((N + 5))
"$PYTHON3" "$CLIENT" read "$P_WEB" --count 5 --last-id "$LAST" > sse2.out 2> sse2.err
[ "$(grep -c '"event": "message"' sse2.out)" = 5 ] &&
	[ "$(sed -n 2p sse2.out | jfield "d['id']")" = "$((LAST + 1))" ]
ok $? "Last-Event-ID $LAST resumes at $((LAST + 1)) with what came since"

kill "$DPID"
wait "$DPID" 2>/dev/null
ok $? "heraldd stops cleanly with the dashboard on"
conf off > heraldd.conf
start_heraldd 2
ok $? "heraldd restarted with dashboard = off"
code=$(curl -s -o off.out -w '%{http_code}' "http://127.0.0.1:$P_WEB/events")
[ "$code" = 404 ]
ok $? "/events is a 404 when the dashboard is off ($code)"

done_testing
