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
 * This file: the doc's lifecycle, canon_json() (scan, then emit) and the
 * accessors. The scan and key order are in canon_scan.c, the emitter in
 * canon_emit.c, string bodies (escapes, UTF-8) in canon_str.c, numbers
 * (Python's float repr) in canon_num.c; canon_int.h is what they share.
 *
 * Not for: general JSON reading (use jansson on a value's span), pretty
 * printing, or any extension beyond the three literals Python accepts (NaN,
 * Infinity, -Infinity).
 */
#include "canon.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canon_int.h"

/* canon_json's nodes: ordinary messages fit; bigger ones move to the heap once. */
#define NODES_ON_STACK 512

int canon_fail(struct canon_error *err, size_t at, const char *what)
{
	err->offset = at;
	err->what = what;
	return -EINVAL;
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
		return canon_fail(err, 0, "unknown canon flags");
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

/* Does key node `c`, which has escapes, spell key[0..keylen) once decoded? */
static bool key_equals_escaped(const struct canon_doc *doc, uint32_t c, const char *key,
			       size_t keylen)
{
	const struct canon_node *k = &doc->nodes[c];
	const unsigned char *s = (const unsigned char *)doc->in + k->pos;
	size_t p = 0, at = 0;

	while (p < k->len) {
		char u8[4];
		size_t n = (size_t)(canon_put_utf8(u8, canon_next_cp(s, &p)) - u8);
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
	     c = canon_next_member(doc->nodes, c))
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
	     c = canon_next_member(doc->nodes, c))
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
	if (canon_is_container(nd->type)) {
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
				o = canon_put_utf8(o, canon_decode_escape(s, &p));
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
	canon_number_text((const unsigned char *)doc->in + nd->pos, nd->len, o, d, &g);
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
