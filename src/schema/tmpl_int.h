/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmpl_int: what the parts of tmpl share (tmpl_compile.c builds the compiled
 * forms below, tmpl.c and tmpl_xf.c evaluate them). Nobody else includes
 * this; everything else goes through tmpl.h.
 *
 * Compiled forms live in the compiler's arena and are immutable afterwards;
 * evaluation allocates only from the context's arena (tmpl.h), so these
 * helpers are as thread-safe as the context they are given.
 */
#ifndef HERALD_TMPL_INT_H
#define HERALD_TMPL_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "tmpl.h"

/* ---- compiled forms ---- */

enum seg_kind { SEG_KEY, SEG_INDEX, SEG_ALL, SEG_WHERE, SEG_VAR_KEY };

struct seg {
	enum seg_kind kind;
	const char *key;
	long index;        /* negative counts from the end */
	const char *value; /* SEG_WHERE: elements whose `key` reads as this */
	size_t value_len;
	bool negate;       /* SEG_WHERE with != */
	size_t var;        /* SEG_VAR_KEY: the key is this variable's text */
};

enum src_kind { SRC_MSG, SRC_HEADERS, SRC_TOPIC, SRC_LIT, SRC_VAR };

enum xf_op {
	XF_LOWER, XF_UPPER, XF_NVR, XF_USER, XF_STRIP_PREFIX, XF_STRIP_SUFFIX,
	XF_PREPEND, XF_APPEND, XF_BEFORE, XF_AFTER, XF_BASENAME, XF_SPLIT,
	XF_MENTIONS, XF_MAP, XF_KEEP, XF_DROP, XF_KEYS, XF_FIRSTLINE, XF_STRIP_ENV,
	XF_TRUNCATE, XF_HEAD, XF_REPLACE, XF_SAME, XF_DIFFER,
	/* list transforms: see the whole list at once */
	XF_FIRST, XF_LAST, XF_NTH, XF_COUNT, XF_JOIN, XF_UNIQUE, XF_SORT,
};

struct map_ent {
	const char *from, *to;
	size_t from_len, to_len;
};

struct xform {
	enum xf_op op;
	const char *arg; /* NUL-terminated, or NULL */
	size_t arg_len;
	long n;          /* ARG_INT; ARG_VAR: the variable's index in scope */
	const struct map_ent *map;
	size_t n_map;
	const struct map_ent *map_default; /* the "*=..." entry, or NULL */
};

struct alt {
	enum src_kind src;
	const struct seg *segs;
	size_t n_segs;
	const char *lit; /* SRC_LIT */
	size_t lit_len;
	size_t var;      /* SRC_VAR: index into the context's vars */
	const struct xform *xf;
	size_t n_xf;
};

struct tmpl_expr {
	const struct alt *alts;
	size_t n_alts;
};

enum piece_kind { PIECE_TEXT, PIECE_VALUE, PIECE_IF, PIECE_UNLESS };

struct piece {
	enum piece_kind kind;
	const char *text;
	size_t len;
	const struct tmpl_expr *e;
};

struct tmpl {
	const struct piece *pieces;
	size_t n;
	const char *literal; /* the whole text when there is no placeholder */
	const struct tmpl_expr *single; /* the expression when the text is one {expr} */
};

/* ---- shared helpers ---- */

/* A character of a path key or an @mention: letters, digits, '_', '-' (tmpl_compile.c). */
bool tmpl_is_key_char(char ch);

/* Append x to v, growing it in the context's arena. 0 or -ENOMEM (tmpl.c). */
int tmpl_push(const struct tmpl_ctx *c, struct tmpl_vals *v, struct tmpl_val x);
/* Push a copy of n bytes of s (NUL-terminated in the arena). 0 or -ENOMEM. */
int tmpl_push_copy(const struct tmpl_ctx *c, struct tmpl_vals *v, const char *s, size_t n);
/* Push a number's text; `zero` makes it false. 0 or -ENOMEM. */
int tmpl_push_number(const struct tmpl_ctx *c, struct tmpl_vals *v, const char *num, bool zero);

/* The text of variable `var`'s first string value, or NULL (none, or out of
 * memory): what `same:$var` / `differ:$var` compare with (tmpl.c). */
const char *tmpl_var_text(const struct tmpl_ctx *c, size_t var, size_t *len);

/* Apply transform f to the values `in`, appending to `out`. 0 or -ENOMEM (tmpl_xf.c). */
int tmpl_apply(const struct xform *f, const struct tmpl_ctx *c, const struct tmpl_vals *in,
	       struct tmpl_vals *out);

#endif
