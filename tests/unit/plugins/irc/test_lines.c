/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_lines: plain TAP tests of plugins/irc/lines.c, the part of the IRC
 * sink that turns hostile text into protocol lines: the budget, cuts at
 * UTF-8 boundaries, controls and invalid bytes, destination syntax.
 */
#include "lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_test, failed;

static void ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n_test, what);
	failed |= !cond;
}

/* Valid UTF-8, no controls, not longer than max. */
static int clean(const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n > max || n == 0)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t len = u[i] < 0x80 ? 1 : u[i] >= 0xf0 ? 4 : u[i] >= 0xe0 ? 3 : 2;
		if (u[i] < 0x20 || u[i] == 0x7f || (u[i] >= 0x80 && u[i] < 0xc2) || i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return 0;
		if (u[i] == 0xc2 && u[i + 1] < 0xa0)
			return 0; /* C1 */
		i += len;
	}
	return 1;
}

static char *joined(const struct irc_lines *l)
{
	size_t n = 1;
	for (size_t i = 0; i < l->n; i++)
		n += strlen(l->v[i]);
	char *s = calloc(1, n);
	for (size_t i = 0; s && i < l->n; i++)
		strcat(s, l->v[i]);
	return s;
}

int main(void)
{
	struct irc_lines l = {0};
	char big[2000], t[64], k[32], err[200];
	int all;

	ok(irc_lines_budget(32, 11, 7) == 510 - 111 - 10 - 7,
	   "budget: 510 less prefix, command, target");
	ok(irc_lines_budget(32, 11, 500) == 64, "budget never below 64");

	big[0] = '\0';
	for (int i = 0; i < 300; i++)
		strcat(big, "\xc3\xa9"); /* é: 600 bytes, no space */
	irc_lines_split(&l, big, 100, false);
	all = l.n == 6;
	for (size_t i = 0; i < l.n; i++)
		all &= clean(l.v[i], 100);
	char *j = joined(&l);
	ok(all && j && !strcmp(j, big),
	   "600 bytes of 2-byte characters: 6 lines, whole characters, nothing lost");
	free(j);
	irc_lines_free(&l);

	big[0] = '\0';
	for (int i = 0; i < 200; i++)
		strcat(big, "\xe9\x95\xb7"); /* 長 */
	strcat(big, "\xf0\x9f\x98\x80x");
	irc_lines_split(&l, big, 100, false);
	all = l.n > 1;
	for (size_t i = 0; i < l.n; i++)
		all &= clean(l.v[i], 100);
	j = joined(&l);
	ok(all && j && !strcmp(j, big), "3- and 4-byte characters are never cut");
	free(j);
	irc_lines_free(&l);

	irc_lines_split(&l, "a\r\nQUIT :x\x01\x02\x7f\xc2\x85 \xff\xfe end\n\n  \nlast", 400,
			false);
	ok(l.n == 3 && !strcmp(l.v[0], "a ") && !strcmp(l.v[1], "QUIT :x     ?? end") &&
	       !strcmp(l.v[2], "last"),
	   "CR, C0, DEL, C1 become spaces, bad bytes '?', LF splits, blank lines go");
	irc_lines_free(&l);

	irc_lines_split(&l, "one two three four five six", 10, false);
	ok(l.n == 3 && !strcmp(l.v[0], "one two") && !strcmp(l.v[1], "three four"),
	   "cuts fall at a space when one is near");
	irc_lines_free(&l);

	irc_lines_split(&l, "title", 100, true);
	ok(l.n == 1 && !strcmp(l.v[0], "\x02title\x02"), "bold wraps the line");
	irc_lines_free(&l);

	ok(!irc_parse_dest("#chan", t, sizeof t, k, sizeof k, err, sizeof err) &&
	       !strcmp(t, "#chan") && !*k,
	   "#chan");
	ok(!irc_parse_dest("#chan key", t, sizeof t, k, sizeof k, err, sizeof err) &&
	       !strcmp(t, "#chan") && !strcmp(k, "key"),
	   "#chan key");
	ok(!irc_parse_dest("nick_[x]", t, sizeof t, k, sizeof k, err, sizeof err), "a nick");
	const char *bad[] = {
	    "",		"#",
	    "#a b c",	"#a,b",
	    "nick key", "9nick",
	    "ni ck",	"#a\r\nQUIT",
	    "#c \x01",	"#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	all = 1;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		all &= irc_parse_dest(bad[i], t, sizeof t, k, sizeof k, err, sizeof err) != 0;
	ok(all, "bad destinations are refused");
	const char *services[] = {"NickServ", "chanserv", "MEMOSERV", "OperServ", "HistServ",
				  "Global"};
	all = 1;
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
		all &= irc_parse_dest(services[i], t, sizeof t, k, sizeof k, err, sizeof err) != 0 &&
		       strstr(err, "is an IRC service") != NULL;
	ok(all, "service nicks are refused: a notification there would be a command");
	ok(!irc_parse_dest("servant", t, sizeof t, k, sizeof k, err, sizeof err) &&
		   !irc_parse_dest("globally", t, sizeof t, k, sizeof k, err, sizeof err),
	   "nicks that merely contain 'serv' or 'global' are people");
	ok(irc_name_eq("#Herald[x]", "#herald{x}") && !irc_name_eq("#a", "#ab"),
	   "RFC 1459 case mapping");
	printf("1..%d\n", n_test);
	return failed;
}
