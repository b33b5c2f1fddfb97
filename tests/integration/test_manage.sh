#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Management end to end: a real heraldd with a real LMDB store, driven by the
# herald CLI over the unix socket and by curl over loopback TCP. Every
# command's happy path, the validation errors (each must change nothing),
# cascade delete, persistence across a restart, scoped tokens, a token file
# others can read, and filter test / sub explain on a corpus message.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cd "$WORK"
SOCK="$WORK/state/heraldd.sock"
P_API=$(free_port)
P_BUS=$(free_port)
TCP="http://127.0.0.1:$P_API"
ADMIN_T=admin-0123456789abcdef0123
READ_T=read-0123456789abcdef01234
ALICE_T=alice-0123456789abcdef0123
printf '# test tokens\n%s admin\n%s read\n%s user:alice\n' "$ADMIN_T" "$READ_T" "$ALICE_T" > tokens
chmod 600 tokens
TZ_OK=Europe/Prague
[ -f /usr/share/zoneinfo/$TZ_OK ] || TZ_OK=UTC

write_conf() { # write_conf [RULES_DIR]
	cat > heraldd.conf <<CONF
[daemon]
state_dir = state
log_level = info
api_listen = 127.0.0.1:$P_API
api_tokens = tokens
rules_dir = ${1:-$top_srcdir/src/schema/rules}
identity_map = $top_srcdir/tests/data/identity-map.json
[endpoint bus]
connect = tcp://127.0.0.1:$P_BUS
$(stand_in_sinks)
CONF
}
write_conf

H() { "$HERALD" "$@" --socket "$SOCK"; }
# api METHOD PATH [BODY-FILE]: status on stdout's last line, body in api.out
api() {
	if [ -n "${3:-}" ]; then
		curl -s -o api.out -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
			-H 'Content-Type: application/json' --data-binary "@$3" "http://localhost$2"
	else
		curl -s -o api.out -w '%{http_code}' --unix-socket "$SOCK" -X "$1" "http://localhost$2"
	fi
}
# tcp TOKEN METHOD PATH [BODY]: the HTTP status over TCP
tcp() {
	set -- "$@" ""
	auth=""
	[ -n "$1" ] && auth="Authorization: Bearer $1"
	if [ -n "$4" ]; then
		curl -s -o tcp.out -w '%{http_code}' -H "$auth" -X "$2" -d "$4" "$TCP$3"
	else
		curl -s -o tcp.out -w '%{http_code}' -H "$auth" -X "$2" "$TCP$3"
	fi
}
# field FILE PYTHON-EXPR: evaluate EXPR on the JSON in FILE (as d)
field() { "$PYTHON3" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# snapshot: every user, destination and subscription, as one JSON text
snapshot() {
	curl -s --unix-socket "$SOCK" http://localhost/v1/users > snap.users
	for u in $(field snap.users "' '.join(x['name'] for x in d['users'])"); do
		curl -s --unix-socket "$SOCK" "http://localhost/v1/users/$u/destinations"
		curl -s --unix-socket "$SOCK" "http://localhost/v1/users/$u/subscriptions"
	done | cat snap.users -
}
start_daemon() {
	"$HERALDD" -c heraldd.conf --foreground > "daemon$1.out" 2> "daemon$1.err" &
	DPID=$!
	PIDS="$PIDS $DPID"
	wait_for 30 curl -sf --unix-socket "$SOCK" http://localhost/healthz
}
# fails CODE NEEDLE COMMAND...: exit status CODE and NEEDLE on stderr
fails() {
	code=$1 needle=$2
	shift 2
	"$@" > fails.out 2> fails.err
	rc=$?
	[ "$rc" -eq "$code" ] && grep -qF -- "$needle" fails.err && return 0
	diag "exit $rc, stderr: $(cat fails.err)"
	return 1
}

# ---- start-up checks ----
"$HERALDD" -c heraldd.conf --check-config > check.out 2>&1
ok $? "--check-config accepts api_tokens, rules_dir and identity_map"
chmod 644 tokens
"$HERALDD" -c heraldd.conf --check-config > check644.out 2>&1
[ $? -eq 2 ] && grep -q "mode 0644 lets group or others at the tokens" check644.out
ok $? "--check-config refuses the token file the daemon would refuse ($(head -c 200 check644.out))"
timeout 10 "$HERALDD" -c heraldd.conf --foreground > /dev/null 2> refuse.err
rc=$?
[ $rc -eq 1 ] && grep -q "api_tokens .*tokens: mode 0644 lets group or others at the tokens; run chmod 600" refuse.err
ok $? "a token file with mode 0644 stops heraldd at start ($(head -c 200 refuse.err))"
chmod 600 tokens
write_conf "$WORK/no-such-rules"
"$HERALDD" -c heraldd.conf --check-config > checkrules.out 2>&1
[ $? -eq 2 ] && grep -q "no-such-rules" checkrules.out
ok $? "--check-config refuses a missing rules_dir"
timeout 10 "$HERALDD" -c heraldd.conf --foreground > /dev/null 2> norules.err
rc=$?
[ $rc -eq 1 ] && grep -q "no-such-rules" norules.err
ok $? "a missing rules_dir stops heraldd at start ($(head -c 200 norules.err))"
write_conf

start_daemon 1
ok $? "heraldd answers on its socket"
[ "$(command stat -c %a "$SOCK")" = 600 ]
ok $? "the API socket (admin) is mode 0600"

# ---- users ----
H user add alice --list mine=eclipse-ptp,kernel --list watched=ralph --timezone $TZ_OK \
	--quiet-hours 22:00-07:00 > out 2>&1
ok $? "user add alice with lists, time zone and quiet hours"
H user add bob > /dev/null 2>&1
ok $? "user add bob"
H user list > out 2>&1 && grep -q '^alice' out && grep -q '^bob' out
ok $? "user list shows both"
H user show alice > out 2>&1 && grep -q 'list @mine: eclipse-ptp, kernel' out &&
	grep -q "timezone: *$TZ_OK" out && grep -q 'quiet hours: 22:00-07:00' out
ok $? "user show alice: lists, time zone, quiet hours"
H user show alice --json > alice.json && [ "$(field alice.json "d['lists']['watched']")" = "['ralph']" ]
ok $? "user show --json prints the document"
printf '["b", "a", "a"]' > list.json
[ "$(api PUT /v1/users/alice/lists/extra list.json)" = 200 ] &&
	[ "$(field api.out "d['lists']['extra']")" = "['a', 'b']" ]
ok $? "PUT a list: stored sorted and deduplicated"
printf '[]' > empty.json
[ "$(api PUT /v1/users/alice/lists/extra empty.json)" = 200 ] && [ "$(field api.out "'extra' in d['lists']")" = False ]
ok $? "PUT an empty list removes it"

# ---- destinations ----
H dest add alice email alice@example.com --json > d1.json
ok $? "dest add alice email"
D1=$(field d1.json "d['id']")
[ "$(field d1.json "(d['verified'], d['paused'], d['paused_reason'])")" = "(False, False, None)" ]
ok $? "a new destination is unverified and active"
H dest add alice irc '#alice' --json > d2.json && D2=$(field d2.json "d['id']")
ok $? "dest add alice irc"
H dest add bob webhook https://example.com/hook --json > d3.json && D3=$(field d3.json "d['id']")
ok $? "dest add bob webhook"
H dest list alice > out 2>&1 && [ "$(wc -l < out)" -eq 2 ] && grep -q "^$D1	email	alice@example.com	active" out
ok $? "dest list alice shows two"
H dest pause alice "$D1" --reason "mailbox full" > out 2>&1 && grep -q 'paused (mailbox full)' out
ok $? "dest pause with a reason"
H dest resume alice "$D1" > out 2>&1 && grep -q 'active$' out
ok $? "dest resume"

# ---- subscriptions ----
BUILDS='topic ~ "*.buildsys.build.state.change" and packages & @mine'
H sub add alice --filter "$BUILDS" --dest "$D1" --name builds --json > s1.json
ok $? "sub add alice (instant)"
S1=$(field s1.json "d['id']")
H sub add alice --filter 'msg.new == 3' --dest "$D1" --dest "$D2" --digest 3600 \
	--name "slow digest" --json > s2.json
ok $? "sub add alice (digest, two destinations)"
S2=$(field s2.json "d['id']")
[ "$(field s2.json "(d['mode'], d['digest_interval'], d['destinations'], d['enabled'])")" = "('digest', 3600, [$D1, $D2], True)" ]
ok $? "the digest subscription reads back"
H sub add bob --filter 'usernames has me' --dest "$D3" --json > s3.json && S3=$(field s3.json "d['id']")
ok $? "sub add bob"
H sub list alice > out 2>&1 && [ "$(wc -l < out)" -eq 2 ] && grep -q "^$S2	digest/3600s	enabled	$D1,$D2	slow digest	msg.new == 3" out
ok $? "sub list alice"
H sub show alice "$S1" > out 2>&1 && grep -q '^slow: *no' out && grep -qxF "filter:       $BUILDS" out
ok $? "sub show: an indexable filter is not slow"
H sub show alice "$S2" > out 2>&1 && grep -q '^slow: *yes' out
ok $? "sub show: msg.new == 3 is flagged slow"
H sub show alice "$S2" --json > s2.json && [ "$(field s2.json "d['slow']")" = True ]
ok $? "GET subscription has \"slow\": true"
H sub disable alice "$S2" > out 2>&1 && grep -q 'disabled' out
ok $? "sub disable"
H sub enable alice "$S2" > out 2>&1 && grep -q '	enabled	' out
ok $? "sub enable"
for secs in 60 604800; do
	H sub add alice --filter 'msg.new == 1' --dest "$D1" --digest $secs --json > edge.json &&
		H sub rm alice "$(field edge.json "d['id']")" > /dev/null
	ok $? "a digest interval of $secs seconds is accepted (and removed again)"
done

# ---- every kind of bad input, and none of it changes anything ----
snapshot > before.json
fails 1 "herald user add: user 'alice' already exists" H user add alice
ok $? "user add of an existing user"
fails 1 "herald user add: user name 'Bad_Name'" H user add Bad_Name
ok $? "user add with a bad name"
fails 1 "user name" H user add 'a/b'
ok $? "a slash in a name stays in the name (no path tricks)"
fails 1 "timezone 'Mars/Base': not a time zone" H user add carol --timezone Mars/Base
ok $? "user add with an unknown time zone"
fails 1 "not a time zone" H user add carol --timezone ../../../etc/passwd
ok $? "user add with a time zone that escapes the zone database"
fails 1 "quiet_hours: start and end must both be times" H user add carol --quiet-hours 25:00-07:00
ok $? "user add with bad quiet hours"
fails 2 "--quiet-hours: expected START-END" H user add carol --quiet-hours 2200
ok $? "quiet hours without a dash is a usage error"
fails 1 "list name 'My List'" H user add carol --list 'My List=a'
ok $? "user add with a bad list name"
fails 2 "missing argument" H user add
ok $? "user add without a name is a usage error"
fails 2 "unknown action 'frobnicate'" H user frobnicate
ok $? "an unknown action is a usage error"
fails 1 "herald dest add: sink 'Bad-Sink'" H dest add alice Bad-Sink x
ok $? "dest add with a bad sink name"
fails 1 "no sink 'sms' is configured in heraldd" H dest add alice sms 123
ok $? "dest add on a sink heraldd does not have"
fails 1 "no user 'nobody'" H dest add nobody email x
ok $? "dest add for an unknown user"
fails 1 "address: control characters are not allowed" H dest add alice irc "$(printf '#a\rPRIVMSG')"
ok $? "dest add with a control character in the address"
fails 1 "user 'alice' has no destination 99999" H dest pause alice 99999
ok $? "dest pause of an unknown destination"
fails 1 "'abc' is not an id" H dest rm alice abc
ok $? "dest rm with a non-numeric id"
fails 1 "user 'bob' has no destination $D1" H dest rm bob "$D1"
ok $? "bob cannot remove alice's destination"
fails 1 "herald sub add: filter 1:19: expected a field name after 'and'" \
	H sub add alice --filter 'topic ~ "*.x" and and' --dest "$D1"
ok $? "sub add with a bad filter reports line:column"
fails 1 "filter 2:" H sub add alice --filter "$(printf 'topic ~ "a"\nand (')" --dest "$D1"
ok $? "a filter error on line 2 says so"
fails 1 "destination 99999 is not one of user 'alice''s destinations" \
	H sub add alice --filter 'msg.new == 1' --dest 99999
ok $? "sub add with an unknown destination id"
fails 1 "destination $D3 is not one of user 'alice''s destinations" \
	H sub add alice --filter 'msg.new == 1' --dest "$D3"
ok $? "sub add with another user's destination"
fails 1 "digest_interval: expected whole seconds from 60" \
	H sub add alice --filter 'msg.new == 1' --dest "$D1" --digest 59
ok $? "digest interval 59 s is refused"
fails 1 "to 604800 (a week)" H sub add alice --filter 'msg.new == 1' --dest "$D1" --digest 604801
ok $? "digest interval 604801 s is refused"
fails 2 "at least one --dest is required" H sub add alice --filter 'msg.new == 1'
ok $? "sub add without --dest is a usage error"
fails 2 "--filter is required" H sub add alice --dest "$D1"
ok $? "sub add without --filter is a usage error"
fails 2 "--dest: expected a destination id" H sub add alice --filter x --dest one
ok $? "a non-numeric --dest is a usage error"
fails 1 "user 'alice' has no subscription 99999" H sub show alice 99999
ok $? "sub show of an unknown subscription"
fails 1 "destination $D1 is used by subscriptions $S1 (builds), $S2 (slow digest)" H dest rm alice "$D1"
ok $? "removing a destination in use names the subscriptions"
[ "$(api DELETE "/v1/users/alice/destinations/$D1")" = 409 ]
ok $? "... and is HTTP 409"
printf '{"filter": "msg.new == 1", "destinations": [%s], "colour": "red"}' "$D1" > body.json
[ "$(api POST /v1/users/alice/subscriptions body.json)" = 400 ] && grep -q "unknown key 'colour'" api.out
ok $? "an unknown JSON key is refused ($(cat api.out))"
printf '{"sink": "email", "address": "x", "verified": true}' > body.json
[ "$(api POST /v1/users/alice/destinations body.json)" = 400 ] && grep -q "'verified' is set by herald" api.out
ok $? "a key herald owns is refused"
printf '{"name": "dan", "name": "eve"}' > body.json
[ "$(api POST /v1/users body.json)" = 400 ] && grep -q "duplicate" api.out
ok $? "a duplicate JSON key is refused"
printf '{"name": ' > body.json
[ "$(api POST /v1/users body.json)" = 400 ] && grep -q "not valid JSON" api.out
ok $? "a truncated body is refused"
"$PYTHON3" -c 'import json; print(json.dumps({"name": "x" * (3 << 19)}))' > big.json
[ "$(api POST /v1/users big.json)" = 413 ] && grep -q "larger than 1 MiB" api.out
ok $? "a 1.5 MiB body is refused with 413"
[ "$(api GET /v1/nothing)" = 404 ] && [ "$(api DELETE /v1/users)" = 405 ]
ok $? "unknown resource 404, wrong method 405"
snapshot > after.json
cmp -s before.json after.json
ok $? "none of the refused requests changed anything"

# ---- filter test and sub explain on a corpus message ----
"$PYTHON3" - "$top_srcdir/tests/data/fedmsg-messages.jsonl" > build.json <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m["topic"].endswith("buildsys.build.state.change") and m["msg"].get("name") == "eclipse-ptp":
        print(json.dumps(m))
        break
PY
[ -s build.json ]
ok $? "a koji build message from the corpus"
H filter test "$BUILDS" --user alice < build.json > out 2>&1
rc=$?
[ $rc -eq 0 ] && [ "$(head -1 out)" = match ] && grep -q 'packages & @mine: true' out
ok $? "filter test: alice's build filter matches, exit 0"
H filter test 'msg.new == 3' < build.json > out 2>&1
rc=$?
[ $rc -eq 1 ] && [ "$(head -1 out)" = "no match" ] && grep -q 'msg.new == 3: false' out
ok $? "filter test: msg.new == 3 does not match, exit 1"
H filter test "$BUILDS" --json < build.json > out 2>&1
rc=$?
[ $rc -eq 1 ] && [ "$(field out "(d['match'], d['meta']['packages'], d['meta']['app'])")" = "(False, ['eclipse-ptp'], 'koji')" ]
ok $? "without --user, @mine is unknown: no match; --json carries the meta"
fails 2 "herald filter test: filter 1:8:" H filter test 'topic ~' < build.json
ok $? "filter test with a bad filter: exit 2 with line:column"
fails 2 "no user 'nobody'" H filter test 'agent == me' --user nobody < build.json
ok $? "filter test for an unknown user: exit 2"
echo 'not json' | fails 2 "standard input: not a JSON message" H filter test 'msg.new == 0'
ok $? "filter test with a message that is not JSON: exit 2"
H sub explain alice < build.json > out 2>&1 && grep -q "^$S1 (builds): match" out &&
	grep -q "^$S2 (slow digest): no match" out && grep -q '^1 of 2 subscriptions match' out
ok $? "sub explain: which of alice's subscriptions match, and why"
H sub explain alice --json < build.json > out 2>&1 &&
	[ "$(field out "[(s['id'], s['match']) for s in d['subscriptions']]")" = "[($S1, True), ($S2, False)]" ]
ok $? "sub explain --json"
fails 1 "no user 'nobody'" H sub explain nobody < build.json
ok $? "sub explain for an unknown user"

# ---- TCP with scoped tokens ----
[ "$(tcp "" GET /healthz)" = 200 ]
ok $? "TCP /healthz needs no token"
[ "$(tcp "" GET /v1/users)" = 401 ] && curl -s -D - -o /dev/null "$TCP/v1/users" | grep -qi '^WWW-Authenticate: Bearer'
ok $? "TCP without a token: 401 with a Bearer challenge"
[ "$(tcp "wrong-token-0123456789abcdef" GET /v1/users)" = 401 ]
ok $? "TCP with an unknown token: 401"
[ "$(tcp "$READ_T" GET /v1/users)" = 200 ] && [ "$(tcp "$READ_T" GET /metrics)" = 200 ] &&
	[ "$(tcp "$READ_T" GET "/v1/users/alice/subscriptions/$S1")" = 200 ]
ok $? "read token: GET works"
[ "$(tcp "$READ_T" POST /v1/users '{"name": "mallory"}')" = 403 ] &&
	[ "$(tcp "$READ_T" DELETE "/v1/users/bob")" = 403 ]
ok $? "read token: POST and DELETE are 403"
[ "$(tcp "$ALICE_T" GET /v1/users/alice/subscriptions)" = 200 ] &&
	[ "$(tcp "$ALICE_T" GET /v1/users/alice)" = 200 ]
ok $? "user:alice token reads alice"
[ "$(tcp "$ALICE_T" POST /v1/users/alice/destinations '{"sink": "irc", "address": "#tcp"}')" = 201 ] &&
	DT=$(field tcp.out "d['id']") && [ "$(tcp "$ALICE_T" DELETE "/v1/users/alice/destinations/$DT")" = 200 ]
ok $? "user:alice token adds and removes her own destination"
[ "$(tcp "$ALICE_T" GET /v1/users/bob)" = 403 ] &&
	[ "$(tcp "$ALICE_T" GET /v1/users/bob/subscriptions)" = 403 ] &&
	[ "$(tcp "$ALICE_T" POST /v1/users/bob/destinations '{"sink": "irc", "address": "#x"}')" = 403 ] &&
	[ "$(tcp "$ALICE_T" DELETE "/v1/users/bob/subscriptions/$S3")" = 403 ]
ok $? "user:alice token cannot touch bob: 403"
[ "$(tcp "$ALICE_T" GET /v1/users)" = 403 ] && [ "$(tcp "$ALICE_T" DELETE /v1/users/alice)" = 403 ] &&
	[ "$(tcp "$ALICE_T" GET /metrics)" = 403 ]
ok $? "user:alice token cannot list users, delete her account or read metrics"
printf '{"filter": "usernames has me", "user": "bob", "message": %s}' "$(cat build.json)" > ft.json
[ "$(tcp "$ALICE_T" POST /v1/filter/test "$(cat ft.json)")" = 403 ]
ok $? "user:alice token cannot test filters as bob"
printf '{"filter": "packages & @mine", "user": "alice", "message": %s}' "$(cat build.json)" > ft.json
[ "$(tcp "$ALICE_T" POST /v1/filter/test "$(cat ft.json)")" = 200 ] && [ "$(field tcp.out "d['match']")" = True ]
ok $? "user:alice token tests filters as alice"
[ "$(tcp "$ADMIN_T" POST /v1/users '{"name": "dave"}')" = 201 ] && [ "$(tcp "$ADMIN_T" DELETE /v1/users/dave)" = 200 ]
ok $? "admin token may do anything"
! grep -q -e "$ADMIN_T" -e "$READ_T" -e "$ALICE_T" -e wrong-token daemon1.err
ok $? "no token ever reaches the log"
grep -q "refused GET from 127.0.0.1: no bearer token" daemon1.err
ok $? "refusals are logged without the token"

# ---- persistence across a restart ----
snapshot > before.json
kill -TERM "$DPID"
wait "$DPID"
ok $? "heraldd stops cleanly"
start_daemon 2
ok $? "heraldd starts again on the same store"
snapshot > after.json
cmp -s before.json after.json
ok $? "users, destinations and subscriptions survive the restart"
H stats --json > /dev/null 2>&1
ok $? "herald stats still works"

# ---- cascade delete ----
H sub rm bob "$S3" > out 2>&1 && grep -q "deleted subscription $S3 of bob" out
ok $? "sub rm"
H dest rm bob "$D3" > out 2>&1
ok $? "dest rm of a destination no longer in use"
H user rm alice > out 2>&1 && grep -q 'deleted user alice with 2 destinations and 2 subscriptions' out
ok $? "user rm alice takes her destinations and subscriptions"
# Bytes that are not UTF-8 in a path: a clear 400, never an empty reply.
[ "$(api GET /v1/users/%ff%fe)" = 400 ] && grep -q '"bad request path"' api.out &&
	[ "$(api GET /v1/users/alice%c3%28/subscriptions)" = 400 ]
ok $? "a path that decodes to bytes that are not UTF-8: 400 with a JSON error ($(cat api.out))"
[ "$(api GET /v1/users/alice)" = 404 ] && [ "$(api GET /v1/users/alice/subscriptions)" = 404 ]
ok $? "alice is gone (404)"
H user list > out 2>&1 && [ "$(cat out | cut -f1)" = bob ]
ok $? "bob is left"
H user rm bob > out 2>&1 && grep -q 'with 0 destinations and 0 subscriptions' out
ok $? "user rm bob"
kill -TERM "$DPID"
wait "$DPID"
ok $? "clean exit"
done_testing
