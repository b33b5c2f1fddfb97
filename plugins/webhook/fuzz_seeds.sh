#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Replay the webhook sink's fuzz seeds (plugins/webhook/fuzz_seeds) through
# fuzz_webhook.c without libFuzzer, with the build's sanitizers (TAP).
: "${top_srcdir:=.}" "${top_builddir:=.}"
exec "$top_builddir/plugins/webhook/replay_webhook" "$top_srcdir/plugins/webhook/fuzz_seeds"
