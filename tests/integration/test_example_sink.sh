#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test_example_sink: the plugin ABI as a third party sees it, as TAP. Install
# the built tree into a DESTDIR, build doc/examples/hello-sink out of tree
# with nothing but `pkg-config herald-sink` from that DESTDIR, check the
# compiler read the installed header and nothing of the source tree, then
# load hello.so (and the installed bundled sinks) through sinkhost with
# tests/unit/daemon/sink_probe and check what they wrote.
. "${top_srcdir:-.}/tests/integration/lib.sh"

PROBE=$top_builddir/tests/unit/daemon/sink_probe
DEST=$WORK/dest

# A make of our own: not the jobserver or variables of the `make check`
# that runs us.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" install DESTDIR="$DEST" \
	> "$WORK/install.log" 2>&1
rc=$?
[ $rc -eq 0 ] || diag "$(tail -n 20 "$WORK/install.log")"
ok $rc "make install DESTDIR=\$WORK/dest"

# The prefix is configure's (distcheck uses a temporary one): find the files.
pc=$(find "$DEST" -name herald-sink.pc | head -n 1)
hdr=$(find "$DEST" -path '*/include/herald/sink.h' | head -n 1)
man=$(find "$DEST" -name herald-sink.3 | head -n 1)
file_so=$(find "$DEST" -path '*/herald/sinks/file.so' | head -n 1)
exec_so=$(find "$DEST" -path '*/herald/sinks/exec.so' | head -n 1)
[ -n "$pc" ] && [ -n "$hdr" ] && [ -n "$man" ] && [ -n "$file_so" ] && [ -n "$exec_so" ]
ok $? "installed: herald-sink.pc, herald/sink.h, herald-sink.3, sinks/file.so and exec.so"

cp -R "$top_srcdir/doc/examples/hello-sink" "$WORK/hello"
chmod -R u+w "$WORK/hello" # distcheck's source tree is read-only, and so its copy
rm -f "$WORK/hello/hello.so" "$WORK/hello/hello.d"
PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$DEST PKG_CONFIG_LIBDIR=${pc%/*} \
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -C "$WORK/hello" CFLAGS="-O2 -Wall -Wextra -Werror -MD" > "$WORK/hello.log" 2>&1
rc=$?
[ $rc -eq 0 ] || diag "$(cat "$WORK/hello.log")"
ok $rc "hello-sink builds out of tree with pkg-config herald-sink"

# -MD wrote every header the compiler read into hello.d.
read_hdrs=$(tr ' \\' '\n\n' < "$WORK/hello/hello.d" 2>/dev/null | grep 'herald/')
[ "$read_hdrs" = "$hdr" ]
ok $? "the only herald header it read is the installed one ($read_hdrs)"
# Paths that start in the source tree (distcheck's prefix lies inside it, but
# under DESTDIR the installed files do not start there).
src=$(cd "$top_srcdir" && pwd)
! tr ' \\' '\n\n' < "$WORK/hello/hello.d" | grep -q "^$src/" &&
	! grep -q -e "-I *$src/" -e "-I *$src\$" -e "-I *$src " "$WORK/hello.log"
ok $? "no -I into the source tree"

out=$WORK/hello.txt
res=$("$PROBE" "$WORK/hello/hello.so" path="$out" -- alice@example.org 2>&1)
[ "$res" = "outcome=delivered" ]
ok $? "sink_probe loads hello.so and delivers ($res)"
[ "$(cat "$out" 2>/dev/null)" = "hello alice: probe notification" ]
ok $? "hello.so wrote its line ($(cat "$out" 2>/dev/null))"

res=$("$PROBE" "$WORK/hello/hello.so" colour=red -- x 2>&1)
[ $? -eq 2 ] && [ "$res" = "sink_probe: sink probe: init failed: unknown option 'colour' (line 1)" ]
ok $? "hello.so refuses an unknown option ($res)"

res=$("$PROBE" "$file_so" path="$WORK/file.jsonl" fsync=yes -- x 2>&1)
[ "$res" = "outcome=delivered" ] &&
	[ "$(cat "$WORK/file.jsonl")" = '{"id":"0123456789abcdef0123456789abcdef","title":"probe notification"}' ]
ok $? "the installed file sink writes the note's JSON line ($res)"

printf '#!/bin/sh\nprintf "%%s|%%s|" "$HERALD_USER" "$HERALD_SUBJECT" > "$1"\ncat >> "$1"\n' > "$WORK/hook.sh"
chmod 0755 "$WORK/hook.sh"
res=$("$PROBE" "$exec_so" "command=$WORK/hook.sh $WORK/hook.out" timeout_ms=5000 -- x 2>&1)
[ "$res" = "outcome=delivered" ] &&
	[ "$(cat "$WORK/hook.out")" = 'alice|probe notification|{"id":"0123456789abcdef0123456789abcdef","title":"probe notification"}' ]
ok $? "the installed exec sink runs its command ($res)"

res=$("$PROBE" "$exec_so" "command=$WORK/hook.sh" -- "$(printf 'a\033b')" 2>&1)
[ $? -eq 2 ] && [ "$res" = "sink_probe: address refused: address has a control character at byte 1" ]
ok $? "an address with a control character is refused ($res)"

done_testing
