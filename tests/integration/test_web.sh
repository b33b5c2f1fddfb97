#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The web app in a real browser: Debian's chromium, headless, driven by
# tests/integration/webdriver.py (chromium-driver + python3-selenium), against
# a real heraldd serving the pages from web/, a real OpenID provider
# (tests/oidc/provider.mjs, npm oidc-provider), a real relay, an SMTP server
# (smtpd.py, aiosmtpd) and a webhook receiver (httpd.py), all on 127.0.0.1.
# The flow: sign in through the provider's login form, add two webhooks (one
# the receiver always answers 400) and an email destination (the code read
# from the mail), check a raw filter as it is typed, build a subscription from
# a preset, preview it on recent bus messages, save it; watch the dashboard
# receive a message live; see it at both receivers and in the history, and its
# dead letter (retried from the page); open its "why" page; follow the mail's
# unsubscribe link (GET only asks, POST acts); create and revoke a token; the
# pages at a phone's width; sign out; the admin page as an admin. The bus
# message's title is <script>...<img onerror=...>: on the dashboard, the
# preview and the why page it must be shown literally with nothing run or
# built from it; also in the history's and the admin page's dead letters, and
# as a subscription's name. A missing browser, driver or provider fails the
# test. Screenshots of each page: $top_builddir/test-web-screens/.
. "${top_srcdir:-.}/tests/integration/lib.sh"

SCREENS=$top_builddir/test-web-screens
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/bin/chromedriver ] || missing="$missing chromium-driver"
"$PYTHON3" -c 'import selenium, aiosmtpd' 2> /dev/null || missing="$missing python3-selenium/python3-aiosmtpd"
command -v node > /dev/null || missing="$missing nodejs"
[ -d "$HERALD_OIDC_DIR/node_modules/oidc-provider" ] || missing="$missing oidc-provider(npm ci --prefix tests/oidc)"
if [ -n "$missing" ]; then
	echo "Bail out! missing:$missing (scripts/install-deps)"
	exit 1
fi

delivery_setup
"$PYTHON3" "$top_srcdir/tests/integration/smtpd.py" mx 2> mx.err &
PIDS="$PIDS $!"
"$PYTHON3" "$top_srcdir/tests/integration/httpd.py" hook 2> hook.err &
PIDS="$PIDS $!"
wait_for 20 test -s mx/port && wait_for 20 test -s hook/port
ok $? "an SMTP server and a webhook receiver on 127.0.0.1"

# The provider: one confidential client whose redirect URI is heraldd's.
WP=$(free_port)
OP=$(free_port)
BASE="http://127.0.0.1:$WP"
SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$SECRET" > oidc.secret
chmod 600 oidc.secret
node "$HERALD_OIDC_DIR/provider.mjs" "$OP" herald "$SECRET" "$BASE/auth/callback" \
	> provider.out 2> provider.err &
PIDS="$PIDS $!"
wait_for 30 grep -q ready provider.out
ok $? "the OpenID provider is ready on 127.0.0.1:$OP"

cat > heraldd.conf <<CONF
$(daemon_base_conf)
$(sink_test_dispatch 3)
[sink email]
plugin = email
host = 127.0.0.1
port = $(cat mx/port)
starttls = off
from = herald@example.org
verify = yes
[sink webhook]
plugin = webhook
allow_networks = 127.0.0.0/8
[web]
listen = 127.0.0.1:$WP
base_url = $BASE
assets = $top_srcdir/web
admins = boss
dashboard = signed-in
[oidc]
issuer = http://127.0.0.1:$OP
client_id = herald
client_secret_file = $WORK/oidc.secret
create_users = yes
CONF
start_relay
ok $? "relay is ready"
start_heraldd 1
ok $? "heraldd runs"
wait_for 20 curl -sf "$BASE/"
ok $? "heraldd serves the pages on $BASE"
say_hello
ok $? "heraldd receives from the relay"

# ---- the presets (web/js/presets.js) against the real filter compiler ----
H() { "$HERALD" "$@" --socket "$SOCK"; }
H user add pat > /dev/null && printf '["kernel"]' |
	curl -sf --unix-socket "$SOCK" -X PUT --data-binary @- http://localhost/v1/users/pat/lists/mine > /dev/null &&
	printf '["other"]' |
	curl -sf --unix-socket "$SOCK" -X PUT --data-binary @- http://localhost/v1/users/pat/lists/watched_users > /dev/null
ok $? "a user with the lists the presets name"
cat > presets.py <<'PY'
import json, os, subprocess, sys
# (choices, agent of an anitya message, should it match)
CASES = [
    ({"me": True}, "pat", True),
    ({"me": True}, "other", False),
    ({"me": True, "exclude_self": True}, "pat", False),
    ({"people": True}, "other", True),
    ({"people": True}, "pat", False),
    ({"apps": ["anitya"]}, "x", True),
    ({"apps": ["koji", "bodhi"]}, "x", False),
    ({"apps": ["anitya"], "exclude_topics": ["*.anitya.project.*"]}, "x", False),
    ({"apps": ["anitya"], "exclude_topics": ["*.koji.*"]}, "x", True),
    ({"apps": ["anitya"], "exclude_apps": ["anitya"]}, "x", False),
    ({"apps": ["anitya"], "severity": "critical"}, "x", False),
    ({"apps": ["anitya"], "severity": "debug"}, "x", True),
    ({"mine": True}, "pat", False),
    ({"mine": True, "packages": True, "people": True, "me": True, "apps": ['we"ird\\app'],
      "exclude_apps": ["a", "b"], "exclude_topics": ["*.x.*"], "exclude_self": False,
      "severity": "info"}, "pat", True),
]
js = ("import {presetFilter} from %s; const c = JSON.parse(process.argv[1]);"
      "console.log(JSON.stringify(c.map(presetFilter)));" % json.dumps("file://" + os.environ["PRESETS"]))
out = subprocess.run(["node", "--input-type=module", "-e", js, json.dumps([c for c, _, _ in CASES])],
                     check=True, capture_output=True, text=True).stdout
bad = 0
for (choices, agent, want), src in zip(CASES, json.loads(out)):
    msg = json.dumps({"topic": "org.release-monitoring.prod.anitya.project.add",
                      "msg": {"project": {"id": 1, "name": "p"}, "message": {"agent": agent}}})
    r = subprocess.run([os.environ["HERALD"], "filter", "test", src, "--user", "pat", "--socket",
                        os.environ["SOCK"]], input=msg, capture_output=True, text=True)
    if r.returncode != (0 if want else 1):
        bad += 1
        print("%r -> %r (agent %s): exit %d, want %s\n%s%s" % (choices, src, agent, r.returncode,
              "match" if want else "no match", r.stdout, r.stderr))
print("%d of %d presets compile and match as meant" % (len(CASES) - bad, len(CASES)))
sys.exit(1 if bad else 0)
PY
PRESETS="$top_srcdir/web/js/presets.js" HERALD="$HERALD" SOCK="$SOCK" "$PYTHON3" presets.py > presets.out 2>&1
ok $? "the presets' filters compile and match what they say ($(tail -1 presets.out))"
[ $TAP_FAILED -eq 0 ] || sed 's/^/# /' presets.out

rm -rf "$SCREENS"
PUBLISH="$HERALD publish --relay tcp://127.0.0.1:$P_PULL --key $WORK/demo.key --signer demo" \
	timeout 600 "$PYTHON3" "$top_srcdir/tests/integration/webdriver.py" --base "$BASE" \
	--out "$SCREENS" --work "$WORK" --smtp "$WORK/mx" --hook "$WORK/hook" \
	--hook-url "http://127.0.0.1:$(cat hook/port)/hook/ralph" --user ralph --admin boss \
	> driver.out 2> driver.err
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) ok 0 "${line#ok - }" ;;
	"not ok - "*) ok 1 "${line#not ok - }" ;;
	*) diag "$line" ;;
	esac
done < driver.out
[ $rc -eq 0 ] || { diag "webdriver.py exited $rc"; tail -20 driver.err | sed 's/^/# /'; }
ok $rc "the browser session ran to its end"
echo "# screenshots: $SCREENS ($(ls "$SCREENS" 2> /dev/null | wc -l) files)"

kill "$DPID"
wait "$DPID"
ok $? "heraldd exits cleanly"
[ $TAP_FAILED -eq 0 ] || { diag "heraldd's log:"; tail -30 daemon1.err | sed 's/^/# /'; }
done_testing
