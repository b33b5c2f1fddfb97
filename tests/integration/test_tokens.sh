#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Personal API tokens and the CLI over TCP, end to end: a user creates a
# token through the API, the herald CLI uses it (--url, --token-file) to add
# a destination and a subscription, is refused another user's records (403)
# and the admin's lists, the token is revoked and the next call gets 401;
# the token never shows in an error. Then verification codes across a
# restart: a code sent before heraldd restarts still verifies after it, and
# the wrong tries made before the restart still count.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cd "$WORK"
SOCK="$WORK/state/heraldd.sock"
P_API=$(free_port)
P_BUS=$(free_port)
URL="http://127.0.0.1:$P_API"
ALICE_FILE_T=alice-file-token-0123456789abcdef
printf '%s user:alice\n' "$ALICE_FILE_T" > tokens
chmod 600 tokens
cat > heraldd.conf <<CONF
[daemon]
state_dir = state
api_listen = 127.0.0.1:$P_API
api_tokens = tokens
rules_dir = $top_srcdir/src/schema/rules
[endpoint bus]
connect = tcp://127.0.0.1:$P_BUS
[dispatch]
plugin_dir = $top_builddir/sinks
[sink email]
plugin = file
path = email.jsonl
[sink confirm]
plugin = file
path = confirm.jsonl
verify = yes
CONF

H() { "$HERALD" "$@" --socket "$SOCK"; }
# T ARGS...: the CLI over TCP with alice's personal token
T() { "$HERALD" "$@" --url "$URL" --token-file "$WORK/alice.token"; }
field() { "$PYTHON3" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# tcp TOKEN METHOD PATH [BODY]: the HTTP status; the body in tcp.out
tcp() {
	if [ -n "${4:-}" ]; then
		curl -s -o tcp.out -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" \
			-H 'Content-Type: application/json' -d "$4" "$URL$3"
	else
		curl -s -o tcp.out -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" "$URL$3"
	fi
}
# fails CODE NEEDLE COMMAND...: exit status CODE and NEEDLE on stderr
fails() {
	code=$1 needle=$2
	shift 2
	"$@" > fails.out 2> fails.err
	rc=$?
	cat fails.err >> all-errors
	[ "$rc" -eq "$code" ] && grep -qF -- "$needle" fails.err && return 0
	diag "exit $rc, stderr: $(cat fails.err)"
	return 1
}
start_daemon() {
	"$HERALDD" -c heraldd.conf --foreground > "daemon$1.out" 2> "daemon$1.err" &
	DPID=$!
	PIDS="$PIDS $DPID"
	wait_for 30 curl -sf --unix-socket "$SOCK" http://localhost/healthz
}
stop_daemon() {
	kill "$DPID" && wait "$DPID"
}

start_daemon 1
ok $? "heraldd answers on its socket"
H user add alice > /dev/null 2>&1 && H user add bob > /dev/null 2>&1
ok $? "users alice and bob"
H dest add bob email bob@example.org --json > bobdest.json 2>&1
BOB_D=$(field bobdest.json "d['id']")

# ---- alice makes a token ----
[ "$(tcp "$ALICE_FILE_T" POST /v1/users/alice/tokens '{"name": "cli on my laptop"}')" = 201 ]
ok $? "alice creates a personal token through the API (201)"
TOKEN=$(field tcp.out "d['token']")
TID=$(field tcp.out "d['id']")
case "$TOKEN" in hrl_???????????????????????????????????????????) r=0 ;; *) r=1 ;; esac
[ ${#TOKEN} -eq 47 ]
ok $(($? + r)) "the token is hrl_ and 43 characters"
[ "$(tcp "$ALICE_FILE_T" POST /v1/users/bob/tokens '{"name": "not mine"}')" = 403 ]
ok $? "alice cannot make a token for bob (403)"
[ "$(tcp "$ALICE_FILE_T" GET /v1/users/alice/tokens)" = 200 ] &&
	[ "$(field tcp.out "[(t['name'], t['prefix'], 'token' in t) for t in d['tokens']]")" = \
		"[('cli on my laptop', '$(printf %.12s "$TOKEN")', False)]" ]
ok $? "the list shows its name and prefix, not the token"

printf '%s\n' "$TOKEN" > alice.token
chmod 644 alice.token
fails 2 "mode 0644 lets group or others read the token" T user show alice
ok $? "the CLI refuses a token file others can read"
chmod 600 alice.token

# ---- the CLI over TCP ----
T user show alice > out 2>&1
ok $? "herald user show alice --url --token-file ($(head -c 100 out))"
T dest add alice email alice@example.org --json > adest.json 2> adest.err
ok $? "alice adds a destination over TCP ($(cat adest.err))"
AD=$(field adest.json "d['id']")
T sub add alice --filter 'topic == "org.test.hello"' --dest "$AD" --name mine --json > asub.json 2> asub.err
ok $? "alice adds a subscription over TCP ($(cat asub.err))"
H sub list alice --json > subs.json && [ "$(field subs.json "[s['name'] for s in d['subscriptions']]")" = "['mine']" ]
ok $? "the admin sees it on the socket"
fails 1 "scope does not allow" T sub list bob
ok $? "bob's subscriptions are refused (403)"
fails 1 "scope does not allow" T dest rm bob "$BOB_D"
ok $? "so is deleting bob's destination"
H dest list bob --json > bd.json && [ "$(field bd.json "len(d['destinations'])")" = 1 ]
ok $? "which is still there"
fails 1 "scope does not allow" T user list
ok $? "and the list of users (an admin's)"
fails 2 "not both" "$HERALD" user show alice --url "$URL" --token-file alice.token --socket "$SOCK"
ok $? "--url and --socket conflict"
fails 2 "needs --token-file" "$HERALD" user show alice --url "$URL"
ok $? "--url needs --token-file"
[ "$(tcp "$TOKEN" GET /v1/users/alice/tokens)" = 200 ] &&
	[ "$(field tcp.out "d['tokens'][0]['last_used'] > 0")" = True ]
ok $? "the token's last use is shown"

# ---- her settings: quiet hours and time zone (PATCH /v1/users/NAME) ----
[ "$(tcp "$TOKEN" PATCH /v1/users/alice '{"timezone": "Europe/Prague", "quiet_hours": {"start": "22:00", "end": "07:00"}}')" = 200 ] &&
	H user show alice --json > ashow.json &&
	[ "$(field ashow.json "(d['timezone'], d['quiet_hours'])")" = "('Europe/Prague', {'start': '22:00', 'end': '07:00'})" ]
ok $? "alice sets her time zone and quiet hours herself ($(cat tcp.out))"
[ "$(tcp "$TOKEN" PATCH /v1/users/alice '{"quiet_hours": null}')" = 200 ] &&
	H user show alice --json > ashow.json &&
	[ "$(field ashow.json "(d['timezone'], d['quiet_hours'])")" = "('Europe/Prague', None)" ]
ok $? "and clears the quiet hours alone, the time zone kept"
r=0
for bad in '{"timezone": "Mars/Olympus"}' '{"quiet_hours": {"start": "25:00", "end": "07:00"}}' \
	'{"name": "mallory"}' '{"lists": {}}' '{}' '[]'; do
	[ "$(tcp "$TOKEN" PATCH /v1/users/alice "$bad")" = 400 ] && grep -q '"error"' tcp.out ||
		{ diag "$bad: $(cat tcp.out)"; r=1; }
done
ok "$r" "a bad zone, a bad time, the name, the lists, nothing, not an object: 400 each"
[ "$(tcp "$TOKEN" PATCH /v1/users/bob '{"timezone": "UTC"}')" = 403 ] &&
	[ "$(tcp "$TOKEN" DELETE /v1/users/alice)" = 403 ]
ok $? "bob's record is not hers to change, and her account is not hers to delete (403)"

# ---- revoked: refused at once ----
[ "$(tcp "$TOKEN" DELETE "/v1/users/alice/tokens/$TID")" = 200 ]
ok $? "alice revokes the token with itself"
fails 1 "unknown token" T user show alice
ok $? "the next call is refused (401: unknown token)"
[ "$(tcp "$TOKEN" GET /v1/users/alice)" = 401 ]
ok $? "over plain HTTP too: 401"
printf 'hrl_%s\n' "$(printf %.43s "${TOKEN#hrl_}x" | tr 'A-Za-z' 'B-ZAb-za')" > forged.token
chmod 600 forged.token
fails 1 "unknown token" "$HERALD" user show alice --url "$URL" --token-file forged.token
ok $? "a made-up token of the right shape: 401"
! grep -qF "$TOKEN" all-errors daemon1.err
ok $? "the token never appears in the CLI's errors or the daemon's log"

# ---- a deleted user's tokens die with the user ----
[ "$(tcp "$ALICE_FILE_T" POST /v1/users/alice/tokens '{"name": "second"}')" = 201 ]
T2=$(field tcp.out "d['token']")
[ "$(tcp "$T2" GET /v1/users/alice)" = 200 ]
ok $? "a second token works"
H user rm alice > /dev/null 2>&1
H user add alice > /dev/null 2>&1
[ "$(tcp "$T2" GET /v1/users/alice)" = 401 ]
ok $? "deleting alice deletes her tokens (a new alice does not inherit them)"

# ---- herald token: an admin makes bob's first token, bob manages his own ----
H token add bob --name "bob's laptop" > bob.token 2> bobtok.err
ok $? "herald token add (admin, on the socket) prints a token"
chmod 600 bob.token
BT=$(cat bob.token)
[ ${#BT} -eq 47 ] && ! grep -qF "$BT" bobtok.err
ok $? "the token on stdout only, not in the note on stderr"
B() { "$HERALD" "$@" --url "$URL" --token-file "$WORK/bob.token"; }
B token list bob > blist.out 2>&1 && grep -q "bob's laptop" blist.out &&
	grep -qF "$(printf %.12s "$BT")" blist.out && ! grep -qF "$BT" blist.out
ok $? "bob lists his tokens over TCP: name and prefix, not the token ($(head -1 blist.out))"
fails 1 "scope does not allow" B token list alice
ok $? "bob cannot list alice's tokens"
BID=$(B token list bob --json | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["tokens"][0]["id"])')
B token rm bob "$BID" > brm.out 2>&1 && grep -q "revoked" brm.out
ok $? "bob revokes his token with itself ($(cat brm.out))"
fails 1 "unknown token" B token list bob
ok $? "and it is refused at once"
! grep -qF "$BT" all-errors
ok $? "no error showed bob's token"

# ---- verification codes survive a restart ----
H dest add bob confirm box-1 --json > v1.json 2>&1
V1=$(field v1.json "d['id']")
H dest add bob confirm box-2 --json > v2.json 2>&1
V2=$(field v2.json "d['id']")
wait_for 30 sh -c '[ "$(grep -c confirmation confirm.jsonl)" -ge 2 ]'
code_for() { grep "\"destination\":$1[,}]" confirm.jsonl | sed -n 's/.*confirmation code is \([A-Z0-9]*\)\..*/\1/p' | tail -1; }
C1=$(code_for "$V1")
C2=$(code_for "$V2")
[ ${#C1} -eq 8 ] && [ ${#C2} -eq 8 ]
ok $? "two codes were sent ($C1, $C2)"
for i in 1 2 3 4; do
	H dest verify bob "$V2" WRONGONE > /dev/null 2>&1
done
fails 1 "wrong code" H dest verify bob "$V2" WRONGONE
ok $? "... the fifth wrong code for box-2 is still only wrong"
stop_daemon
ok $? "heraldd stops"
start_daemon 2
ok $? "heraldd starts again"
H dest verify bob "$V1" "$C1" > out 2>&1
ok $? "box-1's code, sent before the restart, verifies after it ($(cat out))"
fails 1 "too many wrong codes" H dest verify bob "$V2" "$C2"
ok $? "box-2's five wrong tries counted across the restart: even its right code is refused now"
H dest list bob --json > bd.json &&
	[ "$(field bd.json "sorted((x['address'], x['verified']) for x in d['destinations'] if x['sink'] == 'confirm')")" = \
		"[('box-1', True), ('box-2', False)]" ]
ok $? "box-1 is verified, box-2 is not"
! grep -qF "$C1" state/herald.mdb
ok $? "the store keeps no code in the clear"

stop_daemon
ok $? "heraldd exits cleanly"
done_testing
