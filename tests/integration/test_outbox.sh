#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The outbox and dispatcher end to end: real relay, real heraldd, real LMDB,
# the bundled file and exec sinks loaded with dlopen. Plugins that must be
# refused (wrong ABI, no entry symbol, failing init, wrong name) are refused
# with their own errors while the others run; notifications reach the file
# sink; the exec sink drives retry with backoff, retry-after, dead letters,
# `deadletter retry`, paused destinations and `dest resume`, digests (by
# count) and rate limits that fold into a digest; quiet hours hold; a broken
# instance is paused and probed; the file sink reopens on SIGHUP.
# Timing checks are lower bounds only (a slow machine makes gaps longer,
# never shorter).
. "${top_srcdir:-.}/tests/integration/lib.sh"

delivery_setup
PLUGINS="$top_builddir/tests/broken-sinks/.libs"

# The exec sink's program: behaves as the file `mode` says, logs each call.
cat > hook.sh <<'HOOK'
#!/bin/sh
dir=$(dirname "$0")
mode=$(cat "$dir/mode.$HERALD_USER" 2>/dev/null || echo ok)
body=$(cat)
printf '%s %s %s %s %s %s\n' "$(date +%s.%N)" "$HERALD_USER" "$HERALD_ID" "$HERALD_ATTEMPT" \
	"$HERALD_DIGEST" "$HERALD_COUNT" >> "$dir/calls.log"
printf '%s\n' "$body" >> "$dir/bodies.$HERALD_USER"
case $mode in
ok) exit 0 ;;
retry) exit 75 ;;
retry-after) echo "retry-after: 2"; exit 75 ;;
reject) echo "mailbox does not exist" >&2; exit 3 ;;
esac
exit 0
HOOK
chmod +x hook.sh

cat > heraldd.conf <<CONF
$(daemon_base_conf)
[dispatch]
plugin_dir = $top_builddir/sinks
retry_base_ms = 300
retry_max_ms = 5000
max_attempts = 4
probe_interval_ms = 500
pause_after_ms = 3000
digest_max_items = 3
[sink inbox]
plugin = file
path = inbox.jsonl
[sink hook]
plugin = exec
command = $WORK/hook.sh
timeout_ms = 5000
[sink limited]
plugin = exec
command = $WORK/hook.sh
rate = 60
burst = 2
[sink confirm]
plugin = file
path = confirm.jsonl
verify = yes
[sink badabi]
plugin = $PLUGINS/bad_abi.so
[sink noentry]
plugin = $PLUGINS/no_entry.so
[sink initfails]
plugin = $PLUGINS/init_fails.so
[sink wrongname]
plugin = $PLUGINS/wrong_name.so
CONF

start_relay
ok $? "relay is ready"
start_heraldd 1
ok $? "heraldd runs although four of its sinks cannot load"

# ---- plugins that must be refused, each with its own error ----
grep -q "sink badabi: .*bad_abi.so does not speak sink ABI 1\.[0-9]" daemon1.err
ok $? "wrong ABI version refused ($(grep badabi daemon1.err | head -c 200))"
grep -q "sink noentry: .*no_entry.so has no herald_sink_entry symbol" daemon1.err
ok $? "missing entry symbol refused"
grep -q "sink initfails: init failed: refusing to start: test" daemon1.err
ok $? "failing init refused with the plugin's message"
grep -q "sink wrongname: .*wrong_name.so is sink '.*', not 'wrong_name'" daemon1.err
ok $? "a plugin whose name differs from its file refused"
grep -q "sink 'inbox' ready (plugin file)" daemon1.err && grep -q "sink 'hook' ready (plugin exec)" daemon1.err
ok $? "the file and exec sinks loaded"

H() { "$HERALD" "$@" --socket "$SOCK"; }
curl -s --unix-socket "$SOCK" http://localhost/v1/sinks > sinks.json
[ "$(jfield "sorted(s['name'] for s in d['sinks'] if not s['loaded'])" < sinks.json)" = \
	"['badabi', 'initfails', 'noentry', 'wrongname']" ]
ok $? "GET /v1/sinks lists the four that failed, with loaded: false"

# ---- destinations are checked against the sinks ----
H user add alice > /dev/null && H user add bob > /dev/null && H user add carol > /dev/null &&
	H user add dave > /dev/null && H user add dora > /dev/null && H user add ed > /dev/null
ok $? "users added"
H dest add alice nosuch x > out 2> err
[ $? -eq 1 ] && grep -q "no sink 'nosuch' is configured" err
ok $? "a destination on an unknown sink is refused ($(cat err))"
H dest add alice initfails x > out 2> err
[ $? -eq 1 ] && grep -q "did not load" err
ok $? "a destination on a sink that did not load is refused ($(cat err))"
H dest add alice inbox "$(printf 'a\tb')" > out 2> err
[ $? -eq 1 ] && grep -q "control characters are not allowed" err
ok $? "an address with a control character is refused ($(cat err))"

dest() { H dest add "$@" --json | jfield "d['id']"; }
D_IN=$(dest alice inbox inbox)
D_BOB=$(dest bob hook bob@example.org)
D_CAROL=$(dest carol hook carol@example.org)
D_DAVE=$(dest dave limited dave@example.org)
D_DORA=$(dest dora hook dora@example.org)
D_ED=$(dest ed hook ed@example.org)
[ -n "$D_IN" ] && [ -n "$D_BOB" ] && [ -n "$D_CAROL" ] && [ -n "$D_DAVE" ]
ok $? "destinations on inbox and hook"
H sub add alice --filter 'topic ~ "org.test.note.*"' --dest "$D_IN" > /dev/null &&
	H sub add bob --filter 'topic == "org.test.bob"' --dest "$D_BOB" > /dev/null &&
	H sub add carol --filter 'topic == "org.test.carol"' --dest "$D_CAROL" --digest 3600 > /dev/null &&
	H sub add dave --filter 'topic == "org.test.dave"' --dest "$D_DAVE" > /dev/null &&
	S_DORA=$(H sub add dora --filter 'topic == "org.test.dora"' --dest "$D_DORA" --json |
		jfield "d['id']") &&
	H sub add ed --filter 'topic == "org.test.ed"' --dest "$D_ED" > /dev/null
ok $? "subscriptions (carol's in digest mode)"

publish() { # publish TOPIC COUNT
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic "$1" --json '{"text": "caf\u00e9 \r\nQUIT"}' --count "$2" > /dev/null 2>&1
}
say_hello
stat_ge() { [ "$(stat "$1")" -ge "$2" ] 2>/dev/null; }
lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }

# ---- the file sink ----
publish org.test.note.a 5
wait_for 20 lines inbox.jsonl 5
ok $? "five notifications reach the file sink"
"$PYTHON3" - inbox.jsonl "$D_IN" > check.out 2>&1 <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 5, len(lines)
ids = set()
for l in lines:
    n = json.loads(l)
    assert re.fullmatch(r"[0-9a-f]{32}", n["id"]), n["id"]
    assert n["user"] == "alice" and n["destination"] == int(sys.argv[2])
    assert n["topic"] == "org.test.note.a" and n["msg"]["text"] == "caf\u00e9 \r\nQUIT"
    assert len(n["subscriptions"]) == 1 and n["attempts"] == 0
    for k in ("title", "summary", "link", "severity", "usernames", "packages", "msg_id", "timestamp"):
        assert k in n, k
    assert "due" not in n and "last_error" not in n
    ids.add(n["id"])
assert len(ids) == 5
print("ok")
PY
ok $? "each line is the notification document with a distinct id ($(tail -1 check.out))"
wait_for 30 stat_ge delivered 5
H delivered --user alice --json > delivered.json 2>&1
[ "$(jfield "len(d['delivered'])" < delivered.json)" = 5 ]
ok $? "the delivery log has the five"
[ "$(H outbox list --user alice --json | jfield "len(d['notifications'])")" = 0 ]
ok $? "and the outbox is empty again"

# ---- retries with backoff, then dead letter ----
echo retry > mode.bob
publish org.test.bob 1
wait_for 30 stat_ge dead_letters 1
ok $? "a notification that keeps failing ends in the dead letters"
grep " bob " calls.log > bob.calls
"$PYTHON3" - bob.calls > sched.out 2>&1 <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
assert len(rows) == 4, "attempts: %d" % len(rows)
assert len({r[2] for r in rows}) == 1, "one id"
assert [r[3] for r in rows] == ["1", "2", "3", "4"], [r[3] for r in rows]
t = [float(r[0]) for r in rows]
gaps = [b - a for a, b in zip(t, t[1:])]
# base 300 ms doubling, jitter at most -20%: lower bounds 0.24, 0.48, 0.96 s
for g, low in zip(gaps, (0.24, 0.48, 0.96)):
    assert g >= low, (gaps, low)
print("gaps", " ".join("%.2f" % g for g in gaps))
PY
ok $? "4 attempts with the same id, HERALD_ATTEMPT 1..4, backoff doubling ($(tail -1 sched.out))"
H deadletter list --user bob --json > dead.json
BOB_ID=$(jfield "d['notifications'][0]['id']" < dead.json)
jfield "d['notifications'][0]['reason']" < dead.json | grep -q "gave up after 4 attempts"
ok $? "its dead letter says why ($(jfield "d['notifications'][0]['reason']" < dead.json))"
echo ok > mode.bob
# On a loaded machine the four attempts can outlast pause_after_ms (3 s) and
# pause the destination: that is a later section's subject, not this one's.
H dest resume bob "$D_BOB" > /dev/null 2>&1 || true
H deadletter retry "$BOB_ID" > /dev/null 2>&1
wait_for 30 stat_ge delivered 6
ok $? "deadletter retry delivers it"
[ "$(grep -c " bob $BOB_ID " calls.log)" = 5 ] && [ "$(H deadletter list --user bob --json | jfield "len(d['notifications'])")" = 0 ]
ok $? "with the same id, and the dead letter is gone"

# ---- retry-after is honoured ----
: > calls.log
echo retry-after > mode.bob
publish org.test.bob 1
wait_for 30 lines calls.log 1
sleep 0.5
echo ok > mode.bob
wait_for 30 stat_ge delivered 7
"$PYTHON3" -c "
import sys
t = [float(l.split()[0]) for l in open('calls.log')]
assert len(t) == 2 and t[1] - t[0] >= 2.0, t
print('%.2f' % (t[1] - t[0]))" > ra.out 2>&1
ok $? "retry-after: 2 keeps the second attempt at least 2 s away ($(cat ra.out))"

# ---- rejected: dead letter at once, with the program's reason ----
echo reject > mode.bob
publish org.test.bob 1
wait_for 30 stat_ge dead_letters 2
H deadletter list --user bob --json > dead2.json
jfield "d['notifications'][0]['reason']" < dead2.json | grep -q "exit 3: mailbox does not exist"
ok $? "a rejection is a dead letter with the reason ($(jfield "d['notifications'][0]['reason']" < dead2.json))"
H deadletter drop "$(jfield "d['notifications'][0]['id']" < dead2.json)" > /dev/null 2>&1 &&
	[ "$(H deadletter list --user bob --json | jfield "len(d['notifications'])")" = 0 ]
ok $? "deadletter drop removes it"
echo ok > mode.bob

# ---- a paused destination holds, resume delivers ----
H dest pause bob "$D_BOB" --reason "on holiday" > /dev/null
: > calls.log
publish org.test.bob 2
parked() { [ "$(H outbox list --user bob --json | jfield "sum(n['due'] == -1 for n in d['notifications'])")" = "$1" ]; }
wait_for 30 parked 2
ok $? "notifications for a paused destination are parked"
[ ! -s calls.log ]
ok $? "and nothing was sent"
H dest resume bob "$D_BOB" --json > resume.json
[ "$(jfield "d['released']" < resume.json)" = 2 ]
ok $? "dest resume releases the two"
wait_for 30 lines calls.log 2
ok $? "and delivers them"

# ---- deleted while notifications wait for it: they become dead letters ----
H dest pause dora "$D_DORA" > /dev/null && H dest pause ed "$D_ED" > /dev/null
publish org.test.dora 2
publish org.test.ed 1
parked_of() { # parked_of USER N
	[ "$(H outbox list --user "$1" --json | jfield "sum(n['due'] == -1 for n in d['notifications'])")" = "$2" ]
}
wait_for 30 parked_of dora 2 && wait_for 30 parked_of ed 1
ok $? "notifications wait, parked, for two paused destinations"
H sub rm dora "$S_DORA" > /dev/null && H dest rm dora "$D_DORA" > /dev/null
dead_of() { # dead_of USER N REASON: N dead letters of USER, each with REASON
	H deadletter list --json | "$PYTHON3" -c 'import json, sys
d = [n for n in json.load(sys.stdin)["notifications"] if n["user"] == sys.argv[1]]
sys.exit(not (len(d) == int(sys.argv[2]) and all(n["reason"] == sys.argv[3] for n in d)))' "$@"
}
wait_for 15 dead_of dora 2 "destination $D_DORA of dora was deleted" &&
	[ "$(H outbox list --user dora --json | jfield "len(d['notifications'])")" = 0 ]
ok $? "deleting the destination makes dead letters of them, with the reason"
H user rm ed > /dev/null
wait_for 15 dead_of ed 1 "destination $D_ED of ed was deleted"
ok $? "so does deleting the user"

# ---- a destination failing too long is paused with the reason ----
echo retry-after > mode.bob
D0=$(stat delivered)
publish org.test.bob 1
paused() { H dest list bob --json | jfield "[x for x in d['destinations'] if x['id'] == $D_BOB][0]['paused']" | grep -q True; }
wait_for 30 paused
ok $? "a destination failing for pause_after_ms is paused"
H dest list bob --json | jfield "[x for x in d['destinations'] if x['id'] == $D_BOB][0]['paused_reason']" > reason.out
grep -q "deliveries failing" reason.out
ok $? "with a reason its owner can read ($(cat reason.out))"
echo ok > mode.bob
H dest resume bob "$D_BOB" > /dev/null
wait_for 15 stat_ge delivered $((D0 + 1))
ok $? "after resume the held notification is delivered"

# ---- outbox retry and drop ----
echo retry-after > mode.bob
: > calls.log
publish org.test.bob 2
wait_for 30 lines calls.log 2
IDS=$(H outbox list --user bob --json | jfield "' '.join(n['id'] for n in d['notifications'])")
set -- $IDS
[ $# -eq 2 ]
ok $? "two failing notifications wait in the outbox"
H outbox drop "$1" > /dev/null 2>&1 && ! H outbox show "$1" > /dev/null 2>&1
ok $? "outbox drop removes one"
echo ok > mode.bob
H outbox retry "$2" > /dev/null 2>&1
wait_for 5 lines calls.log 3
ok $? "outbox retry sends the other at once (not after its 2 s retry-after)"
H outbox show 0123 > out 2> err
[ $? -eq 1 ] && grep -q "not a notification id" err
ok $? "a malformed id is refused ($(cat err))"
H outbox show 0123456789abcdef0123456789abcdef > out 2> err
[ $? -eq 1 ] && grep -q "no notification" err
ok $? "an unknown id is 404"

# ---- digests: three collected notifications become one item ----
: > calls.log
publish org.test.carol 3
wait_for 30 lines calls.log 1
sleep 0.5
[ "$(wc -l < calls.log)" = 1 ] && awk '{exit !($5 == 1 && $6 == 3)}' calls.log
ok $? "a digest subscription sends one item of 3 once digest_max_items is reached ($(cat calls.log))"
tail -1 bodies.carol | "$PYTHON3" -c "
import json,sys; d=json.load(sys.stdin)
assert d['digest'] is True and d['count'] == 3 and len(d['notifications']) == 3" 2>&1
ok $? "the program got the digest as JSON with all three"
publish org.test.carol 1
one_waiting() { [ "$(H outbox list --user carol --json | jfield "len(d['notifications'])")" = 1 ]; }
wait_for 30 one_waiting
H outbox list --user carol --json > carol.json
NOW_MS=$(($(date +%s) * 1000))
DUE=$(jfield "d['notifications'][0]['due']" < carol.json)
[ "$DUE" -gt $((NOW_MS + 3500000)) ] && [ "$(jfield "'digest' in d['notifications'][0]" < carol.json)" = True ]
ok $? "a note waiting in an hourly digest shows the digest's due time ($DUE)"
H outbox drop "$(jfield "d['notifications'][0]['id']" < carol.json)" > /dev/null 2>&1 &&
	[ "$(curl -s --unix-socket "$SOCK" http://localhost/v1/sinks | jfield "d['outbox']['digests']")" = 0 ]
ok $? "dropping the digest's only note removes the digest"

# ---- a rate limit folds the excess into a digest, nothing lost ----
: > calls.log
publish org.test.dave 8
wait_for 20 sh -c "awk '{n += \$6} END {exit !(n >= 8)}' calls.log"
ok $? "8 notifications to a destination limited to a burst of 2 all arrive"
"$PYTHON3" -c "
rows = [l.split() for l in open('calls.log')]
assert sum(int(r[5]) for r in rows) == 8, rows
assert len(rows) < 8 and any(r[4] == '1' for r in rows), rows
print(len(rows))" > rl.out 2>&1
ok $? "in fewer items, with a digest ($(cat rl.out) items)"

# ---- a body with U+0000 in a string: accepted by ingest, so delivered ----
publish_nul() { # publish_nul TOPIC COUNT
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic "$1" --json '{"text": "nul\u0000here"}' --count "$2" > /dev/null 2>&1
}
: > calls.log
N0=$(wc -l < inbox.jsonl)
publish_nul org.test.note.nul 1
publish_nul org.test.dave 6
wait_for 20 lines inbox.jsonl $((N0 + 1)) &&
	wait_for 20 sh -c "awk '{n += \$6} END {exit !(n >= 6)}' calls.log"
ok $? "a note whose body holds \\u0000 is delivered, alone and folded into a digest"
tail -1 inbox.jsonl | "$PYTHON3" -c 'import json,sys; assert json.load(sys.stdin)["msg"]["text"] == "nul\0here"'
ok $? "with the body as sent"
# The program is called before its outcome is recorded: wait for the outbox.
outbox_empty() {
	curl -s --unix-socket "$SOCK" http://localhost/v1/outbox > left.json &&
		[ "$(jfield "len(d['notifications'])" < left.json)" = 0 ]
}
wait_for 30 outbox_empty && [ "$(stat store_errors)" = 0 ]
ok $? "no failed commit, and nothing left in the outbox ($(head -c 600 left.json))"

# ---- quiet hours hold a notification until they end ----
H user add erin --timezone UTC --quiet-hours "$(date -u -d '-1 hour' +%H:00)-$(date -u -d '+2 hours' +%H:00)" > /dev/null
D_ERIN=$(dest erin inbox erin)
H sub add erin --filter 'topic == "org.test.erin"' --dest "$D_ERIN" > /dev/null
sleep 1 # the match index picks up a new subscription within ~100 ms
publish org.test.erin 1
END=$(date -u -d "$(date -u -d '+2 hours' +%H:00)" +%s)
[ "$END" -lt "$(date -u +%s)" ] && END=$((END + 86400))
held() {
	H outbox list --user erin --json | jfield "d['notifications'][0]['due']" > due.out &&
		[ "$(cat due.out)" = "$((END * 1000))" ]
}
wait_for 30 held
ok $? "a notification in quiet hours waits until they end ($(cat due.out) = ${END}000)"
! grep -q '"user":"erin"' inbox.jsonl
ok $? "and was not delivered"

# ---- a broken sink instance is paused, probed, and charged nothing ----
# The retry-after section above can outlast pause_after_ms on a loaded machine
# (seen under ThreadSanitizer) and leave bob's destination paused: this
# section's notification would then be parked, never reaching the sink.
H dest resume bob "$D_BOB" > /dev/null 2>&1 || true
: > calls.log
chmod -x hook.sh # the program cannot run: exit 126, the exec sink reports BROKEN
B0=$(stat sink_broken)
publish org.test.bob 1
wait_for 30 stat_ge sink_broken $((B0 + 1))
ok $? "a sink that cannot run its program reports itself broken ($(grep "'hook'" daemon1.err | tail -2))"
H outbox list --user bob --json > broken.json
[ "$(jfield "len(d['notifications'])" < broken.json)" = 1 ] &&
	[ "$(jfield "d['notifications'][0]['attempts']" < broken.json)" = 0 ]
ok $? "the notification waits, no attempt charged ($(jfield "d['notifications'][0].get('attempts')" < broken.json))"
chmod +x hook.sh
wait_for 30 lines calls.log 1
ok $? "the instance is probed again after probe_interval_ms and delivers"

# ---- the file sink reopens its file on SIGHUP (log rotation) ----
mv inbox.jsonl inbox.jsonl.1
kill -HUP "$DPID"
sleep 0.5
publish org.test.note.b 1
wait_for 30 lines inbox.jsonl 1
ok $? "after SIGHUP the file sink writes to a new file"
grep -q '"topic":"org.test.note.b"' inbox.jsonl && ! grep -q '"topic":"org.test.note.b"' inbox.jsonl.1
ok $? "and nothing more to the rotated one"

# ---- the file sink with verify = yes writes the code, and it verifies ----
H user add fay > /dev/null 2>&1
H dest add fay confirm fay-inbox --json > vdest.json 2>&1
VD=$(jfield "d['id']" < vdest.json)
wait_for 30 lines confirm.jsonl 1
CODE=$(sed -n 's/.*confirmation code is \([A-Z0-9]*\)\..*/\1/p' confirm.jsonl | head -1)
[ ${#CODE} -eq 8 ] && grep -q '"topic":"herald.destination.verify"' confirm.jsonl
ok $? "a file sink with verify = yes writes the confirmation code ($CODE)"
H dest verify fay "$VD" "$CODE" > out 2>&1
ok $? "and that code verifies the destination ($(cat out))"
H dest add fay inbox fay-plain > /dev/null 2>&1
H dest list fay --json | jfield "sorted((x['sink'], x['needs_code']) for x in d['destinations'])" > needs.out
[ "$(cat needs.out)" = "[('confirm', True), ('inbox', False)]" ]
ok $? "each destination says whether its sink asks for a code ($(cat needs.out))"

kill "$DPID"
wait "$DPID"
ok $? "heraldd exits cleanly"
done_testing
