#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A sink plugin that segfaults (issue 13, item 4), end to end: real relay,
# real heraldd, tests/broken-sinks/crashy.so crashing on every notification
# whose title holds "CRASH" while the file crash.flag exists. Each sink
# instance runs in its own herald-sinkhost process: heraldd keeps running
# (the same pid), the healthy file sink delivers everything, the crashes
# are counted in /metrics, the crashing instance is paused with "crashed 5
# times" and its notifications wait in the outbox; once "fixed" (the flag
# removed) and resumed, every one of them is delivered exactly once.
# Then a poison notification pending while heraldd restarts: heraldd runs on
# and the notification ends as a dead letter after max_attempts.
# CRASH_ISOLATION=inline runs the same test with the plugin inside heraldd
# (the code before sink isolation): heraldd dies and the test fails.
. "${top_srcdir:-.}/tests/integration/lib.sh"

delivery_setup
PLUGINS="$top_builddir/tests/broken-sinks/.libs"
touch crash.flag

cat > heraldd.conf <<CONF
$(daemon_base_conf)
$(sink_test_dispatch 20)
[sink inbox]
plugin = file
path = inbox.jsonl
[sink crashy]
plugin = $PLUGINS/crashy.so
path = crashy.out
flag = $WORK/crash.flag
isolation = ${CRASH_ISOLATION:-process}
CONF

start_relay
ok $? "relay is ready"
start_heraldd 1
ok $? "heraldd runs with a sink that will crash"
PID1=$DPID
H() { "$HERALD" "$@" --socket "$SOCK"; }
sinks() { curl -s --unix-socket "$SOCK" http://localhost/v1/sinks; }
crashy() { sinks | jfield "[s for s in d['sinks'] if s['name'] == 'crashy'][0]$1"; }

# ---- the sink process holds nothing of heraldd's: not the store, not the bus ----
CPID=$(crashy "['pid']")
FDS=$(ls /proc/"$CPID"/fd 2>/dev/null | sort -n | tr '\n' ' ')
[ "$CPID" -gt 0 ] && [ "$CPID" != "$PID1" ] && [ "$FDS" = "0 1 2 3 " ]
ok $? "crashy runs in its own process ($CPID) with fds 0-3 only: $FDS"
ls -l /proc/"$PID1"/fd 2> /dev/null | grep -q 'herald\.mdb' &&
	! ls -l /proc/"$CPID"/fd 2> /dev/null | grep -q 'mdb\|state'
ok $? "heraldd holds the LMDB file, the sink process does not"

H user add alice > /dev/null && H user add bob > /dev/null
D_IN=$(H dest add alice inbox inbox --json | jfield "d['id']")
D_BOB=$(H dest add bob crashy bob --json | jfield "d['id']")
H sub add alice --filter 'topic ~ "org.test.n.*"' --dest "$D_IN" > /dev/null &&
	H sub add bob --filter 'topic ~ "org.test.n.*"' --dest "$D_BOB" > /dev/null
ok $? "alice on the file sink and bob on crashy, both subscribed to org.test.n.*"

publish() { # publish TOPIC COUNT
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic "$1" --json '{"text": "x"}' --count "$2" > /dev/null 2>&1
}
lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }
alive() { kill -0 "$PID1" 2>/dev/null && curl -sf --unix-socket "$SOCK" http://localhost/healthz > /dev/null; }
say_hello
publish org.test.n.fine 3
publish org.test.n.CRASH 2

# ---- the crash costs the crashing instance only ----
paused() { [ "$(crashy "['paused']")" = True ]; }
wait_for 60 paused
ok $? "crashy is paused after repeated crashes"
alive
ok $? "heraldd still runs, with the same pid ($PID1)"
REASON=$(crashy "['paused_reason']")
case $REASON in *"crashed 5 times"*) ok 0 "its reason: $REASON" ;; *) ok 1 "its reason: '$REASON'" ;; esac
grep -q "sink 'crashy': sink process crashed (signal [0-9]*)\|sink 'crashy': sink process exited" daemon1.err
ok $? "each crash is logged ($(grep -c "sink 'crashy': sink process" daemon1.err) lines)"
grep -q "sink 'crashy': crashy: delivering" daemon1.err
ok $? "the plugin's own log lines reach heraldd's log with the instance's name"
curl -s --unix-socket "$SOCK" http://localhost/metrics > metrics.txt
grep -q '^herald_sink_crashes_total{sink="crashy"} 5$' metrics.txt &&
	grep -q '^herald_sink_crashes_total{sink="inbox"} 0$' metrics.txt
ok $? "/metrics counts 5 crashes of crashy, none of inbox ($(grep 'sink_crashes_total{' metrics.txt | tr '\n' ' '))"
H sinks > sinks.txt 2>&1
grep -q "^crashy	.*PAUSED: crashed 5 times" sinks.txt
ok $? "herald sinks shows it paused ($(grep crashy sinks.txt))"

# ---- meanwhile everything else is delivered, and bob's wait ----
publish org.test.n.during 2
wait_for 30 lines inbox.jsonl 7
ok $? "the file sink delivered all 7 of alice's notifications, crashes or not"
bob_waiting() { H outbox list --user bob --json | jfield "len(d['notifications'])"; }
bob_waiting_ge() { [ "$(bob_waiting)" -ge "$1" ] 2>/dev/null; }
wait_for 10 bob_waiting_ge 2
BOB_WAITING=$(bob_waiting)
DELIVERED_BOB=$(wc -l < crashy.out 2>/dev/null || echo 0)
[ $((BOB_WAITING + DELIVERED_BOB)) -ge 5 ] && [ "$BOB_WAITING" -ge 2 ]
ok $? "bob's notifications wait in the outbox ($BOB_WAITING waiting, $DELIVERED_BOB delivered before the pause)"
[ "$(H deadletter list --user bob --json | jfield "len(d['notifications'])")" = 0 ]
ok $? "none of them became a dead letter"
sleep 2
[ "$(crashy "['crashes']")" = 5 ] && alive
ok $? "while paused it is given nothing: still 5 crashes"

# ---- fixed and resumed: every one delivered, exactly once ----
rm -f crash.flag
H sinks resume crashy > resume.out 2>&1
ok $? "herald sinks resume crashy ($(cat resume.out))"
wait_for 30 lines crashy.out 7
ok $? "crashy delivers all 7 of bob's notifications"
bob_waiting_is() { [ "$(bob_waiting)" = "$1" ]; }
wait_for 10 bob_waiting_is 0
ok $? "bob's outbox is empty"
sleep 1
"$PYTHON3" - crashy.out inbox.jsonl > once.out 2>&1 <<'PY'
import json, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
ids = [r[0] for r in rows]
assert len(ids) == 7 and len(set(ids)) == 7, ids
assert sum("CRASH" in r[1] for r in rows) == 2, rows
alice = [json.loads(l)["id"] for l in open(sys.argv[2])]
assert len(alice) == 7 and len(set(alice)) == 7, alice
print("ok")
PY
ok $? "exactly once: 7 distinct ids, both poison notifications among them ($(tail -1 once.out))"
[ "$(crashy "['paused']")" = False ] && [ "$(crashy "['crashes']")" = 0 ] && alive
ok $? "crashy runs again, its crash count reset; heraldd never stopped"

# ---- a poison item pending at start no longer kills heraldd on every restart ----
# (before isolation: heraldd died, restarted, delivered it again during start-up,
# died again.) It is charged an attempt per crash and ends as a dead letter.
touch crash.flag
publish org.test.n.CRASH 1
bob_dead() { H deadletter list --user bob --json | jfield "len(d['notifications'])"; }
crashes_ge() { [ "$(crashy "['crashes']")" -ge "$1" ] 2>/dev/null; }
wait_for 30 crashes_ge 1
ok $? "a new poison notification crashes crashy again"
kill "$PID1" && wait_for 20 sh -c "! kill -0 $PID1 2>/dev/null"
ok $? "heraldd stopped with the poison notification pending"
sed -i 's/^max_attempts = .*/max_attempts = 3/' heraldd.conf
start_heraldd 2
ok $? "heraldd starts again with it pending (max_attempts now 3)"
PID2=$DPID
bob_dead_is() { [ "$(bob_dead)" = "$1" ]; }
wait_for 60 bob_dead_is 1
ok $? "after its third attempt it is a dead letter"
REASON=$(H deadletter list --user bob --json | jfield "d['notifications'][0]['reason']")
case $REASON in
*"gave up after 3 attempts: sink process "*) ok 0 "with the reason: $REASON" ;;
*) ok 1 "with the reason: '$REASON'" ;;
esac
kill -0 "$PID2" && curl -sf --unix-socket "$SOCK" http://localhost/healthz > /dev/null &&
	[ "$(crashy "['paused']")" = False ]
ok $? "heraldd runs on (pid $PID2), crashy is not paused"
[ "$(wc -l < inbox.jsonl)" -ge 8 ]
ok $? "alice got that notification too"

done_testing
