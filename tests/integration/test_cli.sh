#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test_cli: the `herald` tool end to end, as a TAP script for automake's
# tap-driver. keygen files and modes; publish --bind -> tail round trips with
# signature checks (valid, unknown signer, wrong key, unsigned); verify and
# its exit codes; option errors; publish failure paths; stats. With
# RELAY_BIN / HERALDD set to built binaries it also goes through
# herald-relay and a running heraldd (make check sets both; without them
# those points fail).
#
# Only 127.0.0.1 is used. Every wait is bounded (the tools' own --timeout,
# plus `timeout` around each call), and children are killed on exit.
# Not for testing verify.c or canon.c in depth: their unit tests do that.

HERALD=${HERALD:-./herald}
case $HERALD in /*) ;; *) HERALD=$(pwd)/$HERALD ;; esac
RELAY_BIN=${RELAY_BIN:-}
HERALDD=${HERALDD:-}
PYTHON3=${PYTHON3:-python3}
srcdir=${srcdir:-.}
CORPUS=$(cd "$srcdir" 2>/dev/null && pwd)/tests/data/fedmsg-messages.jsonl
TOPIC=org.herald.test.cli

n=0
failed=0
pids=""

T=$(mktemp -d "${TMPDIR:-/tmp}/herald-cli.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Bound every call: a hang becomes a failure, not a stuck `make check`.
if command -v timeout >/dev/null 2>&1; then
	TO="timeout 60"
else
	TO=""
fi

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}

# skip REASON: a dependency is missing. That fails the suite: a test that
# cannot run proves nothing (scripts/install-deps installs them all).
skip() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - cannot run: $1"
}

# check DESCRIPTION COMMAND...: one test point from a command's status.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

diag() {
	sed 's/^/# /' "$@" >&2
}

herald() {
	$TO "$HERALD" "$@"
}

# A free TCP port on 127.0.0.1 (for programs that need a fixed one).
free_port() {
	"$PYTHON3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + $$ % 20000 + n))
}

# Wait (up to 10 s) for publish --bind to say where it listens; print it.
wait_bound() {
	i=0
	while [ $i -lt 100 ]; do
		ep=$(sed -n 's/.*bound to //p' "$1" 2>/dev/null)
		if [ -n "$ep" ]; then
			echo "$ep"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# start_publish ERRFILE ARGS...: background publish --bind on a free port.
# Sets $pub_pid and $ep.
start_publish() {
	errfile=$1
	shift
	# Not through the herald function: $! must be a process we can kill.
	$TO "$HERALD" publish --bind 'tcp://127.0.0.1:*' "$@" 2>"$errfile" &
	pub_pid=$!
	pids="$pids $pub_pid"
	ep=$(wait_bound "$errfile") || ep=tcp://127.0.0.1:9
}

# round_trip NAME COUNT TAIL-ARGS -- PUBLISH-ARGS: tail output in $T/NAME.out,
# exit statuses in $tail_rc and $pub_rc.
round_trip() {
	name=$1
	count=$2
	shift 2
	targs=""
	while [ "$1" != "--" ]; do
		targs="$targs $1"
		shift
	done
	shift
	start_publish "$T/$name.pub.err" "$@"
	# shellcheck disable=SC2086  # targs holds words without spaces
	herald tail --connect "$ep" $targs --count "$count" --timeout 20 >"$T/$name.out" 2>"$T/$name.tail.err"
	tail_rc=$?
	wait "$pub_pid"
	pub_rc=$?
}

if [ ! -x "$HERALD" ]; then
	echo "Bail out! $HERALD is not an executable (set HERALD)"
	exit 1
fi

# ---- keygen ----

cd "$T" || exit 1
herald keygen alice >alice.line 2>keygen.err
check "keygen exits 0" test $? -eq 0
check "keygen writes NAME.key with mode 0600" test "$(stat -c %a alice.key 2>/dev/null)" = 600
check "NAME.key is a PKCS#8 PEM private key" grep -q '^-----BEGIN PRIVATE KEY-----$' alice.key
check "NAME.pub is a PEM public key" grep -q '^-----BEGIN PUBLIC KEY-----$' alice.pub
check "keygen prints 'NAME = base64 of 32 bytes'" \
	grep -Eqx 'alice = [A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=' alice.line

if command -v openssl >/dev/null 2>&1; then
	raw=$(openssl pkey -pubin -in alice.pub -outform DER 2>/dev/null | tail -c 32 | base64)
	check "the config line holds the raw public key of NAME.pub" \
		test "alice = $raw" = "$(cat alice.line)"
else
	skip "openssl command not installed"
fi

cp alice.key alice.key.orig
herald keygen alice >/dev/null 2>overwrite.err
rc=$?
check "keygen refuses to overwrite (exit 1)" test $rc -eq 1
check "keygen says why it refused" grep -q 'already exists' overwrite.err
check "the refused keygen left the key untouched" cmp -s alice.key alice.key.orig

mkdir keys
herald keygen --dir keys mallory >mallory.line 2>/dev/null
check "keygen --dir writes into DIR" test -f keys/mallory.key -a -f keys/mallory.pub
herald keygen 'bad/name' >/dev/null 2>&1
check "keygen rejects a name with '/' (exit 2)" test $? -eq 2

mkdir state
cat >good.conf <<EOF
[daemon]
state_dir = $T/state
[endpoint local]
connect = tcp://127.0.0.1:9
[keys]
$(cat alice.line)
EOF

# ---- publish --bind + tail --connect ----

round_trip rt 20 --config good.conf -- --topic $TOPIC --message hello --count 20 --key alice.key
check "tail --count 20 exits 0" test $tail_rc -eq 0
check "publish exits 0" test $pub_rc -eq 0
check "publish reports 'published 20 messages'" grep -q 'published 20 messages' "$T/rt.pub.err"
lines=$(grep -c . rt.out)
check "tail printed 20 lines" test "$lines" -eq 20
good=$(grep -cx "$TOPIC alice valid {\"log\":\"hello\"}" rt.out)
if [ "$good" -eq 20 ]; then ok "all 20 verified: '<topic> alice valid <body>'"; else
	not_ok "all 20 verified: '<topic> alice valid <body>' ($good)"; diag rt.out rt.tail.err; fi

round_trip unknown 2 --config good.conf -- --topic $TOPIC --message x --count 2 --key keys/mallory.key
if grep -q "^$TOPIC mallory invalid: unknown_signer" unknown.out && [ $tail_rc -eq 0 ]; then
	ok "a key the config does not trust shows 'invalid: unknown_signer'"
else
	not_ok "a key the config does not trust shows 'invalid: unknown_signer'"; diag unknown.out
fi

round_trip wrongkey 1 --config good.conf -- --topic $TOPIC --message x --key keys/mallory.key --signer alice
check "signing as alice with another key shows 'invalid: bad_signature'" \
	grep -q "^$TOPIC alice invalid: bad_signature" wrongkey.out

round_trip unsigned 1 --config good.conf -- --topic $TOPIC --message x --unsigned
check "an unsigned message shows 'invalid: unsigned' when signatures are required" \
	grep -q "^$TOPIC invalid: unsigned" unsigned.out

round_trip nocfg 1 --pretty -- --topic $TOPIC --message hi --unsigned
check "without --config, tail marks unsigned messages" grep -qx "$TOPIC unsigned" nocfg.out
check "--pretty indents the body" grep -qx '  "log": "hi"' nocfg.out

printf '{"topic":"org.a.one","msg":1}\n{"topic":"org.b.two","msg":2}\n{"topic":"org.a.three","msg":3}\n' >mixed.jsonl
round_trip filter 2 --topic org.a -- --lines mixed.jsonl --key alice.key
if [ "$(cut -d' ' -f1 filter.out | tr '\n' ' ')" = "org.a.one org.a.three " ]; then
	ok "tail --topic PREFIX shows only matching topics, and --lines takes each line's topic"
else
	not_ok "tail --topic PREFIX shows only matching topics"; diag filter.out
fi

if [ -f "$CORPUS" ]; then
	total=$(grep -c . "$CORPUS")
	round_trip corpus "$total" --config good.conf -- --lines "$CORPUS" --key alice.key
	good=$(grep -c ' alice valid ' corpus.out)
	if [ "$good" -eq "$total" ] && [ $pub_rc -eq 0 ]; then
		ok "the whole corpus ($total messages) replays with valid signatures"
	else
		not_ok "the whole corpus replays with valid signatures ($good of $total)"
		grep -v ' alice valid ' corpus.out | head -5 | diag
	fi
else
	skip "corpus $CORPUS not found"
fi

# ---- publish --stdout ----

herald publish --stdout -q --topic $TOPIC --message hello --count 3 --key alice.key >three.json
check "publish --stdout prints one envelope per message" test "$(grep -c . three.json)" -eq 3
check "'i' counts 1, 2, 3 within one invocation" \
	test "$(grep -o '"i":[0-9]*' three.json | tr '\n' ' ')" = '"i":1 "i":2 "i":3 '
check "msg_id is '<year>-<uuid4>' and unique" test "$(grep -Eo \
	'"msg_id":"[0-9]{4}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"' \
	three.json | sort -u | wc -l)" -eq 3
check "the envelope carries crypto, signer, username and a float timestamp" \
	grep -Eq '"timestamp":[0-9]+\.[0-9]+.*"username":"[^"]+","crypto":"ed25519","signer":"alice","signature":"' three.json

# ---- verify ----

head -n 1 three.json >env.json
herald verify -c good.conf env.json >verify.out 2>verify.err
rc=$?
check "verify of a published envelope exits 0" test $rc -eq 0
check "verify prints 'valid (signer alice)'" grep -qx 'valid (signer alice)' verify.out
herald verify -c good.conf <env.json >/dev/null 2>&1
check "verify reads stdin" test $? -eq 0

sed 's/"hello"/"hellp"/' env.json >tampered.json
herald verify -c good.conf tampered.json >verify.out 2>verify.err
rc=$?
check "verify of a tampered envelope exits 1" test $rc -eq 1
check "verify says 'invalid: bad_signature'" grep -q '^invalid: bad_signature' verify.out

herald publish --stdout -q --topic $TOPIC --message x --key keys/mallory.key |
	herald verify -c good.conf >verify.out 2>verify.err
check "verify of an untrusted signer says 'invalid: unknown_signer'" \
	grep -q '^invalid: unknown_signer' verify.out
echo 'not json' | herald verify -c good.conf >verify.out 2>verify.err
rc=$?
check "verify of garbage exits 1 with 'invalid: bad_json'" \
	test $rc -eq 1 -a "$(cut -d' ' -f1-2 verify.out)" = "invalid: bad_json"

{ cat good.conf; echo '[verify]'; echo 'require_signatures = perhaps'; } >broken.conf
herald verify -c broken.conf env.json >verify.out 2>verify.err
rc=$?
check "verify with a broken config exits 2" test $rc -eq 2
bad_line=$(grep -n perhaps broken.conf | cut -d: -f1)
check "the config error names file:line" grep -q "broken.conf:$bad_line: require_signatures" verify.err
herald verify -c "$T/no-such.conf" env.json >/dev/null 2>&1
check "verify with a missing config exits 2" test $? -eq 2
herald verify -c good.conf "$T/no-such.json" >/dev/null 2>&1
check "verify of a missing message file exits 1" test $? -eq 1

# ---- usage errors ----

usage_fails() {
	herald "$@" >/dev/null 2>usage.err
	[ $? -eq 2 ] && [ -s usage.err ]
}
check "unknown global option exits 2" usage_fails --bogus
check "unknown command exits 2" usage_fails frobnicate
check "no command exits 2" usage_fails
check "unknown publish option exits 2" usage_fails publish --frob
check "the error names the unknown option" grep -q "unknown option '--frob'" usage.err
check "publish without --key or --unsigned exits 2" usage_fails publish --stdout --topic t --message m
check "publish with two transports exits 2" \
	usage_fails publish --stdout --relay tcp://127.0.0.1:9 --unsigned --topic t --message m
check "publish --count 0 exits 2" usage_fails publish --stdout --unsigned --topic t --message m --count 0
check "tail --count with a non-number exits 2" usage_fails tail --connect tcp://127.0.0.1:9 --count many
check "tail without anything to connect to exits 2" usage_fails tail
check "tail --timeout without a value exits 2" usage_fails tail --connect tcp://127.0.0.1:9 --timeout
check "verify with two files exits 2" usage_fails verify -c good.conf a.json b.json
check "stats with --config and --socket exits 2" usage_fails stats -c good.conf --socket x
check "bad --log-level exits 2" usage_fails --log-level loud keygen x

helps=0
for cmd in keygen publish tail verify stats; do
	herald "$cmd" --help >help.out 2>&1 || helps=$((helps + 1))
	grep -q "^usage: herald $cmd" help.out || helps=$((helps + 1))
done
check "every command has --help (exit 0)" test $helps -eq 0
check "herald --help lists the commands" sh -c \
	"'$HERALD' --help | grep -q '^  keygen' && '$HERALD' --help | grep -q '^  stats'"

# ---- publish failure paths ----

port=$(free_port)
herald publish --relay "tcp://127.0.0.1:$port" --unsigned --topic $TOPIC --message x \
	--timeout 1 >/dev/null 2>relay.err
rc=$?
check "publish --relay to nobody fails after the linger period (exit 1)" test $rc -eq 1
check "and says messages may be lost" grep -q 'may be lost' relay.err
herald publish --bind 'tcp://127.0.0.1:*' --unsigned --topic $TOPIC --message x \
	--timeout 0.5 >/dev/null 2>bind.err
rc=$?
check "publish --bind without subscribers fails after --timeout (exit 1)" test $rc -eq 1
check "and says nothing was sent" grep -q '0 of 1 subscriptions' bind.err
herald publish --stdout --unsigned --topic 'has space' --message x >/dev/null 2>topic.err
check "publish refuses a topic heraldd would reject (exit 1)" test $? -eq 1

# ---- stats ----

herald stats --socket "$T/none.sock" >/dev/null 2>stats.err
rc=$?
check "stats without a daemon exits 1" test $rc -eq 1
check "stats says heraldd is not running" grep -q "heraldd is not running (socket $T/none.sock)" stats.err
herald stats -c good.conf >/dev/null 2>stats.err
check "stats takes the socket from the config" grep -q "socket $T/state/heraldd.sock" stats.err

cat >fake_api.py <<'EOF'
import http.server, os, socketserver, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"received":7,"accepted":5}\n'
        self.send_response(200 if self.path == "/v1/stats" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.UnixStreamServer):
    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("local", 0)
with Server(sys.argv[1], Handler) as s:
    s.timeout = 20
    s.handle_request()
EOF
if "$PYTHON3" -c 'import http.server' 2>/dev/null; then
	$TO "$PYTHON3" fake_api.py "$T/api.sock" &
	fake=$!
	pids="$pids $fake"
	i=0
	while [ ! -S "$T/api.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	herald stats --socket "$T/api.sock" >stats.out 2>&1
	rc=$?
	check "stats prints the daemon's counters indented" \
		test $rc -eq 0 -a "$(grep -c '^  "' stats.out)" -eq 2
	wait $fake 2>/dev/null
else
	skip "python3 not available for a fake API server"
fi

# ---- through herald-relay (3 frames) ----

if [ -n "$RELAY_BIN" ] && [ -x "$RELAY_BIN" ]; then
	pull=$(free_port)
	pub=$(free_port)
	while [ "$pub" = "$pull" ]; do pub=$(free_port); done
	mkdir relay-state
	$TO "$RELAY_BIN" --pull "tcp://127.0.0.1:$pull" --pub "tcp://127.0.0.1:$pub" \
		--state relay-state --log-level error 2>relay.log &
	relay=$!
	pids="$pids $relay"
	$TO "$HERALD" tail --connect "tcp://127.0.0.1:$pub" --config good.conf --count 5 \
		--timeout 20 >relayed.out 2>relayed.err &
	tailer=$!
	pids="$pids $tailer"
	sleep 1 # let the SUB subscription reach the relay's PUB (slow joiner)
	herald publish --relay "tcp://127.0.0.1:$pull" --topic $TOPIC --message relayed --count 5 \
		--key alice.key --timeout 10 2>/dev/null
	pub_rc=$?
	wait $tailer
	tail_rc=$?
	check "publish --relay delivers to herald-relay (exit 0)" test $pub_rc -eq 0
	good=$(grep -cx "$TOPIC alice valid {\"log\":\"relayed\"}" relayed.out)
	if [ $tail_rc -eq 0 ] && [ "$good" -eq 5 ]; then
		ok "tail reads the relay's [topic, envelope, meta] frames and verifies them"
	else
		not_ok "tail reads the relay's 3-frame messages ($good of 5)"; diag relayed.out relayed.err relay.log
	fi
	kill $relay 2>/dev/null
else
	skip "RELAY_BIN not set: publish --relay to herald-relay"
	skip "RELAY_BIN not set: tail of 3-frame messages"
fi

# ---- against a running heraldd ----

if [ -n "$HERALDD" ] && [ -x "$HERALDD" ]; then
	port=$(free_port)
	mkdir dstate
	cat >daemon.conf <<EOF
[daemon]
state_dir = $T/dstate
map_size_mb = 16
rules_dir = $(cd "$srcdir" && pwd)/src/schema/rules
[endpoint local]
connect = tcp://127.0.0.1:$port
[keys]
$(cat alice.line)
EOF
	$TO "$HERALDD" -c daemon.conf -f 2>heraldd.log &
	daemon=$!
	pids="$pids $daemon"
	i=0
	until "$HERALD" stats -q -c daemon.conf >/dev/null 2>&1 || [ $i -ge 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	herald publish --bind "tcp://127.0.0.1:$port" --topic $TOPIC --message daemon --count 3 \
		--key alice.key 2>/dev/null
	i=0
	until herald stats --json -c daemon.conf 2>/dev/null | grep -q '"accepted":3' || [ $i -ge 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if herald stats --json -c daemon.conf 2>/dev/null | grep -q '"accepted":3'; then
		ok "heraldd accepts what publish sends, and stats shows it"
	else
		not_ok "heraldd accepts what publish sends, and stats shows it"
		herald stats --json -c daemon.conf 2>&1 | diag
		diag heraldd.log
	fi
	kill $daemon 2>/dev/null
else
	skip "HERALDD not set: stats against a running heraldd"
fi

echo "1..$n"
[ $failed -eq 0 ]
