/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_irc: libFuzzer target for the IRC sink's parsers of destination and
 * notification text (plugins/irc/lines.c, no libircclient). The first byte
 * picks one, the rest is its input:
 *   even  a destination, as the sink's validate checks it
 *         (sinkutil_check_address, then irc_parse_dest); an accepted one
 *         must give a target that cannot end or extend a command: non-empty,
 *         at most IRC_TARGET_MAX bytes, no space, comma, CR, LF or NUL, and
 *         a key of printable ASCII without space or comma
 *   odd   text split into PRIVMSG lines (irc_lines_split, the budget and
 *         bold from the next byte); every line must fit the budget and hold
 *         no CR, LF or NUL (one line per command, whatever the text)
 * Linked with tests/fuzz/replay_main.c it replays tests/fuzz/seeds/irc in
 * `make check`; scripts/fuzz runs the real fuzzer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"
#include "sinkutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bad(const char *what, const char *s)
{
	fprintf(stderr, "fuzz_irc: %s: %s\n", what, s);
	abort();
}

static void dest(const char *a)
{
	char t[IRC_TARGET_MAX + 1], key[IRC_KEY_MAX + 1], err[200];
	if (sinkutil_check_address(a, IRC_TARGET_MAX + 1 + IRC_KEY_MAX, err, sizeof err) ||
	    irc_parse_dest(a, t, sizeof t, key, sizeof key, err, sizeof err))
		return;
	if (!t[0] || strlen(t) > IRC_TARGET_MAX || strpbrk(t, " ,\r\n"))
		bad("accepted a target that could break the command", a);
	for (const char *p = key; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == ',')
			bad("accepted a key that could break the command", a);
	if (!irc_name_eq(t, t))
		bad("a name differs from itself", t);
}

static void text(const char *s, uint8_t how)
{
	struct irc_lines l = {0};
	size_t budget = irc_lines_budget(how % 32, how / 32, IRC_TARGET_MAX);
	irc_lines_split(&l, s, budget, how & 1);
	for (size_t i = 0; i < l.n && !l.failed; i++) {
		if (strlen(l.v[i]) > budget)
			bad("a line over its budget", l.v[i]);
		if (strpbrk(l.v[i], "\r\n"))
			bad("a line that holds a line break", l.v[i]);
	}
	irc_lines_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	if (size < 2 || size > 16384)
		return 0;
	if (!(s = malloc(size - 1)))
		return 0;
	memcpy(s, data + 2, size - 2);
	s[size - 2] = '\0';
	if (data[0] % 2)
		text(s, data[1]);
	else
		dest(s);
	free(s);
	return 0;
}
