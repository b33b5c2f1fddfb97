#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Matching inside heraldd, end to end: subscriptions added through the API
# apply to the live bus within a second, without a restart; the corpus
# published through a real relay produces exactly the matches an
# independent computation (Python over `herald describe`) expects; several
# subscriptions of one user for one destination give one notification.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cd "$WORK"
"$HERALD" keygen demo --dir "$WORK" > demo.line 2>/dev/null
P_PULL=$(free_port); P_PUB=$(free_port); P_REPLAY=$(free_port)
SOCK="$WORK/state/heraldd.sock"
CORPUS="$top_srcdir/tests/data/fedmsg-messages.jsonl"
RULES="$top_srcdir/src/schema/rules"
IDMAP="$top_srcdir/tests/data/identity-map.json"
cat > heraldd.conf <<CONF
[daemon]
state_dir = state
rules_dir = $RULES
identity_map = $IDMAP
[endpoint relay]
connect = tcp://127.0.0.1:$P_PUB
replay = tcp://127.0.0.1:$P_REPLAY
[keys]
$(cat demo.line)
$(stand_in_sinks)
CONF
H() { "$HERALD" "$@" --socket "$SOCK"; }

"$RELAY_BIN" --pull tcp://127.0.0.1:$P_PULL --pub tcp://127.0.0.1:$P_PUB \
	--replay tcp://127.0.0.1:$P_REPLAY --state "$WORK/relay" 2> relay.err &
PIDS="$PIDS $!"
wait_for 30 grep -q ready relay.err
"$HERALDD" -c heraldd.conf --foreground > daemon.out 2> daemon.err &
DPID=$!
PIDS="$PIDS $DPID"
wait_for 30 curl -sf --unix-socket "$SOCK" http://localhost/healthz
ok $? "heraldd is up"

publish() { "$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo "$@" > /dev/null 2>&1; }
# First contact: say hello until heraldd hears it.
positive() { [ "$(stat accepted)" -gt 0 ] 2>/dev/null; }
for _ in 1 2 3 4 5 6 7 8 9 10; do
	publish --topic org.herald.test.hello --message hi
	wait_for 1 positive && break
done
base=$(stat accepted)

# ---- a subscription added while running applies within a second ----
H user add alice --list mine=kernel,glibc > /dev/null 2>&1 &&
	H dest add alice email alice@example.com --json > d1.json 2>/dev/null
ok $? "user and destination created through the API"
D1=$("$PYTHON3" -c "import json; print(json.load(open('d1.json'))['id'])")
H sub add alice --filter 'packages & @mine' --dest "$D1" > /dev/null 2>&1
ok $? "subscription 'packages & @mine' added"
sleep 1
publish --topic org.fedoraproject.prod.buildsys.build.state.change \
	--json '{"name": "kernel", "version": "6.1", "release": "1.fc40", "new": 1, "owner": "jforbes", "build_id": 1, "instance": "primary", "attribute": "state", "old": 0}'
wait_for 30 stat_is notifications 1
ok $? "a kernel build notifies alice (notifications=$(stat notifications), matched=$(stat matched))"
publish --topic org.fedoraproject.prod.buildsys.build.state.change \
	--json '{"name": "bash", "version": "5", "release": "1.fc40", "new": 1, "owner": "x", "build_id": 2, "instance": "primary", "attribute": "state", "old": 0}'
sleep 1
[ "$(stat notifications)" = 1 ] && [ "$(stat accepted)" = $((base + 2)) ]
ok $? "a bash build notifies nobody"

# ---- two subscriptions, one destination, one notification ----
H sub add alice --filter 'topic ~ "*.buildsys.build.state.change" and package == "kernel"' \
	--dest "$D1" > /dev/null 2>&1
sleep 1
publish --topic org.fedoraproject.prod.buildsys.build.state.change \
	--json '{"name": "kernel", "version": "6.2", "release": "1.fc40", "new": 1, "owner": "jforbes", "build_id": 3, "instance": "primary", "attribute": "state", "old": 0}'
wait_for 30 stat_is subscription_matches 3
ok $? "both of alice's subscriptions matched (subscription_matches=$(stat subscription_matches))"
[ "$(stat notifications)" = 2 ]
ok $? "... and made one notification, not two (notifications=$(stat notifications))"

# ---- the corpus against subscriptions, checked independently ----
H user add bob --list mine=nethack,python-requests,firefox --list watched=ralph,threebean > /dev/null 2>&1
H dest add bob irc '#bob' --json > d2.json 2>/dev/null
D2=$("$PYTHON3" -c "import json; print(json.load(open('d2.json'))['id'])")
H sub add bob --filter 'usernames & @watched' --dest "$D2" > /dev/null 2>&1 &&
	H sub add bob --filter 'topic ~ "*.bodhi.*" and packages & @mine' --dest "$D2" > /dev/null 2>&1 &&
	H sub add bob --filter 'topic ~ "org.release-monitoring.*"' --dest "$D2" > /dev/null 2>&1
ok $? "bob's three subscriptions"
sleep 1
"$HERALD" describe -r "$RULES" -i "$IDMAP" --lines "$CORPUS" > described.jsonl 2> describe.err
ok $? "herald describe over the corpus"
expect=$("$PYTHON3" - described.jsonl <<'PY'
import sys, json, fnmatch
alice = {"mine": {"kernel", "glibc"}}
bob = {"mine": {"nethack", "python-requests", "firefox"}, "watched": {"ralph", "threebean"}}
notes = subs = 0
for line in open(sys.argv[1]):
    m = json.loads(line)
    pk, us, t = set(m["packages"]), set(m["usernames"]), m["topic"]
    a = [bool(pk & alice["mine"]),
         fnmatch.fnmatchcase(t, "*.buildsys.build.state.change") and "kernel" in pk]
    b = [bool(us & bob["watched"]),
         fnmatch.fnmatchcase(t, "*.bodhi.*") and bool(pk & bob["mine"]),
         fnmatch.fnmatchcase(t, "org.release-monitoring.*")]
    notes += any(a) + any(b)
    subs += sum(a) + sum(b)
print(notes, subs)
PY
)
want_n=$(( $(stat notifications) + ${expect% *} ))
want_s=$(( $(stat subscription_matches) + ${expect#* } ))
diag "corpus: expecting ${expect% *} notifications from ${expect#* } subscription matches"
publish --lines "$CORPUS"
n=$(wc -l < "$CORPUS")
wait_for 30 stat_is accepted $((base + 3 + n))
ok $? "all $n corpus messages accepted"
sleep 0.5
[ "$(stat notifications)" = "$want_n" ] && [ "$(stat subscription_matches)" = "$want_s" ]
ok $? "matches equal the independent computation (notifications $(stat notifications)/$want_n, subscription matches $(stat subscription_matches)/$want_s)"
[ "${expect% *}" -gt 20 ]
ok $? "the check is not vacuous (${expect% *} corpus notifications expected)"

# ---- disabling applies live too ----
ids=$(curl -s --unix-socket "$SOCK" http://localhost/v1/users/bob/subscriptions |
	"$PYTHON3" -c "import json,sys; print(' '.join(str(s['id']) for s in json.load(sys.stdin)['subscriptions']))")
for id in $ids; do H sub disable bob "$id" > /dev/null 2>&1; done
sleep 1
before=$(stat notifications)
publish --topic org.release-monitoring.prod.anitya.project.version.update --json '{"project": {"name": "x"}}'
wait_for 30 stat_is accepted $((base + 4 + n))
sleep 0.3
[ "$(stat notifications)" = "$before" ]
ok $? "after disabling bob's subscriptions a release-monitoring message notifies no one"
grep -q "match: index updated" daemon.err
ok $? "the index was updated in the background, without a full rebuild (log line)"
kill -TERM "$DPID"
wait "$DPID"
ok $? "clean exit"
done_testing
