#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The web app behind nginx, with doc/examples/nginx-herald.conf itself: only
# its ports, certificate paths and the IPv6 listeners are changed for a test
# on 127.0.0.1. Checks that the example is valid nginx, serves the pages over
# TLS with heraldd's headers, redirects plain HTTP, and passes the
# dashboard's event stream through as events come (the example turns
# proxy_buffering off for /events, and heraldd's stream says
# X-Accel-Buffering: no for proxies configured without it).
. "${top_srcdir:-.}/tests/integration/lib.sh"

delivery_setup
P_WEB=$(free_port)
P_TLS=$(free_port)
P_HTTP=$(free_port)
NGINX=${NGINX:-/usr/sbin/nginx}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=127.0.0.1 -keyout key.pem -out cert.pem > openssl.out 2>&1
sed -e "s/listen 443 ssl http2;/listen 127.0.0.1:$P_TLS ssl http2;/" \
	-e "s/listen 80;/listen 127.0.0.1:$P_HTTP;/" \
	-e '/listen \[::\]/d' \
	-e "s|/etc/ssl/certs/herald.example.org.pem|$WORK/cert.pem|" \
	-e "s|/etc/ssl/private/herald.example.org.key|$WORK/key.pem|" \
	-e "s|http://127.0.0.1:8080|http://127.0.0.1:$P_WEB|" \
	"$top_srcdir/doc/examples/nginx-herald.conf" > site.conf
mkdir -p ngx
cat > nginx.conf <<CONF
daemon off;
pid $WORK/ngx/nginx.pid;
error_log $WORK/ngx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $WORK/ngx/body;
	proxy_temp_path $WORK/ngx/proxy;
	fastcgi_temp_path $WORK/ngx/fastcgi;
	uwsgi_temp_path $WORK/ngx/uwsgi;
	scgi_temp_path $WORK/ngx/scgi;
	include $WORK/site.conf;
}
CONF
"$NGINX" -t -p "$WORK/ngx" -c "$WORK/nginx.conf" > nginxt.out 2>&1
ok $? "the example configuration is valid nginx ($(tail -1 nginxt.out))"

cat > heraldd.conf <<CONF
$(daemon_base_conf)
[web]
listen = 127.0.0.1:$P_WEB
base_url = https://127.0.0.1:$P_TLS
trusted_proxies = 127.0.0.1
assets = $top_srcdir/web
dashboard = public
CONF
start_relay
start_heraldd 1
ok $? "heraldd runs with its web app on 127.0.0.1:$P_WEB"
say_hello
"$NGINX" -p "$WORK/ngx" -c "$WORK/nginx.conf" 2> nginx.err &
PIDS="$PIDS $!"
BASE="https://127.0.0.1:$P_TLS"
wait_for 20 curl -sfk -o /dev/null "$BASE/"
ok $? "nginx serves the web app over TLS"

curl -sk -D page.h -o page.html "$BASE/"
grep -qi '^content-security-policy: default-src' page.h &&
	grep -qi '^strict-transport-security:' page.h && grep -qi '<html' page.html
ok $? "the page arrives with heraldd's CSP and HSTS ($(grep -ci '^content-security' page.h) CSP header)"
curl -sk "$BASE/v1/session" > session.json
[ "$(jfield "d['user']" < session.json)" = None ]
ok $? "/v1/session through the proxy: nobody signed in ($(cat session.json))"
curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$P_HTTP/x?y" > redir.out
[ "$(cat redir.out)" = "301 https://127.0.0.1/x?y" ]
ok $? "plain HTTP is sent to HTTPS ($(cat redir.out))"

# The stream through nginx: an event must arrive while the stream is open.
curl -skN --max-time 60 "$BASE/events" > events.out 2> events.err &
C=$!
PIDS="$PIDS $C"
wait_for 20 grep -q 'org.test.hello' events.out
"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
	--topic org.test.through.nginx --message hi > /dev/null 2>&1
wait_for 20 grep -q 'org.test.through.nginx' events.out
ok $? "a new message reaches the dashboard's stream through nginx while it is open"
kill -0 "$C" 2>/dev/null
ok $? "and the stream is still open"
kill "$C" 2>/dev/null

kill "$DPID" && wait "$DPID"
ok $? "heraldd exits cleanly"
done_testing
