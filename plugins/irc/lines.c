/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lines: hostile text to safe IRC lines, and destination syntax (lines.h).
 * Everything a line can hold passes through clean_line(), which decodes
 * UTF-8 strictly and writes back only printable characters.
 */
#define _GNU_SOURCE
#include "lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t irc_lines_budget(size_t nick_len, size_t user_len, size_t target_len)
{
	size_t used = 1 + nick_len + 1 + user_len + 1 + IRC_HOST_RESERVE + 1 + 8 + target_len + 2;

	return used + 64 > IRC_LINE_MAX ? 64 : IRC_LINE_MAX - used;
}

/* The length of the UTF-8 character at s (n bytes left) and its code point;
 * 0 when s does not start a valid, shortest-form character. */
static size_t utf8_char(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len;
	unsigned c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, c &= 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, c &= 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* s[0..n) cleaned into out (room for n + 1 bytes: never longer). */
static size_t clean_line(const char *s, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t k = 0;

	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t len = utf8_char(u + i, n - i, &cp);
		if (!len) {
			out[k++] = '?';
			i++;
		} else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
			out[k++] = ' ';
			i += len;
		} else {
			memcpy(out + k, s + i, len);
			k += len;
			i += len;
		}
	}
	out[k] = '\0';
	return k;
}

void irc_lines_add(struct irc_lines *out, const char *line)
{
	char *copy;

	if (out->failed)
		return;
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 8;
		char **v = realloc(out->v, cap * sizeof *v);
		if (!v) {
			out->failed = true;
			return;
		}
		out->v = v;
		out->cap = cap;
	}
	copy = strdup(line);
	if (!copy) {
		out->failed = true;
		return;
	}
	out->v[out->n++] = copy;
}

static void add_piece(struct irc_lines *out, const char *s, size_t n, bool bold)
{
	char buf[IRC_LINE_MAX + 3];
	size_t i = 0;

	while (i < n && s[i] == ' ')
		i++;
	if (i == n)
		return; /* blank */
	snprintf(buf, sizeof buf, bold ? "\x02%.*s\x02" : "%.*s", (int)n, s);
	irc_lines_add(out, buf);
}

void irc_lines_split(struct irc_lines *out, const char *text, size_t budget, bool bold)
{
	char *clean = NULL;

	if (bold)
		budget -= 2;
	if (budget > IRC_LINE_MAX)
		budget = IRC_LINE_MAX;
	while (*text) {
		size_t n = strcspn(text, "\n");
		clean = malloc(n + 1);
		if (!clean) {
			out->failed = true;
			return;
		}
		size_t len = clean_line(text, n, clean);
		const char *p = clean;
		while (len > budget) {
			size_t cut = budget;
			while (cut > 0 && ((unsigned char)p[cut] & 0xc0) == 0x80)
				cut--; /* p[cut] starts the next character */
			size_t sp = cut;
			while (sp > budget / 2 && p[sp] != ' ')
				sp--;
			if (p[sp] == ' ')
				cut = sp;
			add_piece(out, p, cut, bold);
			if (p[cut] == ' ')
				cut++;
			p += cut;
			len -= cut;
		}
		add_piece(out, p, len, bold);
		free(clean);
		clean = NULL;
		text += n;
		if (*text == '\n')
			text++;
	}
}

void irc_lines_free(struct irc_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct irc_lines){0};
}

static bool nick_first(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || strchr("[]\\`_^{|}", c);
}

static bool nick_char(char c)
{
	return nick_first(c) || (c >= '0' && c <= '9') || c == '-';
}

/* Network services (NickServ, ChanServ... on Atheme, Anope and Ergo; Global)
 * take every private message as a command: "IDENTIFY", "DROP", "SET". By the
 * convention they all follow, a nick ending in "Serv" is one. */
static bool is_service(const char *nick, size_t n)
{
	return (n >= 4 && !strncasecmp(nick + n - 4, "serv", 4)) ||
	       (n == 6 && !strncasecmp(nick, "global", 6));
}

int irc_parse_dest(const char *address, char *target, size_t tlen, char *key, size_t klen,
		   char *err, size_t errlen)
{
	const char *sp = strchr(address, ' ');
	size_t n = sp ? (size_t)(sp - address) : strlen(address);

	if (n == 0) {
		snprintf(err, errlen, "empty IRC destination");
		return -1;
	}
	if (n > IRC_TARGET_MAX || n + 1 > tlen) {
		snprintf(err, errlen, "an IRC channel or nick is at most %d bytes", IRC_TARGET_MAX);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)address; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "control character in an IRC destination");
			return -1;
		}
	if (address[0] == '#' || address[0] == '&') {
		if (n < 2 || memchr(address, ',', n)) {
			snprintf(err, errlen, "'%.*s' is not a channel name", (int)n, address);
			return -1;
		}
	} else {
		if (sp) {
			snprintf(err, errlen, "a nick has no key; channels start with # or &");
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if (!(i ? nick_char(address[i]) : nick_first(address[i]))) {
				snprintf(err, errlen, "'%s' is not a nick or a channel (#name)",
					 address);
				return -1;
			}
		if (is_service(address, n)) {
			snprintf(err, errlen,
				 "'%s' is an IRC service, not a person: a notification sent there "
				 "would be read as a command", address);
			return -1;
		}
	}
	memcpy(target, address, n);
	target[n] = '\0';
	key[0] = '\0';
	if (sp) {
		const char *k = sp + 1;
		size_t kn = strlen(k);
		if (kn == 0 || kn > IRC_KEY_MAX || kn + 1 > klen || strpbrk(k, " ,")) {
			snprintf(err, errlen,
				 "a channel key is 1 to %d characters, no space or comma, after "
				 "one space",
				 IRC_KEY_MAX);
			return -1;
		}
		for (const unsigned char *p = (const unsigned char *)k; *p; p++)
			if (*p >= 0x7f) {
				snprintf(err, errlen, "a channel key is printable ASCII");
				return -1;
			}
		memcpy(key, k, kn + 1);
	}
	return 0;
}

static char fold(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	switch (c) {
	case '[': return '{';
	case ']': return '}';
	case '\\': return '|';
	case '~': return '^';
	default: return c;
	}
}

bool irc_name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (fold(*a) != fold(*b))
			return false;
	return *a == *b;
}
