/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * canon: canonical JSON for fedmsg signatures (see canon.h).
 *
 * For: turning one message's raw JSON text into the exact bytes Python's
 * json.dumps(json.loads(s), sort_keys=True, separators=(",", ":")) prints.
 * Two passes: a validating scan records every value as a 16-byte node (a
 * span into the input, nothing copied) in one array (a canon_doc); as each
 * object closes, the scan sorts its keys, refuses duplicates and records the
 * sorted order in the key nodes. The emitter then only walks the nodes.
 * Strings that are plain printable ASCII are copied with one memcpy; only
 * strings with escapes or non-ASCII are re-encoded. The accessors read the
 * same nodes, so a caller that needs a few fields and the canonical bytes
 * (the envelope, then verify) scans the message once.
 *
 * Not for: general JSON reading (use jansson on a value's span), pretty
 * printing, or any extension beyond the three literals Python accepts (NaN,
 * Infinity, -Infinity).
 *
 * Numbers never go through the C locale machinery: we hand strtod() digits
 * with an exponent and no decimal point, and read snprintf("%e") output
 * without caring which decimal point it used, so a setlocale() elsewhere in
 * the process cannot change the bytes we sign.
 */
#include "canon.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* canon_json's nodes: ordinary messages fit; bigger ones move to the heap once. */
#define NODES_ON_STACK 512
/* Keys of one object sorted on the stack; bigger objects sort on the heap. */
#define KEYS_ON_STACK 256
/* A doc's first node array; it doubles from there. */
#define NODES_FIRST 256
/* Node indices and offsets are 31-bit; a 2 GiB message is not a message. */
#define MAX_INPUT ((size_t)INT32_MAX - 1)
/* Objects this small are sorted by insertion; bigger ones by qsort. */
#define INSERTION_SORT_MAX 16

/* Short names for the public types; containers last: see is_container(). */
enum ntype {
	N_NULL = CANON_NULL,
	N_FALSE = CANON_FALSE,
	N_TRUE = CANON_TRUE,
	N_NAN = CANON_NAN,
	N_INF = CANON_INF,
	N_NINF = CANON_NINF,
	N_INT = CANON_INT,
	N_FLOAT = CANON_FLOAT,
	N_STR = CANON_STRING,
	N_ARR = CANON_ARRAY,
	N_OBJ = CANON_OBJECT,
};

/* String flags. */
#define S_ESC 1u  /* holds backslash escapes: decode before comparing */
#define S_WIDE 2u /* holds bytes >= 0x7f: must be \u-escaped on output */
#define S_NUL 4u  /* holds \u0000: a C string of it would be cut short */
/* Number flag: an exponent or over 308 digits, so perhaps beyond a double. */
#define F_BIG 1u

/* Internal doc->ext bit: some number is F_BIG; canon_extensions() looks. */
#define EXT_MAYBE_RANGE (1u << 8)

struct canon_node {
	uint32_t pos;  /* input offset; strings: first byte after the quote */
	uint32_t len;  /* scalars: byte length (strings: without quotes);
			* containers: index just past the subtree */
	uint32_t aux;  /* containers: input offset just past the closing bracket;
			* the i-th key of an object (document order): the node of
			* the i-th key in sorted order, so emitting never sorts */
	uint8_t type;  /* enum ntype */
	uint8_t flags; /* S_* for strings, F_* for numbers */
};

/* An object key while its object is being sorted. */
struct skey {
	const unsigned char *p; /* raw text between the quotes */
	uint64_t head;      /* its first 8 bytes, big-endian, zero-padded */
	uint32_t len;
	uint32_t node : 31; /* the key's node; its value is node + 1 */
	uint32_t esc : 1;   /* S_ESC: compare decoded code points */
};

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

struct emitter {
	const unsigned char *s;
	const struct canon_node *nodes;
	struct buf *out;
	struct canon_error *err;
};

/* Printable ASCII that JSON and Python both leave alone: ' '..'~' minus '"' and '\\'. */
static const unsigned char plain[256] = {
	['\x20'] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: '"' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,              /* 0x30-0x3f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,              /* 0x40-0x4f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,              /* 0x50-0x5f: '\\' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,              /* 0x60-0x6f */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,              /* 0x70-0x7f: DEL */
};

static const char hexdig[] = "0123456789abcdef";

static int fail(struct canon_error *err, size_t at, const char *what)
{
	err->offset = at;
	err->what = what;
	return -EINVAL;
}

static bool is_container(uint8_t type)
{
	return type >= N_ARR;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

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

/* Four hex digits at s[p..p+3], or -1. */
static long hex4(const unsigned char *s, size_t p, size_t end)
{
	long v = 0;
	if (end - p < 4)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		unsigned char c = s[p + i];
		int d;
		if (is_digit(c))
			d = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			d = (c | 0x20) - 'a' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
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
		return fail(ps->err, p, "unterminated string");
	switch (s[p + 1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		*pp = p + 2;
		return 0;
	case 'u':
		break;
	default:
		return fail(ps->err, p, "invalid escape in string");
	}
	u = hex4(s, p + 2, ps->end);
	if (u < 0)
		return fail(ps->err, p, "invalid \\u escape in string");
	if (u >= 0xdc00 && u <= 0xdfff)
		return fail(ps->err, p, "lone surrogate in string");
	if (u == 0)
		*flags |= S_NUL;
	if (u < 0xd800 || u > 0xdbff) {
		*pp = p + 6;
		return 0;
	}
	if (ps->end - p < 12 || s[p + 6] != '\\' || s[p + 7] != 'u')
		return fail(ps->err, p, "lone surrogate in string");
	lo = hex4(s, p + 8, ps->end);
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(ps->err, p, "lone surrogate in string");
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
 * Step over plain bytes (see plain[]): sixteen at a time with SSE2 (every
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
	while (p < end && plain[s[p]])
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
			return fail(ps->err, start, "unterminated string");
		unsigned char c = s[p];
		if (c == '"')
			break;
		if (c == '\\') {
			flags |= S_ESC;
			rc = scan_escape(ps, &p, &flags);
			if (rc)
				return rc;
		} else if (c < 0x20) {
			return fail(ps->err, p, "control character in string");
		} else if (c == 0x7f) {
			flags |= S_WIDE;
			p++;
		} else {
			size_t n = utf8_len(s + p, end - p);
			if (!n)
				return fail(ps->err, p, "invalid UTF-8 in string");
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
		return fail(ps->err, ps->p, "invalid literal");
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
	if (p >= end || !is_digit(s[p]))
		return fail(ps->err, start, "invalid number");
	if (s[p] == '0') {
		p++;
		if (p < end && is_digit(s[p]))
			return fail(ps->err, start, "leading zero in number");
	} else {
		size_t first = p;
		while (p < end && is_digit(s[p]))
			p++;
		/* 309 integer digits reach 1e308: DBL_MAX is near. */
		if (p - first > DBL_MAX_10_EXP)
			flags = F_BIG;
	}
	if (p < end && s[p] == '.') {
		p++;
		if (p >= end || !is_digit(s[p]))
			return fail(ps->err, p, "digit expected after decimal point");
		while (p < end && is_digit(s[p]))
			p++;
		type = N_FLOAT;
	}
	if (p < end && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < end && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= end || !is_digit(s[p]))
			return fail(ps->err, p, "digit expected in exponent");
		while (p < end && is_digit(s[p]))
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
		return fail(ps->err, ps->p, "value expected");
	}
}

/* ---- keys: decoding and order (the scan sorts, the emitter reuses) ---- */

/* Decode the escape at s[*pp] (already validated); step over it. */
static uint32_t decode_escape(const unsigned char *s, size_t *pp)
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
	u = (uint32_t)hex4(s, p + 2, p + 6);
	*pp = p + 6;
	if (u >= 0xd800 && u <= 0xdbff) {
		uint32_t lo = (uint32_t)hex4(s, p + 8, p + 12);
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
static uint32_t next_cp(const unsigned char *s, size_t *pp)
{
	return s[*pp] == '\\' ? decode_escape(s, pp) : decode_utf8(s, pp);
}

/* Code-point order of two key bodies, decoding escapes (the slow path). */
static int cmp_decoded(const struct skey *a, const struct skey *b)
{
	size_t i = 0, j = 0;

	while (i < a->len && j < b->len) {
		uint32_t x = next_cp(a->p, &i), y = next_cp(b->p, &j);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return (i < a->len) - (j < b->len);
}

/* A key's first 8 bytes as a big-endian number, zero-padded. */
static uint64_t key_head(const unsigned char *p, uint32_t len)
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
static int key_cmp(const struct skey *a, const struct skey *b)
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
	return key_cmp(a, b);
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
		for (; j > 0 && key_cmp(&k[j - 1], &t) > 0; j--)
			k[j] = k[j - 1];
		k[j] = t;
	}
}

/* Member `c` (a key node) of an object -> the next key, or the object's end. */
static uint32_t next_member(const struct canon_node *nodes, uint32_t c)
{
	const struct canon_node *v = &nodes[c + 1];

	return is_container(v->type) ? v->len : c + 2;
}

static struct skey key_of(const unsigned char *s, const struct canon_node *nodes, uint32_t c)
{
	const unsigned char *p = s + nodes[c].pos;

	return (struct skey){.p = p, .head = key_head(p, nodes[c].len), .len = nodes[c].len,
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

	if (next_member(nd, obj + 1) == end) { /* one member: nothing to sort */
		nd[obj + 1].aux = obj + 1;
		return 0;
	}
	for (c = obj + 1; c < end; c = next_member(nd, c)) {
		if (n == ps->keys_cap && (rc = grow_keys(ps)))
			return rc;
		ps->keys[n++] = key_of(ps->s, nd, c);
	}
	sort_keys(ps->keys, n);
	for (uint32_t j = 1; j < n; j++)
		if (key_cmp(&ps->keys[j - 1], &ps->keys[j]) == 0) {
			uint32_t a = ps->keys[j - 1].node, b = ps->keys[j].node;
			return fail(ps->err, nd[a > b ? a : b].pos - 1, "duplicate key in object");
		}
	n = 0;
	for (c = obj + 1; c < end; c = next_member(nd, c))
		nd[c].aux = ps->keys[n++].node;
	return 0;
}

/* An object key at ps->p (whitespace skipped), the colon, and the whitespace after it. */
static int scan_key(struct parser *ps)
{
	uint32_t idx;
	int rc;

	if (ps->p >= ps->end || ps->s[ps->p] != '"')
		return fail(ps->err, ps->p, "string key expected");
	rc = scan_string(ps, &idx);
	if (rc)
		return rc;
	if (ps->nodes[idx].flags & S_NUL)
		ps->ext |= CANON_EXT_NUL_KEY;
	ps->p = skip_ws(ps->s, ps->p, ps->end);
	if (ps->p >= ps->end || ps->s[ps->p] != ':')
		return fail(ps->err, ps->p, "':' expected after key");
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
				return fail(ps->err, ps->p, "trailing data after JSON value");
			return 1;
		}
		uint32_t top = stack[*depth - 1];
		bool obj = ps->nodes[top].type == N_OBJ;
		if (ps->p >= ps->end)
			return fail(ps->err, ps->p, "unexpected end of input");
		unsigned char c = ps->s[ps->p];
		if (c == ',') {
			ps->p = skip_ws(ps->s, ps->p + 1, ps->end);
			return obj ? scan_key(ps) : 0;
		}
		if (c != (obj ? '}' : ']'))
			return fail(ps->err, ps->p, obj ? "',' or '}' expected" : "',' or ']' expected");
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
		return fail(ps->err, ps->p, "nesting too deep");
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
		return fail(ps->err, ps->p, "empty input");
	for (;;) {
		if (ps->p >= ps->end)
			return fail(ps->err, ps->p, "unexpected end of input");
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

/* ---- numbers ----------------------------------------------------------- */

/* Decimal digits of a finite double: value = 0.d[0]d[1]...d[n-1] x 10^decpt. */
struct digits {
	char d[24];
	int n;
	int decpt;
};

/* The digits as "DDDDe-X": no decimal point, so strtod() ignores the locale. */
static double digits_value(const struct digits *g)
{
	char tmp[48];
	memcpy(tmp, g->d, (size_t)g->n);
	snprintf(tmp + g->n, sizeof tmp - (size_t)g->n, "e%d", g->decpt - g->n);
	return strtod(tmp, NULL);
}

/*
 * The p significant digits nearest to a (> 0), correctly rounded by
 * snprintf. The decimal point may be a locale's: skip whatever is not a
 * digit between the first digit and the 'e'.
 */
static void nearest_digits(double a, int p, struct digits *g)
{
	char tmp[48];
	const char *q = tmp;

	snprintf(tmp, sizeof tmp, "%.*e", p - 1, a);
	g->n = 0;
	while (*q && *q != 'e') {
		if (is_digit((unsigned char)*q))
			g->d[g->n++] = *q;
		q++;
	}
	g->decpt = (int)strtol(q + 1, NULL, 10) + 1;
}

/* The next p-digit decimal up: add one in the last place. */
static void digits_up(struct digits *g)
{
	int i = g->n - 1;
	while (i >= 0 && g->d[i] == '9')
		g->d[i--] = '0';
	if (i >= 0) {
		g->d[i]++;
		return;
	}
	g->d[0] = '1'; /* 99..9 -> 100..0: same length, one more power of ten */
	g->decpt++;
}

/*
 * Is there a p-digit decimal that reads back as a? The nearest one is the
 * best candidate, except just above a power of two, where the doubles below
 * are twice as dense: the nearest decimal may fall below the rounding
 * interval while the one above it is still inside. Python (David Gay's
 * shortest mode) finds that one, so we try it too.
 */
static bool try_len(double a, int p, struct digits *g)
{
	double v;
	int e;

	nearest_digits(a, p, g);
	v = digits_value(g);
	if (v == a)
		return true;
	if (v > a || frexp(a, &e) != 0.5)
		return false;
	struct digits up = *g;
	digits_up(&up);
	if (digits_value(&up) != a)
		return false;
	*g = up;
	return true;
}

/*
 * Shortest digits that round-trip. If some length works, every longer one
 * does too (a shorter decimal is also a longer one), so binary search.
 * `hint`, the digit count of the text the double came from, is usually
 * right already and then costs two tries instead of four or five.
 */
static void shortest_digits(double a, int hint, struct digits *best)
{
	struct digits g;
	int lo = 1, hi = 17, best_p = 0;

	if (hint >= 1 && hint <= 17) {
		if (try_len(a, hint, &g)) {
			*best = g;
			best_p = hi = hint;
			if (hint > 1 && try_len(a, hint - 1, &g)) {
				*best = g;
				best_p = hi = hint - 1;
			} else {
				lo = hint;
			}
		} else {
			lo = hint + 1;
		}
	}
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (try_len(a, mid, &g)) {
			*best = g;
			best_p = hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	if (best_p != lo)
		try_len(a, lo, best); /* 17 digits always round-trip */
	/* Never needed so far (a shortest form has no trailing zero), but a
	 * carry in digits_up() must not be able to print one. */
	while (best->n > 1 && best->d[best->n - 1] == '0')
		best->n--;
}

/* Python's float_repr_style 'short' layout of the digits. */
static int put_repr(struct buf *out, bool neg, const struct digits *g)
{
	char tmp[48], *o = tmp;
	int n = g->n, decpt = g->decpt;

	if (neg)
		*o++ = '-';
	if (decpt <= -4 || decpt > 16) {
		*o++ = g->d[0];
		if (n > 1) {
			*o++ = '.';
			memcpy(o, g->d + 1, (size_t)n - 1);
			o += n - 1;
		}
		o += snprintf(o, sizeof tmp - (size_t)(o - tmp), "e%+03d", decpt - 1);
	} else if (decpt <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -decpt; i++)
			*o++ = '0';
		memcpy(o, g->d, (size_t)n);
		o += n;
	} else if (decpt < n) {
		memcpy(o, g->d, (size_t)decpt);
		o += decpt;
		*o++ = '.';
		memcpy(o, g->d + decpt, (size_t)(n - decpt));
		o += n - decpt;
	} else {
		memcpy(o, g->d, (size_t)n);
		o += n;
		for (int i = n; i < decpt; i++)
			*o++ = '0';
		*o++ = '.';
		*o++ = '0';
	}
	return buf_append(out, tmp, (size_t)(o - tmp));
}

static int repr_double(double d, int hint, struct buf *out)
{
	struct digits g;

	if (isnan(d))
		return buf_puts(out, "NaN");
	if (isinf(d))
		return buf_puts(out, d < 0 ? "-Infinity" : "Infinity");
	if (d == 0)
		return buf_puts(out, signbit(d) ? "-0.0" : "0.0");
	shortest_digits(fabs(d), hint, &g);
	return put_repr(out, signbit(d), &g);
}

int canon_double(double d, struct buf *out)
{
	return repr_double(d, 0, out);
}

/* Scratch that number_text() needs for a number of `len` bytes. */
#define NUMBER_SCRATCH(len) ((len) + 32)

/*
 * The double a JSON number's text denotes, as Python's float() would give
 * it. The text is rewritten as "[-]DIGITSe[-]EXP" (no decimal point, no
 * leading or trailing zeros) in `o` (NUMBER_SCRATCH(len) bytes) so strtod()
 * gets a terminated string without a malloc (short ones need no strtod).
 * When the text has at most 17 significant digits, *g gets them (g->n = 0
 * otherwise, and for zero).
 */
static void number_text(const unsigned char *t, size_t len, char *o, double *d, struct digits *g)
{
	size_t i = 0, first = SIZE_MAX, last = 0, nfrac = 0, ndig = 0;
	long long exp = 0;
	bool in_frac = false;

	o[0] = t[0] == '-' ? '-' : '+';
	i = t[0] == '-';
	for (; i < len && t[i] != 'e' && t[i] != 'E'; i++) {
		if (t[i] == '.') {
			in_frac = true;
			continue;
		}
		if (t[i] != '0') {
			if (first == SIZE_MAX)
				first = ndig;
			last = ndig;
		}
		if (first != SIZE_MAX)
			o[1 + ndig - first] = (char)t[i];
		ndig++;
		nfrac += in_frac;
	}
	if (i < len) {
		bool eneg = t[++i] == '-';
		if (t[i] == '-' || t[i] == '+')
			i++;
		/* Saturate far beyond any double; keeps the sums below in range. */
		for (; i < len; i++)
			if (exp < 100000000000LL)
				exp = exp * 10 + (t[i] - '0');
		if (eneg)
			exp = -exp;
	}
	g->n = 0;
	if (first == SIZE_MAX) {
		*d = o[0] == '-' ? -0.0 : 0.0;
		return;
	}
	/* value = digits[first..last] x 10^(exp - nfrac + trailing zeros) */
	exp += (long long)(ndig - 1 - last) - (long long)nfrac;
	size_t nsig = last - first + 1;
	if (nsig <= 17 && exp > -1000 && exp < 1000) {
		memcpy(g->d, o + 1, nsig);
		g->n = (int)nsig;
		g->decpt = (int)(exp + (long long)nsig);
	}
#if FLT_EVAL_METHOD == 0
	if (nsig <= 15 && exp >= -22 && exp <= 22) {
		/* Clinger's fast path: the digits and 10^|exp| are exact
		 * doubles, so one IEEE operation rounds as strtod() would. */
		static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
					     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
					     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
		double m = 0;
		for (size_t k = 0; k < nsig; k++)
			m = m * 10 + (o[1 + k] - '0');
		m = exp < 0 ? m / p10[-exp] : m * p10[exp];
		*d = o[0] == '-' ? -m : m;
		return;
	}
#endif
	snprintf(o + 1 + nsig, 32, "e%lld", exp);
	*d = strtod(o, NULL);
}

/* number_text() with the spare room of `out` as scratch; out->len does not move. */
static int number_value(const unsigned char *t, size_t len, struct buf *out, double *d,
			struct digits *g)
{
	int rc = buf_reserve(out, NUMBER_SCRATCH(len));

	if (rc)
		return rc;
	number_text(t, len, out->data + out->len, d, g);
	return 0;
}

/* ---- emitting ---------------------------------------------------------- */

/* Make sure `n` more bytes (plus the NUL buf keeps) fit. */
static inline int room(struct buf *b, size_t n)
{
	if (b->cap > b->len && b->cap - b->len > n)
		return 0;
	return buf_reserve(b, n);
}

static inline int put(struct buf *b, const void *p, size_t n)
{
	int rc = room(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static inline int put1(struct buf *b, char c)
{
	int rc = room(b, 1);
	if (rc)
		return rc;
	b->data[b->len++] = c;
	return 0;
}

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
static int emit_escaped(struct buf *out, const unsigned char *s, size_t len)
{
	size_t p = 0;
	char *o;
	int rc;

	if (len > (SIZE_MAX - 2) / 6)
		return -ENOMEM;
	rc = room(out, 6 * len + 2);
	if (rc)
		return rc;
	o = out->data + out->len;
	*o++ = '"';
	while (p < len) {
		if (plain[s[p]]) {
			*o++ = (char)s[p++];
			continue;
		}
		o = put_cp(o, next_cp(s, &p));
	}
	*o++ = '"';
	out->len = (size_t)(o - out->data);
	return 0;
}

static int emit_string(struct emitter *e, const struct canon_node *nd)
{
	const unsigned char *s = e->s + nd->pos;
	int rc;

	if (nd->flags)
		return emit_escaped(e->out, s, nd->len);
	rc = room(e->out, (size_t)nd->len + 2);
	if (rc)
		return rc;
	char *o = e->out->data + e->out->len;
	o[0] = '"';
	memcpy(o + 1, s, nd->len);
	o[nd->len + 1] = '"';
	e->out->len += (size_t)nd->len + 2;
	return 0;
}

/*
 * Any decimal of at most DBL_DIG (15) significant digits survives the trip
 * to a normal double and back, so a shorter one cannot exist (it would
 * survive too, and be this one with trailing zeros). Such text already holds
 * repr's digits and only needs laying out: the common case, no printf.
 */
static int emit_float(struct emitter *e, const struct canon_node *nd)
{
	struct digits g;
	double d;
	int rc;

	rc = number_value(e->s + nd->pos, nd->len, e->out, &d, &g);
	if (rc)
		return rc;
	if (g.n >= 1 && g.n <= DBL_DIG && isnormal(d))
		return put_repr(e->out, signbit(d), &g);
	return repr_double(d, g.n, e->out);
}

static int emit_value(struct emitter *e, uint32_t i, unsigned flags);

static int emit_array(struct emitter *e, uint32_t i)
{
	uint32_t end = e->nodes[i].len;
	int rc = put1(e->out, '[');

	for (uint32_t c = i + 1; !rc && c < end;) {
		if (c != i + 1)
			rc = put1(e->out, ',');
		if (!rc)
			rc = emit_value(e, c, 0);
		c = is_container(e->nodes[c].type) ? e->nodes[c].len : c + 1;
	}
	return rc ? rc : put1(e->out, ']');
}

/* Does the key spell `word` (ASCII) once decoded? */
static bool key_is_n(const struct skey *k, const char *word, uint32_t len)
{
	struct skey w = {.p = (const unsigned char *)word, .len = len};

	if (!k->esc)
		return k->len == len && memcmp(k->p, word, len) == 0;
	w.head = key_head(w.p, w.len);
	return key_cmp(k, &w) == 0;
}

/* Inlined, so strlen() of the literal is a constant. */
static inline bool key_is(const struct skey *k, const char *word)
{
	return key_is_n(k, word, (uint32_t)strlen(word));
}

/* Python truthiness of a value, for "headers". */
static int is_falsy(struct emitter *e, const struct canon_node *v, bool *falsy)
{
	struct digits g;
	double d;
	int rc;

	switch (v->type) {
	case N_NULL:
	case N_FALSE:
		*falsy = true;
		return 0;
	case N_INT: /* only "0" and "-0": JSON has no leading zeros */
		*falsy = e->s[v->pos + v->len - 1] == '0' &&
			 (v->len == 1 || (v->len == 2 && e->s[v->pos] == '-'));
		return 0;
	case N_FLOAT: /* 0.0, and anything that underflows to it */
		rc = number_value(e->s + v->pos, v->len, e->out, &d, &g);
		*falsy = d == 0;
		return rc;
	case N_STR:
		*falsy = v->len == 0;
		return 0;
	case N_ARR:
	case N_OBJ:
		*falsy = v->len == (uint32_t)(v - e->nodes) + 1;
		return 0;
	default: /* true, NaN, +-Infinity */
		*falsy = false;
		return 0;
	}
}

/* Python's int() of a numeric "timestamp": truncate toward zero, exactly. */
static int emit_int_of(struct emitter *e, const struct canon_node *v)
{
	struct digits g;
	double d;
	int rc;

	switch (v->type) {
	case N_TRUE:
		return put1(e->out, '1');
	case N_FALSE:
		return put1(e->out, '0');
	case N_NAN:
	case N_INF:
	case N_NINF:
		return fail(e->err, v->pos, "timestamp is not a finite number");
	case N_FLOAT:
		break;
	default:
		return emit_value(e, (uint32_t)(v - e->nodes), 0);
	}
	rc = number_value(e->s + v->pos, v->len, e->out, &d, &g);
	if (rc)
		return rc;
	if (!isfinite(d))
		return fail(e->err, v->pos, "timestamp is not a finite number");
	d = trunc(d);
	if (d == 0)
		return put1(e->out, '0'); /* not "-0" */
	/* glibc and musl print the exact value of an integral double. */
	return buf_printf(e->out, "%.0f", d);
}

/* What the top-level flags do to one member. */
enum action { KEEP, DROP, TO_INT };

static int top_action(struct emitter *e, uint32_t key, unsigned flags, bool archive,
		      enum action *act)
{
	const struct canon_node *v = &e->nodes[key + 1];
	struct skey kv = key_of(e->s, e->nodes, key), *k = &kv;
	bool falsy;
	int rc;

	*act = KEEP;
	if ((flags & CANON_STRIP_CREDENTIALS) &&
	    (key_is(k, "signature") || key_is(k, "certificate")))
		*act = DROP;
	else if (archive && (key_is(k, "source_name") || key_is(k, "source_version")))
		*act = DROP;
	else if (archive && key_is(k, "timestamp"))
		*act = TO_INT;
	else if (archive && key_is(k, "headers")) {
		rc = is_falsy(e, v, &falsy);
		if (rc)
			return rc;
		if (falsy)
			*act = DROP;
	}
	return 0;
}

/* fix_datagrepper_message applies only when both archive fields are there. */
static bool is_archived(const struct emitter *e, uint32_t obj)
{
	uint32_t end = e->nodes[obj].len;
	bool name = false, version = false;

	for (uint32_t c = obj + 1; c < end; c = next_member(e->nodes, c)) {
		struct skey k = key_of(e->s, e->nodes, c);
		name = name || key_is(&k, "source_name");
		version = version || key_is(&k, "source_version");
	}
	return name && version;
}

/* Key node `key` and its value. */
static int emit_member(struct emitter *e, uint32_t key, enum action act, bool first)
{
	int rc = 0;

	if (!first)
		rc = put1(e->out, ',');
	if (!rc)
		rc = emit_string(e, &e->nodes[key]);
	if (!rc)
		rc = put1(e->out, ':');
	if (rc)
		return rc;
	if (act == TO_INT)
		return emit_int_of(e, &e->nodes[key + 1]);
	return emit_value(e, key + 1, 0);
}

/*
 * Members in the order the scan sorted them: the i-th key in document order
 * names, in aux, the i-th key in sorted order.
 */
static int emit_object(struct emitter *e, uint32_t i, unsigned flags)
{
	uint32_t end = e->nodes[i].len;
	bool archive = (flags & CANON_FIX_ARCHIVE) && is_archived(e, i), first = true;
	int rc = put1(e->out, '{');

	for (uint32_t c = i + 1; !rc && c < end; c = next_member(e->nodes, c)) {
		uint32_t key = e->nodes[c].aux;
		enum action act = KEEP;
		if (flags)
			rc = top_action(e, key, flags, archive, &act);
		if (rc || act == DROP)
			continue;
		rc = emit_member(e, key, act, first);
		first = false;
	}
	return rc ? rc : put1(e->out, '}');
}

static int emit_value(struct emitter *e, uint32_t i, unsigned flags)
{
	const struct canon_node *nd = &e->nodes[i];

	switch (nd->type) {
	case N_OBJ: return emit_object(e, i, flags);
	case N_ARR: return emit_array(e, i);
	case N_STR: return emit_string(e, nd);
	case N_FLOAT: return emit_float(e, nd);
	case N_INT:
		/* Python's int has no negative zero. */
		if (nd->len == 2 && e->s[nd->pos] == '-' && e->s[nd->pos + 1] == '0')
			return put1(e->out, '0');
		return put(e->out, e->s + nd->pos, nd->len);
	case N_NULL: return put(e->out, "null", 4);
	case N_TRUE: return put(e->out, "true", 4);
	case N_FALSE: return put(e->out, "false", 5);
	case N_NAN: return put(e->out, "NaN", 3);
	case N_INF: return put(e->out, "Infinity", 8);
	default: return put(e->out, "-Infinity", 9);
	}
}

/* ---- entry points ------------------------------------------------------ */

void canon_doc_init(struct canon_doc *doc)
{
	*doc = (struct canon_doc)CANON_DOC_INIT;
}

void canon_doc_release(struct canon_doc *doc)
{
	if (!doc->borrowed)
		free(doc->nodes);
	canon_doc_init(doc);
}

void canon_doc_reset(struct canon_doc *doc)
{
	doc->in = NULL;
	doc->len = 0;
	doc->n = 0;
	doc->ext = 0;
}

size_t canon_doc_bytes(const struct canon_doc *doc)
{
	return doc->borrowed ? 0 : (size_t)doc->cap * sizeof *doc->nodes;
}

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
		return fail(ps.err, 0, "input too large");
	rc = parse(&ps);
	if (ps.keys != stack_keys)
		free(ps.keys);
	if (rc) {
		if (rc == -ENOMEM)
			fail(ps.err, 0, "out of memory");
		return rc;
	}
	doc->in = in;
	doc->len = len;
	doc->n = ps.n;
	doc->ext = ps.ext;
	return 0;
}

int canon_emit(const struct canon_doc *doc, unsigned flags, struct buf *out,
	       struct canon_error *err)
{
	struct canon_error ignored;
	struct emitter em = {
		.s = (const unsigned char *)doc->in,
		.nodes = doc->nodes,
		.out = out,
		.err = err ? err : &ignored,
	};
	int rc;

	if (flags & ~(unsigned)(CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE))
		return fail(em.err, 0, "unknown canon flags");
	if (!doc->n)
		return fail(em.err, 0, "no parsed document");
	rc = emit_value(&em, CANON_ROOT, flags);
	if (rc == -ENOMEM)
		fail(em.err, 0, "out of memory");
	if (out->data)
		out->data[out->len] = '\0';
	return rc;
}

int canon_json(const char *in, size_t len, unsigned flags, struct buf *out,
	       struct canon_error *err)
{
	struct canon_node stack_nodes[NODES_ON_STACK];
	struct canon_doc doc = {.nodes = stack_nodes, .cap = NODES_ON_STACK, .borrowed = true};
	struct canon_error ignored;
	int rc;

	if (!err)
		err = &ignored;
	if (flags & ~(unsigned)(CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE))
		return fail(err, 0, "unknown canon flags");
	rc = canon_parse(&doc, in, len, err);
	if (!rc)
		rc = canon_emit(&doc, flags, out, err);
	else if (out->data)
		out->data[out->len] = '\0';
	canon_doc_release(&doc);
	return rc;
}

/* ---- accessors --------------------------------------------------------- */

enum canon_type canon_type(const struct canon_doc *doc, uint32_t val)
{
	assert(val < doc->n);
	return (enum canon_type)doc->nodes[val].type;
}

/* One code point as UTF-8. */
static char *put_utf8(char *o, uint32_t cp)
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

/* Does key node `c`, which has escapes, spell key[0..keylen) once decoded? */
static bool key_equals_escaped(const struct canon_doc *doc, uint32_t c, const char *key,
			       size_t keylen)
{
	const struct canon_node *k = &doc->nodes[c];
	const unsigned char *s = (const unsigned char *)doc->in + k->pos;
	size_t p = 0, at = 0;

	while (p < k->len) {
		char u8[4];
		size_t n = (size_t)(put_utf8(u8, next_cp(s, &p)) - u8);
		if (keylen - at < n || memcmp(key + at, u8, n) != 0)
			return false;
		at += n;
	}
	return at == keylen;
}

static inline bool key_equals(const struct canon_doc *doc, uint32_t c, const char *key,
			      size_t keylen)
{
	const struct canon_node *k = &doc->nodes[c];

	if (k->flags & S_ESC)
		return key_equals_escaped(doc, c, key, keylen);
	return k->len == keylen && memcmp(doc->in + k->pos, key, keylen) == 0;
}

int canon_find(const struct canon_doc *doc, uint32_t obj, const char *key, size_t keylen,
	       uint32_t *val)
{
	assert(obj < doc->n);
	if (doc->nodes[obj].type != N_OBJ)
		return -EINVAL;
	for (uint32_t c = obj + 1, end = doc->nodes[obj].len; c < end;
	     c = next_member(doc->nodes, c))
		if (key_equals(doc, c, key, keylen)) {
			*val = c + 1;
			return 0;
		}
	return -ENOENT;
}

int canon_find_all(const struct canon_doc *doc, uint32_t obj, const char *const *keys, size_t n,
		   uint32_t *vals)
{
	size_t lens[32];

	assert(obj < doc->n && n <= sizeof lens / sizeof lens[0]);
	if (doc->nodes[obj].type != N_OBJ)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		lens[i] = strlen(keys[i]);
		vals[i] = 0;
	}
	for (uint32_t c = obj + 1, end = doc->nodes[obj].len; c < end;
	     c = next_member(doc->nodes, c))
		for (size_t i = 0; i < n; i++)
			if (key_equals(doc, c, keys[i], lens[i])) {
				vals[i] = c + 1;
				break;
			}
	return 0;
}

void canon_span(const struct canon_doc *doc, uint32_t val, size_t *off, size_t *len)
{
	const struct canon_node *nd = &doc->nodes[val];

	assert(val < doc->n);
	if (is_container(nd->type)) {
		*off = nd->pos;
		*len = nd->aux - nd->pos;
	} else if (nd->type == N_STR) {
		*off = nd->pos - 1;
		*len = (size_t)nd->len + 2;
	} else {
		*off = nd->pos;
		*len = nd->len;
	}
}

size_t canon_string_max(const struct canon_doc *doc, uint32_t val)
{
	assert(val < doc->n);
	/* Decoding never grows a string: an escape is longer than its UTF-8. */
	return (size_t)doc->nodes[val].len + 1;
}

int canon_string(const struct canon_doc *doc, uint32_t val, char *dst, size_t cap, size_t *len,
		 bool *nul)
{
	const struct canon_node *nd = &doc->nodes[val];
	const unsigned char *s = (const unsigned char *)doc->in + nd->pos;
	char *o = dst;

	assert(val < doc->n);
	if (nd->type != N_STR)
		return -EINVAL;
	if (cap < (size_t)nd->len + 1)
		return -ENOBUFS;
	if (!(nd->flags & S_ESC)) {
		memcpy(dst, s, nd->len);
		o += nd->len;
	} else {
		for (size_t p = 0; p < nd->len;)
			if (s[p] == '\\')
				o = put_utf8(o, decode_escape(s, &p));
			else
				*o++ = (char)s[p++];
	}
	*o = '\0';
	*len = (size_t)(o - dst);
	if (nul)
		*nul = (nd->flags & S_NUL) != 0;
	return 0;
}

int canon_int64(const struct canon_doc *doc, uint32_t val, int64_t *out)
{
	const struct canon_node *nd = &doc->nodes[val];
	const unsigned char *t = (const unsigned char *)doc->in + nd->pos;
	bool neg = t[0] == '-';
	uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

	assert(val < doc->n);
	if (nd->type != N_INT)
		return -EINVAL;
	for (size_t i = neg; i < nd->len; i++) {
		unsigned d = t[i] - '0';
		if (v > (limit - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	/* -v without overflow, even for INT64_MIN. */
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* The double of number node `nd`; its scratch is on the stack unless it is long. */
static int node_double(const struct canon_doc *doc, const struct canon_node *nd, double *d)
{
	char small[128], *o = small;
	struct digits g;

	if (NUMBER_SCRATCH((size_t)nd->len) > sizeof small &&
	    !(o = malloc(NUMBER_SCRATCH((size_t)nd->len))))
		return -ENOMEM;
	number_text((const unsigned char *)doc->in + nd->pos, nd->len, o, d, &g);
	if (o != small)
		free(o);
	return 0;
}

int canon_number(const struct canon_doc *doc, uint32_t val, double *out)
{
	const struct canon_node *nd = &doc->nodes[val];

	assert(val < doc->n);
	switch (nd->type) {
	case N_INT:
	case N_FLOAT: return node_double(doc, nd, out);
	case N_NAN: *out = NAN; return 0;
	case N_INF: *out = INFINITY; return 0;
	case N_NINF: *out = -INFINITY; return 0;
	default: return -EINVAL;
	}
}

unsigned canon_extensions(const struct canon_doc *doc)
{
	unsigned ext = doc->ext & ~EXT_MAYBE_RANGE;

	/* Only numbers with an exponent or 309+ digits can overflow, and
	 * they are rare: look at those alone, and only when there are some. */
	for (uint32_t i = 0; (doc->ext & EXT_MAYBE_RANGE) && i < doc->n; i++) {
		const struct canon_node *nd = &doc->nodes[i];
		double d = 0;
		if ((nd->type == N_INT || nd->type == N_FLOAT) && (nd->flags & F_BIG) &&
		    node_double(doc, nd, &d) == 0 && isinf(d)) {
			ext |= CANON_EXT_RANGE;
			break;
		}
	}
	return ext;
}
