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
relay_ports
SOCK="$WORK/state/heraldd.sock"
cat > heraldd.conf <<CONF
$(daemon_base_conf)
[daemon]
map_size_mb = 8
[bus]
dedup_window = 200
[dispatch]
plugin_dir = $top_builddir/sinks
rate = 0
delivery_log = 100
[sink inbox]
plugin = file
path = inbox.jsonl
CONF
start_relay
start_heraldd 1
ok $? "heraldd runs with an 8 MiB store"

H() { "$HERALD" "$@" --socket "$SOCK"; }
H user add alice > /dev/null
D=$(H dest add alice inbox a --json | jfield "d['id']")
H sub add alice --filter 'topic ~ "org.test.full.*"' --dest "$D" > /dev/null
H dest pause alice "$D" --reason "filling the store" > /dev/null
ok $? "a subscription whose destination is paused"
say_hello

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
start_heraldd 2
ok $? "the store opens again after being full"
kill "$DPID"
wait "$DPID"
done_testing
