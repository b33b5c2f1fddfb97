/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * canon_str: string bodies for canon (see canon.h), both ways.
 *
 * For: reading the body of a string the scan has validated (escapes and
 * UTF-8 to code points) and writing one as Python's ensure_ascii encoder
 * does (lowercase \uXXXX escapes, surrogate pairs above U+FFFF), or as
 * UTF-8 for the accessors.
 *
 * Not for: validating strings (the scan does that once, canon_scan.c) nor
 * comparing keys (canon_scan.c): everything here trusts its input.
 */
#include "canon.h"

#include <errno.h>
#include <stdint.h>

#include "canon_int.h"

/* Printable ASCII that JSON and Python both leave alone: ' '..'~' minus '"' and '\\'. */
const unsigned char canon_plain[256] = {
	['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: '"' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,              /* 0x30-0x3f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,              /* 0x40-0x4f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,              /* 0x50-0x5f: '\\' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,              /* 0x60-0x6f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,              /* 0x70-0x7f: DEL */
};

/* Four hex digits at s[p..p+3], or -1. */
long canon_hex4(const unsigned char *s, size_t p, size_t end)
{
	long v = 0;
	if (end - p < 4)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		unsigned char c = s[p + i];
		int d;
		if (canon_is_digit(c))
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* ---- reading ------------------------------------------------------------ */

/* Decode the escape at s[*pp] (already validated); step over it. */
uint32_t canon_decode_escape(const unsigned char *s, size_t *pp)
{
	size_t p = *pp;
	uint32_t u;

	*pp = p + 2;
	switch (s[p + 1]) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u': break;
	default: return s[p + 1]; /* '"', '\\', '/' */
	}
	u = (uint32_t)canon_hex4(s, p + 2, p + 6);
	*pp = p + 6;
	if (u >= 0xd800 && u <= 0xdbff) {
		uint32_t lo = (uint32_t)canon_hex4(s, p + 8, p + 12);
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		*pp = p + 12;
	}
	return u;
}

/* Decode the (validated) UTF-8 sequence at s[*pp]; step over it. */
static uint32_t decode_utf8(const unsigned char *s, size_t *pp)
{
	size_t p = *pp;
	unsigned char c = s[p];

	if (c < 0x80) {
		*pp = p + 1;
		return c;
	}
	if (c < 0xe0) {
		*pp = p + 2;
		return (uint32_t)(c & 0x1f) << 6 | (s[p + 1] & 0x3f);
	}
	if (c < 0xf0) {
		*pp = p + 3;
		return (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[p + 1] & 0x3f) << 6 |
		       (s[p + 2] & 0x3f);
	}
	*pp = p + 4;
	return (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[p + 1] & 0x3f) << 12 |
	       (uint32_t)(s[p + 2] & 0x3f) << 6 | (s[p + 3] & 0x3f);
}

/* Next code point of a validated string body, escapes decoded. */
uint32_t canon_next_cp(const unsigned char *s, size_t *pp)
{
	return s[*pp] == '\\' ? canon_decode_escape(s, pp) : decode_utf8(s, pp);
}

/* ---- writing ------------------------------------------------------------ */

static const char hexdig[] = "0123456789abcdef";

static char *put_u16(char *o, uint32_t u)
{
	o[0] = '\\';
	o[1] = 'u';
	o[2] = hexdig[u >> 12 & 0xf];
	o[3] = hexdig[u >> 8 & 0xf];
	o[4] = hexdig[u >> 4 & 0xf];
	o[5] = hexdig[u & 0xf];
	return o + 6;
}

/* One code point as Python's ensure_ascii encoder writes it. */
static char *put_cp(char *o, uint32_t cp)
{
	switch (cp) {
	case '"': *o++ = '\\'; *o++ = '"'; return o;
	case '\\': *o++ = '\\'; *o++ = '\\'; return o;
	case '\n': *o++ = '\\'; *o++ = 'n'; return o;
	case '\r': *o++ = '\\'; *o++ = 'r'; return o;
	case '\t': *o++ = '\\'; *o++ = 't'; return o;
	case '\b': *o++ = '\\'; *o++ = 'b'; return o;
	case '\f': *o++ = '\\'; *o++ = 'f'; return o;
	}
	if (cp >= 0x20 && cp < 0x7f) {
		*o++ = (char)cp;
		return o;
	}
	if (cp < 0x10000)
		return put_u16(o, cp);
	cp -= 0x10000;
	o = put_u16(o, 0xd800 | cp >> 10);
	return put_u16(o, 0xdc00 | (cp & 0x3ff));
}

/*
 * A string with escapes or non-ASCII. Every input byte becomes at most six
 * output bytes (DEL -> \u007f is the worst), so reserve once.
 */
int canon_emit_escaped(struct buf *out, const unsigned char *s, size_t len)
{
	size_t p = 0;
	char *o;
	int rc;

	if (len > (SIZE_MAX - 2) / 6)
		return -ENOMEM;
	rc = canon_room(out, 6 * len + 2);
	if (rc)
		return rc;
	o = out->data + out->len;
	*o++ = '"';
	while (p < len) {
		if (canon_plain[s[p]]) {
			*o++ = (char)s[p++];
			continue;
		}
		o = put_cp(o, canon_next_cp(s, &p));
	}
	*o++ = '"';
	out->len = (size_t)(o - out->data);
	return 0;
}

/* One code point as UTF-8. */
char *canon_put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}
