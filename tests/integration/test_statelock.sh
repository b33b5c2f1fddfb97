#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# One process per state: a second heraldd on the same state_dir, and a second
# herald-relay on the same --state, exit 1 naming the pid that holds the state
# lock, and touch nothing: the first keeps its admin socket, answers
# `herald stats`, and still accepts, relays and delivers. The second relay
# gets ports of its own, so the lock is the only thing that can stop it.
. "${top_srcdir:-.}/tests/integration/lib.sh"

delivery_setup
cat > heraldd.conf <<CONF
$(daemon_base_conf)
[dispatch]
plugin_dir = $top_builddir/sinks
[sink inbox]
plugin = file
path = inbox.jsonl
CONF

start_relay
ok $? "relay is ready"
RPID=${PIDS##* }
start_heraldd 1
ok $? "heraldd is ready"
FIRST=$DPID

H() { "$HERALD" "$@" --socket "$SOCK"; }
H user add alice > /dev/null &&
	D=$(H dest add alice inbox inbox --json | jfield "d['id']") &&
	H sub add alice --filter 'topic ~ "org.test.note.*"' --dest "$D" > /dev/null
ok $? "a user, a destination on the file sink, a subscription"
publish() { # publish TOPIC
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic "$1" --message hi > /dev/null 2>&1
}
lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }

# ---- a second heraldd on the same state_dir ----
# Bounded: on a daemon without the lock this would run until killed.
timeout 15 "$HERALDD" -c heraldd.conf --foreground > daemon2.out 2> daemon2.err
rc=$?
[ "$rc" -eq 1 ]
ok $? "a second heraldd on the same state_dir exits 1 (exit $rc)"
grep -q "heraldd.lock is locked by pid $FIRST" daemon2.err
ok $? "its message names the first's pid ($(head -c 300 daemon2.err))"
! grep -q "ready" daemon2.err
ok $? "the second never got ready"
kill -0 "$FIRST"
ok $? "the first heraldd still runs"
[ -S "$SOCK" ]
ok $? "the first's admin socket still exists"
H stats > stats.out 2>&1 && ! grep -q "not running" stats.out
ok $? "the first still answers herald stats"
say_hello
ok $? "the first still accepts a published message"
publish org.test.note.one
wait_for 20 lines inbox.jsonl 1
ok $? "...and delivers one to the file sink"

# ---- a second herald-relay on the same --state ----
relay2() { # the same state, ports of its own
	timeout 15 "$RELAY_BIN" --pull tcp://127.0.0.1:$(free_port) \
		--pub tcp://127.0.0.1:$(free_port) --replay tcp://127.0.0.1:$(free_port) \
		--state "$WORK/relay" 2> relay2.err
}
relay2
rc=$?
[ "$rc" -eq 1 ]
ok $? "a second herald-relay on the same --state exits 1 (exit $rc)"
grep -q "herald-relay.lock is locked by pid $RPID" relay2.err
ok $? "its message names the first relay's pid ($(head -c 300 relay2.err))"
! grep -q "ready" relay2.err
ok $? "the second relay never got ready"
kill -0 "$RPID"
ok $? "the first relay still runs"
publish org.test.note.two
wait_for 20 lines inbox.jsonl 2
ok $? "the first relay still relays: a second notification is delivered"

# ---- the lock goes with its holder ----
kill "$RPID" && wait "$RPID"
ok $? "the first relay stops cleanly"
"$RELAY_BIN" --pull tcp://127.0.0.1:$(free_port) --pub tcp://127.0.0.1:$(free_port) \
	--state "$WORK/relay" 2> relay2.err &
PIDS="$PIDS $!"
wait_for 15 grep -q ready relay2.err
ok $? "once it has gone, a relay starts on that state"

done_testing
