#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test_webpush_service: the Web Push test bench and the web app's side,
# without the webpush sink (test_webpush.sh has the sink). The test push
# service (tests/webpush/pushsvc.mjs, npm http_ece) over TLS with a test CA
# takes what the reference sender (npm web-push's sendNotification) sends
# and records the decrypted payload and the VAPID claims; it refuses what a
# real push service refuses (no TTL, another content coding, aud, exp past
# or over 24 h, sub, a bad signature, a key that is not the subscription's,
# a body over 4,096 bytes) and gives its scripted answers (429 with
# Retry-After once, 413 over a length, 410 after an unsubscribe). heraldd's
# GET /v1/webpush lists the webpush sinks' public keys (PKCS#8 and SEC1
# files; a P-384 key and a missing file left out, with a warning), needs no
# sign-in, leaves out a sink that failed to start, and serves a rotated key
# after SIGHUP; /sw.js comes with the
# headers a service worker needs. Then Debian's chromium, headless
# (test_webpush_browser.mjs), registers herald's service worker from its
# page and shows the payload the push service recorded; a click opens its
# link, or the history page for a payload without one. A missing browser or
# npm package fails the test.
. "${top_srcdir:-.}/tests/integration/lib.sh"

W=$HERALD_WEBPUSH_DIR
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v node > /dev/null || missing="$missing nodejs"
for m in web-push http_ece chrome-remote-interface; do
	[ -d "$W/node_modules/$m" ] || missing="$missing $m(npm ci --prefix tests/webpush)"
done
if [ -n "$missing" ]; then
	echo "Bail out! missing:$missing (scripts/install-deps)"
	exit 1
fi

delivery_setup
start_pushsvc
ok $? "the push service listens over TLS with a test CA's certificate ($(cat svc.out))"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out vapid.pem 2> /dev/null &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.pem 2> /dev/null &&
	openssl ecparam -name prime256v1 -genkey -noout -out sec1.pem 2> /dev/null &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.pem 2> /dev/null
ok $? "VAPID keys: P-256 in PKCS#8 and SEC1 PEM, and a P-384 one"
pub() { # pub PEM: the uncompressed point in base64url (what applicationServerKey wants)
	openssl pkey -in "$1" -pubout -outform DER 2> /dev/null | tail -c 65 | basenc --base64url -w0 | tr -d =
}
K_VAPID=$(pub vapid.pem)
K_OTHER=$(pub other.pem)
K_SEC1=$(pub sec1.pem)

curl -sf -X POST "$CTL/subscriptions" > sub.json
"$PYTHON3" - "$PP" sub.json > sub.check 2>&1 <<'PY'
import base64, json, re, sys
s = json.load(open(sys.argv[2]))
dec = lambda v: base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
assert re.fullmatch(r"https://127\.0\.0\.1:%s/push/[A-Za-z0-9_-]+" % sys.argv[1], s["endpoint"]), s
assert s["expirationTime"] is None, s
p, a = dec(s["keys"]["p256dh"]), dec(s["keys"]["auth"])
assert len(p) == 65 and p[0] == 4 and len(a) == 16, (len(p), len(a))
PY
ok $? "a subscription made the way a browser makes one: endpoint, a P-256 point, 16 auth bytes"
[ $TAP_FAILED -eq 0 ] || sed "s/^/# /" sub.check
SUBID=$(sed 's|.*/push/\([^"]*\)".*|\1|' sub.json)

send() { # send SUB PEM [sender.mjs options]: "STATUS TEXT"
	s=$1 k=$2
	shift 2
	node "$W/sender.mjs" --sub "$s" --vapid "$k" --ca certs/ca.crt "$@" 2>> sender.err
}
expect() { # expect STATUS DESCRIPTION [sender.mjs options]: with sub.json and vapid.pem
	want=$1 desc=$2
	shift 2
	got=$(send sub.json vapid.pem "$@")
	printf '%s\n' "$got" > sender.last
	[ "${got%% *}" = "$want" ]
	ok $? "$desc: $want ($got)"
}

PAYLOAD='{"title":"Build failed: héllo <b>","body":"koji task 42\nsecond line","link":"https://example.org/t/42?a=1&b=2","tag":"item-1","app":"herald","id":"item-1"}'
expect 201 "web-push's sendNotification is accepted" --payload "$PAYLOAD" --ttl 120 --urgency high --topic item-1
"$PYTHON3" - record.jsonl "$PAYLOAD" "$PP" "$K_VAPID" "$SUBID" > rec.check 2>&1 <<'PY'
import json, sys, time
r = json.loads(open(sys.argv[1]).readline())
want = {"id": sys.argv[5], "ttl": 120, "urgency": "high", "topic": "item-1", "payload": sys.argv[2],
        "k": sys.argv[4]}
for k, v in want.items():
    assert r[k] == v, (k, r[k], v)
j = r["jwt"]
assert j["aud"] == "https://127.0.0.1:" + sys.argv[3] and j["sub"] == "mailto:tests@example.org", j
assert time.time() < j["exp"] <= time.time() + 86400, j
PY
ok $? "the record holds the decrypted payload as sent, TTL, Urgency, Topic, the JWT's claims and k"
[ $TAP_FAILED -eq 0 ] || sed "s/^/# /" rec.check
expect 201 "a body of exactly 4,096 bytes (a 3,993-byte payload in one record) is accepted" --payload-bytes 3993
[ "$(tail -1 record.jsonl | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["body_len"])')" = 4096 ]
ok $? "... and recorded with body_len 4096"
expect 413 "a body of 4,203 bytes (one 8,192-byte record) is too large" --payload-bytes 4100 --rs 8192
expect 400 "no TTL header" --no-ttl
expect 400 "Content-Encoding: aesgcm (the old draft) instead of aes128gcm" --encoding aesgcm
expect 401 "aud is another origin" --aud "https://127.0.0.1:1"
expect 401 "aud with a path" --aud "https://127.0.0.1:$PP/push"
expect 401 "exp 60 s in the past" --exp-in -60
expect 401 "exp 25 h ahead" --exp-in 90000
expect 401 "sub neither mailto: nor https:" --sub-claim "http://example.org/"
expect 401 "a signature with one bit flipped" --bad-sig
expect 401 "k is not the key that signed" --k-of other.pem
[ "$(wc -l < record.jsonl)" -eq 2 ]
ok $? "only the two accepted pushes are recorded"

# A subscription made with an applicationServerKey takes only that key's pushes.
curl -sf -X POST -d "{\"applicationServerKey\":\"$K_OTHER\"}" "$CTL/subscriptions" > sub2.json
got=$(send sub2.json vapid.pem)
[ "${got%% *}" = 403 ]
ok $? "a key other than the subscription's applicationServerKey: 403 ($got)"
got=$(send sub2.json other.pem)
[ "${got%% *}" = 201 ]
ok $? "its own key: 201 ($got)"

# Scripted answers.
curl -sf -X POST -d '{"status":429,"retry_after":2,"times":1}' "$CTL/script/$SUBID"
expect 429 "scripted: 429 once"
grep -q "Retry-After: 2" sender.last
ok $? "... with Retry-After: 2"
expect 201 "... then accepted again"
curl -s "$CTL/log" | grep '"status":429' | grep -q '"reason":"scripted answer 429"'
ok $? "GET /log lists the 429"
curl -sf -X POST -d '{"status":413,"over":200}' "$CTL/script/$SUBID"
expect 413 "scripted: 413 for a body over 200 bytes" --payload-bytes 300
expect 201 "... a shorter one is accepted" --payload-bytes 10
curl -sf -X POST -d '{"status":0}' "$CTL/script/$SUBID"
expect 201 "{\"status\":0} clears the script" --payload-bytes 300
curl -sf -X DELETE "$CTL/subscriptions/$SUBID"
expect 410 "after an unsubscribe: 410 Gone"
got=$(sed "s|/push/$SUBID|/push/nosuchid|" sub.json > sub404.json; send sub404.json vapid.pem)
[ "${got%% *}" = 404 ]
ok $? "an unknown subscription: 404 ($got)"

# ---- heraldd: GET /v1/webpush, /sw.js ----
WP=$(free_port)
BASE="http://127.0.0.1:$WP"
cat > heraldd.conf <<CONF
$(daemon_base_conf)
[dispatch]
plugin_dir = $top_builddir/sinks
[sink wp]
plugin = webpush
vapid_key = vapid.pem
subject = mailto:ops@example.org
[sink f]
plugin = file
path = f.jsonl
[sink wp2]
plugin = webpush
vapid_key = $WORK/sec1.pem
subject = https://example.org/contact
[sink wp384]
plugin = webpush
vapid_key = p384.pem
subject = mailto:ops@example.org
[sink wpnone]
plugin = webpush
vapid_key = missing.pem
subject = mailto:ops@example.org
[sink wpnosubject]
plugin = webpush
vapid_key = vapid.pem
[web]
listen = 127.0.0.1:$WP
base_url = $BASE
assets = $top_srcdir/web
CONF
start_heraldd 1 && wait_for 10 curl -sf "$BASE/v1/webpush"
ok $? "heraldd serves the web app on $BASE"
keys() { curl -s -D keys.h "$BASE/v1/webpush"; }
[ "$(keys)" = "{\"sinks\":[{\"sink\":\"wp\",\"public_key\":\"$K_VAPID\"},{\"sink\":\"wp2\",\"public_key\":\"$K_SEC1\"}]}" ]
ok $? "GET /v1/webpush without a session: the PKCS#8 and SEC1 keys' points, in config order; not a sink that failed to start though its key is good ($(keys))"
grep -qi '^cache-control: no-store' keys.h && grep -qi '^content-type: application/json' keys.h
ok $? "... as JSON, not stored"
grep -q "sink 'wp384': vapid_key .*p384.pem: not a P-256 key" daemon1.err &&
	grep -q "sink 'wpnone': vapid_key .*missing.pem: No such file" daemon1.err
ok $? "the P-384 key and the missing file are left out, each with a warning"
grep -q "BEGIN\|PRIVATE" daemon1.err
[ $? -ne 0 ]
ok $? "no key material in heraldd's log"
curl -s -D sw.h -o sw.js "$BASE/sw.js" && cmp -s sw.js "$top_srcdir/web/sw.js" &&
	grep -qi '^content-type: text/javascript' sw.h && grep -qi "^content-security-policy: .*worker-src 'self'" sw.h &&
	grep -qi '^cache-control: no-cache' sw.h
ok $? "/sw.js: the service worker, as JavaScript, CSP worker-src 'self', revalidated (no-cache)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/js/push.js")" = 200 ] &&
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api.js")" = 404 ]
ok $? "/js/push.js is served; another script at the top is not"

# A rotated key: SIGHUP serves the new one; a broken file keeps the old.
mv other.pem vapid.pem
cp sec1.pem sec1.keep && echo "not a key" > sec1.pem
kill -HUP "$DPID"
wait_for 10 sh -c "curl -s '$BASE/v1/webpush' | grep -q '$K_OTHER'"
ok $? "after SIGHUP: sink wp's rotated key"
curl -s "$BASE/v1/webpush" | grep -q "\"wp2\",\"public_key\":\"$K_SEC1\"" &&
	grep -q "sink 'wp2': vapid_key .*sec1.pem: not a PEM private key.*keeps the key read before" daemon1.err
ok $? "a key file broken since start: the key read before is kept, with a warning"
mv sec1.keep sec1.pem
K_VAPID=$K_OTHER

# ---- the browser: the payload the push service recorded ----
head -1 record.jsonl | "$PYTHON3" -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["payload"])' > payload1
browser() { # browser N ARGS...: run test_webpush_browser.mjs, each line a TAP result
	n=$1
	shift
	timeout 180 node "$top_srcdir/tests/integration/test_webpush_browser.mjs" --base "$BASE" --work "$WORK/b$n" "$@" \
		> "browser$n.out" 2> "browser$n.err"
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok 0 "${line#ok - }" ;;
		"not ok - "*) ok 1 "${line#not ok - }" ;;
		*) diag "$line" ;;
		esac
	done < "browser$n.out"
	[ $rc -eq 0 ]
	ok $? "test_webpush_browser.mjs run $n exits 0"
	[ $rc -eq 0 ] || tail -20 "browser$n.err" | sed 's/^/# /'
}
browser 1 --payload-file payload1 --title "Build failed: héllo <b>" --body "koji task 42
second line" --link "https://example.org/t/42?a=1&b=2" --tag item-1 --sink wp --public-key "$K_VAPID"
browser 2 --payload '{"title":"3 updates to your packages","body":"a, b, c","link":"","tag":"d-7","id":"d-7","digest":3}' \
	--title "3 updates to your packages" --body "a, b, c" --link "" --tag d-7
browser 3 --payload '{"title":"x","body":"y","link":"javascript:alert(1)","tag":"t"}' \
	--title x --body y --link "javascript:alert(1)"

kill "$DPID"
wait "$DPID"
ok $? "heraldd exits cleanly"
[ $TAP_FAILED -eq 0 ] || { diag "heraldd's log:"; tail -30 daemon1.err | sed 's/^/# /'; diag "push service:"; tail svc.err | sed 's/^/# /'; }
done_testing
