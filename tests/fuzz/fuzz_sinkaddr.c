/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_sinkaddr: libFuzzer target for the address check of the file and
 * exec sinks (their validate is sinkutil_check_address with 2,048 bytes,
 * plugins/common/sinkutil.c), and the toolkit's number and boolean option
 * parsers. The first byte picks one, the rest is its input:
 *   0  an address: an accepted one goes into a log line, a header or an
 *      environment variable, so it must be at most the limit, one line, and
 *      hold no C0, DEL or C1 control (as UTF-8, U+0080..U+009F)
 *   1  sinkutil_parse_uint within bounds from the input's first bytes
 *   2  sinkutil_parse_bool
 * Linked with tests/fuzz/replay_main.c it replays tests/fuzz/seeds/sinkaddr
 * in `make check`; scripts/fuzz runs the real fuzzer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinkutil.h"

#define MAX_ADDRESS 2048 /* plugins/file/file.c, plugins/exec/exec.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bad(const char *what, const char *s)
{
	fprintf(stderr, "fuzz_sinkaddr: %s: %s\n", what, s);
	abort();
}

static void address(const char *a)
{
	char err[200];
	if (sinkutil_check_address(a, MAX_ADDRESS, err, sizeof err))
		return;
	if (strlen(a) > MAX_ADDRESS)
		bad("accepted an address over the limit", a);
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			bad("accepted an address with a control", a);
}

static void number(const char *s, uint8_t lo, uint8_t span)
{
	unsigned long v;
	if (!sinkutil_parse_uint(s, lo, (unsigned long)lo + span, &v) &&
	    (v < lo || v > (unsigned long)lo + span))
		bad("a number outside its bounds", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	bool b;
	if (size < 3 || size > 8192)
		return 0;
	if (!(s = malloc(size - 2)))
		return 0;
	memcpy(s, data + 3, size - 3);
	s[size - 3] = '\0';
	switch (data[0] % 3) {
	case 0: address(s); break;
	case 1: number(s, data[1], data[2]); break;
	default: (void)sinkutil_parse_bool(s, &b); break;
	}
	free(s);
	return 0;
}
