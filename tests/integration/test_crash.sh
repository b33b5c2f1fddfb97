#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Crash test: 100,000 signed messages stream through a real relay into
# heraldd, whose subscriptions turn them into a known set of 133,334
# notifications for the file sink. heraldd is killed with SIGKILL at random
# moments (12 times) and restarted each time. At the end every expected
# notification must be in the file at least once (lost = 0), and every
# duplicate (a delivery whose outcome the kill prevented from committing)
# must carry the same id as the first copy. The counts are printed.
# CRASH_SHORT=1 is the short form (5,000 messages, 3 kills) that the
# ThreadSanitizer run uses; CRASH_MESSAGES and CRASH_KILLS set either count.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cd "$WORK"
if [ -n "${CRASH_SHORT:-}" ]; then
	N=${CRASH_MESSAGES:-5000}
	KILLS=${CRASH_KILLS:-3}
else
	N=${CRASH_MESSAGES:-100000}
	KILLS=${CRASH_KILLS:-12}
fi
"$HERALD" keygen demo --dir "$WORK" > demo.line 2>/dev/null
relay_ports
SOCK="$WORK/state/heraldd.sock"

cat > heraldd.conf <<CONF
$(daemon_base_conf)
[daemon]
log_level = warn
[dispatch]
plugin_dir = $top_builddir/sinks
rate = 0
[sink inbox]
plugin = file
path = inbox.jsonl
batch = 256
CONF

start_relay
ok $? "relay is ready"
start_heraldd ""
ok $? "heraldd is up"

H() { "$HERALD" "$@" --socket "$SOCK"; }
H user add alice > /dev/null && H user add bob > /dev/null
DA=$(H dest add alice inbox a --json | jfield "d['id']")
DB=$(H dest add bob inbox b --json | jfield "d['id']")
H sub add alice --filter 'topic ~ "org.test.crash.*"' --dest "$DA" > /dev/null &&
	H sub add bob --filter 'msg.k == "b"' --dest "$DB" > /dev/null
ok $? "alice gets every message, bob one in three"

say_hello # (a hello matches no subscription)

"$PYTHON3" -c "
import json
with open('lines.jsonl', 'w') as f:
    for i in range($N):
        f.write(json.dumps({'topic': 'org.test.crash.m', 'msg': {'n': i, 'k': 'abc'[i % 3]}}) + '\n')"
"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
	--lines lines.jsonl --timeout 600 > publish.out 2>&1 &
PUB=$!
PIDS="$PIDS $PUB"

# Kill at random moments while messages stream in, are replayed, matched,
# committed and delivered; restart each time.
killed=0
for k in $(seq 1 "$KILLS"); do
	sleep "$("$PYTHON3" -c 'import random; print(round(random.uniform(0.3, 1.8), 2))')"
	kill -9 "$DPID" 2>/dev/null && killed=$((killed + 1))
	wait "$DPID" 2>/dev/null
	start_heraldd "" || break
done
ok $([ "$killed" -eq "$KILLS" ]; echo $?) "heraldd was killed with SIGKILL $killed times and restarted"
wait "$PUB"
ok $? "the publisher handed all $N messages to the relay"

# Wait until the file holds every expected notification (or stops growing).
EXPECT=$((N + (N + 1) / 3))
complete() {
	"$PYTHON3" - inbox.jsonl "$EXPECT" <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    try:
        seen.add(json.loads(line)["id"])
    except ValueError:
        pass
sys.exit(0 if len(seen) >= int(sys.argv[2]) else 1)
PY
}
last=-1
for _ in $(seq 1 120); do
	complete && break
	size=$(wc -c < inbox.jsonl)
	[ "$size" = "$last" ] && [ "$(H outbox list --json 2>/dev/null | jfield "len(d['notifications'])")" = 0 ] && break
	last=$size
	sleep 2
done

"$PYTHON3" - inbox.jsonl "$N" > verdict.out 2>&1 <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
expected = {(i, "alice") for i in range(n)} | {(i, "bob") for i in range(n) if i % 3 == 1}
first = {}      # id -> (n, user)
lines = bad = mismatched = 0
for line in open(path):
    lines += 1
    try:
        note = json.loads(line)
        key = (note["msg"]["n"], note["user"])
    except (ValueError, KeyError, TypeError):
        bad += 1
        continue
    if first.setdefault(note["id"], key) != key:
        mismatched += 1
found = set(first.values())
lost = len(expected - found)
extra = len(found - expected)
dups = lines - bad - len(first)
print("expected=%d lines=%d unique=%d lost=%d duplicated=%d malformed=%d extra=%d "
      "id_mismatch=%d" % (len(expected), lines, len(first), lost, dups, bad, extra, mismatched))
sys.exit(0 if lost == 0 and bad == 0 and extra == 0 and mismatched == 0 and
         len(first) == len(found) else 1)
PY
rc=$?
diag "$(cat verdict.out)"
ok $rc "after $killed kills: nothing lost, every duplicate has the same id ($(cat verdict.out))"
grep -q "lost=0 " verdict.out
ok $? "lost = 0"

kill "$DPID"
wait "$DPID"
ok $? "heraldd exits cleanly at the end"
done_testing
