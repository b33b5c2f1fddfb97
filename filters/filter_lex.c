/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_lex: turns filter source into tokens and reports where things go
 * wrong (line:column). Knows words, numbers, string escapes and operators;
 * does not know what may follow what (that is filter_parse.c).
 */
#include "filter_lex.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void filter_position(const char *src, size_t off, int *line, int *col)
{
	int l = 1, c = 1;

	for (size_t i = 0; i < off && src[i]; i++) {
		unsigned char ch = (unsigned char)src[i];
		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xc0) != 0x80) { /* count code points, not bytes */
			c++;
		}
	}
	*line = l;
	*col = c;
}

int filter_fail(struct filter_error *err, const char *src, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	filter_position(src, off, &err->line, &err->col);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void lex_init(struct lexer *lx, const char *src, size_t len, struct filter_error *err)
{
	lx->src = src;
	lx->len = len;
	lx->pos = 0;
	lx->err = err;
	lx->sbuf[0] = '\0';
}

static bool is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_word_char(char c)
{
	return is_word_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void skip_space(struct lexer *lx)
{
	while (lx->pos < lx->len) {
		char c = lx->src[lx->pos];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			lx->pos++;
		} else if (c == '#') { /* a comment runs to the end of the line */
			while (lx->pos < lx->len && lx->src[lx->pos] != '\n')
				lx->pos++;
		} else {
			break;
		}
	}
}

static const struct {
	const char *word;
	enum tok kind;
} keywords[] = {
    {"and", T_AND}, {"or", T_OR},     {"not", T_NOT},	  {"in", T_IN},	    {"has", T_HAS},
    {"me", T_ME},   {"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL},
};

static void lex_word(struct lexer *lx, struct token *t)
{
	while (lx->pos < lx->len && is_word_char(lx->src[lx->pos]))
		lx->pos++;
	t->kind = T_WORD;
	t->len = (uint32_t)(lx->pos - t->off);
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
		if (strlen(keywords[i].word) == t->len &&
		    !memcmp(keywords[i].word, lx->src + t->off, t->len)) {
			t->kind = keywords[i].kind;
			return;
		}
	}
}

static size_t digits(const struct lexer *lx, size_t i)
{
	while (i < lx->len && is_digit(lx->src[i]))
		i++;
	return i;
}

/* -?D+(.D+)?([eE][+-]?D+)? ; integers stay exact when they fit in int64. */
static int lex_number(struct lexer *lx, struct token *t)
{
	size_t i = t->off + (lx->src[t->off] == '-');
	bool is_int = true;
	char text[64];

	if (i < lx->len && is_word_start(lx->src[i]))
		return filter_fail(
		    lx->err, lx->src, t->off,
		    "unexpected '-' (a key containing '-' needs quotes: msg[\"build-id\"])");
	if (i >= lx->len || !is_digit(lx->src[i]))
		return filter_fail(lx->err, lx->src, t->off, "expected a digit after '-'");
	i = digits(lx, i);
	if (i < lx->len && lx->src[i] == '.') {
		if (i + 1 >= lx->len || !is_digit(lx->src[i + 1]))
			return filter_fail(lx->err, lx->src, i + 1,
					   "expected a digit after '.' in a number");
		i = digits(lx, i + 1);
		is_int = false;
	}
	if (i < lx->len && (lx->src[i] == 'e' || lx->src[i] == 'E')) {
		size_t e = i + 1;
		if (e < lx->len && (lx->src[e] == '+' || lx->src[e] == '-'))
			e++;
		if (e >= lx->len || !is_digit(lx->src[e]))
			return filter_fail(lx->err, lx->src, e,
					   "expected a digit in the exponent of a number");
		i = digits(lx, e);
		is_int = false;
	}
	if (i < lx->len && is_word_char(lx->src[i]))
		return filter_fail(lx->err, lx->src, i, "unexpected '%c' after a number",
				   lx->src[i]);
	t->kind = T_NUMBER;
	t->len = (uint32_t)(i - t->off);
	if (t->len >= sizeof text)
		return filter_fail(lx->err, lx->src, t->off, "number too long");
	memcpy(text, lx->src + t->off, t->len);
	text[t->len] = '\0';
	errno = 0;
	t->num.is_int = false;
	if (is_int) {
		long long v = strtoll(text, NULL, 10);
		if (errno == 0) {
			t->num.is_int = true;
			t->num.i = v;
		}
	}
	t->num.d = t->num.is_int ? (double)t->num.i : strtod(text, NULL);
	if (!isfinite(t->num.d))
		return filter_fail(lx->err, lx->src, t->off, "number out of range");
	lx->pos = i;
	return 0;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *d, unsigned cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* \uXXXX at src[i] (the backslash), a surrogate pair counting as one code
 * point. Sets *cp and *used (source bytes). */
static int lex_unicode(struct lexer *lx, size_t i, unsigned *cp, size_t *used)
{
	unsigned hi, lo;

	if (i + 6 > lx->len || hex4(lx->src + i + 2, &hi))
		return filter_fail(lx->err, lx->src, i, "expected four hex digits after '\\u'");
	*used = 6;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return filter_fail(lx->err, lx->src, i, "lone low surrogate \\u%04x in string", hi);
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (i + 12 > lx->len || lx->src[i + 6] != '\\' || lx->src[i + 7] != 'u' ||
		    hex4(lx->src + i + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return filter_fail(lx->err, lx->src, i,
					   "high surrogate \\u%04x must be followed by a low one",
					   hi);
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
		*used = 12;
	}
	if (hi == 0)
		return filter_fail(lx->err, lx->src, i, "\\u0000 is not allowed in strings");
	*cp = hi;
	return 0;
}

/* One escape at src[i] (the backslash): append to sbuf at *o. */
static int lex_escape(struct lexer *lx, size_t i, size_t *o, size_t *used)
{
	static const char from[] = "\"\\/ntr", to[] = "\"\\/\n\t\r";
	char c = i + 1 < lx->len ? lx->src[i + 1] : '\0';
	const char *k = c ? strchr(from, c) : NULL;
	unsigned cp = 0;
	int rc;

	if (k) {
		lx->sbuf[(*o)++] = to[k - from];
		*used = 2;
		return 0;
	}
	if (c != 'u') {
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			return filter_fail(lx->err, lx->src, i, "unknown escape '\\%c' in string",
					   c);
		return filter_fail(lx->err, lx->src, i, "unknown escape in string");
	}
	rc = lex_unicode(lx, i, &cp, used);
	if (rc)
		return rc;
	*o += put_utf8(lx->sbuf + *o, cp);
	return 0;
}

/* A "..." literal; the decoded text never grows past the source. */
static int lex_string(struct lexer *lx, struct token *t)
{
	size_t i = t->off + 1, o = 0, used = 0;
	int rc;

	for (;;) {
		if (i >= lx->len)
			return filter_fail(lx->err, lx->src, t->off,
					   "unterminated string (missing '\"')");
		unsigned char c = (unsigned char)lx->src[i];
		if (c == '"')
			break;
		if (c == '\n')
			return filter_fail(
			    lx->err, lx->src, t->off,
			    "unterminated string (missing '\"' before the end of the line)");
		if (c < 0x20)
			return filter_fail(
			    lx->err, lx->src, i,
			    "control character in string (use an escape such as \\t)");
		if (c == '\\') {
			rc = lex_escape(lx, i, &o, &used);
			if (rc)
				return rc;
			i += used;
			continue;
		}
		lx->sbuf[o++] = (char)c;
		i++;
	}
	lx->sbuf[o] = '\0';
	t->kind = T_STRING;
	t->s = lx->sbuf;
	t->slen = (uint32_t)o;
	t->len = (uint32_t)(i + 1 - t->off);
	lx->pos = i + 1;
	return 0;
}

/* Operators of one or two characters, and friendly errors for the ones
 * people bring from other languages. */
static int lex_punct(struct lexer *lx, struct token *t)
{
	char c = lx->src[t->off];
	char d = t->off + 1 < lx->len ? lx->src[t->off + 1] : '\0';
	static const char single[] = "()[],.@~&<>";
	static const enum tok single_kind[] = {T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK,
					       T_COMMA,	 T_DOT,	   T_AT,     T_GLOB,
					       T_AMP,	 T_LT,	   T_GT};

	t->len = 2;
	if (c == '=' && d == '=')
		t->kind = T_EQ;
	else if (c == '=' && d == '~')
		t->kind = T_REGEX;
	else if (c == '!' && d == '=')
		t->kind = T_NE;
	else if (c == '<' && d == '=')
		t->kind = T_LE;
	else if (c == '>' && d == '=')
		t->kind = T_GE;
	else if (c == '&' && d == '&')
		return filter_fail(lx->err, lx->src, t->off, "unexpected '&&' (write 'and')");
	else if (c == '|')
		return filter_fail(lx->err, lx->src, t->off, "unexpected '%s' (write 'or')",
				   d == '|' ? "||" : "|");
	else if (c == '=')
		return filter_fail(lx->err, lx->src, t->off,
				   "unexpected '=' (write '==' to compare)");
	else if (c == '!')
		return filter_fail(lx->err, lx->src, t->off,
				   "unexpected '!' (write 'not', or '!=' to compare)");
	else if (c == '\'')
		return filter_fail(lx->err, lx->src, t->off,
				   "unexpected \"'\" (strings use double quotes)");
	else if (c && strchr(single, c)) {
		t->kind = single_kind[strchr(single, c) - single];
		t->len = 1;
	} else if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
		return filter_fail(lx->err, lx->src, t->off, "unexpected character '%c'", c);
	else
		return filter_fail(lx->err, lx->src, t->off, "unexpected byte 0x%02x",
				   (unsigned char)c);
	lx->pos = t->off + t->len;
	return 0;
}

int lex_next(struct lexer *lx, struct token *t)
{
	skip_space(lx);
	memset(t, 0, sizeof *t);
	t->off = (uint32_t)lx->pos;
	if (lx->pos >= lx->len) {
		t->kind = T_EOF;
		return 0;
	}
	char c = lx->src[lx->pos];
	if (is_word_start(c)) {
		lex_word(lx, t);
		return 0;
	}
	if (is_digit(c) || c == '-')
		return lex_number(lx, t);
	if (c == '"')
		return lex_string(lx, t);
	return lex_punct(lx, t);
}

bool tok_is_word(const struct token *t)
{
	return t->kind == T_WORD || t->kind >= T_AND;
}

const char *tok_describe(const struct lexer *lx, const struct token *t, char *buf, size_t n)
{
	const char *text = lx->src + t->off;
	int len = (int)t->len;

	switch (t->kind) {
	case T_EOF: snprintf(buf, n, "end of input"); break;
	case T_STRING:
		if (len > 32)
			snprintf(buf, n, "string %.28s...\"", text);
		else
			snprintf(buf, n, "string %.*s", len, text);
		break;
	case T_NUMBER: snprintf(buf, n, "number %.*s", len, text); break;
	default:
		if (len > 32)
			snprintf(buf, n, "'%.29s...'", text);
		else
			snprintf(buf, n, "'%.*s'", len, text);
		break;
	}
	return buf;
}

size_t lex_string_source_offset(const struct lexer *lx, const struct token *t, size_t decoded)
{
	size_t i = t->off + 1, o = 0;

	/* Walk the literal again, counting decoded bytes (the literal was valid). */
	while (i < t->off + t->len - 1 && o < decoded) {
		if (lx->src[i] != '\\') {
			i++;
			o++;
			continue;
		}
		if (lx->src[i + 1] != 'u') {
			i += 2;
			o++;
			continue;
		}
		unsigned cp = 0, lo = 0;
		hex4(lx->src + i + 2, &cp);
		i += 6;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			hex4(lx->src + i + 2, &lo);
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i += 6;
		}
		o += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	}
	return i;
}
