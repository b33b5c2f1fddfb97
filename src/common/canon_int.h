/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * canon_int: what the parts of canon share (canon.c, canon_scan.c,
 * canon_emit.c, canon_str.c, canon_num.c). Nobody else includes this;
 * everything else goes through canon.h.
 *
 * A parsed document is an array of struct canon_node in document order
 * (canon_scan.c writes it, canon_emit.c and the accessors in canon.c read
 * it). String helpers take the body of a string the scan has validated;
 * number helpers take the text of a number node. Nothing here holds state:
 * every function is as thread-safe as its arguments.
 */
#ifndef HERALD_CANON_INT_H
#define HERALD_CANON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "canon.h"

/* Short names for the public types; containers last: see canon_is_container(). */
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

/* Decimal digits of a finite double: value = 0.d[0]d[1]...d[n-1] x 10^decpt. */
struct digits {
	char d[24];
	int n;
	int decpt;
};

/* Scratch that canon_number_text() needs for a number of `len` bytes. */
#define NUMBER_SCRATCH(len) ((len) + 32)

/* Printable ASCII that JSON and Python both leave alone (canon_str.c). */
extern const unsigned char canon_plain[256];

/* Fill *err and return -EINVAL (canon.c). */
int canon_fail(struct canon_error *err, size_t at, const char *what);

static inline bool canon_is_container(uint8_t type)
{
	return type >= N_ARR;
}

static inline bool canon_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Member `c` (a key node) of an object -> the next key, or the object's end. */
static inline uint32_t canon_next_member(const struct canon_node *nodes, uint32_t c)
{
	const struct canon_node *v = &nodes[c + 1];

	return canon_is_container(v->type) ? v->len : c + 2;
}

/* ---- string bodies (canon_str.c) ---- */

/* Four hex digits at s[p..p+3], or -1. */
long canon_hex4(const unsigned char *s, size_t p, size_t end);
/* Decode the (validated) escape at s[*pp]; step over it. */
uint32_t canon_decode_escape(const unsigned char *s, size_t *pp);
/* Next code point of a validated string body, escapes decoded. */
uint32_t canon_next_cp(const unsigned char *s, size_t *pp);
/* One code point as UTF-8 at o; returns the byte after it. */
char *canon_put_utf8(char *o, uint32_t cp);
/* Append a string body with escapes or non-ASCII, quoted, as Python writes it. */
int canon_emit_escaped(struct buf *out, const unsigned char *s, size_t len);

/* ---- object keys (canon_scan.c sorts them, canon_emit.c compares) ---- */

/* A key's first 8 bytes as a big-endian number, zero-padded. */
uint64_t canon_key_head(const unsigned char *p, uint32_t len);
/* Python's (code point) order of two keys: <0, 0, >0. */
int canon_key_cmp(const struct skey *a, const struct skey *b);
/* Key node `c` of a parsed document over input `s`, ready to compare. */
struct skey canon_key_of(const unsigned char *s, const struct canon_node *nodes, uint32_t c);

/* ---- numbers (canon_num.c) ---- */

/* Python's float_repr_style 'short' layout of the digits. 0 or -ENOMEM. */
int canon_put_repr(struct buf *out, bool neg, const struct digits *g);
/* Python's repr() of d; `hint` is a likely digit count (0: none). 0 or -ENOMEM. */
int canon_repr_double(double d, int hint, struct buf *out);
/*
 * The double a number node's text (t, len) denotes, as Python's float()
 * gives it, using `o` (NUMBER_SCRATCH(len) bytes) as scratch; *g gets its
 * significant digits when there are at most 17 (g->n = 0 otherwise).
 */
void canon_number_text(const unsigned char *t, size_t len, char *o, double *d, struct digits *g);
/* canon_number_text() with the spare room of `out` as scratch. 0 or -ENOMEM. */
int canon_number_value(const unsigned char *t, size_t len, struct buf *out, double *d,
		       struct digits *g);

/* Make sure `n` more bytes (plus the NUL buf keeps) fit. */
static inline int canon_room(struct buf *b, size_t n)
{
	if (b->cap > b->len && b->cap - b->len > n)
		return 0;
	return buf_reserve(b, n);
}

#endif
