/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmpl: the evaluator of the schema rules' expressions and templates (see
 * tmpl.h; the language is documented in doc/herald-schema.5): reading
 * values from the message, the topic, literals and variables, chaining the
 * transforms (tmpl_xf.c), alternatives (`||`) and rendering templates.
 * It walks what tmpl_compile.c prepared; the arena is tmpl_arena.c.
 *
 * Not for parsing (tmpl_compile.c), the transforms themselves (tmpl_xf.c),
 * or rule files and topic matching (schema.c).
 */
#include "tmpl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

int tmpl_push(const struct tmpl_ctx *c, struct tmpl_vals *v, struct tmpl_val x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct tmpl_val *p = tmpl_arena_alloc(c->arena, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		if (v->n)
			memcpy(p, v->v, v->n * sizeof *p);
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

/* Push a string that must be copied (it does not outlive this step). */
int tmpl_push_copy(const struct tmpl_ctx *c, struct tmpl_vals *v, const char *s, size_t n)
{
	char *p = tmpl_arena_strndup(c->arena, s, n);
	if (!p)
		return -ENOMEM;
	return tmpl_push(c, v, (struct tmpl_val){p, n, NULL, n == 0});
}

/* A number's text; zero is false, as in Python. */
int tmpl_push_number(const struct tmpl_ctx *c, struct tmpl_vals *v, const char *num, bool zero)
{
	int rc = tmpl_push_copy(c, v, num, strlen(num));
	if (!rc)
		v->v[v->n - 1].falsy = zero;
	return rc;
}

/* Python's str() for floats, near enough: shortest text that reads back. */
static void format_real(double d, char *out, size_t n)
{
	snprintf(out, n, "%.15g", d);
	if (strtod(out, NULL) != d)
		snprintf(out, n, "%.17g", d);
}

static int push_json(const struct tmpl_ctx *c, struct tmpl_vals *v, const json_t *j)
{
	char num[40];
	switch (json_typeof(j)) {
	case JSON_STRING:
		return tmpl_push(c, v, (struct tmpl_val){json_string_value(j), json_string_length(j), j,
						    json_string_length(j) == 0});
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return tmpl_push_number(c, v, num, json_integer_value(j) == 0);
	case JSON_REAL:
		format_real(json_real_value(j), num, sizeof num);
		return tmpl_push_number(c, v, num, json_real_value(j) == 0);
	case JSON_TRUE:
		return tmpl_push(c, v, (struct tmpl_val){"true", 4, j, false});
	case JSON_FALSE:
		return tmpl_push(c, v, (struct tmpl_val){"false", 5, j, true});
	case JSON_NULL:
		return 0;
	case JSON_OBJECT:
		return tmpl_push(c, v, (struct tmpl_val){NULL, 0, j, json_object_size(j) == 0});
	case JSON_ARRAY:
		return tmpl_push(c, v, (struct tmpl_val){NULL, 0, j, json_array_size(j) == 0});
	}
	return 0;
}

/* Where a path ends: an array gives its elements, anything else itself. */
static int push_terminal(const struct tmpl_ctx *c, struct tmpl_vals *v, const json_t *j)
{
	if (!json_is_array(j))
		return push_json(c, v, j);
	size_t i;
	const json_t *el;
	json_array_foreach(j, i, el) {
		int rc = push_json(c, v, el);
		if (rc)
			return rc;
	}
	return 0;
}

/* Whether object `el` has field s->key reading as s->value (numbers as text). */
static bool field_is(const json_t *el, const struct seg *s)
{
	const json_t *f = json_object_get(el, s->key);
	char num[40];
	const char *text = NULL;
	size_t len = 0;
	if (json_is_string(f)) {
		text = json_string_value(f);
		len = json_string_length(f);
	} else if (json_is_integer(f)) {
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(f));
		text = num;
		len = strlen(num);
	} else if (json_is_boolean(f)) {
		text = json_is_true(f) ? "true" : "false";
		len = strlen(text);
	}
	return text && len == s->value_len && !memcmp(text, s->value, len);
}

static int walk(const struct tmpl_ctx *c, const json_t *j, const struct seg *s, size_t n,
		struct tmpl_vals *v);
static int var_values(const struct tmpl_ctx *c, const struct tmpl_var *var, struct tmpl_vals *v);

/* obj[$name]: look the object up with the variable's first string value. */
static int walk_var_key(const struct tmpl_ctx *c, const json_t *j, const struct seg *s, size_t n,
			struct tmpl_vals *v)
{
	struct tmpl_vals key = {0};
	if (!json_is_object(j) || s->var >= c->n_vars)
		return 0;
	int rc = var_values(c, c->vars[s->var], &key);
	for (size_t i = 0; !rc && i < key.n; i++)
		if (key.v[i].s)
			return walk(c, json_object_get(j, key.v[i].s), s + 1, n - 1, v);
	return rc;
}

static int walk(const struct tmpl_ctx *c, const json_t *j, const struct seg *s, size_t n,
		struct tmpl_vals *v)
{
	if (!j)
		return 0;
	if (!n)
		return push_terminal(c, v, j);
	if (s->kind == SEG_KEY)
		return json_is_object(j) ? walk(c, json_object_get(j, s->key), s + 1, n - 1, v) : 0;
	if (s->kind == SEG_VAR_KEY)
		return walk_var_key(c, j, s, n, v);
	if (s->kind == SEG_INDEX) {
		if (!json_is_array(j))
			return 0;
		long size = (long)json_array_size(j);
		long i = s->index < 0 ? size + s->index : s->index;
		return i >= 0 && i < size ? walk(c, json_array_get(j, (size_t)i), s + 1, n - 1, v)
					  : 0;
	}
	int rc = 0;
	if (json_is_array(j)) {
		size_t i;
		const json_t *el;
		json_array_foreach(j, i, el) {
			if (s->kind == SEG_WHERE && field_is(el, s) == s->negate)
				continue;
			if ((rc = walk(c, el, s + 1, n - 1, v)))
				break;
		}
	} else if (json_is_object(j) && s->kind == SEG_ALL) {
		const char *k;
		const json_t *el;
		json_object_foreach((json_t *)j, k, el) {
			if ((rc = walk(c, el, s + 1, n - 1, v)))
				break;
		}
	}
	return rc;
}

static bool any_truthy(const struct tmpl_vals *v);

/*
 * A variable's values: for an alternative that is exactly one {expression},
 * that expression's values themselves (JSON objects included, so a path can
 * continue into them: $p.name); for any other template, its rendered text.
 * The first alternative that renders, or whose values are true, wins; the
 * last one's values count even when false (as with `||`).
 */
static int var_values(const struct tmpl_ctx *c, const struct tmpl_var *var, struct tmpl_vals *v)
{
	for (size_t i = 0; i < var->n_alts; i++) {
		const struct tmpl *t = var->alts[i];
		int rc;
		if (t->single) {
			struct tmpl_vals tmp = {0};
			if ((rc = tmpl_expr_eval(t->single, c, &tmp)))
				return rc;
			if (any_truthy(&tmp) || i + 1 == var->n_alts) {
				*v = tmp;
				return 0;
			}
			continue;
		}
		struct buf b = BUF_INIT;
		rc = tmpl_render(t, c, &b);
		bool done = rc != 0;
		if (rc > 0)
			rc = tmpl_push_copy(c, v, b.data, b.len);
		buf_release(&b);
		if (done)
			return rc < 0 ? rc : 0;
	}
	return 0;
}

const char *tmpl_var_text(const struct tmpl_ctx *c, size_t var, size_t *len)
{
	struct tmpl_vals vals = {0};
	if (var >= c->n_vars || var_values(c, c->vars[var], &vals))
		return NULL;
	for (size_t i = 0; i < vals.n; i++) {
		if (vals.v[i].s) {
			*len = vals.v[i].len;
			return vals.v[i].s;
		}
	}
	return NULL;
}

static int eval_var(const struct tmpl_ctx *c, const struct alt *a, struct tmpl_vals *v)
{
	if (a->var >= c->n_vars)
		return 0;
	struct tmpl_vals vals = {0};
	int rc = var_values(c, c->vars[a->var], &vals);
	if (rc || !a->n_segs) {
		for (size_t i = 0; !rc && i < vals.n; i++)
			rc = tmpl_push(c, v, vals.v[i]);
		return rc;
	}
	for (size_t i = 0; !rc && i < vals.n; i++)
		rc = walk(c, vals.v[i].j, a->segs, a->n_segs, v);
	return rc;
}

static int eval_source(const struct alt *a, const struct tmpl_ctx *c, struct tmpl_vals *v)
{
	switch (a->src) {
	case SRC_MSG:
		return walk(c, c->msg, a->segs, a->n_segs, v);
	case SRC_HEADERS:
		return walk(c, c->headers, a->segs, a->n_segs, v);
	case SRC_TOPIC:
		return tmpl_push(c, v, (struct tmpl_val){c->topic, strlen(c->topic), NULL, !*c->topic});
	case SRC_LIT:
		return tmpl_push(c, v, (struct tmpl_val){a->lit, a->lit_len, NULL, a->lit_len == 0});
	case SRC_VAR:
		return eval_var(c, a, v);
	}
	return 0;
}

static int eval_alt(const struct alt *a, const struct tmpl_ctx *c, struct tmpl_vals *v)
{
	struct tmpl_vals cur = {0};
	int rc = eval_source(a, c, &cur);
	for (size_t i = 0; !rc && i < a->n_xf; i++) {
		struct tmpl_vals next = {0};
		rc = tmpl_apply(&a->xf[i], c, &cur, &next);
		cur = next;
	}
	*v = cur;
	return rc;
}

static bool any_truthy(const struct tmpl_vals *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (!v->v[i].falsy)
			return true;
	return false;
}

int tmpl_expr_eval(const struct tmpl_expr *e, const struct tmpl_ctx *c, struct tmpl_vals *out)
{
	/* Like Python's `a or b`: the first alternative with a true value,
	 * else whatever the last one gave. */
	for (size_t i = 0; i < e->n_alts; i++) {
		struct tmpl_vals v;
		int rc = eval_alt(&e->alts[i], c, &v);
		if (rc)
			return rc;
		if (i + 1 < e->n_alts && !any_truthy(&v))
			continue;
		for (size_t j = 0; j < v.n; j++)
			if (tmpl_push(c, out, v.v[j]))
				return -ENOMEM;
		return 0;
	}
	return 0;
}

/* A placeholder's text: its string values joined with ", ". 1, 0 (none) or <0. */
static int render_value(const struct tmpl_vals *v, struct buf *out)
{
	size_t n = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (!v->v[i].s)
			continue;
		if ((n++ && buf_puts(out, ", ")) || buf_append(out, v->v[i].s, v->v[i].len))
			return -ENOMEM;
	}
	return n > 0;
}

static int render_piece(const struct piece *p, const struct tmpl_ctx *c, struct buf *out)
{
	if (p->kind == PIECE_TEXT)
		return buf_append(out, p->text, p->len) ? -ENOMEM : 1;
	struct tmpl_vals v = {0};
	int rc = tmpl_expr_eval(p->e, c, &v);
	if (rc)
		return rc;
	if (p->kind == PIECE_IF)
		return any_truthy(&v);
	if (p->kind == PIECE_UNLESS)
		return !any_truthy(&v);
	return render_value(&v, out);
}

int tmpl_render(const struct tmpl *t, const struct tmpl_ctx *c, struct buf *out)
{
	size_t old = out->len;
	for (size_t i = 0; i < t->n; i++) {
		int rc = render_piece(&t->pieces[i], c, out);
		if (rc <= 0) {
			out->len = old;
			if (out->data)
				out->data[old] = '\0';
			return rc;
		}
	}
	/* An empty result still counts as rendered: make sure data exists. */
	return buf_append(out, "", 0) ? -ENOMEM : 1;
}

int tmpl_render_first(const struct tmpl *const *alts, size_t n, const struct tmpl_ctx *c,
		      struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int rc = tmpl_render(alts[i], c, out);
		if (rc)
			return rc;
	}
	return 0;
}
