#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The web app's signed links end to end: heraldd with [web] (no sign-in
# needed for these) delivers a mail through the email sink to a real SMTP
# server on 127.0.0.1; the mail carries List-Unsubscribe (the signed link),
# List-Unsubscribe-Post and X-Herald-Why, and its text the Why and
# Unsubscribe lines. GET on the link shows a confirmation and changes
# nothing; a tampered link is refused and changes nothing; the RFC 8058
# one-click POST disables the subscription, and no more mail comes from it.
# The link key is created 0600 and survives a restart.
. "${top_srcdir:-.}/tests/integration/lib.sh"

if ! "$PYTHON3" -c 'import aiosmtpd' 2> /dev/null; then
	echo "Bail out! python3-aiosmtpd is not installed (scripts/install-deps)"
	exit 1
fi
delivery_setup
"$PYTHON3" "$top_srcdir/tests/integration/smtpd.py" mx 2> mx.err &
PIDS="$PIDS $!"
wait_for 20 test -s mx/port
ok $? "an SMTP server on 127.0.0.1"
P_WEB=$(free_port)
BASE="http://127.0.0.1:$P_WEB"
mkdir -p www
cat > heraldd.conf <<CONF
$(daemon_base_conf)
$(sink_test_dispatch 4)
[sink mail]
plugin = email
host = 127.0.0.1
port = $(cat mx/port)
starttls = off
from = herald@example.org
[web]
listen = 127.0.0.1:$P_WEB
base_url = $BASE
assets = www
CONF

start_relay
ok $? "relay is ready"
start_heraldd 1
ok $? "heraldd runs with the web app"
[ "$(command stat -c '%a %s' state/link.key)" = "600 32" ]
ok $? "the link key: 32 bytes, mode 0600"

H() { "$HERALD" "$@" --socket "$SOCK"; }
H user add alice > /dev/null && H user add bob > /dev/null
sub() { # sub USER: a subscription to org.test.links on USER's mail destination
	d=$(H dest add "$1" mail "$1@example.org" --json | jfield "d['id']")
	H sub add "$1" --filter 'topic == "org.test.links"' --dest "$d" --name "links & <things>" \
		--json | jfield "d['id']"
}
S_ALICE=$(sub alice)
S_BOB=$(sub bob)
[ -n "$S_ALICE" ] && [ -n "$S_BOB" ]
ok $? "alice and bob subscribe"
publish() {
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic org.test.links --json "{\"n\": $1}" > /dev/null 2>&1
}
mails_to() { [ "$(grep -c "\"rcpt\": \[\"$1\"\]" mx/log.jsonl 2> /dev/null)" -ge "$2" ]; }
say_hello
publish 1
wait_for 30 mails_to alice@example.org 1
ok $? "a notification mail for alice"

cat > mails.py <<'PY'
import email, email.policy, json, os
def to(addr):
    out = []
    for l in open("mx/log.jsonl"):
        e = json.loads(l)
        if e["rcpt"] == [addr]:
            out.append(email.message_from_bytes(open("mx/" + e["file"], "rb").read(),
                                                policy=email.policy.default))
    return out
PY
export BASE S_ALICE
PYTHONPATH=. "$PYTHON3" - > headers.out 2>&1 <<'PY'
import os, re
from mails import to
base = os.environ["BASE"]
m = to("alice@example.org")[0]
lu = str(m["List-Unsubscribe"])
assert re.fullmatch(r"<%s/unsubscribe/[A-Za-z0-9_-]+>" % re.escape(base), lu), lu
assert str(m["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
why = str(m["X-Herald-Why"])
assert re.fullmatch(r"<%s/why\.html\?id=[0-9a-f]{32}>" % re.escape(base), why), why
body = m.get_body(("plain",)).get_content().replace("\r\n", "\n")
assert "\nWhy: %s\n" % why[1:-1] in body + "\n", body
assert "\nUnsubscribe: %s" % lu[1:-1] in body, body
open("link", "w").write(lu[1:-1])
print(lu[1:-1])
PY
ok $? "the mail has the signed List-Unsubscribe, One-Click, X-Herald-Why and the footer lines ($(tail -1 headers.out))"
LINK=$(cat link)
state() { H sub show "$1" "$2" --json | jfield "d['state']"; }

# ---- GET changes nothing ----
code=$(curl -s -o get.html -w '%{http_code}' "$LINK")
[ "$code" = 200 ] && grep -q '<form method="post">' get.html && [ "$(state alice "$S_ALICE")" = active ]
ok $? "GET shows a confirmation page (200) and changes nothing"
grep -q '&lt;things&gt;' get.html && ! grep -q '<things>' get.html && ! grep -qi '<script' get.html
ok $? "the page escapes the subscription's name and has no script"
curl -s -D get.hdr -o /dev/null "$LINK"
grep -qi '^Content-Security-Policy:' get.hdr && grep -qi '^Content-Type: text/html' get.hdr &&
	grep -qi '^Cache-Control: no-store' get.hdr
ok $? "served as HTML under the web app's CSP, not cached"

# ---- a tampered link changes nothing ----
TAMPERED=$(printf '%s' "$LINK" | "$PYTHON3" -c 'import sys; s = sys.stdin.read(); i = len(s) - 20; print(s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:])')
code=$(curl -s -o bad.html -w '%{http_code}' -X POST -d 'List-Unsubscribe=One-Click' "$TAMPERED")
[ "$code" = 400 ] && grep -q 'not valid' bad.html && [ "$(state alice "$S_ALICE")" = active ]
ok $? "a tampered link: 400, nothing changed"
code=$(curl -s -o bad.html -w '%{http_code}' -X POST -d 'List-Unsubscribe=One-Click' \
	"$BASE/mute/${LINK##*/}")
[ "$code" = 400 ] && [ "$(state alice "$S_ALICE")" = active ]
ok $? "the unsubscribe token under /mute: 400, nothing changed"

# ---- the key survives a restart; a key others can read is refused ----
kill "$DPID" && wait "$DPID"
chmod 644 state/link.key
"$HERALDD" -c heraldd.conf --check-config > check.out 2>&1
rc=$?
timeout 20 "$HERALDD" -c heraldd.conf --foreground > /dev/null 2> refuse.err
[ $rc -eq 2 ] && grep -q "link.key: mode 0644 lets group or others read the link key" check.out &&
	grep -q "link.key: mode 0644 lets group or others read the link key" refuse.err
ok $? "a link key others can read stops heraldd, and --check-config says so ($(head -c 200 check.out))"
chmod 600 state/link.key
start_heraldd 2
ok $? "heraldd restarts"
code=$(curl -s -o /dev/null -w '%{http_code}' "$LINK")
[ "$code" = 200 ]
ok $? "the link made before the restart is still good (the same key)"

# ---- one click ----
code=$(curl -s -o post.html -w '%{http_code}' -X POST \
	-H 'Content-Type: application/x-www-form-urlencoded' -d 'List-Unsubscribe=One-Click' "$LINK")
[ "$code" = 200 ] && grep -q 'unsubscribed' post.html && [ "$(state alice "$S_ALICE")" = disabled ]
ok $? "the RFC 8058 one-click POST (no session, no CSRF token) disables the subscription"
say_hello
publish 2
wait_for 30 mails_to bob@example.org 2
ok $? "a second notification reaches bob"
sleep 1
! mails_to alice@example.org 2
ok $? "and nothing more reaches alice"
H sub show bob "$S_BOB" --json | jfield "d['state']" | grep -q active
ok $? "bob's subscription is untouched"

kill "$DPID" && wait "$DPID"
ok $? "heraldd exits cleanly"
done_testing
