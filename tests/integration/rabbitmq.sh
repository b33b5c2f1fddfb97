# SPDX-License-Identifier: LGPL-2.1-or-later
# start_rabbitmq [TLS-PORT]: a RabbitMQ broker of the test's own on
# 127.0.0.1 (Debian's rabbitmq-server, run as this user, not the service):
# its own node name, data and log folders under $WORK/rmq, its own AMQP,
# distribution and epmd ports, no plugins. With TLS-PORT, an amqps listener
# too, with the test CA of $WORK/tls (make_test_ca) and client certificates
# verified when given. Sets RMQ_PORT, RMQ_URL (guest, vhost "/"); sourced
# by test_amqp.sh and bench/amqp after lib.sh.
RMQ_BIN=/usr/lib/rabbitmq/bin
start_rabbitmq() {
	if [ ! -x "$RMQ_BIN/rabbitmq-server" ]; then
		echo "# rabbitmq-server is missing: install the Debian package rabbitmq-server"
		return 1
	fi
	if ! "$PYTHON3" -c 'import pika' 2>/dev/null; then
		echo "# pika is missing: install the Debian package python3-pika"
		return 1
	fi
	R="$WORK/rmq"
	mkdir -p "$R"
	RMQ_PORT=$(free_port)
	echo '[].' > "$R/plugins"
	{
		echo "listeners.tcp.default = 127.0.0.1:$RMQ_PORT"
		echo "loopback_users = none"
		if [ -n "${1:-}" ]; then
			echo "listeners.ssl.default = 127.0.0.1:$1"
			echo "ssl_options.cacertfile = $WORK/tls/ca.crt"
			echo "ssl_options.certfile = $WORK/tls/server.crt"
			echo "ssl_options.keyfile = $WORK/tls/server.key"
			echo "ssl_options.verify = verify_peer"
			echo "ssl_options.fail_if_no_peer_cert = true"
		fi
	} > "$R/rabbitmq.conf"
	export HOME="$R" RABBITMQ_NODENAME="herald$$@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$RMQ_PORT" RABBITMQ_DIST_PORT="$(free_port)" \
		ERL_EPMD_PORT="$(free_port)" ERL_EPMD_ADDRESS=127.0.0.1 \
		RABBITMQ_MNESIA_BASE="$R/mnesia" RABBITMQ_LOG_BASE="$R/log" \
		RABBITMQ_CONFIG_FILE="$R/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$R/plugins" \
		RABBITMQ_PID_FILE="$R/pid" RABBITMQ_FEATURE_FLAGS_FILE="$R/feature_flags" \
		RABBITMQ_PLUGINS_EXPAND_DIR="$R/plugins-expand" RABBITMQ_QUORUM_DIR="$R/quorum" \
		RABBITMQ_STREAM_DIR="$R/stream"
	"$RMQ_BIN/rabbitmq-server" > "$R/server.out" 2>&1 &
	PIDS="$PIDS $!"
	RMQ_URL="amqp://guest:guest@127.0.0.1:$RMQ_PORT"
	wait_for 90 "$PYTHON3" -c "import pika; pika.BlockingConnection(pika.URLParameters('$RMQ_URL/%2F')).close()"
}
# rmq_stop: the broker and its epmd (both started by this test).
rmq_stop() {
	"$RMQ_BIN/rabbitmqctl" stop > /dev/null 2>&1
	epmd -kill > /dev/null 2>&1 || true
}
# rmq_queue_depth QUEUE: messages ready + unacknowledged in QUEUE.
rmq_queue_depth() {
	"$RMQ_BIN/rabbitmqctl" list_queues -q name messages 2>/dev/null | awk -v q="$1" '$1 == q {print $2}'
}
# make_test_ca: a CA, a server certificate for localhost/127.0.0.1 and a
# client certificate in $WORK/tls, and a second CA that signed nothing.
make_test_ca() {
	d="$WORK/tls"
	mkdir -p "$d" && cd "$d" || return 1
	for ca in ca wrongca; do
		openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca.key -out $ca.crt -days 2 \
			-subj "/CN=herald test $ca" > /dev/null 2>&1 || return 1
	done
	for who in server client; do
		openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr \
			-subj "/CN=$([ $who = server ] && echo localhost || echo herald-client)" \
			> /dev/null 2>&1 || return 1
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > $who.ext
		openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $who.crt \
			-days 2 -extfile $who.ext > /dev/null 2>&1 || return 1
	done
	chmod 644 ./*.key
	cd "$WORK" || return 1
}
