/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * canon: the canonical JSON bytes that fedmsg signs.
 *
 * Canonical means exactly what Python prints with
 * json.dumps(obj, sort_keys=True, separators=(",", ":")) after json.loads:
 * keys sorted by code point, ASCII-only output with lowercase \uXXXX escapes
 * (surrogate pairs above U+FFFF), "/" not escaped, integers copied exactly at
 * any size, floats printed as Python's repr (shortest round-trip digits).
 *
 * It works on the raw text, not on a jansson tree, because jansson cannot hold
 * integers beyond 64 bits nor tell us a float's shortest form; the signature is
 * over bytes, so we must reproduce them exactly.
 *
 * Parse once: canon_parse() validates a document and records it as nodes
 * over the input (nothing copied); canon_emit() prints the canonical bytes
 * from those nodes, and a few accessors read what a caller needs from the
 * same parse (the envelope's fields) without a second parser. It is not a
 * general JSON API: there is no tree to walk or build; read anything
 * elaborate with jansson, from the value's own bytes (canon_span()).
 *
 * Input is strict RFC 8259 JSON plus what Python's json.loads also accepts
 * (NaN, Infinity, -Infinity). Rejected: invalid UTF-8, lone surrogates,
 * duplicate keys (ambiguous to sign), control characters in strings, nesting
 * deeper than CANON_MAX_DEPTH, trailing garbage.
 *
 * Thread-safe: no shared state; the caller owns both buffers. A parsed
 * canon_doc may be read (emitted, accessed) from several threads at once;
 * canon_parse() and canon_doc_release() need it to themselves.
 */
#ifndef HERALD_CANON_H
#define HERALD_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CANON_MAX_DEPTH 128

enum canon_flags {
	/* At top level, drop "signature" and "certificate" (what fedmsg signs). */
	CANON_STRIP_CREDENTIALS = 1u << 0,
	/*
	 * Undo what an archive (datagrepper/datanommer) did to a message, as
	 * fedmsg's fix_datagrepper_message does: only when the top-level object
	 * has both "source_name" and "source_version", drop those two, drop
	 * "headers" when it is empty/null/false, and truncate a numeric
	 * "timestamp" to an integer (Python int()).
	 */
	CANON_FIX_ARCHIVE = 1u << 1,
};

struct canon_error {
	size_t offset;    /* byte offset in the input where the problem is */
	const char *what; /* static text, e.g. "invalid UTF-8 in string" */
};

/*
 * One shot: append the canonical form of `in` (len bytes, need not be
 * NUL-terminated) to `out`. Returns 0, -EINVAL with *err filled (err may be
 * NULL), or -ENOMEM. On error `out` may hold a partial result; the caller
 * resets it. Ordinary messages need no malloc (the nodes live on the stack).
 */
int canon_json(const char *in, size_t len, unsigned flags, struct buf *out,
	       struct canon_error *err);

/* ---- parse once ------------------------------------------------------ */

/* What a value is. */
enum canon_type {
	CANON_NULL,
	CANON_FALSE,
	CANON_TRUE,
	CANON_NAN,       /* the literals Python accepts */
	CANON_INF,
	CANON_NINF,
	CANON_INT,       /* no '.', no exponent; any size */
	CANON_FLOAT,
	CANON_STRING,
	CANON_ARRAY,
	CANON_OBJECT,
};

/*
 * What a document uses beyond the JSON that strict parsers (jansson) read,
 * so a caller that will hand parts of it to jansson can refuse it up front.
 */
enum canon_ext {
	CANON_EXT_NONFINITE = 1u << 0, /* a NaN, Infinity or -Infinity literal */
	CANON_EXT_RANGE = 1u << 1,     /* a number beyond double's range (1e400) */
	CANON_EXT_NUL_KEY = 1u << 2,   /* an object key holding U+0000 */
};

/* A value in a parsed document: its node's index. The root is CANON_ROOT. */
#define CANON_ROOT 0u

struct canon_node; /* private to canon (canon_int.h): 16 bytes per value */

/*
 * One parsed document. The caller owns the struct and the input; the doc
 * owns its node array, which canon_parse() reuses from call to call (it only
 * grows), so a doc kept per thread or per slot parses without malloc in
 * steady state. The nodes point into the input by offset: the input must
 * stay alive and unchanged while the doc is used. Fields are private.
 */
struct canon_doc {
	const char *in;           /* the input of the last successful parse */
	size_t len;
	struct canon_node *nodes; /* node 0 is the root; document order */
	uint32_t n, cap;          /* n = 0: nothing parsed */
	unsigned ext;             /* CANON_EXT_* seen while scanning (see canon.c) */
	bool borrowed;            /* nodes is not ours to free (canon_json's stack) */
};

#define CANON_DOC_INIT {NULL, 0, NULL, 0, 0, 0, false}

/* An empty doc, as CANON_DOC_INIT. */
void canon_doc_init(struct canon_doc *doc);
/* Free the nodes; the doc is CANON_DOC_INIT afterwards. */
void canon_doc_release(struct canon_doc *doc);
/* Forget the document (the input may go away); keep the memory. */
void canon_doc_reset(struct canon_doc *doc);
/* Bytes of memory the doc holds (to decide whether to keep it). */
size_t canon_doc_bytes(const struct canon_doc *doc);

/*
 * Validate `in` (the grammar and refusals above, duplicate keys at any
 * depth included) and record it in `doc`, replacing what it held. Returns
 * 0, -EINVAL with *err filled (err may be NULL), or -ENOMEM. On error the
 * doc holds no document (its memory is kept).
 */
int canon_parse(struct canon_doc *doc, const char *in, size_t len, struct canon_error *err);

/*
 * Append the canonical form of the parsed document to `out`, as
 * canon_json() would (canon_json is canon_parse + canon_emit). 0, -EINVAL
 * (unknown flags, no document, or a flag that cannot apply, e.g. a
 * non-finite archive "timestamp") with *err filled, or -ENOMEM. On error
 * `out` may hold a partial result.
 */
int canon_emit(const struct canon_doc *doc, unsigned flags, struct buf *out,
	       struct canon_error *err);

/* CANON_EXT_* bits the document uses; 0 means jansson reads it as is. */
unsigned canon_extensions(const struct canon_doc *doc);

/*
 * The accessors below take a value of a parsed document (CANON_ROOT, or
 * what canon_find() returned); passing anything else is a programmer error.
 */
enum canon_type canon_type(const struct canon_doc *doc, uint32_t val);

/*
 * Find the member `key` (keylen bytes of UTF-8, compared with the key as
 * decoded, so "\u0074opic" is "topic") of object `obj` (CANON_ROOT for a
 * top-level member). 0 with *val set, -ENOENT when absent, -EINVAL when
 * `obj` is not an object. Linear in the object's member count.
 */
int canon_find(const struct canon_doc *doc, uint32_t obj, const char *key, size_t keylen,
	       uint32_t *val);

/*
 * canon_find for several keys (NUL-terminated UTF-8; at most 32) in one pass
 * over object `obj`: vals[i] gets the value of keys[i], or 0 (the root, never
 * a member) when absent. 0, or -EINVAL when `obj` is not an object.
 */
int canon_find_all(const struct canon_doc *doc, uint32_t obj, const char *const *keys, size_t n,
		   uint32_t *vals);

/* The value's exact bytes in the input (strings with their quotes). */
void canon_span(const struct canon_doc *doc, uint32_t val, size_t *off, size_t *len);

/* A capacity that always holds the decoded string `val` and its NUL. */
size_t canon_string_max(const struct canon_doc *doc, uint32_t val);

/*
 * Decode string `val` into dst (escapes decoded, UTF-8, NUL-terminated):
 * *len gets its length, *nul (may be NULL) whether it holds U+0000 itself,
 * which would cut it short as a C string. 0, -EINVAL if `val` is not a
 * string, -ENOBUFS if cap < canon_string_max().
 */
int canon_string(const struct canon_doc *doc, uint32_t val, char *dst, size_t cap, size_t *len,
		 bool *nul);

/* Integer `val`, exactly. 0, -EINVAL if not a CANON_INT, -ERANGE if it does not fit. */
int canon_int64(const struct canon_doc *doc, uint32_t val, int64_t *out);

/*
 * Number `val` as the nearest double (what Python's float() gives):
 * CANON_INT, CANON_FLOAT and the non-finite literals. 0, -EINVAL if not a
 * number, -ENOMEM.
 */
int canon_number(const struct canon_doc *doc, uint32_t val, double *out);

/* ---- doubles ------------------------------------------------------------ */

/*
 * Append Python's repr() of a finite or infinite double ("1504643075.0",
 * "1e-05", "1e+16", "Infinity", "NaN") to `out`. 0 or -ENOMEM.
 */
int canon_double(double d, struct buf *out);

#endif
