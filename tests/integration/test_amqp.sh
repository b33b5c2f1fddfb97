#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# heraldd consuming fedora-messaging over AMQP from a real RabbitMQ broker
# (started here on 127.0.0.1, tests/integration/rabbitmq.sh), with pika
# publishing exactly what fedora-messaging publishes (fmpub.py):
#  - plain amqp: messages are matched and delivered to the file sink, each
#    malformed delivery is rejected without requeue and counted by reason,
#    everything is settled (the queue ends empty), a redelivered message id
#    is a counted duplicate;
#  - SIGKILL of heraldd mid-stream, three times: every message ends up
#    matched and delivered under one notification id (exactly once for a
#    receiver that keys on it), none lost;
#  - amqps: server verification against a test CA, a client certificate
#    the broker requires; a wrong CA and a missing client certificate each
#    fail with a clear log line.
# A missing rabbitmq-server or python3-pika fails the test, naming the package.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/rabbitmq.sh"

cd "$WORK"
KILL_N=${AMQP_KILL_MESSAGES:-3000}
FMPUB="$PYTHON3 $top_srcdir/tests/integration/fmpub.py"
SOCK="$WORK/state/heraldd.sock"
TLS_PORT=$(free_port)
make_test_ca
ok $? "a test CA with server and client certificates (openssl)"
start_rabbitmq "$TLS_PORT"
ok $? "rabbitmq-server is up on 127.0.0.1:$RMQ_PORT (amqps on $TLS_PORT)" || { rmq_stop; done_testing; }
trap 'rmq_stop; cleanup' EXIT INT TERM

# conf SECTION-LINES...: heraldd.conf with a file sink and one [amqp] section.
conf() {
	{
		printf '[daemon]\nstate_dir = state\nrules_dir = %s\nlog_level = info\n' \
			"$top_srcdir/src/schema/rules"
		printf '[dispatch]\nplugin_dir = %s\nrate = 0\n' "$top_builddir/sinks"
		printf '[sink inbox]\nplugin = file\npath = inbox.jsonl\nbatch = 256\n'
		printf '[amqp fedora]\ntrust = broker\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} > heraldd.conf
}
PLAIN="url = $RMQ_URL/%2F" # pika's spelling of the vhost "/"
conf "$PLAIN" "queue = herald-it" "bind = org.fedoraproject.prod.test.#" "prefetch = 500"
start_heraldd 1
ok $? "heraldd is up with an [amqp] section and no [endpoint]"
wait_for 30 grep -q "amqp 'fedora': consuming queue herald-it on amqp://guest:\*\*\*@" daemon1.err
ok $? "it consumes the named queue; the log shows the URL without its password"
H() { "$HERALD" "$@" --socket "$SOCK"; }
H user add alice > /dev/null && H user add bob > /dev/null
DA=$(H dest add alice inbox a --json | jfield "d['id']")
DB=$(H dest add bob inbox b --json | jfield "d['id']")
H sub add alice --filter 'topic ~ "org.fedoraproject.prod.test.*"' --dest "$DA" > /dev/null &&
	H sub add bob --filter 'msg.k == "b"' --dest "$DB" > /dev/null
ok $? "alice gets every message, bob one in three"
# The matcher polls the store for subscription changes every 100 ms: give it
# that time (many times over) before the first message is committed.
sleep 1

$FMPUB publish "$RMQ_URL/%2F" 300 --bad --id-prefix first > pub1.out 2>&1
ok $? "pika published 300 messages and 5 malformed ones"
wait_for 30 stat_is accepted 300
ok $? "300 accepted (accepted=$(stat accepted))"
wait_for 10 stat_is amqp_acked 300
ok $? "300 acknowledged after their commit (amqp_acked=$(stat amqp_acked))"
stat_is amqp_received 305
ok $? "305 deliveries received"
reasons=$(H stats --json | jfield "' '.join('%s=%d' % kv for kv in sorted(d['amqp_rejected_by_reason'].items()) if kv[1])")
[ "$reasons" = "bad_encoding=1 bad_header=1 bad_json=1 not_object=1 not_utf8=1" ]
ok $? "each malformed delivery rejected under its own reason ($reasons)"
wait_for 10 sh -c "[ \"\$(rmq_queue_depth herald-it)\" = 0 ]" 2>/dev/null ||
	wait_for 10 test "$(rmq_queue_depth herald-it)" = 0
ok $? "the queue is empty: rejected ones were not requeued, the rest acked ($(rmq_queue_depth herald-it))"
grep -Eq "amqp 'fedora': delivery rejected: (bad_json|not_object|not_utf8|bad_header|bad_encoding) \(" daemon1.err
ok $? "a rejection is logged with its reason"

# notes N: the file sink's distinct notification ids.
notes() { "$PYTHON3" -c "import json,sys; print(len({json.loads(l)['id'] for l in open('inbox.jsonl')}))"; }
wait_for 30 test "$(notes 2>/dev/null)" = 400
ok $? "400 notifications delivered (300 for alice, 100 for bob): $(notes)"
"$PYTHON3" - <<'PY'
import json, sys
n = [json.loads(l) for l in open("inbox.jsonl")]
a = next(x for x in n if x["user"] == "alice" and x["msg"]["n"] == 7)
ok = a["topic"] == "org.fedoraproject.prod.test.amqp" and a["msg_id"] == "first-00000007"
sys.exit(0 if ok else 1)
PY
ok $? "a notification carries the routing key as topic and message_id as msg_id"

$FMPUB publish "$RMQ_URL/%2F" 10 --id-prefix first > pub2.out 2>&1
wait_for 20 stat_is duplicates 10
ok $? "the same 10 message ids again: 10 duplicates, dropped ($(stat duplicates))"
wait_for 10 stat_is amqp_acked 310
ok $? "duplicates are acknowledged too (amqp_acked=$(stat amqp_acked))"
stat_is accepted 300
ok $? "and not accepted twice"

# ---- SIGKILL mid-stream ----
$FMPUB publish "$RMQ_URL/%2F" "$KILL_N" --start 1000 --id-prefix kill > pub3.out 2>&1 &
PUB=$!
PIDS="$PIDS $PUB"
killed=0
for k in 2 3 4; do
	sleep "$("$PYTHON3" -c 'import random; print(round(random.uniform(0.3, 1.2), 2))')"
	kill -9 "$DPID" 2>/dev/null && killed=$((killed + 1))
	wait "$DPID" 2>/dev/null
	start_heraldd $k || break
done
ok $([ "$killed" -eq 3 ]; echo $?) "heraldd was killed with SIGKILL $killed times mid-stream and restarted"
wait "$PUB"
ok $? "pika published $KILL_N more"
wait_for 60 test "$(rmq_queue_depth herald-it)" = 0
ok $? "the queue drains: everything was settled after the restarts"
EXPECT=$((400 + KILL_N + KILL_N / 3))
wait_for 90 test "$(notes 2>/dev/null)" = "$EXPECT"
ok $? "$EXPECT distinct notifications ($(notes))"
"$PYTHON3" - "$KILL_N" > verdict.out 2>&1 <<'PY'
import json, sys
n = int(sys.argv[1])
want = {(i, "alice") for i in range(1000, 1000 + n)} | \
       {(i, "bob") for i in range(1000, 1000 + n) if i % 3 == 1}
ids = {}
dup_lines = 0
for line in open("inbox.jsonl"):
    x = json.loads(line)
    key = (x["msg"]["n"], x["user"])
    if key in ids:
        dup_lines += 1
        if ids[key] != x["id"]:
            print("matched twice under two ids:", key)
            sys.exit(1)
    ids[key] = x["id"]
missing = want - set(ids)
print("missing=%d redelivered_lines=%d" % (len(missing), dup_lines))
sys.exit(1 if missing else 0)
PY
ok $? "every message killed mid-stream matched exactly once, none lost: $(cat verdict.out)"
kill "$DPID"
wait "$DPID" 2>/dev/null

# ---- amqps ----
TLS="url = amqps://guest:guest@localhost:$TLS_PORT/" # a bare "/": the vhost "/", as in pika
conf "$TLS" "queue = herald-tls" "ca_file = tls/ca.crt" "cert_file = tls/client.crt" \
	"key_file = tls/client.key"
start_heraldd 5
wait_for 30 grep -q "amqp 'fedora': consuming queue herald-tls on amqps://" daemon5.err
ok $? "amqps: the server is verified against ca_file, the client certificate is accepted"
$FMPUB publish "amqps://guest:guest@localhost:$TLS_PORT/%2F" 20 --start 9000 --id-prefix tls \
	--ca tls/ca.crt --cert tls/client.crt --key tls/client.key > pub4.out 2>&1
wait_for 30 stat_is accepted 20
ok $? "20 messages accepted over amqps ($(stat accepted))"
kill "$DPID"
wait "$DPID" 2>/dev/null

conf "$TLS" "queue = herald-tls" "ca_file = tls/wrongca.crt" "cert_file = tls/client.crt" \
	"key_file = tls/client.key"
start_heraldd 6
wait_for 20 grep -q "amqp 'fedora': cannot connect to amqps://guest:\*\*\*@localhost:$TLS_PORT/ (.*verif.*check ca_file); retrying" daemon6.err
ok $? "a wrong CA: the server is not trusted, with a clear log line"
! grep -q "consuming queue" daemon6.err
ok $? "and nothing is consumed"
kill "$DPID"
wait "$DPID" 2>/dev/null

conf "$TLS" "queue = herald-tls" "ca_file = tls/ca.crt"
start_heraldd 7
wait_for 20 grep -q "amqp 'fedora': cannot connect to amqps://guest:\*\*\*@localhost:$TLS_PORT" daemon7.err
ok $? "no client certificate where the broker requires one: refused, logged"
grep "cannot connect" daemon7.err | head -1 | sed 's/^/# /'
kill "$DPID"
wait "$DPID" 2>/dev/null
done_testing
