/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * canon_emit: canon_emit(), the writer of canon (see canon.h).
 *
 * For: printing the canonical bytes of a parsed document by walking its
 * nodes in the order the scan recorded (keys already sorted), and the
 * top-level flags: dropping the credentials, undoing what an archive did
 * (fedmsg's fix_datagrepper_message).
 *
 * Not for: validating or sorting (canon_scan.c: a parsed document is
 * valid), string escaping (canon_str.c) or number formatting (canon_num.c).
 */
#include "canon.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "canon_int.h"

struct emitter {
	const unsigned char *s;
	const struct canon_node *nodes;
	struct buf *out;
	struct canon_error *err;
};

static inline int put(struct buf *b, const void *p, size_t n)
{
	int rc = canon_room(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static inline int put1(struct buf *b, char c)
{
	int rc = canon_room(b, 1);
	if (rc)
		return rc;
	b->data[b->len++] = c;
	return 0;
}

static int emit_string(struct emitter *e, const struct canon_node *nd)
{
	const unsigned char *s = e->s + nd->pos;
	int rc;

	if (nd->flags)
		return canon_emit_escaped(e->out, s, nd->len);
	rc = canon_room(e->out, (size_t)nd->len + 2);
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

	rc = canon_number_value(e->s + nd->pos, nd->len, e->out, &d, &g);
	if (rc)
		return rc;
	if (g.n >= 1 && g.n <= DBL_DIG && isnormal(d))
		return canon_put_repr(e->out, signbit(d), &g);
	return canon_repr_double(d, g.n, e->out);
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
		c = canon_is_container(e->nodes[c].type) ? e->nodes[c].len : c + 1;
	}
	return rc ? rc : put1(e->out, ']');
}

/* Does the key spell `word` (ASCII) once decoded? */
static bool key_is_n(const struct skey *k, const char *word, uint32_t len)
{
	struct skey w = {.p = (const unsigned char *)word, .len = len};

	if (!k->esc)
		return k->len == len && memcmp(k->p, word, len) == 0;
	w.head = canon_key_head(w.p, w.len);
	return canon_key_cmp(k, &w) == 0;
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
		rc = canon_number_value(e->s + v->pos, v->len, e->out, &d, &g);
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
		return canon_fail(e->err, v->pos, "timestamp is not a finite number");
	case N_FLOAT:
		break;
	default:
		return emit_value(e, (uint32_t)(v - e->nodes), 0);
	}
	rc = canon_number_value(e->s + v->pos, v->len, e->out, &d, &g);
	if (rc)
		return rc;
	if (!isfinite(d))
		return canon_fail(e->err, v->pos, "timestamp is not a finite number");
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
	struct skey kv = canon_key_of(e->s, e->nodes, key), *k = &kv;
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

	for (uint32_t c = obj + 1; c < end; c = canon_next_member(e->nodes, c)) {
		struct skey k = canon_key_of(e->s, e->nodes, c);
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

	for (uint32_t c = i + 1; !rc && c < end; c = canon_next_member(e->nodes, c)) {
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

/* ---- entry point -------------------------------------------------------- */

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
		return canon_fail(em.err, 0, "unknown canon flags");
	if (!doc->n)
		return canon_fail(em.err, 0, "no parsed document");
	rc = emit_value(&em, CANON_ROOT, flags);
	if (rc == -ENOMEM)
		canon_fail(em.err, 0, "out of memory");
	if (out->data)
		out->data[out->len] = '\0';
	return rc;
}
