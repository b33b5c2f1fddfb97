#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run every fuzz target's replay driver over its seed corpus (TAP output).
# FUZZ_TARGETS names the targets this build has (Makefile.am sets it).
set -e
: "${top_srcdir:=.}" "${top_builddir:=.}"
n=0
fail=0
for t in ${FUZZ_TARGETS:-canon envelope config filter schema render}; do
	n=$((n + 1))
	out=$("$top_builddir/tests/fuzz/replay_$t" "$top_srcdir/tests/fuzz/seeds/$t" 2>&1) && rc=0 || rc=$?
	files=$(printf '%s\n' "$out" | grep -c '^ok ' || true)
	if [ "$rc" -eq 0 ] && [ "$files" -gt 0 ]; then
		echo "ok $n - fuzz target $t ran $files seed inputs clean"
	else
		echo "not ok $n - fuzz target $t failed (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/# /' | tail -n 30
		fail=1
	fi
done
echo "1..$n"
exit $fail
