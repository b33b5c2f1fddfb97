/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmpl: the two small languages inside schema rules, compiled once and then
 * evaluated against messages (doc/herald-schema.5 is the user's reference):
 *
 *   expression   msg.update.builds[*].nvr | nvr || "unknown"
 *   template     {msg.agent} commented on {msg.comment.update.alias}
 *
 * An expression reads values from the message body (`msg...`), its
 * transport headers (`headers...`, fedora-messaging's AMQP headers), the
 * topic (`topic`), a quoted literal or a rule variable (`$name`), and passes
 * them through transforms. A template is text with {expression} slots; it
 * renders only if every slot has a value, so a rule can list
 * alternatives. Not for rule files, topic globs or struct meta: schema.c.
 *
 * Memory: compiled objects live in the tmpl_arena given to the compiler and
 * die with it. Evaluation allocates only from the context's arena, which the
 * caller resets after each message.
 *
 * Threads: compiled objects are immutable, so any number of threads may
 * evaluate them at once, each with its own tmpl_ctx and arena.
 */
#ifndef HERALD_TMPL_H
#define HERALD_TMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "src/common/buf.h"

/*
 * A bump allocator: many small allocations, one release. Chunks are malloc'd
 * except an optional first chunk the caller provides (tmpl_arena_init), so a
 * message described with a stack buffer usually costs no malloc at all.
 */
struct tmpl_chunk;
struct tmpl_arena {
	struct tmpl_chunk *head;
	void *first;       /* caller's buffer, never freed here */
	size_t first_size;
};

#define TMPL_ARENA_INIT {NULL, NULL, 0}

void tmpl_arena_init(struct tmpl_arena *a, void *buf, size_t size);
/* NULL only when out of memory; memory is aligned for any type. */
void *tmpl_arena_alloc(struct tmpl_arena *a, size_t n);
/* A NUL-terminated copy of n bytes, or NULL when out of memory. */
char *tmpl_arena_strndup(struct tmpl_arena *a, const char *s, size_t n);
/* Forget everything allocated; keeps the caller's first chunk for reuse. */
void tmpl_arena_reset(struct tmpl_arena *a);
/* Free every chunk; the arena is empty (but usable) afterwards. */
void tmpl_arena_release(struct tmpl_arena *a);

/* One value during evaluation: a string (s, len) or a JSON object/array (j). */
struct tmpl_val {
	const char *s;      /* NULL for a non-string value */
	size_t len;
	const json_t *j;    /* the JSON value it came from, or NULL */
	bool falsy;         /* false, 0, "" or an empty object: fails `{?...}` */
};

struct tmpl_vals {
	struct tmpl_val *v;
	size_t n, cap;
};

/* A named template list a rule declares in "vars" and uses as `$name`. */
struct tmpl;
struct tmpl_var {
	const char *name;
	const struct tmpl *const *alts; /* first that renders wins */
	size_t n_alts;
};

/* What `$name` can refer to while compiling: the variables declared so far. */
struct tmpl_scope {
	const struct tmpl_var *const *vars;
	size_t n_vars;
};

/* Everything one evaluation reads. */
struct tmpl_ctx {
	const char *topic;
	const json_t *msg;
	const json_t *headers;  /* object, or NULL: `headers...` reads nothing */
	const json_t *identity; /* object: alias or e-mail -> account; or NULL */
	const struct tmpl_var *const *vars; /* the scope the rule was compiled with */
	size_t n_vars;
	struct tmpl_arena *arena;
};

struct tmpl_expr;

/*
 * Compile an expression or a template. `scope` lists the variables `$name`
 * may use (NULL for none). 0, or -EINVAL with `err` saying what is wrong and
 * at which column, or -ENOMEM.
 */
int tmpl_expr_compile(const char *src, const struct tmpl_scope *scope, struct tmpl_arena *a,
		      struct tmpl_expr **out, char *err, size_t errlen);
int tmpl_compile(const char *src, const struct tmpl_scope *scope, struct tmpl_arena *a,
		 struct tmpl **out, char *err, size_t errlen);

/* Whether a compiled template is plain text (no placeholders), and the text. */
const char *tmpl_literal(const struct tmpl *t);

/*
 * Evaluate an expression: appends its values to `out` (allocated in the
 * context's arena). 0 or -ENOMEM.
 */
int tmpl_expr_eval(const struct tmpl_expr *e, const struct tmpl_ctx *c, struct tmpl_vals *out);

/*
 * Render a template into `out` (appended). 1 when it rendered, 0 when a
 * placeholder had no value (out is then restored to its old length), or
 * -ENOMEM.
 */
int tmpl_render(const struct tmpl *t, const struct tmpl_ctx *c, struct buf *out);

/* Render the first of `n` alternatives that renders: 1, 0 (none did) or -ENOMEM. */
int tmpl_render_first(const struct tmpl *const *alts, size_t n, const struct tmpl_ctx *c,
		      struct buf *out);

#endif
