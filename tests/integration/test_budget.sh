#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 13 item 2, end to end over the TCP API with a user token: a
# catastrophic regex and a 17th regex are refused at creation (400 with the
# API's JSON error, and the CLI prints it); an accepted but expensive
# filter exhausts its budget on the live bus, is quarantined with the reason
# shown to its owner (API and `herald sub list`) and counted in /metrics,
# stays quarantined across a restart (and matches nothing), and its owner
# can enable it again.
. "${top_srcdir:-.}/tests/integration/lib.sh"

delivery_setup
P_API=$(free_port)
TCP="http://127.0.0.1:$P_API"
ADMIN_T=admin-0123456789abcdef0123
MAL_T=mallory-0123456789abcdef012
printf '%s admin\n%s user:mallory\n' "$ADMIN_T" "$MAL_T" > tokens
chmod 600 tokens
cat > heraldd.conf <<CONF
$(daemon_base_conf "api_listen = 127.0.0.1:$P_API" "api_tokens = tokens")
$(stand_in_sinks)
CONF
H() { "$HERALD" "$@" --socket "$SOCK"; }
sub_field() { # sub_field ID EXPR: EXPR on mallory's subscription ID as seen over TCP (as s)
	tcp "$MAL_T" GET /v1/users/mallory/subscriptions > /dev/null
	"$PYTHON3" -c "import json,sys
for s in json.load(open('tcp.out'))['subscriptions']:
    if s['id'] == int(sys.argv[1]): print($2)" "$1"
}

start_relay
ok $? "relay is up"
start_heraldd 1
ok $? "heraldd is up"
say_hello
ok $? "heraldd hears the bus"

H user add mallory > /dev/null 2>&1 && H dest add mallory email m@example.com --json > d.json 2>/dev/null
ok $? "admin creates mallory and a destination"
D=$(jfield "d['id']" < d.json)

# ---- refused at creation ----
st=$(tcp "$MAL_T" POST /v1/users/mallory/subscriptions \
	"{\"filter\": \"msg.s =~ \\\"(.*.*)*x\\\"\", \"destinations\": [$D]}")
[ "$st" = 400 ] && jfield "d['error']" < tcp.out | grep -q 'filter 1:17: regular expression "(.\*.\*)\*x" refused: nested quantifier'
ok $? "(.*.*)*x: 400 naming the regex and why ($st: $(head -c 200 tcp.out))"
for f in '(a+)+$' '(a|a)*' '(\\\\w+\\\\.?)+' '(?R)'; do
	st=$(tcp "$MAL_T" POST /v1/users/mallory/subscriptions \
		"{\"filter\": \"msg.s =~ \\\"$f\\\"\", \"destinations\": [$D]}")
	[ "$st" = 400 ] && grep -q "refused" tcp.out
	ok $? "$f: 400 ($st)"
done
many=$("$PYTHON3" -c "print(' or '.join('msg.s =~ \\\\\"^x%d\\\\\"' % i for i in range(17)))")
st=$(tcp "$MAL_T" POST /v1/users/mallory/subscriptions "{\"filter\": \"$many\", \"destinations\": [$D]}")
[ "$st" = 400 ] && grep -q "too many regular expressions (at most 16" tcp.out
ok $? "17 regexes: 400 ($st: $(head -c 160 tcp.out))"
H sub add mallory --filter 'msg.s =~ "(a|aa)*c"' --dest "$D" > cli.out 2> cli.err
[ $? -eq 1 ] && grep -q 'regular expression "(a|aa)\*c" refused' cli.out cli.err
ok $? "herald sub add prints the refusal and exits 1 ($(cat cli.err cli.out | head -c 200))"

# ---- accepted, expensive, quarantined ----
st=$(tcp "$MAL_T" POST /v1/users/mallory/subscriptions \
	"{\"filter\": \"msg.s =~ \\\"[a-z]*[a-z]*[a-z]*[0-9]\\\"\", \"destinations\": [$D]}")
[ "$st" = 201 ]
ok $? "an expensive regex the rule accepts is created ($st)"
S=$(jfield "d['id']" < tcp.out)
[ "$(sub_field "$S" "s['state']")" = active ]
ok $? "its state is active"
text=$("$PYTHON3" -c "print(' '.join(['a' * 38] * 100))")
publish_hostile() {
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key "$WORK/demo.key" --signer demo \
		--topic org.test.wiki.edit --json "{\"s\": \"$text\"}" > /dev/null 2>&1
}
sleep 1 # the index picks the subscription up
for _ in 1 2 3 4 5 6; do publish_hostile; done
wait_for 20 stat_is subscriptions_quarantined 1
ok $? "quarantined after a few messages (subscriptions_quarantined=$(stat subscriptions_quarantined))"
wait_for 10 sh -c "[ \"\$(curl -s -H 'Authorization: Bearer $MAL_T' $TCP/v1/users/mallory/subscriptions/$S | \
	$PYTHON3 -c 'import json,sys; print(json.load(sys.stdin).get(\"state\"))')\" = quarantined ]"
ok $? "GET of the subscription says quarantined"
sub_field "$S" "s['state'] + ': ' + s['reason']" > reason.out
grep -q "^quarantined: its filter's regular expressions exceeded their evaluation budget" reason.out
ok $? "the owner sees the reason over TCP ($(head -c 120 reason.out))"
H sub list mallory > list.out 2>&1
grep -q "quarantined" list.out && grep -q "exceeded their evaluation budget" list.out
ok $? "herald sub list shows it quarantined, with the reason"
curl -s -H "Authorization: Bearer $ADMIN_T" "$TCP/metrics" | grep -q '^herald_subscriptions_quarantined_total 1$'
ok $? "/metrics counts the quarantine"
grep -q "match: subscription $S of 'mallory' quarantined" daemon1.err
ok $? "and the log says so"

# ---- it survives a restart ----
kill -TERM "$DPID"
wait "$DPID"
ok $? "clean exit"
start_heraldd 2
ok $? "heraldd restarts"
[ "$(sub_field "$S" "s['state']")" = quarantined ]
ok $? "still quarantined after the restart"
say_hello
n0=$(stat subscription_matches)
a0=$(stat accepted)
publish_hostile
wait_for 10 stat_is accepted $((a0 + 1))
sleep 0.3
[ "$(stat subscription_matches)" = "$n0" ] && [ "$(stat subscriptions_quarantined)" = 0 ]
ok $? "a hostile message after the restart costs nothing: not evaluated, nothing new to quarantine"

# ---- the owner enables it again ----
st=$(tcp "$MAL_T" POST "/v1/users/mallory/subscriptions/$S/enable")
[ "$st" = 200 ] && [ "$(jfield "d.get('state', 'none')" < tcp.out)" = none ] &&
	[ "$(sub_field "$S" "s['state']")" = active ]
ok $? "mallory enables it again over TCP ($st)"

kill -TERM "$DPID"
wait "$DPID"
ok $? "clean exit"
done_testing
