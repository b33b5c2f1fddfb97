#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# heraldd end to end on loopback with real ZeroMQ sockets, a real relay and
# a real LMDB store: config checking, acceptance, every kind of bad input
# counted by reason, gap detection with a fedmsg-style replay, restart
# catch-up of 1,000 messages exactly once, SIGHUP reload, clean SIGTERM.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cd "$WORK"
"$HERALD" keygen demo --dir "$WORK" > demo.line 2>/dev/null
"$HERALD" keygen other --dir "$WORK" > other.line 2>/dev/null
P_PULL=$(free_port); P_PUB=$(free_port); P_REPLAY=$(free_port)
Z_PUB=$(free_port); Z_REPLAY=$(free_port)
SOCK="$WORK/state/heraldd.sock"

write_conf() { # write_conf ROUTING-LINE
	cat > heraldd.conf <<CONF
[daemon]
state_dir = state
rules_dir = $top_srcdir/src/schema/rules
workers = 2
print_accepted = yes
log_level = info
[bus]
max_message_size = 4096
replay_timeout_ms = 2000
[endpoint relay]
connect = tcp://127.0.0.1:$P_PUB
replay = tcp://127.0.0.1:$P_REPLAY
[endpoint direct]
connect = tcp://127.0.0.1:$Z_PUB
replay = tcp://127.0.0.1:$Z_REPLAY
[routing]
org.test.forbidden.* = nobody
$1
[keys]
$(cat demo.line)
CONF
}
write_conf ""

# ---- config checking ----
"$HERALDD" -c heraldd.conf --check-config > check.out 2>&1
ok $? "--check-config accepts a good config"
printf '[daemon]\nstate_dir = s\nworkerz = 3\n' > bad.conf
"$HERALDD" -c bad.conf --check-config > bad.out 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "bad.conf:3: unknown key 'workerz'" bad.out
ok $? "a bad config exits 2 naming file and line ($(cat bad.out))"
"$HERALDD" --bogus > /dev/null 2>&1
[ $? -eq 2 ]
ok $? "an unknown option exits 2"

# ---- start relay and daemon ----
"$RELAY_BIN" --pull tcp://127.0.0.1:$P_PULL --pub tcp://127.0.0.1:$P_PUB \
	--replay tcp://127.0.0.1:$P_REPLAY --state "$WORK/relay" 2> relay.err &
PIDS="$PIDS $!"
wait_for 30 grep -q ready relay.err
ok $? "relay is ready"

start_daemon() {
	"$HERALDD" -c heraldd.conf --foreground > "daemon$1.out" 2> "daemon$1.err" &
	DPID=$!
	PIDS="$PIDS $DPID"
	wait_for 30 curl -sf --unix-socket "$SOCK" http://localhost/healthz
}
start_daemon 1
ok $? "heraldd answers /healthz"

publish() { # publish COUNT [extra args]: signed messages through the relay
	n=$1
	shift
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic org.test.demo.ping --json '{"n": 1, "text": "h\u00e9llo \ud83d\ude00"}' \
		--count "$n" "$@" > /dev/null 2>&1
}
# The first message may be lost before the SUB connection is up (slow
# joiner); keep sending one until the daemon has seen one.
stat_positive() { [ "$(stat accepted)" -gt 0 ] 2>/dev/null; }
for _ in 1 2 3 4 5 6 7 8 9 10; do
	publish 1
	wait_for 1 stat_positive && break
done
sleep 0.5
publish $((20 - $(stat accepted)))
wait_for 30 stat_is accepted 20
ok $? "20 signed messages through the relay are accepted (accepted=$(stat accepted))"
[ "$(grep -c '^accepted org.test.demo.ping signer=demo' daemon1.out)" -eq 20 ]
ok $? "heraldd printed each accepted topic with its signer"
curl -sf --unix-socket "$SOCK" http://localhost/metrics > metrics.txt
grep -q '^herald_accepted_total 20$' metrics.txt && grep -q 'herald_rejected_total{reason="bad_signature"} 0' metrics.txt
ok $? "/metrics speaks Prometheus text with the counters"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://localhost/nope)
[ "$code" = 404 ]
ok $? "unknown API path is 404"

# ---- bad input on a direct publisher, and a gap replayed fedmsg-style ----
"$HERALD" publish --stdout --key demo.key --signer demo --topic org.test.direct.seq \
	--json '{"k": "v"}' --count 5 > seq.jsonl 2>/dev/null
"$HERALD" publish --stdout --unsigned --topic org.test.direct.x --json '{}' > unsigned.json 2>/dev/null
"$HERALD" publish --stdout --key other.key --signer other --topic org.test.direct.x --json '{}' > other.json 2>/dev/null
"$HERALD" publish --stdout --key demo.key --signer demo --topic org.test.forbidden.x --json '{}' > forbidden.json 2>/dev/null
"$HERALD" publish --stdout --key demo.key --signer demo --topic org.test.direct.x \
	--json '{"big": "'"$(head -c 5000 /dev/zero | tr '\0' a)"'"}' > big.json 2>/dev/null
"$PYTHON3" - "$WORK" <<'PY'
import json, sys, base64
w = sys.argv[1]
seq = [l.strip() for l in open(f"{w}/seq.jsonl")]
one = lambda n: open(f"{w}/{n}").read().strip()
topic = "org.test.direct.seq"
tampered = seq[0].replace('"v"', '"w"')
nobody = json.loads(seq[0]); del nobody["msg"]
lines = [
    {"frames": [topic, seq[0]]},                                  # i=1 ok
    {"frames": ["org.test.direct.x", one("unsigned.json")]},      # unsigned
    {"frames": [topic, tampered]},                                # bad_signature
    {"frames": ["org.test.direct.x", one("other.json")]},         # unknown_signer
    {"frames": ["org.test.forbidden.x", one("forbidden.json")]},  # routing_policy
    {"frames": ["org.test.other", seq[1]]},                       # topic_mismatch
    {"frames": [topic, "{not json"]},                             # bad_json
    {"frames": [topic]},                                          # bad_frames
    {"frames": [topic, seq[1], "{\"seq\": 1}", "extra"]},         # bad_frames
    {"frames": ["org.test.direct.x", one("big.json")]},           # too_large
    {"frames": [topic, json.dumps(nobody)]},                      # no_body
    {"raw": [base64.b64encode(b"\xff\xfe").decode(), base64.b64encode(b"\x00\x01\xff").decode()]},  # bad_json
    {"frames": [topic, seq[1]]},                                  # i=2 ok
    {"frames": [topic, seq[1]]},                                  # i=2 again: duplicate
    {"frames": [topic, seq[2]], "hold": True},                    # i=3 only via replay
    {"frames": [topic, seq[3]], "hold": True},                    # i=4 only via replay
    {"frames": [topic, seq[4]]},                                  # i=5 ok: gap 3..4
]
with open(f"{w}/direct.script", "w") as f:
    for l in lines:
        f.write(json.dumps(l) + "\n")
PY
"$PYTHON3" "$top_srcdir/tests/integration/zpeer.py" --bind tcp://127.0.0.1:$Z_PUB \
	--replay tcp://127.0.0.1:$Z_REPLAY --script direct.script --linger 8 2> zpeer.err &
ZPID=$!
PIDS="$PIDS $ZPID"
wait_for 15 stat_is accepted 25
ok $? "direct publisher: 3 live + 2 replayed accepted (accepted=$(stat accepted))"
for r in unsigned bad_signature unknown_signer routing_policy topic_mismatch too_large no_body; do
	[ "$(stat rejected.$r)" = 1 ]
	ok $? "one message rejected as $r"
done
[ "$(stat rejected.bad_json)" = 2 ] && [ "$(stat rejected.bad_frames)" = 2 ]
ok $? "two rejected as bad_json, two as bad_frames"
[ "$(stat duplicates)" = 1 ]
ok $? "the repeated msg_id is a duplicate, not accepted twice"
[ "$(stat gaps)" = 1 ] && [ "$(stat gap_missing)" = 2 ] && [ "$(stat replayed)" = 2 ]
ok $? "the gap of 2 was detected and filled by replay (gaps=$(stat gaps) replayed=$(stat replayed))"
grep -q 'zpeer: replay 3..4: 2 messages' zpeer.err
ok $? "heraldd asked the publisher's replay endpoint for exactly 3..4"
[ "$(stat lost)" = 0 ]
ok $? "nothing lost"
kill -0 "$DPID"
ok $? "heraldd is still running after all the bad input"
wait "$ZPID" 2>/dev/null

# ---- a frame far over max_message_size is cut off by libzmq, unread ----
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$DPID/status"; }
HWM0=$(hwm_kb)
printf '{"huge": ["org.test.direct.x", %d]}\n' $((200 << 20)) > huge.script
"$PYTHON3" "$top_srcdir/tests/integration/zpeer.py" --bind tcp://127.0.0.1:$Z_PUB \
	--script huge.script 2> zpeer-huge.err
ok $? "a publisher sent a 200 MiB frame ($(tail -1 zpeer-huge.err))"
sleep 1
HWM1=$(hwm_kb)
kill -0 "$DPID" && [ $((HWM1 - HWM0)) -lt $((8 << 10)) ]
ok $? "heraldd never held it: peak memory grew $(((HWM1 - HWM0) >> 10)) MiB (ZMQ_MAXMSGSIZE on the SUB socket)"

# ---- restart catch-up: 1,000 messages published while heraldd is down ----
kill -TERM "$DPID"
wait "$DPID"
ok $? "SIGTERM: clean exit with status 0"
grep -q '^counters {' daemon1.out
ok $? "counters printed at the end"
publish 1000
start_daemon 2
wait_for 30 stat_is accepted 1000
ok $? "after restart all 1,000 are accepted from the relay's replay log (accepted=$(stat accepted))"
sleep 1
# The relay may still be logging the tail of the 1,000 when heraldd starts:
# those arrive live instead. Either way each is accepted exactly once.
printed=$(grep -c '^accepted org.test.demo.ping' daemon2.out)
[ "$(stat accepted)" = 1000 ] && [ "$printed" = 1000 ] && [ "$(stat replayed)" -gt 0 ]
ok $? "exactly once: 1,000 accepted and printed, no more (replayed=$(stat replayed), printed=$printed)"
# A message the relay sent live while heraldd replayed it arrives twice
# (slow machines, sanitizers): the second copy is a counted duplicate.
dups=$(stat duplicates)
[ "$(stat lost)" = 0 ] && [ "$(stat received)" = $((1000 + dups)) ]
ok $? "nothing lost; every copy read twice was dropped as a duplicate (received=$(stat received), duplicates=$dups)"
publish 5
wait_for 30 stat_is accepted 1005
ok $? "live messages flow again after the catch-up"

# ---- SIGHUP reload: a new routing rule applies without restart ----
write_conf "org.test.demo.* = someone-else"
kill -HUP "$DPID"
wait_for 5 grep -q reloaded daemon2.err
ok $? "SIGHUP reloads the config"
publish 3
wait_for 30 stat_is rejected.routing_policy 3
ok $? "after reload the new routing rule rejects demo's messages"
printf 'garbage\n' > heraldd.conf
kill -HUP "$DPID"
wait_for 5 grep -q "reload failed" daemon2.err
ok $? "a broken config on reload is refused with an error"
kill -0 "$DPID"
ok $? "and the daemon keeps running on the old config"
kill -TERM "$DPID"
wait "$DPID"
ok $? "clean exit"
[ ! -e "$SOCK" ]
ok $? "the API socket is removed at exit"
done_testing
