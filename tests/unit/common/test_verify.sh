#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test_verify.sh: make fresh verify fixtures in a temporary directory and run
# the test_verify binary on them; the output is the binary's TAP. Not where
# the assertions live (test_verify.c) nor the fixtures (make_verify_fixtures.sh).
#
# TEST_VERIFY_BIN overrides the binary (default ./tests/unit/common/test_verify,
# relative to the build directory `make check` runs in).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${TEST_VERIFY_BIN:-./tests/unit/common/test_verify}

for tool in openssl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "Bail out! $tool not found (scripts/install-deps)"
		exit 1
	fi
done
if [ ! -x "$bin" ]; then
	echo "Bail out! test binary $bin not found (set TEST_VERIFY_BIN)"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/herald-verify.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

if ! sh "$here/make_verify_fixtures.sh" "$tmp/fix" >"$tmp/make.log" 2>&1; then
	echo "Bail out! cannot make fixtures"
	sed 's/^/# /' "$tmp/make.log"
	exit 1
fi
# Not exec: the trap must still remove the fixtures.
rc=0
"$bin" "$tmp/fix" || rc=$?
exit $rc
