/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* addr: destination addresses and URL redaction (see addr.h). */
#include "addr.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The parts of a URL we look at, as offsets into it. */
struct url_parts {
	size_t scheme_len; /* "http" or "https" */
	size_t host_at, host_len; /* host[:port], userinfo excluded */
	size_t rest_at;           /* where the path, query or fragment begin */
};

static bool url_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"<>\\^`{|}", c);
}

static bool host_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/* ":port" (or nothing) at p, up to end: 1..65535. */
static bool port_ok(const char *p, const char *end)
{
	unsigned long v = 0;

	if (p == end)
		return true;
	if (*p != ':' || end - p < 2 || end - p > 6)
		return false;
	for (p++; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v >= 1 && v <= 65535;
}

/* [v6]:port or name:port between p and end. */
static bool authority_ok(const char *p, const char *end)
{
	if (p == end)
		return false;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close || close - p < 3)
			return false;
		for (const char *q = p + 1; q < close; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q))
				return false;
		return port_ok(close + 1, end);
	}
	const char *q = p;
	while (q < end && host_char_ok((unsigned char)*q))
		q++;
	return q > p && port_ok(q, end);
}

static int split(const char *url, struct url_parts *u)
{
	const char *colon = strstr(url, "://");
	const char *auth, *rest, *at;

	*u = (struct url_parts){0};
	if (!colon)
		return -1;
	u->scheme_len = (size_t)(colon - url);
	if (!((u->scheme_len == 4 && !strncasecmp(url, "http", 4)) ||
	      (u->scheme_len == 5 && !strncasecmp(url, "https", 5))))
		return -2;
	auth = colon + 3;
	rest = auth + strcspn(auth, "/?#");
	/* userinfo: up to the last '@' of the authority */
	at = NULL;
	for (const char *p = auth; p < rest; p++)
		if (*p == '@')
			at = p;
	u->host_at = (size_t)((at ? at + 1 : auth) - url);
	u->host_len = (size_t)(rest - (url + u->host_at));
	u->rest_at = (size_t)(rest - url);
	return authority_ok(url + u->host_at, rest) ? 0 : -3;
}

int addr_parse(const char *address, enum payload_format dflt, enum payload_format *format,
	       const char **url, char *err, size_t errlen)
{
	const char *plus = strchr(address, '+'), *sep = strstr(address, "://");
	struct url_parts u;
	size_t n = strlen(address);

	*format = dflt;
	*url = address;
	if (n > ADDR_MAX) {
		snprintf(err, errlen, "address longer than %d bytes", ADDR_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!url_char_ok((unsigned char)address[i])) {
			snprintf(err, errlen,
				 "address has a space, control, non-ASCII or unsafe character at "
				 "byte %zu (percent-encode it)",
				 i);
			return -1;
		}
	if (plus && sep && plus < sep) {
		char name[16];
		size_t k = (size_t)(plus - address);
		snprintf(name, sizeof name, "%.*s", (int)(k < 15 ? k : 15), address);
		if (k >= sizeof name || payload_format_parse(name, format)) {
			snprintf(err, errlen,
				 "unknown format '%.15s' before '+' (generic, slack, mattermost, "
				 "discord, matrix, teams, zulip or custom)",
				 name);
			return -1;
		}
		*url = plus + 1;
	}
	switch (split(*url, &u)) {
	case 0: return 0;
	case -1:
		snprintf(err, errlen, "not a URL: give [FORMAT+]http(s)://HOST/PATH");
		return -1;
	case -2:
		snprintf(err, errlen, "scheme '%.*s': only http and https",
			 (int)(u.scheme_len > 10 ? 10 : u.scheme_len), *url);
		return -1;
	default:
		snprintf(err, errlen, "no usable host in the URL (a name, IPv4, or [IPv6], and :PORT)");
		return -1;
	}
}

void addr_redact(const char *url, char *out, size_t outlen)
{
	struct url_parts u;
	const char *rest;

	if (split(url, &u) != 0) {
		snprintf(out, outlen, "(unparsable URL)");
		return;
	}
	rest = url + u.rest_at;
	snprintf(out, outlen, "%.*s://%.*s/%s", (int)u.scheme_len, url, (int)u.host_len,
		 url + u.host_at, *rest && strcmp(rest, "/") ? "..." : "");
}

/* Is any piece of s[0..n) between separators, 6 bytes or longer, in text? */
static bool piece_in(const char *s, size_t n, const char *seps, const char *text)
{
	char piece[ADDR_MAX + 1];

	for (size_t i = 0; i < n;) {
		size_t k = 0;
		while (i + k < n && !strchr(seps, s[i + k]))
			k++;
		if (k >= 6) {
			memcpy(piece, s + i, k);
			piece[k] = '\0';
			if (strstr(text, piece))
				return true;
		}
		i += k + 1;
	}
	return false;
}

bool addr_leaks(const char *url, const char *text)
{
	struct url_parts u;
	size_t n = strlen(url);
	const char *auth;

	if (!*text)
		return false;
	if (split(url, &u) != 0 || n > ADDR_MAX)
		return true;
	auth = url + u.scheme_len + 3;
	/* user info as a whole and in its parts, then path, query, fragment */
	if (u.host_at > (size_t)(auth - url) &&
	    piece_in(auth, u.host_at - (size_t)(auth - url) - 1, "", text))
		return true;
	if (u.host_at > (size_t)(auth - url) &&
	    piece_in(auth, u.host_at - (size_t)(auth - url) - 1, ":", text))
		return true;
	return piece_in(url + u.rest_at, n - u.rest_at, "/?&=#;", text);
}
