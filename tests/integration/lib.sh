# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers for the shell integration tests: TAP output, free loopback
# ports, bounded waits, and cleanup of every child process.
: "${top_srcdir:=.}" "${top_builddir:=.}"
: "${HERALD:=$top_builddir/herald}" "${HERALDD:=$top_builddir/heraldd}"
: "${RELAY_BIN:=$top_builddir/herald-relay}"
: "${PYTHON3:=/usr/bin/python3}"
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
