#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The webpush sink end to end, with real parts only: a relay, heraldd with
# the plugin loaded by dlopen and its web app, a Web Push service on
# 127.0.0.1 over TLS from a test CA (tests/webpush/pushsvc.mjs, built on the
# reference library http_ece: it checks the VAPID JWT's ES256 signature and
# claims, TTL, Urgency, Topic, the aes128gcm coding and the 4,096-byte
# limit, and decrypts each message with the subscription's private key, the
# subscription made the way a browser makes one), and headless Chromium
# running herald's own service worker (test_webpush_browser.mjs).
# Checked: the key from `herald keygen --vapid` (its public key recomputed
# here with python3-cryptography; GET /v1/webpush and /sw.js are
# test_webpush_service.sh's); what the service
# worker gets, field by field, and the headers; the VAPID claims;
# bad addresses refused by validate(); init
# refusing what cannot work; 410 and 404 pausing the destination (GONE)
# with the reason; 429 honouring its Retry-After, delivered once; 413
# answered by one shorter notice; 400 making the instance BROKEN with the
# push service's words in the log, then the probe delivering; the SSRF
# guard; SIGHUP re-reading the key (the next push is signed with the new
# one, which this subscription refuses: 403, BROKEN); the browser showing the
# notification herald sent, with its title, body and link. Nothing from the
# subscriptions' secrets or the key reaches the log.
. "${top_srcdir:-.}/tests/integration/lib.sh"
: "${HERALD_WEBPUSH_DIR:=$top_srcdir/tests/webpush}"

delivery_setup
command -v node > /dev/null
ok $? "node is installed (scripts/install-deps)"
[ -d "$HERALD_WEBPUSH_DIR/node_modules/http_ece" ] && [ -d "$HERALD_WEBPUSH_DIR/node_modules/web-push" ]
ok $? "the push service's npm packages are installed in $HERALD_WEBPUSH_DIR (npm ci)"

# ---- a test CA, the push service over TLS ----
start_pushsvc
ok $? "the push service runs, over TLS with a test CA's certificate ($(head -c 200 svc.err))"
ORIGIN="https://127.0.0.1:$PP"

# ---- the VAPID key ----
"$HERALD" keygen --vapid push --dir "$WORK" > keygen.out 2> keygen.err
rc=$?
PUB=$(head -1 keygen.out)
[ $rc -eq 0 ] && [ "$(command stat -c %a push.pem)" = 600 ] && grep -qx "vapid_key = $WORK/push.pem" keygen.out
ok $? "herald keygen --vapid writes push.pem (0600) and prints its vapid_key line"
"$PYTHON3" - "$PUB" > py.out 2>&1 <<'PY'
import base64, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
k = serialization.load_pem_private_key(open("push.pem", "rb").read(), None)
assert isinstance(k.curve, ec.SECP256R1), k.curve
raw = k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
want = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
assert sys.argv[1] == want, (sys.argv[1], want)
print(want)
PY
ok $? "its public key is the PEM's P-256 point in base64url, 87 characters ($(tail -1 py.out))"
"$HERALD" keygen --vapid push --dir "$WORK" > /dev/null 2>&1
[ $? -ne 0 ]
ok $? "an existing key is never overwritten"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem > /dev/null 2>&1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.pem > /dev/null 2>&1

P_WEB=$(free_port)
cat > heraldd.conf <<CONF
$(daemon_base_conf)
$(sink_test_dispatch 5)
pause_after_ms = 600000
[web]
listen = 127.0.0.1:$P_WEB
base_url = http://127.0.0.1:$P_WEB
assets = $top_srcdir/web
[sink push]
plugin = webpush
vapid_key = push.pem
subject = mailto:herald-test@example.org
ca_file = certs/ca.crt
allow_networks = 127.0.0.1/32
timeout_ms = 5000
ttl = 3600
urgency = high
icon = https://example.org/herald.png
rate = 6000
burst = 100
[sink guarded]
plugin = webpush
vapid_key = push.pem
subject = https://herald.example.org/contact
ca_file = certs/ca.crt
[sink nokey]
plugin = webpush
subject = mailto:x@example.org
[sink nosubject]
plugin = webpush
vapid_key = push.pem
[sink badsubject]
plugin = webpush
vapid_key = push.pem
subject = alice at example.org
[sink rsakey]
plugin = webpush
vapid_key = rsa.pem
subject = mailto:x@example.org
[sink p384]
plugin = webpush
vapid_key = p384.pem
subject = mailto:x@example.org
[sink badurgency]
plugin = webpush
vapid_key = push.pem
subject = mailto:x@example.org
urgency = urgent
CONF

start_relay
ok $? "relay is ready"
start_heraldd 1
ok $? "heraldd runs"

# ---- init ----
grep -q "sink 'push' ready (plugin webpush)" daemon1.err && grep -q "sink 'guarded' ready (plugin webpush)" daemon1.err
ok $? "the webpush sink loads (two instances)"
grep -q "VAPID public key $PUB" daemon1.err
ok $? "its public key is logged at start"
grep "sink nokey" daemon1.err | grep -q "vapid_key is required" &&
	grep "sink nosubject" daemon1.err | grep -q "subject is required" &&
	grep "sink badsubject" daemon1.err | grep -q "subject: give a mailto: or https: URI"
ok $? "no key, no subject, a subject that is not a URI: refused with a reason"
grep "sink rsakey" daemon1.err | grep -qi "p-256\|prime256v1\|EC key" &&
	grep "sink p384" daemon1.err | grep -qi "p-256\|prime256v1"
ok $? "an RSA key and a P-384 key are refused ($(grep 'sink p384' daemon1.err | head -c 200))"
grep "sink badurgency" daemon1.err | grep -q "urgency: 'urgent' is not"
ok $? "an unknown urgency is refused"

# ---- destinations ----
H() { "$HERALD" "$@" --socket "$SOCK"; }
newsub() { # newsub: a PushSubscription JSON from the push service
	curl -sf -X POST -H 'Content-Type: application/json' -d "{\"applicationServerKey\":\"$PUB\"}" \
		"$CTL/subscriptions"
}
idof() { printf '%s' "$1" | jfield "d['endpoint'].rsplit('/', 1)[1]"; }
USERS="alice gone410 gone404 slow bigone bad ssrf rekey vera"
for u in $USERS; do H user add "$u" > /dev/null || echo "# user add $u failed"; done
GOOD=$(newsub)
refused() { # refused ADDRESS: dest add fails
	H dest add vera push "$1" > out 2> err
	[ $? -ne 0 ]
}
mut() { # mut PYTHON-EXPR-ON-d: GOOD changed
	printf '%s' "$GOOD" | "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); $1; print(json.dumps(d))"
}
refused "$(mut 'd["endpoint"] = d["endpoint"].replace("https:", "http:")')" &&
	grep -qi "https" err &&
	refused "$(mut 'd["keys"]["p256dh"] = d["keys"]["p256dh"][:-2]')" &&
	grep -qi "p256dh" err &&
	refused "$(mut 'import base64; d["keys"]["p256dh"] = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()')" &&
	grep -qi "curve\|point" err &&
	refused "$(mut 'd["keys"]["auth"] = d["keys"]["auth"][:-3]')" &&
	grep -qi "auth" err &&
	refused "$(mut 'del d["keys"]')" &&
	refused "$(mut 'd["endpoint"] = "https://user:pw@127.0.0.1/push/x"')" &&
	refused 'https://127.0.0.1/push/x' && refused '{"endpoint": 5}'
ok $? "bad subscriptions are refused: http, a short key, a point off the curve, a short auth, no keys, user info, not JSON ($(cat err))"
dest() { H dest add "$1" "$2" "$3" --json | jfield "d['id']"; }
sub() { # sub USER SINK ADDRESS: USER's subscription to org.test.USER; prints the destination id
	D=$(dest "$1" "$2" "$3") || return 1
	H sub add "$1" --filter "topic == \"org.test.$1\"" --dest "$D" > /dev/null && echo "$D"
}
S_ALICE=$GOOD
S_410=$(newsub) S_404=$(newsub) S_SLOW=$(newsub) S_BIG=$(newsub) S_BAD=$(newsub) S_SSRF=$(newsub) S_REKEY=$(newsub)
D_ALICE=$(dest alice push "$S_ALICE") &&
	H sub add alice --filter 'topic ~ "*.anitya.project.add" and msg.project.id == 42' --dest "$D_ALICE" > /dev/null &&
	D_410=$(sub gone410 push "$S_410") &&
	D_404=$(sub gone404 push "$S_404") && D_SLOW=$(sub slow push "$S_SLOW") &&
	D_BIG=$(dest bigone push "$S_BIG") &&
	H sub add bigone --filter 'topic ~ "*.anitya.project.add" and msg.project.id == 43' --dest "$D_BIG" > /dev/null &&
	D_BAD=$(sub bad push "$S_BAD") &&
	D_SSRF=$(sub ssrf guarded "$S_SSRF") && D_REKEY=$(sub rekey push "$S_REKEY")
ok $? "a destination for each case, the address being the browser's PushSubscription JSON"

publish() { # publish TOPIC JSON
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--topic "$1" --json "$2" > /dev/null 2>&1
}
say_hello
# recorded ID [N]: the push service accepted at least N (1) pushes to ID
recorded() {
	curl -s "$CTL/record" | "$PYTHON3" -c "
import json, sys
n = sum(1 for l in sys.stdin if l.strip() and json.loads(l)['id'] == sys.argv[1])
sys.exit(n < int(sys.argv[2]))" "$1" "${2:-1}"
}
# logged ID STATUS: the push service answered a push to ID with STATUS
logged() {
	curl -s "$CTL/log" | "$PYTHON3" -c "
import json, sys
sys.exit(not any(json.loads(l)['id'] == sys.argv[1] and json.loads(l)['status'] == int(sys.argv[2]) for l in sys.stdin if l.strip()))" "$1" "$2"
}
check_py() { # check_py DESCRIPTION <<'PY' ... : run python, ok if it exits 0
	desc=$1
	curl -s "$CTL/record" > record.now
	curl -s "$CTL/log" > log.now
	"$PYTHON3" - > py.out 2>&1
	rc=$?
	ok $rc "$desc ($(tail -1 py.out | head -c 300))"
	[ $rc -eq 0 ] || sed 's/^/# /' py.out
}
paused() { H dest list "$1" --json | jfield "d['destinations'][0]['paused']" | grep -q True; }

# ---- one notification: what the service worker gets ----
NAME='Ünïcødé \"quoted\" <b>&amp;'
publish org.release-monitoring.prod.anitya.project.add \
	"{\"project\": {\"id\": 42, \"name\": \"$NAME\"}, \"message\": {\"agent\": \"ralph\"}}"
ID_ALICE=$(idof "$S_ALICE")
wait_for 20 recorded "$ID_ALICE"
ok $? "the push service accepted and decrypted a push for alice"
cat > check.py <<'PY'
import json, sys
def rec(id):
    return [json.loads(l) for l in open("record.now") if l.strip() and json.loads(l)["id"] == id]
def log(id):
    return [json.loads(l) for l in open("log.now") if l.strip() and json.loads(l)["id"] == id]
PY
ID_ALICE=$ID_ALICE PUB=$PUB ORIGIN=$ORIGIN check_py "the payload is the documented object, decrypted with the browser's key" <<'PY'
import json, os, sys
sys.path.insert(0, ".")
from check import *
r = rec(os.environ["ID_ALICE"])
assert len(r) == 1, len(r)
p = json.loads(r[0]["payload"])
assert set(p) <= {"title", "body", "link", "tag", "id", "app", "icon", "timestamp", "digest", "unsubscribe", "why"}, sorted(p)
assert {"title", "body", "link", "tag", "id", "app"} <= set(p), sorted(p)
assert p["app"] == "herald" and p["icon"] == "https://example.org/herald.png", p
assert len(p["id"]) == 32 and p["tag"] == p["id"], p
assert p["title"] == 'A new project, Ünïcødé "quoted" <b>&amp;, was added to release-monitoring.', p["title"]
assert p["link"] == "https://release-monitoring.org/project/42/", p["link"]
assert isinstance(p["body"], str), p
assert isinstance(p["timestamp"], int) and p["timestamp"] > 1.7e12, p
assert "digest" not in p, p
open("alice.payload", "w").write(r[0]["payload"])
print("payload", r[0]["payload"][:200])
PY
ID_ALICE=$ID_ALICE PUB=$PUB ORIGIN=$ORIGIN check_py "headers and VAPID: TTL 3600, Urgency high, Topic = the id, aud = the origin, exp <= 24 h, sub, k" <<'PY'
import json, os, sys, time
sys.path.insert(0, ".")
from check import *
r = rec(os.environ["ID_ALICE"])[0]
p = json.loads(r["payload"])
assert r["ttl"] == 3600 and r["urgency"] == "high" and r["topic"] == p["id"], r
j = r["jwt"]
assert j["aud"] == os.environ["ORIGIN"] and j["sub"] == "mailto:herald-test@example.org", j
assert time.time() + 11 * 3600 < j["exp"] <= time.time() + 24 * 3600, j
assert r["k"] == os.environ["PUB"], r["k"]
pad = r["body_len"] - 103 - len(r["payload"].encode())
assert pad >= 0 and (r["body_len"] - 103) % 128 == 0 or r["body_len"] - 103 == 3993, r["body_len"]
print("ttl", r["ttl"], "urgency", r["urgency"], "exp in", int(j["exp"] - time.time()), "s, body", r["body_len"])
PY

# ---- outcomes ----
curl -sf -X DELETE "$CTL/subscriptions/$(idof "$S_410")" > /dev/null &&
	curl -sf -X POST -H 'Content-Type: application/json' -d '{"status":404}' \
		"$CTL/script/$(idof "$S_404")" > /dev/null &&
	curl -sf -X POST -H 'Content-Type: application/json' -d '{"status":429,"retry_after":2,"times":1}' \
		"$CTL/script/$(idof "$S_SLOW")" > /dev/null &&
	curl -sf -X POST -H 'Content-Type: application/json' -d '{"status":413,"over":1200}' \
		"$CTL/script/$(idof "$S_BIG")" > /dev/null &&
	curl -sf -X POST -H 'Content-Type: application/json' \
		-d '{"status":400,"times":1,"text":"UnauthorizedRegistration: stale key"}' \
		"$CTL/script/$(idof "$S_BAD")" > /dev/null
ok $? "the push service is told to answer 410, 404, 429 once, 413 over 1,200 bytes, 400 once"
BIGNAME=$("$PYTHON3" -c 'print("é" * 1500)')
T0=$(date +%s)
publish org.test.gone410 '{"text": "gone"}'
publish org.test.gone404 '{"text": "expired"}'
publish org.test.slow '{"text": "slow down"}'
publish org.release-monitoring.prod.anitya.project.add \
	"{\"project\": {\"id\": 43, \"name\": \"$BIGNAME\"}, \"message\": {\"agent\": \"ralph\"}}"
publish org.test.bad '{"text": "bad"}'
publish org.test.ssrf '{"text": "ssrf"}'

wait_for 20 paused gone410
H dest list gone410 > gone410.list
grep -q "paused" gone410.list && grep -q "HTTP 410" gone410.list
ok $? "410: the destination is paused (GONE) with the reason ($(cat gone410.list))"
wait_for 20 paused gone404
H dest list gone404 > gone404.list
grep -q "paused" gone404.list && grep -q "HTTP 404" gone404.list
ok $? "404: paused too, as push services say it of an expired subscription ($(cat gone404.list))"
parked() { [ "$(H outbox list --user gone410 --json | jfield "len(d['notifications'])")" = 1 ]; }
wait_for 30 parked
ok $? "the notification is kept in the outbox, not dead"

wait_for 20 recorded "$(idof "$S_SLOW")"
T1=$(date +%s)
ID_SLOW=$(idof "$S_SLOW") check_py "429 with Retry-After 2: sent again no sooner than 2 s later, delivered once" <<'PY'
import os, sys
sys.path.insert(0, ".")
from check import *
l = log(os.environ["ID_SLOW"])
st = [e["status"] for e in l]
assert st == [429, 201], st
gap = l[1]["at_ms"] - l[0]["at_ms"]
assert gap >= 2000, gap
assert len(rec(os.environ["ID_SLOW"])) == 1
print("statuses", st, "gap", gap, "ms")
PY

wait_for 20 recorded "$(idof "$S_BIG")"
ID_BIG=$(idof "$S_BIG") check_py "413: one shorter notice (<= 1,024 bytes), cut at a character with an ellipsis, accepted" <<'PY'
import json, os, sys
sys.path.insert(0, ".")
from check import *
l = log(os.environ["ID_BIG"])
st = [e["status"] for e in l]
assert st == [413, 201], st
assert l[0]["body_len"] > 1200 >= l[1]["body_len"] and l[1]["body_len"] - 103 <= 1024, [e["body_len"] for e in l]
p = json.loads(rec(os.environ["ID_BIG"])[0]["payload"])
assert len(json.dumps(p, ensure_ascii=False, separators=(",", ":")).encode()) <= 1024, p
assert p["body"].endswith("…") and p["body"].count("é") > 100, p["body"][-5:]
assert p["body"][-2] in "é\"", p["body"][-5:]
print("sizes", [e["body_len"] for e in l], "body chars", len(p["body"]))
PY

wait_for 20 recorded "$(idof "$S_BAD")"
ok $? "400 once, then delivered by the probe"
grep "sink 'push'" daemon1.err | grep -q "refused the request: HTTP 400.*UnauthorizedRegistration: stale key"
ok $? "400: the push service's words are logged ($(grep 'refused the request' daemon1.err | head -1 | head -c 200))"
grep -q "dispatch: sink 'push' is broken (HTTP 400: Bad Request (UnauthorizedRegistration: stale key)); probing again" daemon1.err
ok $? "400 made the instance broken until the probe"
grep -Eq "sink 'push': [0-9]+ of [0-9]+ not delivered; the first: https://127\.0\.0\.1:$PP/\.\.\.: HTTP (400|404|410|413|429)" daemon1.err
ok $? "one log line per batch names what was not delivered by the push service's origin, not the endpoint's path"

dead_ssrf() { H deadletter list --user ssrf --json | jfield "d['notifications'][0]['reason']"; }
wait_for 20 dead_ssrf > /dev/null
dead_ssrf > ssrf.reason 2>&1
grep -q "address 127.0.0.1 is in a private range (loopback 127.0.0.0/8" ssrf.reason && ! logged "$(idof "$S_SSRF")" 201
ok $? "the SSRF guard: an instance without allow_networks never connects to 127.0.0.1 ($(cat ssrf.reason))"

# ---- a stale subscription among good ones: its own problem, not the instance's ----
# Driven straight through the plugin (bench/sink_driver) so both are in one
# deliver() call, which the daemon's batching does not promise.
"$HERALD" keygen --vapid other --dir "$WORK" > other.out 2> /dev/null
STALE=$(curl -sf -X POST -H 'Content-Type: application/json' \
	-d "{\"applicationServerKey\":\"$(head -1 other.out)\"}" "$CTL/subscriptions")
FRESH=$(newsub)
drive() { # drive COUNT ADDRESS...: the plugin alone, one deliver() call
	n=$1
	shift
	"$top_builddir/bench/sink_driver" "$top_builddir/sinks/webpush.so" plain "$n" "$n" \
		vapid_key="$WORK/push.pem" subject=mailto:herald-test@example.org ca_file="$WORK/certs/ca.crt" \
		allow_networks=127.0.0.1/32 -- "$@" 2> drive.err
}
drive 2 "$FRESH" "$STALE" > mixed.out
grep -q '^0 delivered' mixed.out && grep -q '^1 gone HTTP 403.*this subscription was made for another VAPID key' mixed.out
ok $? "403 for one subscription while the same push service took another: gone, not broken ($(sed -n 2p mixed.out | head -c 200))"
drive 1 "$STALE" > alone.out
grep -q '^0 broken HTTP 403' alone.out
ok $? "403 with nothing accepted: the instance is broken ($(head -1 alone.out | head -c 160))"

# ---- SIGHUP: the key again ----
mv push.pem push.old.pem
"$HERALD" keygen --vapid push --dir "$WORK" > keygen2.out 2> /dev/null
PUB2=$(head -1 keygen2.out)
kill -HUP "$DPID"
wait_for 20 grep -q "reopen: VAPID public key $PUB2" daemon1.err
ok $? "SIGHUP re-reads the key file ($PUB2)"
publish org.test.rekey '{"text": "after the new key"}'
wait_for 20 logged "$(idof "$S_REKEY")" 403
ok $? "the next push carries the new key: a subscription made for the old one is refused (403)"
grep "sink 'push'" daemon1.err | grep -q "refused the request: HTTP 403"
ok $? "403: logged with the push service's words, the instance broken"
cp push.old.pem push.pem && kill -HUP "$DPID"
wait_for 20 grep -q "reopen: VAPID public key $PUB\$" daemon1.err
wait_for 20 recorded "$(idof "$S_REKEY")"
ok $? "the old key back (SIGHUP): the probe delivers what waited"

# ---- the browser ----
node "$top_srcdir/tests/integration/test_webpush_browser.mjs" --base "http://127.0.0.1:$P_WEB" \
	--payload-file alice.payload \
	--title "$(jfield "d['title']" < alice.payload)" --body "$(jfield "d['body']" < alice.payload)" \
	--link "$(jfield "d['link']" < alice.payload)" --tag "$(jfield "d['tag']" < alice.payload)" \
	--sink push --public-key "$PUB" --work "$WORK/browser" > browser.out 2>&1
rc=$?
sed 's/^/# browser: /' browser.out
ok $rc "headless Chromium: herald's service worker shows the notification herald sent (title, body, tag, link on click)"

# ---- nothing secret in the log ----
SECRET_AUTH=$(printf '%s' "$S_ALICE" | jfield "d['keys']['auth']")
PRIV=$(grep -v '^-----' push.pem | tr -d '\n' | head -c 40)
! grep -qF "$SECRET_AUTH" daemon1.err && ! grep -qF "$PRIV" daemon1.err &&
	! grep -qF "$(idof "$S_ALICE")" daemon1.err
ok $? "no auth secret, private key or endpoint path in the daemon's log"

done_testing
