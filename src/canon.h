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
 * over bytes, so we must reproduce them exactly. It is not a general JSON API:
 * use jansson to read values.
 *
 * Input is strict RFC 8259 JSON plus what Python's json.loads also accepts
 * (NaN, Infinity, -Infinity). Rejected: invalid UTF-8, lone surrogates,
 * duplicate keys (ambiguous to sign), control characters in strings, nesting
 * deeper than CANON_MAX_DEPTH, trailing garbage.
 *
 * Thread-safe: no shared state; the caller owns both buffers.
 */
#ifndef HERALD_CANON_H
#define HERALD_CANON_H

#include <stddef.h>

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
 * Append the canonical form of `in` (len bytes, need not be NUL-terminated)
 * to `out`. Returns 0, -EINVAL with *err filled (err may be NULL), or -ENOMEM.
 * On error `out` may hold a partial result; the caller resets it.
 */
int canon_json(const char *in, size_t len, unsigned flags, struct buf *out,
	       struct canon_error *err);

/*
 * Append Python's repr() of a finite or infinite double ("1504643075.0",
 * "1e-05", "1e+16", "Infinity", "NaN") to `out`. 0 or -ENOMEM.
 */
int canon_double(double d, struct buf *out);

#endif
