#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A full store: with an 8 MiB map and a paused destination, notifications
# pile up until heraldd stops intake (one log line, a metric) instead of
# failing; delivery goes on; once the destination resumes and delivery frees
# space, intake resumes and the relay's replay fills in: every notification
# arrives, nothing is lost, and the store opens cleanly afterwards.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cd "$WORK"
N=8000
"$HERALD" keygen demo --dir "$WORK" > demo.line 2>/dev/null
P_PULL=$(free_port); P_PUB=$(free_port); P_REPLAY=$(free_port)
SOCK="$WORK/state/heraldd.sock"
cat > heraldd.conf <<CONF
[daemon]
state_dir = state
rules_dir = $top_srcdir/filters/rules
map_size_mb = 8
[bus]
dedup_window = 200
[endpoint relay]
connect = tcp://127.0.0.1:$P_PUB
replay = tcp://127.0.0.1:$P_REPLAY
[keys]
$(cat demo.line)
[dispatch]
plugin_dir = $top_builddir/sinks
rate = 0
delivery_log = 100
[sink inbox]
plugin = file
path = inbox.jsonl
CONF
"$RELAY_BIN" --pull tcp://127.0.0.1:$P_PULL --pub tcp://127.0.0.1:$P_PUB \
	--replay tcp://127.0.0.1:$P_REPLAY --state "$WORK/relay" 2> relay.err &
PIDS="$PIDS $!"
wait_for 10 grep -q ready relay.err
start_daemon() {
	"$HERALDD" -c heraldd.conf --foreground > "daemon$1.out" 2> "daemon$1.err" &
	DPID=$!
	PIDS="$PIDS $DPID"
	wait_for 10 curl -sf --unix-socket "$SOCK" http://localhost/healthz
}
start_daemon 1
ok $? "heraldd runs with an 8 MiB store"

H() { "$HERALD" "$@" --socket "$SOCK"; }
field() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
H user add alice > /dev/null
D=$(H dest add alice inbox a --json | field "d['id']")
H sub add alice --filter 'topic ~ "org.test.full.*"' --dest "$D" > /dev/null
H dest pause alice "$D" --reason "filling the store" > /dev/null
ok $? "a subscription whose destination is paused"
for _ in $(seq 1 50); do
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic org.test.hello --message hi > /dev/null 2>&1
	sleep 0.2
	[ "$(stat accepted)" -gt 0 ] 2>/dev/null && break
done

"$PYTHON3" -c "
import json
pad = 'x' * 400
with open('lines.jsonl', 'w') as f:
    for i in range($N):
        f.write(json.dumps({'topic': 'org.test.full.m', 'msg': {'n': i, 'pad': pad}}) + '\n')"
"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
	--lines lines.jsonl --timeout 120 > publish.out 2>&1
ok $? "$N messages published"
wait_for 60 stat_is intake_stopped 1
ok $? "intake stops when the store fills"
grep -q "the store is full (map_size_mb = 8); intake stopped until delivery frees space" daemon1.err
ok $? "with one clear log line"
[ "$(stat intake_stops)" -ge 1 ]
ok $? "and a metric (intake_stops $(stat intake_stops); commits refused by a full map: $(stat store_errors), replayed)"
sleep 2
A1=$(stat accepted)
sleep 2
[ "$(stat accepted)" = "$A1" ]
ok $? "nothing more is accepted while it is stopped ($A1 accepted)"

H dest resume alice "$D" > /dev/null
ok $? "the destination resumes"
complete() { [ -f inbox.jsonl ] && [ "$("$PYTHON3" -c "
import json, sys
print(len({json.loads(l)['msg']['n'] for l in open('inbox.jsonl')}))")" -ge $N ]; }
wait_for 120 complete
ok $? "delivery frees space, intake resumes, replay fills in: all $N notifications arrive"
"$PYTHON3" - inbox.jsonl $N > verdict.out 2>&1 <<'PY'
import json, sys
ns = set()
for line in open(sys.argv[1]):
    ns.add(json.loads(line)["msg"]["n"])
missing = set(range(int(sys.argv[2]))) - ns
lines = sum(1 for _ in open(sys.argv[1]))
print("distinct=%d missing=%d lines=%d" % (len(ns), len(missing), lines))
sys.exit(1 if missing else 0)
PY
ok $? "none missing ($(cat verdict.out))"
[ "$(stat intake_stopped)" = 0 ] && grep -q "intake resumed" daemon1.err
ok $? "intake_stopped is back to 0 and the log says so"
[ "$(stat lost)" = 0 ]
ok $? "lost = 0"
kill "$DPID"
wait "$DPID"
ok $? "heraldd exits cleanly"
start_daemon 2
ok $? "the store opens again after being full"
kill "$DPID"
wait "$DPID"
done_testing
