#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 13 item 6: killing the relay must not drop a message its publisher
# counted as sent. `herald publish --ack` sends N messages to the relay's
# acknowledged intake while the relay is SIGKILLed and restarted three
# times; it must exit 0, and every message it reports as acknowledged (and
# every one of the N) must be in the relay's log exactly once (retries are
# not logged twice), read back through the replay socket. The same run over
# plain --relay (PUSH) must not claim any acknowledgement: it is at most once
# per hop, and what it lost is shown as a diagnostic.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cd "$WORK" || exit 1
relay_ports
P_ACK=$(free_port)
N=600
RUNS=0

relay_up() { # start the relay on its state; RPID
	RUNS=$((RUNS + 1))
	"$RELAY_BIN" --pull tcp://127.0.0.1:$P_PULL --pub tcp://127.0.0.1:$P_PUB \
		--replay tcp://127.0.0.1:$P_REPLAY --ack tcp://127.0.0.1:$P_ACK \
		--state "$WORK/relay" 2> "relay.$RUNS.err" &
	RPID=$!
	PIDS="$PIDS $RPID"
	wait_for 10 grep -q ready "relay.$RUNS.err"
}
# kill_loop PUBLISHER_PID: three SIGKILLs of the relay, each restarted, while it publishes.
kill_loop() {
	for k in 1 2 3; do
		sleep 0.6
		kill -0 "$1" 2>/dev/null || diag "the publisher had finished before kill $k"
		kill -9 "$RPID"
		wait "$RPID" 2>/dev/null
		sleep 0.2
		relay_up || return 1
	done
}

"$PYTHON3" -c 'import json,sys
for i in range(1, int(sys.argv[1]) + 1):
    print(json.dumps({"topic": "org.test.ack", "msg": {"n": i}}))' $N > corpus.jsonl

# check.py TOPIC [ACKED_IDS_FILE]: read the whole log over replay; print
# "entries distinct_n duplicates missing_acked" for messages on TOPIC.
cat > check.py <<'PY'
import json, sys, zmq
topic, acked = sys.argv[2], set()
if len(sys.argv) > 3:
    acked = set(l.strip() for l in open(sys.argv[3]) if l.strip())
ctx = zmq.Context()
req = ctx.socket(zmq.REQ)
req.setsockopt(zmq.RCVTIMEO, 10000)
req.setsockopt(zmq.LINGER, 0)
req.connect(sys.argv[1])
seen, ns, start = {}, set(), 1
while True:
    req.send_string(json.dumps({"seq_range": [start, None], "limit": 1000}))
    frames = req.recv_multipart()
    st = json.loads(frames[0])
    for env in frames[2::2]:
        e = json.loads(env)
        if e.get("topic") == topic:
            seen[e["msg_id"]] = seen.get(e["msg_id"], 0) + 1
            ns.add(e["msg"]["n"])
    if not st.get("more") or not st.get("count"):
        break
    start = st["last_seq"] + 1
dups = sum(c - 1 for c in seen.values())
print(sum(seen.values()), len(ns), dups, len(acked - set(seen)))
PY

relay_up
ok $? "relay with --ack is ready"

# ---- acknowledged: SIGKILLs while publishing ----
"$HERALD" publish --ack tcp://127.0.0.1:$P_ACK --unsigned --lines corpus.jsonl --rate 200 \
	--timeout 60 --log-level debug > ack.out 2> ack.err &
PUB=$!
kill_loop $PUB
ok $? "the relay was SIGKILLed and restarted three times while publishing"
wait $PUB
rc=$?
ok $rc "publish --ack exits 0: every message acknowledged (exit $rc; $(tail -n 1 ack.err))"
sed -n 's/.*acknowledged \([^ ]*\) (seq.*/\1/p' ack.err > acked.ids
[ "$(wc -l < acked.ids)" -eq $N ]
ok $? "it reports $N acknowledgements ($(wc -l < acked.ids))"
grep -q "published $N messages, $N acknowledged" ack.err
ok $? "its summary says $N published, $N acknowledged"
set -- $("$PYTHON3" check.py tcp://127.0.0.1:$P_REPLAY org.test.ack acked.ids)
[ "${4:-1}" -eq 0 ]
ok $? "every message counted as acknowledged is in the relay's log (missing: ${4:-?})"
[ "${2:-0}" -eq $N ]
ok $? "all $N bodies are in the log (${2:-?})"
[ "${3:-1}" -eq 0 ] && [ "${1:-0}" -eq $N ]
ok $? "none is logged twice: ${1:-?} entries, ${3:-?} duplicates"
diag "publisher: $(grep -c 'reconnected' ack.err) reconnects; $(tail -n 1 ack.err)"

# ---- plain PUSH: the same, and nothing claims an acknowledgement ----
"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --unsigned --lines corpus.jsonl \
	--topic org.test.push --rate 200 --timeout 5 > push.out 2> push.err &
PUB=$!
kill_loop $PUB
ok $? "the relay was SIGKILLed three times while publishing over --relay"
wait $PUB
rc=$?
grep -q "not acknowledged: --relay is at most once per hop" push.err &&
	! grep -q "[0-9] acknowledged" push.err
ok $? "publish --relay does not claim anything was acknowledged ($(tail -n 1 push.err))"
sleep 1 # let the last batch commit before counting
set -- $("$PYTHON3" check.py tcp://127.0.0.1:$P_REPLAY org.test.push)
diag "--relay (PUSH) exited $rc and the log holds ${2:-?} of its $N messages: at most once per hop"
# ---- what ends publish --ack with exit 1 ----
"$PYTHON3" -c 'import json; print(json.dumps({"pad": "x" * (1 << 20)}))' > big.json
"$HERALD" publish --ack tcp://127.0.0.1:$P_ACK --unsigned --topic org.test.big \
	--timeout 20 < big.json > big.out 2> big.err
rc=$?
[ $rc -eq 1 ] && grep -q "refused .*: too_large" big.err
ok $? "an envelope over the relay's --max-size: too_large, no retry, exit 1 ($rc: $(head -c 200 big.err))"
grep -q "published 1 message, 0 acknowledged (0 retries)" big.err
ok $? "...and it says so: 0 acknowledged, 0 retries"
"$HERALD" publish --ack tcp://127.0.0.1:$(free_port) --unsigned --topic org.test.none \
	--message x --timeout 2 > none.out 2> none.err
rc=$?
[ $rc -eq 1 ] && grep -q "did not acknowledge .* within 2 s" none.err
ok $? "nobody at the ack endpoint: exit 1 after --timeout ($rc: $(head -c 200 none.err))"
"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --window 8 --unsigned --topic t \
	--message x > /dev/null 2>&1
ok $([ $? -eq 2 ]; echo $?) "--window without --ack is a usage error (exit 2)"
"$HERALD" publish --ack tcp://127.0.0.1:$P_ACK --relay tcp://127.0.0.1:$P_PULL --unsigned \
	--topic t --message x > /dev/null 2>&1
ok $([ $? -eq 2 ]; echo $?) "--ack with --relay is a usage error (exit 2)"

kill "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
ok $? "the relay stops cleanly"
grep -q "stopping: .* acknowledged" "relay.$RUNS.err"
ok $? "its last line counts acknowledgements ($(tail -n 1 "relay.$RUNS.err" | cut -c 1-200))"
done_testing
