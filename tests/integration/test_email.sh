#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The email sink end to end: real relay, real heraldd, the email plugin
# loaded with dlopen, and real SMTP servers on 127.0.0.1 (aiosmtpd, through
# tests/integration/smtpd.py, one plain, one that requires AUTH). Each mail
# the server receives is parsed with python3's email package (policy.default)
# and checked: headers, RFC 2047 subjects decoded back to the exact title,
# quoted-printable bodies, Message-ID from the notification id (the same on a
# retry), In-Reply-To threading, one SMTP session per batch. Scripted server
# failures: 4xx at RCPT and after DATA (retried, delivered once), 5xx (dead
# letter with the server's text), a connection dropped mid-DATA (retried,
# nothing lost), one recipient refused in a batch (the others not sent
# twice), a wrong password (the instance is broken). Header injection: the
# sink is also driven directly (bench/sink_driver) with CR/LF/control laden
# titles, users, topics and packages the daemon would have cleaned.
# STARTTLS: a third server requires it, with a certificate from a CA made
# here: trusted through ca_file (delivered, over TLS), untrusted without it,
# refused for another host name (broken, nothing sent).
. "${top_srcdir:-.}/tests/integration/lib.sh"

if ! "$PYTHON3" -c 'import aiosmtpd' 2> /dev/null; then
	echo "Bail out! python3-aiosmtpd is not installed (scripts/install-deps)"
	exit 1
fi
delivery_setup
DRIVER="$top_builddir/bench/sink_driver"

start_smtpd() { # start_smtpd DIR [ARGS]: its port in DIR/port
	dir=$1
	shift
	"$PYTHON3" "$top_srcdir/tests/integration/smtpd.py" "$dir" "$@" 2> "$dir.err" &
	PIDS="$PIDS $!"
	wait_for 20 test -s "$dir/port"
}
start_smtpd mx --pipelining
ok $? "an SMTP server on 127.0.0.1 (with PIPELINING)"
start_smtpd authmx --auth herald:s3cret
ok $? "and one that requires AUTH"
PM=$(cat mx/port)
PA=$(cat authmx/port)
echo s3cret > pw.good
echo wrong > pw.bad

cat > heraldd.conf <<CONF
$(daemon_base_conf)
$(sink_test_dispatch 4)
pause_after_ms = 600000
digest_max_items = 3
[sink mail]
plugin = email
host = 127.0.0.1
port = $PM
starttls = off
from = herald@example.org
timeout_ms = 5000
unsubscribe_url = https://herald.example.org/unsubscribe?u={user}&s={subscription}
rate = 6000
burst = 100
[sink confirm]
plugin = email
host = 127.0.0.1
port = $PM
starttls = off
from = herald@example.org
verify = yes
[sink badauth]
plugin = email
host = 127.0.0.1
port = $PA
starttls = off
from = herald@example.org
user = herald
password_file = pw.bad
[sink goodauth]
plugin = email
host = 127.0.0.1
port = $PA
starttls = off
from = herald@example.org
user = herald
password_file = pw.good
[sink smtps]
plugin = email
host = 127.0.0.1
port = 465
from = herald@example.org
[sink implicit]
plugin = email
host = 127.0.0.1
tls = implicit
from = herald@example.org
[sink typo]
plugin = email
host = 127.0.0.1
from = herald@example.org
colour = blue
[sink display]
plugin = email
host = 127.0.0.1
from = Herald <herald@example.org>
CONF

start_relay
ok $? "relay is ready"
start_heraldd 1
ok $? "heraldd runs"

# ---- init: what cannot work is refused with a reason ----
grep -q "sink 'mail' ready (plugin email)" daemon1.err && grep -q "sink 'goodauth' ready (plugin email)" daemon1.err
ok $? "the email sink loads"
grep "sink smtps" daemon1.err | grep -q "port 465: implicit TLS (SMTPS, port 465) is not supported: libesmtp can only do STARTTLS"
ok $? "port 465 is refused: libesmtp cannot do implicit TLS ($(grep 'sink smtps' daemon1.err | head -c 220))"
grep "sink implicit" daemon1.err | grep -q "tls = implicit: implicit TLS"
ok $? "tls = implicit is refused the same way"
grep "sink typo" daemon1.err | grep -q "unknown option 'colour'"
ok $? "an unknown option is refused"
grep "sink display" daemon1.err | grep -q "not a plain email address"
ok $? "a from with a display name is refused"
! grep -q "s3cret\|wrong" daemon1.err
ok $? "the password is not logged"

# ---- destinations: plain addr-specs only ----
H() { "$HERALD" "$@" --socket "$SOCK"; }
for u in alice bob carol dora eve gina u1 u2 u3 u4 u5 u6 b1 b2 b3 b4 c1 c2 c3 c4 r4 d4 d5 r5; do
	H user add "$u" > /dev/null || echo "user add $u failed"
done
refused() { # refused ADDRESS: dest add fails
	H dest add alice mail "$1" > out 2> err
	[ $? -ne 0 ]
}
refused 'Alice <alice@example.org>' && refused 'alice@localhost' && refused 'alice@example.org>' &&
	refused '"a b"@example.org' && refused 'a..b@example.org' && refused 'al ice@example.org' &&
	refused "$(printf 'a@example.org>\r\nRCPT TO:<x@example.org')" && refused 'a@-x.example.org'
ok $? "display names, quoted local parts, bare hosts, brackets and CR/LF are refused ($(cat err))"
dest() { H dest add "$1" "$2" "$3" --json | jfield "d['id']"; }
sub() { # sub USER SINK FILTER [--digest N]
	u=$1 s=$2 f=$3
	shift 3
	H sub add "$u" --filter "$f" --dest "$(dest "$u" "$s" "$u@example.org")" "$@" --json | jfield "d['id']"
}
S_ALICE=$(sub alice mail 'topic ~ "*.anitya.*"')
sub dora mail 'topic == "org.test.dora"' --digest 3600 > /dev/null
sub eve badauth 'topic == "org.test.eve"' > /dev/null
sub gina goodauth 'topic == "org.test.gina"' > /dev/null
for u in u1 u2 u3 u4 u5 u6; do sub $u mail 'topic == "org.test.batch"' > /dev/null; done
for u in b1 b2 b3 b4; do sub $u mail 'topic == "org.test.drop"' > /dev/null; done
for u in c1 c2 c3 c4; do sub $u mail 'topic == "org.test.refuse"' > /dev/null; done
for u in r4 d4 d5 r5; do sub $u mail "topic == \"org.test.$u\"" > /dev/null; done
[ -n "$S_ALICE" ]
ok $? "destinations and subscriptions"

publish() { # publish TOPIC JSON
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic "$1" --json "$2" > /dev/null 2>&1
}
say_hello
stat_ge() { [ "$(stat "$1")" -ge "$2" ] 2>/dev/null; }
# mails_to ADDRESS N: the server has at least N mails for ADDRESS
mails_to() { [ "$(grep -c "\"rcpt\": \[\"$1\"\]" mx/log.jsonl 2> /dev/null)" -ge "$2" ]; }

# The checks: a python3 module reading what the server stored.
cat > mails.py <<'PY'
import email, email.policy, json, os, sys
def log(top="mx"):
    p = os.path.join(top, "log.jsonl")
    return [json.loads(l) for l in open(p)] if os.path.exists(p) else []
def parse(path):
    return email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
def to(addr, top="mx"):
    return [(e, parse(os.path.join(top, e["file"]))) for e in log(top) if e["rcpt"] == [addr]]
def text(m):
    return m.get_body(("plain",)).get_content().replace("\r\n", "\n")
def events(top="mx"):
    p = os.path.join(top, "events.jsonl")
    return [json.loads(l) for l in open(p)] if os.path.exists(p) else []
PY
check_py() { # check_py DESCRIPTION <<'PY' ... : run python, ok if it exits 0
	desc=$1
	PYTHONPATH="$WORK" "$PYTHON3" - > py.out 2>&1
	rc=$?
	ok $rc "$desc ($(tail -1 py.out | head -c 300))"
	[ $rc -eq 0 ] || sed 's/^/# /' py.out
}

# ---- a UTF-8 title: headers, encodings, body, unsubscribe, threading ----
NAME='café ☃ — Ünïcødé 長い名前のプロジェクト with a rather long name that needs folding'
publish org.release-monitoring.prod.anitya.project.add \
	"{\"project\": {\"id\": 42, \"name\": \"$NAME\"}, \"message\": {\"agent\": \"ralph\"}}"
publish org.release-monitoring.prod.anitya.project.edit \
	"{\"project\": {\"id\": 42, \"name\": \"$NAME\"}, \"message\": {\"agent\": \"ralph\", \"fields\": [\"homepage\"]}}"
publish org.release-monitoring.prod.anitya.project.add \
	'{"project": {"id": 43, "name": "other"}, "message": {"agent": "ralph"}}'
wait_for 20 mails_to alice@example.org 3
ok $? "three notifications for alice arrive as three mails"
export NAME S_ALICE
check_py "headers, RFC 2047 subject, body" <<'PY'
import os, re
from mails import *
ms = to("alice@example.org")
want = 'A new project, %s, was added to release-monitoring.' % os.environ["NAME"]
m = [m for e, m in ms if str(m["Subject"]) == want]
assert len(m) == 1, [str(x["Subject"]) for e, x in ms]
m = m[0]
raw = open("mx/" + [e for e, x in ms if x is m][0]["file"], "rb").read()
head = raw.split(b"\r\n\r\n", 1)[0]
assert all(len(l) <= 78 for l in head.split(b"\r\n")), "a header line over 78"
assert b"=?utf-8?B?" in head and max(head) < 0x80, "subject not encoded as ASCII"
assert str(m["From"]) == "herald@example.org" and str(m["To"]) == "alice@example.org"
assert re.fullmatch(r"<[0-9a-f]{32}@herald\.invalid>", str(m["Message-ID"])), m["Message-ID"]
assert m["Date"].datetime is not None
assert str(m["Auto-Submitted"]) == "auto-generated" and str(m["Precedence"]) == "bulk"
sub = os.environ["S_ALICE"]
assert str(m["List-Id"]) == "<sub-%s.alice.herald.invalid>" % sub, m["List-Id"]
assert str(m["List-Unsubscribe"]) == "<https://herald.example.org/unsubscribe?u=alice&s=%s>" % sub
assert str(m["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
assert str(m["X-Herald-Topic"]) == "org.release-monitoring.prod.anitya.project.add"
assert str(m["X-Herald-User"]) == "alice" and str(m["X-Herald-Subscription"]) == sub
assert m.get_content_type() == "multipart/alternative"
body = text(m)
assert want in body and "https://release-monitoring.org/project/42/" in body, body
html = m.get_body(("html",)).get_content()
assert "&quot;" in html and os.environ["NAME"] in html
print("subject decodes to the exact title")
PY
check_py "threading: same project, same In-Reply-To; another project, another" <<'PY'
from mails import *
ms = [m for e, m in to("alice@example.org")]
refs = {}
for m in ms:
    assert m["In-Reply-To"] == m["References"], (m["In-Reply-To"], m["References"])
    refs.setdefault(str(m["In-Reply-To"]), []).append(str(m["Subject"]))
assert len(refs) == 2 and sorted(len(v) for v in refs.values()) == [1, 2], refs
assert len({str(m["Message-ID"]) for m in ms}) == 3
print(sorted(refs))
PY

# ---- one SMTP session for a batch ----
publish org.test.batch '{"text": "batch"}'
wait_for 20 sh -c 'for u in u1 u2 u3 u4 u5 u6; do grep -q "\"$u@example.org\"" mx/log.jsonl || exit 1; done'
ok $? "one message matched by six users: six mails"
check_py "all six in one SMTP session" <<'PY'
from mails import *
s = {e["session"] for e in log() if e["rcpt"][0][:2] in ("u1", "u2", "u3", "u4", "u5", "u6")}
assert len(s) == 1, s
print("session", s)
PY

# ---- 4xx: retried, delivered once, the same Message-ID ----
printf 'data4\n' > mx/ctl/d4@example.org
printf 'rcpt4\nrcpt4\n' > mx/ctl/r4@example.org
publish org.test.d4 '{"text": "four"}'
publish org.test.r4 '{"text": "four"}'
wait_for 20 mails_to d4@example.org 1 && wait_for 20 mails_to r4@example.org 1
ok $? "451 after DATA and 450 at RCPT (twice): retried and delivered"
sleep 1
check_py "once each, and the retry carries the refused mail's Message-ID" <<'PY'
from mails import *
assert len(to("d4@example.org")) == 1 and len(to("r4@example.org")) == 1
refused = [e for e in events() if e["rcpt"] == "d4@example.org" and e["action"] == "data4"]
assert len(refused) == 1
first = parse("mx/" + refused[0]["file"])
again = to("d4@example.org")[0][1]
assert first["Message-ID"] == again["Message-ID"], (first["Message-ID"], again["Message-ID"])
assert len([e for e in events() if e["rcpt"] == "r4@example.org"]) == 2
print(again["Message-ID"])
PY

# ---- 5xx: a dead letter with the server's text ----
printf 'data5\n' > mx/ctl/d5@example.org
printf 'rcpt5\n' > mx/ctl/r5@example.org
D0=$(stat dead_letters)
publish org.test.d5 '{"text": "five"}'
publish org.test.r5 '{"text": "five"}'
wait_for 20 stat_ge dead_letters $((D0 + 2))
ok $? "554 after DATA and 550 at RCPT: dead letters at once"
H deadletter list --user d5 --json | jfield "d['notifications'][0]['reason']" > d5.reason
H deadletter list --user r5 --json | jfield "d['notifications'][0]['reason']" > r5.reason
grep -q "DATA: 554 5.6.0 Message refused: content rejected" d5.reason &&
	grep -q "RCPT TO: 550 5.1.1 No such user here" r5.reason
ok $? "with the server's text ($(cat d5.reason) / $(cat r5.reason))"

# ---- a connection dropped mid-DATA: retried, nothing lost, nothing twice ----
printf 'drop\n' > mx/ctl/b2@example.org
publish org.test.drop '{"text": "drop"}'
wait_for 20 sh -c 'for u in b1 b2 b3 b4; do grep -q "\"$u@example.org\"" mx/log.jsonl || exit 1; done'
ok $? "a batch whose session was cut in b2's DATA: all four arrive"
sleep 1
check_py "each exactly once; b2 was dropped once before" <<'PY'
from mails import *
n = {u: len(to(u + "@example.org")) for u in ("b1", "b2", "b3", "b4")}
assert n == {"b1": 1, "b2": 1, "b3": 1, "b4": 1}, n
assert [e["action"] for e in events() if e["rcpt"] == "b2@example.org"] == ["drop"]
print(n)
PY

# ---- one recipient refused in a batch: the others are not sent again ----
printf 'rcpt4\n' > mx/ctl/c2@example.org
publish org.test.refuse '{"text": "refuse"}'
wait_for 20 sh -c 'for u in c1 c2 c3 c4; do grep -q "\"$u@example.org\"" mx/log.jsonl || exit 1; done'
ok $? "c2 refused with 450 in a batch of four, then delivered"
sleep 1
check_py "c1, c3, c4 once, in the first session; c2 once, later" <<'PY'
from mails import *
s = {u: [e["session"] for e, m in to(u + "@example.org")] for u in ("c1", "c2", "c3", "c4")}
assert all(len(v) == 1 for v in s.values()), s
assert s["c1"] == s["c3"] == s["c4"] and s["c2"][0] > s["c1"][0], s
print(s)
PY

# ---- a digest: one mail with every note ----
for i in 1 2 3; do publish org.test.dora "{\"text\": \"d$i\"}"; done
wait_for 20 mails_to dora@example.org 1
check_py "a digest of three is one mail with the digest subject" <<'PY'
from mails import *
ms = to("dora@example.org")
assert len(ms) == 1, len(ms)
m = ms[0][1]
assert str(m["X-Herald-Digest"]) == "3" and "3 notifications for dora" in str(m["Subject"]), m["Subject"]
assert m["In-Reply-To"] is None
print(m["Subject"])
PY

# ---- AUTH: a good password delivers, a wrong one breaks the instance ----
publish org.test.gina '{"text": "auth"}'
wait_for 20 sh -c 'grep -q "gina@example.org" authmx/log.jsonl'
ok $? "AUTH with the password from password_file: delivered"
B0=$(stat sink_broken)
publish org.test.eve '{"text": "auth"}'
wait_for 20 stat_ge sink_broken $((B0 + 1))
ok $? "a wrong password: the sink reports itself broken (sink_broken $(stat sink_broken))"
H outbox list --user eve --json > eve.json
[ "$(jfield "len(d['notifications'])" < eve.json)" = 1 ] && [ "$(jfield "d['notifications'][0]['attempts']" < eve.json)" = 0 ]
ok $? "the notification waits, no attempt charged"
grep -q "authentication as 'herald' failed: 535" daemon1.err && ! grep -q "s3cret\|wrong" daemon1.err
ok $? "the log says why, without the password"

# ---- header injection ----
publish org.release-monitoring.prod.anitya.project.add \
	'{"project": {"id": 44, "name": "evil\r\nBcc: evil@example.org\r\n\r\nbody"}, "message": {"agent": "ralph"}}'
wait_for 20 mails_to alice@example.org 4
"$DRIVER" "$top_builddir/sinks/email.so" hostile 1 1 host=127.0.0.1 port="$PM" starttls=off \
	from=herald@example.org -- mallory@example.org > driver.out 2>&1
ok $? "the sink driven directly with CR/LF-laden title, user, topic and packages: delivered ($(tail -1 driver.out))"
check_py "no injected header, no injected body; dots survive SMTP" <<'PY'
from mails import *
allowed = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references",
           "auto-submitted", "precedence", "list-id", "list-unsubscribe", "list-unsubscribe-post",
           "x-herald-topic", "x-herald-package", "x-herald-user", "x-herald-subscription",
           "x-herald-digest", "x-herald-why", "mime-version", "content-type"}
for e in log():
    m = parse("mx/" + e["file"])
    extra = {k.lower() for k in m.keys()} - allowed
    assert not extra, (e["file"], extra)
    assert m["Bcc"] is None
m = to("mallory@example.org")[0][1]
assert "Bcc: title@evil.example" in str(m["Subject"]) and "\n" not in str(m["Subject"])
assert str(m["X-Herald-User"]) == "mallory  Bcc: user@evil.example", m["X-Herald-User"]
assert "Bcc" in str(m["X-Herald-Topic"]) and len(m.get_all("X-Herald-Package")) == 3
assert text(m) == "line one\n.\n.leading dot\nend\n", repr(text(m))
assert m["List-Unsubscribe"] is None and m["X-Herald-Why"] is None, "CR/LF-bearing links refused"
evil = [m for e, m in to("alice@example.org") if "evil" in str(m["Subject"])]
assert len(evil) == 1 and "Bcc: evil@example.org" in str(evil[0]["Subject"])
print("headers:", sorted(allowed & {k.lower() for k in m.keys()}))
PY

# ---- the web app's links (sink ABI 1.2): List-Unsubscribe, One-Click, X-Herald-Why ----
SIGNED="https://herald.example.org/unsubscribe/AQEAAAAAaxbGkwAAAAAAAAACBWFsaWNl-_x0"
WHY="https://herald.example.org/why.html?id=0123456789abcdef0123456789abcdef"
HERALD_DRIVER_UNSUBSCRIBE_URL="$SIGNED" HERALD_DRIVER_WHY_URL="$WHY" \
	"$DRIVER" "$top_builddir/sinks/email.so" plain 1 1 host=127.0.0.1 port="$PM" starttls=off \
	from=herald@example.org 'unsubscribe_url=mailto:old@example.org?subject={user}' \
	-- links@example.org > links.out 2>&1
ok $? "an item with the web app's links is delivered ($(tail -1 links.out))"
export SIGNED WHY
check_py "the signed link is List-Unsubscribe (over the configured one), with One-Click, and X-Herald-Why" <<'PY'
import os
from mails import *
m = to("links@example.org")[0][1]
assert m["List-Unsubscribe"] == "<%s>" % os.environ["SIGNED"], m["List-Unsubscribe"]
assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", m["List-Unsubscribe-Post"]
assert m["X-Herald-Why"] == "<%s>" % os.environ["WHY"], m["X-Herald-Why"]
assert len(m.get_all("List-Unsubscribe")) == 1
PY

# ---- destination verification: nothing is sent before the code is confirmed ----
H user add vera > /dev/null
H dest add vera confirm vera@example.org --json > vdest.json
VD=$(jfield "d['id']" < vdest.json)
[ "$(jfield "d['verification']" < vdest.json)" = "a code was sent to the address" ] &&
	[ "$(jfield "d['verified']" < vdest.json)" = False ]
ok $? "adding a destination on a verify = yes sink sends a code ($(jfield "d.get('verification')" < vdest.json))"
wait_for 30 mails_to vera@example.org 1
PYTHONPATH="$WORK" "$PYTHON3" -c '
import re
from mails import *
m = to("vera@example.org")[0][1]
print(re.search(r"code is ([A-Z2-9]{8})\.", text(m)).group(1))' > code.txt 2> code.err
CODE=$(cat code.txt)
[ ${#CODE} -eq 8 ]
ok $? "the confirmation mail carries an 8-character code"
H sub add vera --filter 'topic == "org.test.vera"' --dest "$VD" > /dev/null
sleep 1 # the match index picks the subscription up
publish org.test.vera '{"n": 1}'
parked_vera() { [ "$(H outbox list --user vera --json | jfield "sum(n['due'] == -1 for n in d['notifications'])")" = 1 ]; }
wait_for 30 parked_vera
ok $? "a notification for the unverified destination waits, parked"
! mails_to vera@example.org 2
ok $? "and nothing but the code was sent"
H dest verify vera "$VD" ZZZZZZZZ > out 2> err
[ $? -eq 1 ] && grep -q "wrong code" err
ok $? "a wrong code is refused ($(cat err))"
H dest verify vera "$VD" "$CODE" > out 2> err
grep -q "verified; 1 waiting notifications released" out
ok $? "the right code verifies the destination and releases what waited ($(cat out err))"
wait_for 30 mails_to vera@example.org 2
ok $? "the notification is delivered"
H dest verify vera "$VD" "$CODE" > out 2> err
[ $? -eq 1 ] && grep -q "verified already" err
ok $? "verifying again is refused ($(cat err))"
H dest add vera confirm vera2@example.org --json > vdest2.json
VD2=$(jfield "d['id']" < vdest2.json)
for _ in 1 2 3 4 5; do H dest verify vera "$VD2" WRONG000 > /dev/null 2>&1; done
H dest verify vera "$VD2" WRONG000 > out 2> err
[ $? -eq 1 ] && grep -q "too many wrong codes" err
ok $? "five wrong codes void the code ($(cat err))"
H dest verify vera "$VD2" --resend > out 2> err && grep -q "a code was sent" out &&
	wait_for 30 mails_to vera2@example.org 2
ok $? "--resend sends a new code"

# ---- STARTTLS required from a server without it: broken, nothing sent ----
"$DRIVER" "$top_builddir/sinks/email.so" plain 2 2 host=127.0.0.1 port="$PM" starttls=required \
	from=herald@example.org -- nobody@example.org > tls.out 2>&1
[ $? -eq 1 ] && [ "$(grep -c "broken the server does not offer STARTTLS" tls.out)" = 2 ] && ! mails_to nobody@example.org 1
ok $? "starttls = required and no STARTTLS offered: broken, nothing sent ($(head -1 tls.out))"

# ---- STARTTLS with a certificate from our own CA (ca_file) ----
# A CA and a server certificate for 127.0.0.1 (libesmtp checks the name the
# sink connects to against the certificate's DNS names).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=herald test CA" \
	-keyout ca.key -out ca.pem > /dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout srv.key -out srv.csr \
		> /dev/null 2>&1 &&
	printf 'subjectAltName = DNS:127.0.0.1, IP:127.0.0.1\n' > srv.ext &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile srv.ext -out srv.pem > /dev/null 2>&1 &&
	start_smtpd tlsmx --tls srv.pem srv.key
ok $? "an SMTP server that requires STARTTLS, with a certificate from a test CA"
PT=$(cat tlsmx/port)
"$DRIVER" "$top_builddir/sinks/email.so" plain 2 2 host=127.0.0.1 port="$PT" starttls=required \
	ca_file="$WORK/ca.pem" from=herald@example.org -- tls@example.org > tlsok.out 2>&1
tls_mails() { # tls_mails N: N mails to tls@example.org, every one over TLS
	"$PYTHON3" -c 'import json, sys
m = [json.loads(l) for l in open("tlsmx/log.jsonl")] if __import__("os").path.exists("tlsmx/log.jsonl") else []
sys.exit(not (len(m) == int(sys.argv[1]) and all(x["tls"] for x in m)))' "$1"
}
grep -q "^delivered=2 " tlsok.out && tls_mails 2
ok $? "starttls = required with ca_file: both delivered, over TLS ($(tail -1 tlsok.out))"
# Ten sessions in a row, each delivered at the first try: libesmtp used to
# stall a whole timeout on a TLS 1.3 server's post-handshake tickets.
ten=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	"$DRIVER" "$top_builddir/sinks/email.so" plain 1 1 host=127.0.0.1 port="$PT" \
		starttls=required ca_file="$WORK/ca.pem" timeout_ms=5000 from=herald@example.org \
		-- tls@example.org > tlsrep.out 2>&1 && grep -q "^delivered=1 " tlsrep.out && ten=$((ten + 1))
done
[ "$ten" -eq 10 ] && tls_mails 12
ok $? "ten STARTTLS sessions in a row, each delivered at once ($ten of 10)"
"$DRIVER" "$top_builddir/sinks/email.so" plain 2 2 host=127.0.0.1 port="$PT" starttls=required \
	from=herald@example.org -- tls@example.org > tlsbad.out 2>&1
[ "$(grep -c "broken STARTTLS: the server's certificate could not be verified" tlsbad.out)" = 2 ] &&
	tls_mails 12
ok $? "without ca_file the test CA is not trusted: broken, nothing sent ($(head -1 tlsbad.out))"
"$DRIVER" "$top_builddir/sinks/email.so" plain 1 1 host=localhost port="$PT" starttls=required \
	ca_file="$WORK/ca.pem" from=herald@example.org -- tls@example.org > tlsname.out 2>&1
grep -q "broken" tlsname.out && tls_mails 12
ok $? "a certificate for another name is refused even from a trusted CA ($(head -1 tlsname.out))"
"$DRIVER" "$top_builddir/sinks/email.so" plain 1 1 host=127.0.0.1 port="$PT" starttls=required \
	ca_file="$WORK/nonexistent.pem" from=herald@example.org -- tls@example.org > tlsinit.out 2>&1
[ $? -ne 0 ] && grep -q "ca_file: .*nonexistent.pem: not a readable PEM file" tlsinit.out
ok $? "an unreadable ca_file stops the instance ($(grep -m1 ca_file tlsinit.out | head -c 200))"

kill "$DPID"
wait "$DPID"
ok $? "heraldd exits cleanly"
done_testing
