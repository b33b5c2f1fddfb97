/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * canon_scan: canon_parse(), the validating scan of canon (see canon.h).
 *
 * For: checking one message's text against the grammar and refusals in
 * canon.h and recording every value as a node (canon_int.h) in document
 * order, and ordering object keys: as each object closes, its keys are
 * sorted in Python's order, duplicates refused, and the sorted order stored
 * in the key nodes so that emitting never sorts. The fast paths (SSE2 and
 * word-at-a-time skipping of plain string bytes, insertion sort of small
 * objects) live here because the scan is most of canon's cost.
 *
 * Not for: printing (canon_emit.c), decoding string bodies (canon_str.c),
 * the value of numbers (canon_num.c), or reading fields (canon.c).
 */
#include "canon.h"

#include <errno.h>
#include <float.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "canon_int.h"

/* Keys of one object sorted on the stack; bigger objects sort on the heap. */
#define KEYS_ON_STACK 256
/* A doc's first node array; it doubles from there. */
#define NODES_FIRST 256
/* Node indices and offsets are 31-bit; a 2 GiB message is not a message. */
#define MAX_INPUT ((size_t)INT32_MAX - 1)
/* Objects this small are sorted by insertion; bigger ones by qsort. */
#define INSERTION_SORT_MAX 16

struct parser {
	const unsigned char *s;
	size_t end;
	size_t p;
	struct canon_doc *doc; /* nodes go here */
	struct canon_node *nodes; /* doc->nodes, n and cap, kept here while */
	uint32_t n, cap;          /* scanning so stores to nodes cannot alias them */
	unsigned ext;             /* becomes doc->ext */
	struct skey *keys;     /* sort space for one object's keys */
	uint32_t keys_cap;
	struct skey *stack_keys; /* the initial, on-stack keys */
	struct canon_error *err;
};

/* ---- scanning ---------------------------------------------------------- */

static size_t skip_ws(const unsigned char *s, size_t p, size_t end)
{
	while (p < end && (s[p] == ' ' || s[p] == '\n' || s[p] == '\r' || s[p] == '\t'))
		p++;
	return p;
}

/* Double the doc's node array; a borrowed one is copied to the heap. */
static __attribute__((noinline)) int grow_nodes(struct parser *ps)
{
	struct canon_doc *d = ps->doc;
	uint32_t cap = ps->cap ? ps->cap * 2 : NODES_FIRST;
	struct canon_node *nn;

	if (ps->cap > UINT32_MAX / 2)
		return -ENOMEM;
	if (d->borrowed) {
		nn = malloc((size_t)cap * sizeof *nn);
		if (nn)
			memcpy(nn, ps->nodes, (size_t)ps->n * sizeof *nn);
	} else {
		nn = realloc(ps->nodes, (size_t)cap * sizeof *nn);
	}
	if (!nn)
		return -ENOMEM;
	d->nodes = ps->nodes = nn;
	d->cap = ps->cap = cap;
	d->borrowed = false;
	return 0;
}

static inline int push_node(struct parser *ps, uint8_t type, size_t pos, uint32_t *idx)
{
	if (ps->n == ps->cap) {
		int rc = grow_nodes(ps);
		if (rc)
			return rc;
	}
	*idx = ps->n++;
	ps->nodes[*idx] = (struct canon_node){.pos = (uint32_t)pos, .type = type};
	return 0;
}

/*
 * Validate the escape at s[*pp] (a backslash) and step over it; \u0000 adds
 * S_NUL to *flags. A high surrogate must be followed by an escaped low one:
 * Python would keep a lone surrogate, but it has no UTF-8 form, so such a
 * message cannot be signed reproducibly.
 */
static int scan_escape(struct parser *ps, size_t *pp, uint8_t *flags)
{
	const unsigned char *s = ps->s;
	size_t p = *pp;
	long u, lo;

	if (p + 1 >= ps->end)
		return canon_fail(ps->err, p, "unterminated string");
	switch (s[p + 1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		*pp = p + 2;
		return 0;
	case 'u':
		break;
	default:
		return canon_fail(ps->err, p, "invalid escape in string");
	}
	u = canon_hex4(s, p + 2, ps->end);
	if (u < 0)
		return canon_fail(ps->err, p, "invalid \\u escape in string");
	if (u >= 0xdc00 && u <= 0xdfff)
		return canon_fail(ps->err, p, "lone surrogate in string");
	if (u == 0)
		*flags |= S_NUL;
	if (u < 0xd800 || u > 0xdbff) {
		*pp = p + 6;
		return 0;
	}
	if (ps->end - p < 12 || s[p + 6] != '\\' || s[p + 7] != 'u')
		return canon_fail(ps->err, p, "lone surrogate in string");
	lo = canon_hex4(s, p + 8, ps->end);
	if (lo < 0xdc00 || lo > 0xdfff)
		return canon_fail(ps->err, p, "lone surrogate in string");
	*pp = p + 12;
	return 0;
}

/*
 * Length of the well-formed UTF-8 sequence at s (lead byte >= 0x80), or 0.
 * Unicode's table 3-7: no overlongs, no encoded surrogates, nothing above
 * U+10FFFF.
 */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0)
		return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (c < 0xf0) {
		if (avail < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (avail < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
	    (s[3] & 0xc0) != 0x80)
		return 0;
	return 4;
}

/*
 * Step over plain bytes (see canon_plain[]): sixteen at a time with SSE2 (every
 * x86-64 has it), then eight at a time while no byte in the word is
 * special: < 0x20, '"', '\\', or >= 0x7f. The word tests are the classic
 * "has zero byte" / "has byte less than" tricks; a false answer is exact, so
 * a word they pass is all plain. Base64 certificates and signatures are
 * most of an envelope's bytes, and all plain.
 */
static size_t skip_plain(const unsigned char *s, size_t p, size_t end)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

#ifdef __SSE2__
	const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\'), del = _mm_set1_epi8(0x7f);
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + p));
		/* Signed compare: bytes >= 0x80 are negative, so "< 0x20" has them too. */
		__m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, quote)),
					   _mm_or_si128(_mm_cmpeq_epi8(v, bslash), _mm_cmpeq_epi8(v, del)));
		unsigned m = (unsigned)_mm_movemask_epi8(bad);
		if (m)
			return p + (size_t)__builtin_ctz(m);
		p += 16;
	}
#endif
	while (end - p >= 8) {
		uint64_t w, q, b;
		memcpy(&w, s + p, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		if (((w - ones * 0x20) | (q - ones) | (b - ones) | w | (w + ones)) & highs)
			break;
		p += 8;
	}
	while (p < end && canon_plain[s[p]])
		p++;
	return p;
}

/* A string starting at the quote at ps->p; *idx gets its node. */
static int scan_string(struct parser *ps, uint32_t *idx)
{
	const unsigned char *s = ps->s;
	size_t start = ps->p, p = start + 1, end = ps->end;
	uint8_t flags = 0;
	int rc;

	for (;;) {
		p = skip_plain(s, p, end);
		if (p >= end)
			return canon_fail(ps->err, start, "unterminated string");
		unsigned char c = s[p];
		if (c == '"')
			break;
		if (c == '\\') {
			flags |= S_ESC;
			rc = scan_escape(ps, &p, &flags);
			if (rc)
				return rc;
		} else if (c < 0x20) {
			return canon_fail(ps->err, p, "control character in string");
		} else if (c == 0x7f) {
			flags |= S_WIDE;
			p++;
		} else {
			size_t n = utf8_len(s + p, end - p);
			if (!n)
				return canon_fail(ps->err, p, "invalid UTF-8 in string");
			flags |= S_WIDE;
			p += n;
		}
	}
	rc = push_node(ps, N_STR, start + 1, idx);
	if (rc)
		return rc;
	ps->nodes[*idx].len = (uint32_t)(p - start - 1);
	ps->nodes[*idx].flags = flags;
	ps->p = p + 1;
	return 0;
}

static int scan_literal(struct parser *ps, const char *word, uint8_t type)
{
	size_t n = strlen(word);
	uint32_t idx;
	int rc;

	if (ps->end - ps->p < n || memcmp(ps->s + ps->p, word, n) != 0)
		return canon_fail(ps->err, ps->p, "invalid literal");
	rc = push_node(ps, type, ps->p, &idx);
	if (rc)
		return rc;
	ps->nodes[idx].len = (uint32_t)n;
	ps->p += n;
	if (type == N_NAN || type == N_INF || type == N_NINF)
		ps->ext |= CANON_EXT_NONFINITE;
	return 0;
}

/*
 * RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?
 * Python's scanner backtracks on "1." or "1e", but what is left is then
 * trailing garbage, so rejecting here gives the same verdict.
 */
static int scan_number(struct parser *ps)
{
	const unsigned char *s = ps->s;
	size_t start = ps->p, p = start, end = ps->end;
	uint8_t type = N_INT, flags = 0;
	uint32_t idx;
	int rc;

	if (s[p] == '-') {
		p++;
		if (p < end && s[p] == 'I')
			return scan_literal(ps, "-Infinity", N_NINF);
	}
	if (p >= end || !canon_is_digit(s[p]))
		return canon_fail(ps->err, start, "invalid number");
	if (s[p] == '0') {
		p++;
		if (p < end && canon_is_digit(s[p]))
			return canon_fail(ps->err, start, "leading zero in number");
	} else {
		size_t first = p;
		while (p < end && canon_is_digit(s[p]))
			p++;
		/* 309 integer digits reach 1e308: DBL_MAX is near. */
		if (p - first > DBL_MAX_10_EXP)
			flags = F_BIG;
	}
	if (p < end && s[p] == '.') {
		p++;
		if (p >= end || !canon_is_digit(s[p]))
			return canon_fail(ps->err, p, "digit expected after decimal point");
		while (p < end && canon_is_digit(s[p]))
			p++;
		type = N_FLOAT;
	}
	if (p < end && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < end && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= end || !canon_is_digit(s[p]))
			return canon_fail(ps->err, p, "digit expected in exponent");
		while (p < end && canon_is_digit(s[p]))
			p++;
		type = N_FLOAT;
		flags = F_BIG;
	}
	rc = push_node(ps, type, start, &idx);
	if (rc)
		return rc;
	ps->nodes[idx].len = (uint32_t)(p - start);
	ps->nodes[idx].flags = flags;
	if (flags)
		ps->ext |= EXT_MAYBE_RANGE;
	ps->p = p;
	return 0;
}

static int scan_scalar(struct parser *ps)
{
	uint32_t idx;

	switch (ps->s[ps->p]) {
	case '"': return scan_string(ps, &idx);
	case 't': return scan_literal(ps, "true", N_TRUE);
	case 'f': return scan_literal(ps, "false", N_FALSE);
	case 'n': return scan_literal(ps, "null", N_NULL);
	case 'N': return scan_literal(ps, "NaN", N_NAN);
	case 'I': return scan_literal(ps, "Infinity", N_INF);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return scan_number(ps);
	default:
		return canon_fail(ps->err, ps->p, "value expected");
	}
}

/* ---- keys: order (the scan sorts, the emitter reuses) ------------------ */

/* Code-point order of two key bodies, decoding escapes (the slow path). */
static int cmp_decoded(const struct skey *a, const struct skey *b)
{
	size_t i = 0, j = 0;

	while (i < a->len && j < b->len) {
		uint32_t x = canon_next_cp(a->p, &i), y = canon_next_cp(b->p, &j);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return (i < a->len) - (j < b->len);
}

/* A key's first 8 bytes as a big-endian number, zero-padded. */
uint64_t canon_key_head(const unsigned char *p, uint32_t len)
{
	unsigned char b[8] = {0};
	uint64_t h;

	memcpy(b, p, len < 8 ? len : 8);
	memcpy(&h, b, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	h = __builtin_bswap64(h);
#endif
	return h;
}

/*
 * Python sorts str keys by code point; UTF-8 preserves that order byte by
 * byte, so raw keys without escapes compare as bytes: first their heads (a
 * raw key has no NUL byte, so the zero padding sorts a shorter key first,
 * as memcmp would), which settles most pairs without a call, then memcmp.
 */
int canon_key_cmp(const struct skey *a, const struct skey *b)
{
	if (a->esc || b->esc)
		return cmp_decoded(a, b);
	if (a->head != b->head)
		return a->head < b->head ? -1 : 1;
	if (a->len > 8 && b->len > 8) {
		int r = memcmp(a->p + 8, b->p + 8, (a->len < b->len ? a->len : b->len) - 8);
		if (r)
			return r;
	}
	return (a->len > b->len) - (a->len < b->len);
}

static int key_cmp_q(const void *a, const void *b)
{
	return canon_key_cmp(a, b);
}

static void sort_keys(struct skey *k, uint32_t n)
{
	if (n > INSERTION_SORT_MAX) {
		qsort(k, n, sizeof *k, key_cmp_q);
		return;
	}
	for (uint32_t i = 1; i < n; i++) {
		struct skey t = k[i];
		uint32_t j = i;
		for (; j > 0 && canon_key_cmp(&k[j - 1], &t) > 0; j--)
			k[j] = k[j - 1];
		k[j] = t;
	}
}

struct skey canon_key_of(const unsigned char *s, const struct canon_node *nodes, uint32_t c)
{
	const unsigned char *p = s + nodes[c].pos;

	return (struct skey){.p = p, .head = canon_key_head(p, nodes[c].len), .len = nodes[c].len,
			     .node = c, .esc = (nodes[c].flags & S_ESC) != 0};
}

/* Double the sort space, keeping what it holds. */
static int grow_keys(struct parser *ps)
{
	uint32_t cap = ps->keys_cap * 2;
	struct skey *k;

	if (ps->keys == ps->stack_keys) {
		k = malloc((size_t)cap * sizeof *k);
		if (k)
			memcpy(k, ps->keys, (size_t)ps->keys_cap * sizeof *k);
	} else {
		k = realloc(ps->keys, (size_t)cap * sizeof *k);
	}
	if (!k)
		return -ENOMEM;
	ps->keys = k;
	ps->keys_cap = cap;
	return 0;
}

/*
 * Object `obj` has just closed: sort its keys, refuse duplicates (equal
 * neighbours once sorted), and record the order for the emitter: the i-th
 * key in document order gets, in aux, the node of the i-th key in sorted
 * order. Sorting here, once, lets every later emit be a plain walk.
 */
static int close_object(struct parser *ps, uint32_t obj)
{
	struct canon_node *nd = ps->nodes;
	uint32_t end = nd[obj].len, n = 0, c;
	int rc;

	if (canon_next_member(nd, obj + 1) == end) { /* one member: nothing to sort */
		nd[obj + 1].aux = obj + 1;
		return 0;
	}
	for (c = obj + 1; c < end; c = canon_next_member(nd, c)) {
		if (n == ps->keys_cap && (rc = grow_keys(ps)))
			return rc;
		ps->keys[n++] = canon_key_of(ps->s, nd, c);
	}
	sort_keys(ps->keys, n);
	for (uint32_t j = 1; j < n; j++)
		if (canon_key_cmp(&ps->keys[j - 1], &ps->keys[j]) == 0) {
			uint32_t a = ps->keys[j - 1].node, b = ps->keys[j].node;
			return canon_fail(ps->err, nd[a > b ? a : b].pos - 1, "duplicate key in object");
		}
	n = 0;
	for (c = obj + 1; c < end; c = canon_next_member(nd, c))
		nd[c].aux = ps->keys[n++].node;
	return 0;
}

/* An object key at ps->p (whitespace skipped), the colon, and the whitespace after it. */
static int scan_key(struct parser *ps)
{
	uint32_t idx;
	int rc;

	if (ps->p >= ps->end || ps->s[ps->p] != '"')
		return canon_fail(ps->err, ps->p, "string key expected");
	rc = scan_string(ps, &idx);
	if (rc)
		return rc;
	if (ps->nodes[idx].flags & S_NUL)
		ps->ext |= CANON_EXT_NUL_KEY;
	ps->p = skip_ws(ps->s, ps->p, ps->end);
	if (ps->p >= ps->end || ps->s[ps->p] != ':')
		return canon_fail(ps->err, ps->p, "':' expected after key");
	ps->p = skip_ws(ps->s, ps->p + 1, ps->end);
	return 0;
}

/*
 * After a value: close containers, or step over a comma to the next value.
 * Returns 1 when the whole input is done, 0 when a value is expected next.
 */
static int after_value(struct parser *ps, uint32_t *stack, unsigned *depth)
{
	for (;;) {
		ps->p = skip_ws(ps->s, ps->p, ps->end);
		if (*depth == 0) {
			if (ps->p != ps->end)
				return canon_fail(ps->err, ps->p, "trailing data after JSON value");
			return 1;
		}
		uint32_t top = stack[*depth - 1];
		bool obj = ps->nodes[top].type == N_OBJ;
		if (ps->p >= ps->end)
			return canon_fail(ps->err, ps->p, "unexpected end of input");
		unsigned char c = ps->s[ps->p];
		if (c == ',') {
			ps->p = skip_ws(ps->s, ps->p + 1, ps->end);
			return obj ? scan_key(ps) : 0;
		}
		if (c != (obj ? '}' : ']'))
			return canon_fail(ps->err, ps->p, obj ? "',' or '}' expected" : "',' or ']' expected");
		ps->p++;
		ps->nodes[top].len = ps->n;
		ps->nodes[top].aux = (uint32_t)ps->p;
		(*depth)--;
		if (obj) {
			int rc = close_object(ps, top);
			if (rc)
				return rc;
		}
	}
}

/* Open '{' or '[' at ps->p; an empty one is closed at once. 1 if it was empty. */
static int open_container(struct parser *ps, uint32_t *stack, unsigned *depth)
{
	unsigned char c = ps->s[ps->p];
	uint8_t type = c == '{' ? N_OBJ : N_ARR;
	uint32_t idx;
	int rc;

	if (*depth == CANON_MAX_DEPTH)
		return canon_fail(ps->err, ps->p, "nesting too deep");
	rc = push_node(ps, type, ps->p, &idx);
	if (rc)
		return rc;
	ps->p = skip_ws(ps->s, ps->p + 1, ps->end);
	if (ps->p < ps->end && ps->s[ps->p] == (type == N_OBJ ? '}' : ']')) {
		ps->p++;
		ps->nodes[idx].len = ps->n;
		ps->nodes[idx].aux = (uint32_t)ps->p;
		return 1;
	}
	stack[(*depth)++] = idx;
	return type == N_OBJ ? scan_key(ps) : 0;
}

/* The whole input into the doc's nodes, in document order. */
static int parse(struct parser *ps)
{
	uint32_t stack[CANON_MAX_DEPTH];
	unsigned depth = 0;
	int rc;

	ps->p = skip_ws(ps->s, 0, ps->end);
	if (ps->p >= ps->end)
		return canon_fail(ps->err, ps->p, "empty input");
	for (;;) {
		if (ps->p >= ps->end)
			return canon_fail(ps->err, ps->p, "unexpected end of input");
		unsigned char c = ps->s[ps->p];
		if (c == '{' || c == '[') {
			rc = open_container(ps, stack, &depth);
			if (rc < 0)
				return rc;
			if (rc == 0)
				continue; /* a member or element follows */
		} else {
			rc = scan_scalar(ps);
			if (rc)
				return rc;
		}
		rc = after_value(ps, stack, &depth);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return 0;
	}
}

/* ---- entry point -------------------------------------------------------- */

int canon_parse(struct canon_doc *doc, const char *in, size_t len, struct canon_error *err)
{
	struct skey stack_keys[KEYS_ON_STACK];
	struct canon_error ignored;
	struct parser ps = {
		.s = (const unsigned char *)in,
		.end = len,
		.doc = doc,
		.nodes = doc->nodes,
		.cap = doc->cap,
		.keys = stack_keys,
		.keys_cap = KEYS_ON_STACK,
		.stack_keys = stack_keys,
		.err = err ? err : &ignored,
	};
	int rc;

	canon_doc_reset(doc);
	if (len > MAX_INPUT)
		return canon_fail(ps.err, 0, "input too large");
	rc = parse(&ps);
	if (ps.keys != stack_keys)
		free(ps.keys);
	if (rc) {
		if (rc == -ENOMEM)
			canon_fail(ps.err, 0, "out of memory");
		return rc;
	}
	doc->in = in;
	doc->len = len;
	doc->n = ps.n;
	doc->ext = ps.ext;
	return 0;
}
