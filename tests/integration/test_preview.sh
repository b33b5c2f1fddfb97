#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 14, preview and "why", end to end over the TCP API with user tokens
# on a running heraldd fed by the relay: a preview counts and lists what a
# filter would have matched among the recent messages (newest first, the
# user's lists, line:col errors); another user's token is refused; "why"
# names the subscription and the fields that matched, on the original
# message while it is recent and, after a restart (the recent store is
# memory only), on what the delivery log kept; a pending note is found in
# the outbox; a deleted subscription no longer matches; another user's note
# is a 404 even through that user's own path.
. "${top_srcdir:-.}/tests/integration/lib.sh"

delivery_setup
P_API=$(free_port)
TCP="http://127.0.0.1:$P_API"
ALICE_T=alice-0123456789abcdef01234
BOB_T=bob-0123456789abcdef0123456
printf '%s user:alice\n%s user:bob\n' "$ALICE_T" "$BOB_T" > tokens
chmod 600 tokens
cat > heraldd.conf <<CONF
$(daemon_base_conf "api_listen = 127.0.0.1:$P_API" "api_tokens = tokens")
[dispatch]
plugin_dir = $top_builddir/sinks
[sink inbox]
plugin = file
path = inbox.jsonl
CONF
H() { "$HERALD" "$@" --socket "$SOCK"; }
publish() { # publish TOPIC JSON [COUNT]
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic "$1" --json "$2" --count "${3:-1}" > /dev/null 2>&1
}
stat_ge() { [ "$(stat "$1")" -ge "$2" ] 2>/dev/null; }
lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }

start_relay
ok $? "relay is up"
start_heraldd 1
ok $? "heraldd is up"
say_hello
ok $? "heraldd hears the bus"

H user add alice --list mine=kernel,bash > /dev/null && H user add bob > /dev/null
ok $? "users alice (list mine: kernel, bash) and bob"
D=$(H dest add alice inbox alice-inbox --json | jfield "d['id']")
S=$(H sub add alice --filter 'topic == "org.test.build" and msg.package == "kernel"' --dest "$D" \
	--json | jfield "d['id']")
[ -n "$D" ] && [ -n "$S" ]
ok $? "alice has a file destination and a subscription ($S)"
# The matcher polls the store for subscription changes every 100 ms: give it
# that time (many times over) before the first kernel build is committed.
sleep 1

# 3 kernel builds, 4 of glibc, then 2 kernel updates: 9 + hellos accepted
before=$(stat accepted)
publish org.test.build '{"package": "kernel", "n": 1}'
publish org.test.build '{"package": "glibc", "n": 2}' 4
publish org.test.build '{"package": "kernel", "n": 3}' 2
publish org.test.update '{"package": "kernel", "n": 4}' 2
wait_for 20 stat_ge accepted $((before + 9))
ok $? "nine messages accepted"
total=$(stat accepted)

# ---- preview ----
code=$(tcp "$ALICE_T" POST /v1/users/alice/preview \
	'{"filter": "topic == \"org.test.build\" and msg.package == \"kernel\""}')
[ "$code" = 200 ] && [ "$(jfield "(d['matched'], d['of'], d['complete'], len(d['messages']))" < tcp.out)" = \
	"(3, $total, True, 3)" ]
ok $? "preview: 3 of the last $total messages match, all listed ($code $(head -c 300 tcp.out))"
[ "$(jfield "[m['topic'] for m in d['messages']] == ['org.test.build'] * 3 and all(m['time'] > 1.7e9 for m in d['messages'])" < tcp.out)" = True ]
ok $? "preview: each listed message has its topic and time"
tcp "$ALICE_T" POST /v1/users/alice/preview '{"filter": "topic ~ \"org.test.*\""}' > /dev/null
[ "$(jfield "(d['matched'], d['messages'][0]['topic'])" < tcp.out)" = "($total, 'org.test.update')" ]
ok $? "preview: newest first (the updates came last) ($(head -c 200 tcp.out))"
code=$(tcp "$ALICE_T" POST /v1/users/alice/preview '{"filter": "msg.package in @mine"}')
[ "$code" = 200 ] && [ "$(jfield "d['matched']" < tcp.out)" = 5 ]
ok $? "preview: with alice's own list @mine ($code $(head -c 200 tcp.out))"
code=$(tcp "$ALICE_T" POST /v1/users/alice/preview '{"filter": "topic == "}')
[ "$code" = 400 ] && jfield "d['error']" < tcp.out | grep -q '^filter 1:[0-9]*: '
ok $? "preview: a filter error is a 400 with line:col ($code $(cat tcp.out))"
code=$(tcp "$BOB_T" POST /v1/users/alice/preview '{"filter": "topic ~ \"*\""}')
[ "$code" = 403 ]
ok $? "preview: bob's token cannot preview as alice ($code)"

# ---- why: delivered, on the original message ----
wait_for 20 lines inbox.jsonl 3
ok $? "alice's three kernel builds reach her inbox"
NOTE=$(head -1 inbox.jsonl | jfield "d['id']")
code=$(tcp "$ALICE_T" GET "/v1/users/alice/why/$NOTE")
cp tcp.out why1.json
[ "$code" = 200 ] && [ "$(jfield "(d['match'], d['source'], d['subscription']['id'], d['note']['state'], d['note']['sink'], d['note']['address'], d['note']['id'])" < why1.json)" = \
	"(True, 'message', $S, 'delivered', 'inbox', 'alice-inbox', '$NOTE')" ]
ok $? "why: delivered note, subscription $S matched the original message ($code $(head -c 400 why1.json))"
jfield "d['why']" < why1.json | grep -q 'msg.package == "kernel": true'
ok $? "why: the explanation names the fields that matched ($(jfield "d['why']" < why1.json | tr '\n' '|'))"
[ "$(jfield "(d['subscription']['filter'], d['note']['topic'], d['meta']['app'] is None or isinstance(d['meta']['app'], str))" < why1.json)" = \
	"('topic == \"org.test.build\" and msg.package == \"kernel\"', 'org.test.build', True)" ]
ok $? "why: the subscription's filter, the note's topic and the meta"
code=$(tcp "$BOB_T" GET "/v1/users/bob/why/$NOTE")
[ "$code" = 404 ]
ok $? "why: alice's note through bob's own path is a 404 ($code $(cat tcp.out))"
code=$(tcp "$BOB_T" GET "/v1/users/alice/why/$NOTE")
[ "$code" = 403 ]
ok $? "why: bob's token on alice's path is refused ($code)"
code=$(tcp "$ALICE_T" GET "/v1/users/alice/why/0123456789abcdef0123456789abcdef")
[ "$code" = 404 ]
ok $? "why: an unknown note id is a 404 ($code)"
code=$(tcp "$ALICE_T" GET "/v1/users/alice/why/xyz")
[ "$code" = 400 ]
ok $? "why: a malformed note id is a 400 ($code)"

# ---- why: pending (a paused destination keeps it in the outbox) ----
H dest pause alice "$D" > /dev/null
publish org.test.build '{"package": "kernel", "n": 5}'
wait_for 20 sh -c "curl -s --unix-socket '$SOCK' http://localhost/v1/users/alice/outbox | grep -q '\"id\"'"
PEND=$(curl -s --unix-socket "$SOCK" http://localhost/v1/users/alice/outbox | jfield "d['notifications'][0]['id']")
code=$(tcp "$ALICE_T" GET "/v1/users/alice/why/$PEND")
[ "$code" = 200 ] && [ "$(jfield "(d['match'], d['note']['state'], d['source'])" < tcp.out)" = "(True, 'pending', 'message')" ]
ok $? "why: a note waiting in the outbox ($code $(head -c 300 tcp.out))"

# ---- after a restart: the recent store is empty, the delivery log kept the note ----
kill "$DPID"
wait "$DPID" 2>/dev/null
start_heraldd 2
ok $? "heraldd restarted"
code=$(tcp "$ALICE_T" GET "/v1/users/alice/why/$NOTE")
[ "$code" = 200 ] && [ "$(jfield "(d['match'], d['source'], d['body'], d['note']['state'], d['note']['title'] == json.load(open('why1.json'))['note']['title'])" < tcp.out)" = \
	"(True, 'notification', True, 'delivered', True)" ]
ok $? "why after a restart: explained on what the delivery log kept ($code $(head -c 400 tcp.out))"
code=$(tcp "$ALICE_T" POST /v1/users/alice/preview '{"filter": "topic ~ \"*\""}')
[ "$code" = 200 ] && [ "$(jfield "d['of']" < tcp.out)" -lt "$total" ]
ok $? "preview after a restart: only what came since ($(head -c 100 tcp.out))"
code=$(tcp "$ALICE_T" GET "/v1/users/alice/why/$PEND")
[ "$code" = 200 ] && [ "$(jfield "(d['match'], d['source'], d['note']['state'])" < tcp.out)" = "(True, 'notification', 'pending')" ]
ok $? "why after a restart, pending: explained on the note's own body ($code)"

# ---- a deleted subscription ----
H sub rm alice "$S" > /dev/null
code=$(tcp "$ALICE_T" GET "/v1/users/alice/why/$NOTE")
[ "$code" = 200 ] && [ "$(jfield "(d['match'], d['subscription']['id'], d['subscription']['filter'])" < tcp.out)" = "(False, $S, None)" ]
ok $? "why: a deleted subscription is named but no longer matches ($code $(head -c 300 tcp.out))"

done_testing
