#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# test_signin: the web app's sign-in against a real OpenID provider (npm
# oidc-provider, tests/oidc, installed by scripts/install-deps) on
# 127.0.0.1, driven by signin_client.py: the code flow with PKCE, cookie
# flags, create_users = no / yes, CSRF, one user against another's records
# on every /v1 route, return paths that try to leave the site, tampered and
# replayed state, a foreign nonce, sign-out, static files and their headers,
# and --check-config on the client secret file. A missing provider fails.
. "${top_srcdir:-.}/tests/integration/lib.sh"

cd "$WORK" || exit 1
SOCK="$WORK/state/heraldd.sock"
P_WEB=$(free_port)
P_OIDC=$(free_port)
P_BUS=$(free_port)
BASE="http://127.0.0.1:$P_WEB"
ISSUER="http://127.0.0.1:$P_OIDC"
SECRET=test-secret-0123456789abcdef
printf '%s\n' "$SECRET" > oidc-secret
chmod 600 oidc-secret

# Assets: a few files, and what must never be served.
mkdir -p www/css www/js
echo '<!DOCTYPE html><title>herald test index</title>' > www/index.html
echo 'body { color: black; }' > www/css/site.css
echo 'export const x = 1;' > www/js/app.js
echo 'TOPSECRET' > www/.env
echo 'TOPSECRET' > www/css/.hidden.css
echo 'TOPSECRET' > www/secret.txt
echo 'TOPSECRET' > secret.txt

write_conf() { # write_conf CREATE_USERS
	cat > heraldd.conf <<CONF
[daemon]
state_dir = state
rules_dir = $top_srcdir/src/schema/rules
[endpoint bus]
connect = tcp://127.0.0.1:$P_BUS
[web]
listen = 127.0.0.1:$P_WEB
base_url = $BASE
assets = www
admins = boss
trusted_proxies = 127.0.0.1
[oidc]
issuer = $ISSUER
client_id = herald-test
client_secret_file = oidc-secret
create_users = $1
CONF
}
write_conf no

# --check-config refuses a secret others can read, and a missing assets folder.
chmod 644 oidc-secret
"$HERALDD" -c heraldd.conf --check-config > check.out 2>&1
[ $? -eq 2 ] && grep -q "client_secret_file .*group or others" check.out
ok $? "--check-config refuses a client secret file others can read ($(cat check.out))"
chmod 600 oidc-secret
sed 's/^assets = www$/assets = nowhere/' heraldd.conf > bad.conf
"$HERALDD" -c bad.conf --check-config > check.out 2>&1
[ $? -eq 2 ] && grep -q "assets .*nowhere" check.out
ok $? "--check-config refuses a missing assets folder"
"$HERALDD" -c heraldd.conf --check-config > check.out 2>&1
ok $? "--check-config accepts the config ($(cat check.out))"

OIDC_DIR="$HERALD_OIDC_DIR"
[ -d "$OIDC_DIR/node_modules/oidc-provider" ]
ok $? "the test provider is installed (scripts/install-deps: npm ci --prefix tests/oidc)"
provider() { # provider N [--alg ES256]
	n=$1
	shift
	node "$OIDC_DIR/provider.mjs" "$P_OIDC" herald-test "$SECRET" "$BASE/auth/callback" "$@" \
		> "provider$n.out" 2> "provider$n.err" &
	OPID=$!
	PIDS="$PIDS $OPID"
	wait_for 30 grep -q ready "provider$n.out"
}
provider 1
ok $? "the OpenID provider listens on 127.0.0.1:$P_OIDC"

start() { # start N
	"$HERALDD" -c heraldd.conf --foreground > "daemon$1.out" 2>> "daemon$1.err" &
	DPID=$!
	PIDS="$PIDS $DPID"
	wait_for 20 curl -sf --unix-socket "$SOCK" http://localhost/healthz &&
		wait_for 10 curl -sk -o /dev/null "$BASE/"
}
start 1
ok $? "heraldd started with [web] and [oidc]"
for u in alice bob boss; do
	curl -sf --unix-socket "$SOCK" -X POST -d "{\"name\": \"$u\"}" http://localhost/v1/users > /dev/null ||
		diag "could not add $u"
done

client() { # client PHASE: run signin_client.py, each line one TAP result
	"$PYTHON3" "$top_srcdir/tests/integration/signin_client.py" "$1" "$BASE" "$ISSUER" "$SOCK" \
		> "client-$1.out" 2> "client-$1.err"
	rc=$?
	while IFS='|' read -r verdict desc; do
		[ "$verdict" = ok ]
		ok $? "$desc"
	done < "client-$1.out"
	[ $rc -eq 0 ]
	ok $? "signin_client.py $1 ran to the end"
	[ $rc -eq 0 ] || sed 's/^/# /' "client-$1.err" | tail -20
}
client first
grep -q "web: 'alice' signed in" daemon1.err
ok $? "heraldd logged the sign-in"
grep -q "for alice from 198.51.100.7: csrf" daemon1.err
ok $? "a refusal is logged with the address a trusted proxy forwarded (the last of X-Forwarded-For)"
grep -q "$SECRET" daemon1.err
[ $? -ne 0 ]
ok $? "the client secret never appears in heraldd's log"

kill "$DPID"
wait "$DPID" 2>/dev/null
write_conf yes
start 2
ok $? "heraldd restarted with create_users = yes"
client second

# The provider starts over with a new key of another type: heraldd's cached
# key set lacks its kid and is fetched again (at most every 10 s, so wait that).
kill "$OPID"
wait "$OPID" 2>/dev/null
provider 2 --alg ES256
ok $? "the provider restarted with an ES256 key"
sleep 10
client third

# HTTPS served by heraldd itself ([web] tls_cert, tls_key).
kill "$DPID"
wait "$DPID" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout tls.key -out tls.crt > /dev/null 2>&1
chmod 600 tls.key
sed -e "s|^base_url = .*|base_url = https://127.0.0.1:$P_WEB|" \
	-e "s|^assets = www|assets = www\ntls_cert = tls.crt\ntls_key = tls.key|" heraldd.conf > tls.conf
mv tls.conf heraldd.conf
BASE="https://127.0.0.1:$P_WEB"
start 3
ok $? "heraldd started with tls_cert and tls_key"
curl -s --cacert tls.crt -D tls.headers -o tls.body "$BASE/v1/session"
grep -q '"user":null' tls.body && grep -qi '^strict-transport-security: max-age=' tls.headers &&
	grep -qi '^x-frame-options: DENY' tls.headers
ok $? "GET /v1/session over HTTPS, with HSTS for an https base URL"
curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$P_WEB/v1/session"
[ $? -ne 0 ]
ok $? "plain HTTP is not served on the TLS listener"
done_testing
