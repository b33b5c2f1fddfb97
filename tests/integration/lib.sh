# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers for the shell integration tests: TAP output, free loopback
# ports, bounded waits, and cleanup of every child process.
: "${top_srcdir:=.}" "${top_builddir:=.}"
: "${HERALD:=$top_builddir/herald}" "${HERALDD:=$top_builddir/heraldd}"
: "${RELAY_BIN:=$top_builddir/herald-relay}"
: "${PYTHON3:=/usr/bin/python3}"
# The test OpenID provider (tests/oidc) with its npm packages installed by
# scripts/install-deps. A dist tree has no node_modules: `make distcheck`
# points HERALD_OIDC_DIR at the checkout's (.ci/run does).
: "${HERALD_OIDC_DIR:=$top_srcdir/tests/oidc}"
# The test push service and the browser driver's npm packages (tests/webpush),
# the same way; exported for test_webpush_browser.mjs.
: "${HERALD_WEBPUSH_DIR:=$top_srcdir/tests/webpush}"
export HERALD_WEBPUSH_DIR
TAP_N=0
TAP_FAILED=0
PIDS=""
WORK=$(mktemp -d /tmp/herald-it-XXXXXX)

ok() { # ok CONDITION-EXIT-STATUS DESCRIPTION
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=1
	fi
}
check() { # check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@" >/dev/null 2>&1; then ok 0 "$desc"; else ok 1 "$desc"; fi
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
done_testing() {
	echo "1..$TAP_N"
	exit $TAP_FAILED
}

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	"$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds; 1 on timeout.
wait_for() {
	t=$1
	shift
	end=$(($(date +%s) + t))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# stat NAME: one counter of the running heraldd (via herald stats --json).
stat() {
	"$HERALD" stats --socket "$SOCK" --json 2>/dev/null | "$PYTHON3" -c \
		"import json,sys; d=json.load(sys.stdin); k=sys.argv[1]; print(d['rejected_by_reason'][k[9:]] if k.startswith('rejected.') else d[k])" "$1"
}
stat_is() { [ "$(stat "$1")" = "$2" ]; }

# ---- a relay and a daemon, for the tests that need both ----
# relay_ports: pick the relay's three loopback ports (before writing a config).
relay_ports() { P_PULL=$(free_port); P_PUB=$(free_port); P_REPLAY=$(free_port); }
# delivery_setup: work in $WORK, with a signing key "demo" (daemon_base_conf
# and publishing use it), the relay's ports and heraldd's socket in $SOCK.
delivery_setup() {
	cd "$WORK" || exit 1
	"$HERALD" keygen demo --dir "$WORK" > demo.line 2>/dev/null
	relay_ports
	SOCK="$WORK/state/heraldd.sock"
}
# sink_test_dispatch MAX_ATTEMPTS: the [dispatch] section of the sink tests:
# the built plugins, quick retries (0.3 s, doubling to 1.5 s), probes every 0.5 s.
sink_test_dispatch() {
	cat <<CONF
[dispatch]
plugin_dir = $top_builddir/sinks
retry_base_ms = 300
retry_max_ms = 1500
max_attempts = $1
probe_interval_ms = 500
CONF
}
# daemon_base_conf: the [daemon], [endpoint relay] and [keys] sections shared by
# the delivery tests (a key "demo" from herald keygen in $WORK).
# daemon_base_conf [LINE...]: the config's head; each LINE goes in [daemon].
daemon_base_conf() {
	printf '[daemon]\nstate_dir = state\nrules_dir = %s\n' "$top_srcdir/src/schema/rules"
	for l in "$@"; do printf '%s\n' "$l"; done
	cat <<CONF
[endpoint relay]
connect = tcp://127.0.0.1:$P_PUB
replay = tcp://127.0.0.1:$P_REPLAY
[keys]
$(cat "$WORK/demo.line")
CONF
}
start_relay() {
	"$RELAY_BIN" --pull tcp://127.0.0.1:$P_PULL --pub tcp://127.0.0.1:$P_PUB \
		--replay tcp://127.0.0.1:$P_REPLAY --state "$WORK/relay" 2> "$WORK/relay.err" &
	PIDS="$PIDS $!"
	wait_for 30 grep -q ready "$WORK/relay.err"
}
# start_heraldd N: heraldd -c heraldd.conf, output in daemonN.out/.err; $DPID.
start_heraldd() {
	"$HERALDD" -c heraldd.conf --foreground > "daemon$1.out" 2>> "daemon$1.err" &
	DPID=$!
	PIDS="$PIDS $DPID"
	wait_for 20 curl -sf --unix-socket "$SOCK" http://localhost/healthz
}
# say_hello: the first messages on a fresh SUB connection can go before the
# subscription is up; publish hellos until heraldd has accepted one.
say_hello() {
	for _ in $(seq 1 50); do
		"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key "$WORK/demo.key" \
			--signer demo --topic org.test.hello --message hi > /dev/null 2>&1
		sleep 0.2
		[ "$(stat accepted)" -gt 0 ] 2>/dev/null && return 0
	done
	return 1
}
# start_pushsvc: the test Web Push service (tests/webpush/pushsvc.mjs) over
# TLS, its certificate from a test CA in $WORK/certs (mkcerts.sh: a sink's
# ca_file is certs/ca.crt), recording to record.jsonl; its push port in $PP,
# its control URL in $CTL. Fails when it does not come up.
start_pushsvc() {
	sh "$top_srcdir/tests/webpush/mkcerts.sh" "$WORK/certs" || return 1
	node "$HERALD_WEBPUSH_DIR/pushsvc.mjs" --port 0 --control-port 0 --cert "$WORK/certs/push.crt" \
		--key "$WORK/certs/push.key" --record "$WORK/record.jsonl" > "$WORK/svc.out" 2> "$WORK/svc.err" &
	PIDS="$PIDS $!"
	wait_for 30 grep -q '^ready' "$WORK/svc.out" || return 1
	read -r _ PP CP < "$WORK/svc.out"
	CTL="http://127.0.0.1:$CP"
}
# jfield EXPR: evaluate EXPR on the JSON on stdin (as d).
# tcp TOKEN METHOD PATH [BODY]: the API over $TCP; the HTTP status, the
# body in tcp.out.
tcp() {
	if [ -n "${4:-}" ]; then
		curl -s -o tcp.out -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" \
			-H 'Content-Type: application/json' -d "$4" "$TCP$3"
	else
		curl -s -o tcp.out -w '%{http_code}' -H "Authorization: Bearer $1" -X "$2" "$TCP$3"
	fi
}
jfield() { "$PYTHON3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# stand_in_sinks: [dispatch] and file sinks named email, irc and webhook, for
# tests about management and matching, not delivery.
stand_in_sinks() {
	cat <<CONF
[dispatch]
plugin_dir = $top_builddir/sinks
[sink email]
plugin = file
path = email.jsonl
[sink irc]
plugin = file
path = irc.jsonl
[sink webhook]
plugin = file
path = webhook.jsonl
CONF
}
