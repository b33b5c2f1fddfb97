/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmpl_compile: the compiler of the schema rules' expressions and templates
 * (see tmpl.h; the language is documented in doc/herald-schema.5).
 * Compiling does all the parsing and checking (paths, sources, transforms
 * and their arguments, variables in scope), with errors that name the
 * column, so evaluating a rule walks prepared structures only.
 *
 * Not for evaluating (tmpl.c, tmpl_xf.c) nor for rule files or topic
 * matching (schema.c).
 */
#include "tmpl.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

/* The transforms by name, and what argument each takes. */

enum arg_kind { ARG_NONE, ARG_OPTIONAL, ARG_STRING, ARG_INT, ARG_MAP, ARG_PAIR, ARG_VAR };

static const struct xf_info {
	const char *name;
	enum xf_op op;
	enum arg_kind arg;
} xf_table[] = {
	{"lower", XF_LOWER, ARG_NONE},
	{"upper", XF_UPPER, ARG_NONE},
	{"nvr", XF_NVR, ARG_NONE},
	{"user", XF_USER, ARG_NONE},
	{"strip_prefix", XF_STRIP_PREFIX, ARG_STRING},
	{"strip_suffix", XF_STRIP_SUFFIX, ARG_STRING},
	{"prepend", XF_PREPEND, ARG_STRING},
	{"append", XF_APPEND, ARG_STRING},
	{"before", XF_BEFORE, ARG_STRING},
	{"after", XF_AFTER, ARG_STRING},
	{"basename", XF_BASENAME, ARG_NONE},
	{"split", XF_SPLIT, ARG_OPTIONAL},
	{"mentions", XF_MENTIONS, ARG_NONE},
	{"map", XF_MAP, ARG_MAP},
	{"keep", XF_KEEP, ARG_STRING},
	{"drop", XF_DROP, ARG_STRING},
	{"keys", XF_KEYS, ARG_NONE},
	{"firstline", XF_FIRSTLINE, ARG_NONE},
	{"strip_env", XF_STRIP_ENV, ARG_NONE},
	{"truncate", XF_TRUNCATE, ARG_INT},
	{"head", XF_HEAD, ARG_INT},
	{"replace", XF_REPLACE, ARG_PAIR},
	{"same", XF_SAME, ARG_VAR},
	{"differ", XF_DIFFER, ARG_VAR},
	{"first", XF_FIRST, ARG_NONE},
	{"last", XF_LAST, ARG_NONE},
	{"nth", XF_NTH, ARG_INT},
	{"count", XF_COUNT, ARG_NONE},
	{"join", XF_JOIN, ARG_STRING},
	{"unique", XF_UNIQUE, ARG_NONE},
	{"sort", XF_SORT, ARG_NONE},
};

struct cc {
	const char *src, *p;
	const struct tmpl_scope *scope;
	struct tmpl_arena *a;
	bool in_template; /* a placeholder ends at '}' */
	char *err;
	size_t errlen;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static int fail(struct cc *c, const char *fmt, ...)
{
	if (c->failed)
		return -EINVAL;
	c->failed = true;
	int n = snprintf(c->err, c->errlen, "column %zu: ", (size_t)(c->p - c->src) + 1);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int nomem(struct cc *c)
{
	snprintf(c->err, c->errlen, "out of memory");
	c->failed = true;
	return -ENOMEM;
}

static void skip_ws(struct cc *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

static bool is_ident(char ch, bool first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_')
		return true;
	return !first && ch >= '0' && ch <= '9';
}

bool tmpl_is_key_char(char ch)
{
	return is_ident(ch, false) || ch == '-';
}

/*
 * Make room for element n of a growable array in the arena (compile time
 * only: growing copies). The capacity is 4, then doubles at every power of
 * two from 4 on, so it is implied by n and needs no field of its own.
 */
static void *grow(struct cc *c, void *old, size_t n, size_t size)
{
	if (n && (n < 4 || (n & (n - 1))))
		return old;
	if (n > SIZE_MAX / 2 / size)
		return NULL;
	size_t cap = n ? n * 2 : 4;
	void *p = tmpl_arena_alloc(c->a, cap * size);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, old, n * size);
	return p;
}

static int find_var(struct cc *c, const char *name, size_t len, size_t *idx);

/* "..." with \" \\ \n \r \t escapes; c->p is at the opening quote. */
static int parse_quoted(struct cc *c, const char **out, size_t *len)
{
	const char *start = ++c->p;
	struct buf b = BUF_INIT;
	int rc = 0;
	for (; *c->p && *c->p != '"'; c->p++) {
		char ch = *c->p;
		if (ch == '\\') {
			char e = *++c->p;
			ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
			if (!e || !strchr("\"\\ntr", e)) {
				rc = fail(c, "unknown escape '\\%c' in a quoted string",
					  e ? e : ' ');
				goto out;
			}
		}
		if (buf_putc(&b, ch)) {
			rc = nomem(c);
			goto out;
		}
	}
	if (*c->p != '"') {
		c->p = start - 1;
		rc = fail(c, "unterminated quoted string");
		goto out;
	}
	c->p++;
	*len = b.len;
	*out = tmpl_arena_strndup(c->a, b.data ? b.data : "", b.len);
	if (!*out)
		rc = nomem(c);
out:
	buf_release(&b);
	return rc;
}

static int parse_index(struct cc *c, struct seg *s)
{
	char *end;
	errno = 0;
	long v = strtol(c->p, &end, 10);
	if (end == c->p || errno || v > INT_MAX || v < -INT_MAX)
		return fail(c, "expected a number, '*' or a quoted key inside [ ]");
	c->p = end;
	s->kind = SEG_INDEX;
	s->index = v;
	return 0;
}

/* [key=value] / [key!=value]: the elements of an array whose field `key`
 * reads (or does not read) as value. */
static int parse_where(struct cc *c, struct seg *s)
{
	const char *start = c->p;
	while (tmpl_is_key_char(*c->p))
		c->p++;
	const char *end = c->p;
	s->negate = c->p[0] == '!' && c->p[1] == '=';
	if (c->p == start || (*c->p != '=' && !s->negate))
		return fail(c, "expected a number, '*', a quoted key, key=value or "
			       "key!=value inside [ ]");
	s->kind = SEG_WHERE;
	if (!(s->key = tmpl_arena_strndup(c->a, start, (size_t)(end - start))))
		return nomem(c);
	c->p += s->negate ? 2 : 1;
	const char *v = c->p;
	if (*v == '"')
		return parse_quoted(c, &s->value, &s->value_len);
	while (*c->p && *c->p != ']')
		c->p++;
	s->value_len = (size_t)(c->p - v);
	s->value = tmpl_arena_strndup(c->a, v, s->value_len);
	return s->value ? 0 : nomem(c);
}

static int parse_bracket(struct cc *c, struct seg *s)
{
	c->p++; /* '[' */
	int rc = 0;
	if (*c->p == '*') {
		c->p++;
		s->kind = SEG_ALL;
	} else if (is_ident(*c->p, true)) {
		rc = parse_where(c, s);
	} else if (*c->p == '$') {
		const char *name = ++c->p;
		while (is_ident(*c->p, c->p == name))
			c->p++;
		s->kind = SEG_VAR_KEY;
		rc = c->p > name ? find_var(c, name, (size_t)(c->p - name), &s->var)
				 : fail(c, "expected a name after '$'");
	} else if (*c->p == '"') {
		size_t len;
		s->kind = SEG_KEY;
		rc = parse_quoted(c, &s->key, &len);
	} else {
		rc = parse_index(c, s);
	}
	if (rc)
		return rc;
	if (*c->p != ']')
		return fail(c, "expected ']'");
	c->p++;
	return 0;
}

static int parse_segment(struct cc *c, struct seg *s)
{
	if (*c->p == '[')
		return parse_bracket(c, s);
	const char *start = ++c->p; /* '.' */
	while (tmpl_is_key_char(*c->p))
		c->p++;
	if (c->p == start)
		return fail(c, "expected a key after '.' (use [\"...\"] for unusual keys)");
	s->kind = SEG_KEY;
	s->key = tmpl_arena_strndup(c->a, start, (size_t)(c->p - start));
	return s->key ? 0 : nomem(c);
}

static int parse_path(struct cc *c, struct alt *alt)
{
	struct seg *segs = NULL;
	size_t n = 0;
	while (*c->p == '.' || *c->p == '[') {
		if (n >= 64)
			return fail(c, "path too deep (at most 64 steps)");
		if (!(segs = grow(c, segs, n, sizeof *segs)))
			return nomem(c);
		int rc = parse_segment(c, &segs[n]);
		if (rc)
			return rc;
		n++;
	}
	alt->segs = segs;
	alt->n_segs = n;
	return 0;
}

static int find_var(struct cc *c, const char *name, size_t len, size_t *idx)
{
	const struct tmpl_scope *s = c->scope;
	/* From the end: a rule's variable shadows the file's of the same name. */
	for (size_t i = s ? s->n_vars : 0; i-- > 0;) {
		const char *v = s->vars[i]->name;
		if (strlen(v) == len && !memcmp(v, name, len)) {
			*idx = i;
			return 0;
		}
	}
	return fail(c, "unknown variable '$%.*s' (variables must be declared before use)",
		    (int)len, name);
}

static int parse_source(struct cc *c, struct alt *alt)
{
	if (*c->p == '"') {
		alt->src = SRC_LIT;
		return parse_quoted(c, &alt->lit, &alt->lit_len);
	}
	bool var = *c->p == '$';
	const char *start = c->p + var;
	const char *p = start;
	while (is_ident(*p, p == start))
		p++;
	size_t len = (size_t)(p - start);
	if (var) {
		c->p = p;
		alt->src = SRC_VAR;
		if (!len)
			return fail(c, "expected a name after '$'");
		int rc = find_var(c, start, len, &alt->var);
		return rc ? rc : parse_path(c, alt);
	}
	if ((len == 3 && !memcmp(start, "msg", 3)) || (len == 7 && !memcmp(start, "headers", 7))) {
		c->p = p;
		alt->src = len == 3 ? SRC_MSG : SRC_HEADERS;
		return parse_path(c, alt);
	}
	if (len == 5 && !memcmp(start, "topic", 5)) {
		c->p = p;
		alt->src = SRC_TOPIC;
		if (*c->p == '.' || *c->p == '[')
			return fail(c, "the topic is a string: it has no fields (try a transform)");
		return 0;
	}
	return fail(c, "expected msg..., headers..., topic, $variable or a \"quoted string\"");
}

static const struct xf_info *find_xf(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof xf_table / sizeof xf_table[0]; i++)
		if (strlen(xf_table[i].name) == len && !memcmp(xf_table[i].name, name, len))
			return &xf_table[i];
	return NULL;
}

/* A bare argument runs to the next '|' (or '}' inside a template). */
static int parse_arg_text(struct cc *c, const char **out, size_t *len)
{
	if (*c->p == '"')
		return parse_quoted(c, out, len);
	const char *start = c->p;
	while (*c->p && *c->p != '|' && !(c->in_template && *c->p == '}'))
		c->p++;
	const char *end = c->p;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == start)
		return fail(c, "missing argument after ':'");
	*len = (size_t)(end - start);
	*out = tmpl_arena_strndup(c->a, start, *len);
	return *out ? 0 : nomem(c);
}

/* "k=v,k=v,*=v": split on unescaped ',' and the first unescaped '='. */
static int parse_map_entry(struct cc *c, const char *s, size_t n, struct map_ent *e)
{
	struct buf from = BUF_INIT, to = BUF_INIT, *cur = &from;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (s[i] == '\\' && i + 1 < n)
			rc = buf_putc(cur, s[++i]);
		else if (s[i] == '=' && cur == &from)
			cur = &to;
		else
			rc = buf_putc(cur, s[i]);
	}
	if (rc) {
		rc = nomem(c);
	} else if (cur != &to) {
		rc = fail(c, "map entry '%.*s' has no '=' (expected key=value)", (int)n, s);
	} else {
		e->from_len = from.len;
		e->to_len = to.len;
		e->from = tmpl_arena_strndup(c->a, from.data ? from.data : "", from.len);
		e->to = tmpl_arena_strndup(c->a, to.data ? to.data : "", to.len);
		if (!e->from || !e->to)
			rc = nomem(c);
	}
	buf_release(&from);
	buf_release(&to);
	return rc;
}

static int parse_map(struct cc *c, struct xform *x)
{
	struct map_ent *ents = NULL;
	size_t n = 0;
	const char *s = x->arg, *end = x->arg + x->arg_len;
	while (s < end) {
		const char *e = s;
		while (e < end && *e != ',') {
			if (*e == '\\' && e + 1 < end)
				e++;
			e++;
		}
		if (!(ents = grow(c, ents, n, sizeof *ents)))
			return nomem(c);
		int rc = parse_map_entry(c, s, (size_t)(e - s), &ents[n]);
		if (rc)
			return rc;
		if (ents[n].from_len == 1 && ents[n].from[0] == '*')
			x->map_default = &ents[n];
		else
			n++;
		s = e + 1;
	}
	x->map = ents;
	x->n_map = n;
	return 0;
}

static int parse_xf_arg(struct cc *c, const struct xf_info *info, struct xform *x)
{
	if (*c->p != ':') {
		if (info->arg == ARG_NONE || info->arg == ARG_OPTIONAL)
			return 0;
		return fail(c, "transform '%s' needs an argument ('%s:...')", info->name,
			    info->name);
	}
	if (info->arg == ARG_NONE)
		return fail(c, "transform '%s' takes no argument", info->name);
	c->p++;
	if (info->arg == ARG_VAR) {
		/* same:$name / differ:$name: compare with a variable in scope. */
		const char *name = c->p + 1;
		size_t idx;
		if (*c->p != '$')
			return fail(c, "transform '%s' needs a variable ('%s:$name')", info->name,
				    info->name);
		for (c->p = name; is_ident(*c->p, c->p == name);)
			c->p++;
		if (c->p == name)
			return fail(c, "expected a name after '$'");
		int rc = find_var(c, name, (size_t)(c->p - name), &idx);
		x->n = (long)idx;
		return rc;
	}
	int rc = parse_arg_text(c, &x->arg, &x->arg_len);
	if (rc)
		return rc;
	if (info->arg == ARG_MAP)
		return parse_map(c, x);
	if (info->arg == ARG_PAIR) {
		struct map_ent *e = tmpl_arena_alloc(c->a, sizeof *e);
		if (!e)
			return nomem(c);
		if ((rc = parse_map_entry(c, x->arg, x->arg_len, e)))
			return rc;
		if (!e->from_len)
			return fail(c, "transform '%s' needs text to replace before '='",
				    info->name);
		x->map = e;
		x->n_map = 1;
	}
	if (info->arg == ARG_INT) {
		char *end;
		errno = 0;
		x->n = strtol(x->arg, &end, 10);
		if (*end || errno || x->n > INT_MAX || x->n < -INT_MAX ||
		    (info->op != XF_NTH && x->n < 1))
			return fail(c, "transform '%s' needs a%s number, not '%s'", info->name,
				    info->op != XF_NTH ? " positive" : "", x->arg);
	}
	return 0;
}

static int parse_xform(struct cc *c, struct xform *x)
{
	const char *start = c->p;
	while (is_ident(*c->p, c->p == start))
		c->p++;
	size_t len = (size_t)(c->p - start);
	if (!len)
		return fail(c, "expected a transform name after '|'");
	const struct xf_info *info = find_xf(start, len);
	if (!info) {
		c->p = start;
		return fail(c, "unknown transform '%.*s'", (int)len, start);
	}
	memset(x, 0, sizeof *x);
	x->op = info->op;
	return parse_xf_arg(c, info, x);
}

static bool at_pipe(struct cc *c)
{
	return c->p[0] == '|' && c->p[1] != '|';
}

static int parse_alt(struct cc *c, struct alt *alt)
{
	memset(alt, 0, sizeof *alt);
	skip_ws(c);
	int rc = parse_source(c, alt);
	struct xform *xf = NULL;
	size_t n = 0;
	for (skip_ws(c); !rc && at_pipe(c); skip_ws(c)) {
		c->p++;
		skip_ws(c);
		if (!(xf = grow(c, xf, n, sizeof *xf)))
			return nomem(c);
		rc = parse_xform(c, &xf[n++]);
	}
	alt->xf = xf;
	alt->n_xf = n;
	return rc;
}

static int parse_expr(struct cc *c, const struct tmpl_expr **out)
{
	struct alt *alts = NULL;
	size_t n = 0;
	for (;;) {
		if (!(alts = grow(c, alts, n, sizeof *alts)))
			return nomem(c);
		int rc = parse_alt(c, &alts[n++]);
		if (rc)
			return rc;
		if (c->p[0] != '|' || c->p[1] != '|')
			break;
		c->p += 2;
	}
	struct tmpl_expr *e = tmpl_arena_alloc(c->a, sizeof *e);
	if (!e)
		return nomem(c);
	e->alts = alts;
	e->n_alts = n;
	*out = e;
	return 0;
}

int tmpl_expr_compile(const char *src, const struct tmpl_scope *scope, struct tmpl_arena *a,
		      struct tmpl_expr **out, char *err, size_t errlen)
{
	struct cc c = {.src = src, .p = src, .scope = scope, .a = a, .err = err, .errlen = errlen};
	const struct tmpl_expr *e;
	int rc = parse_expr(&c, &e);
	if (!rc && *c.p)
		rc = fail(&c, "unexpected '%c'", *c.p);
	if (!rc)
		*out = (struct tmpl_expr *)e;
	return rc;
}

static int add_piece(struct cc *c, struct piece **pieces, size_t *n, struct piece p)
{
	if (!(*pieces = grow(c, *pieces, *n, sizeof **pieces)))
		return nomem(c);
	(*pieces)[(*n)++] = p;
	return 0;
}

/* Literal text up to the next unescaped '{'; "{{" and "}}" are braces. */
static int parse_text(struct cc *c, struct piece **pieces, size_t *n)
{
	struct buf b = BUF_INIT;
	int rc = 0;
	while (*c->p && !rc) {
		if (c->p[0] == '{' && c->p[1] != '{')
			break;
		if (c->p[0] == '}' && c->p[1] != '}') {
			rc = fail(c, "unmatched '}' (write '}}' for a brace)");
			break;
		}
		if (c->p[0] == '{' || c->p[0] == '}')
			c->p++;
		rc = buf_putc(&b, *c->p++) ? nomem(c) : 0;
	}
	if (!rc && b.len) {
		const char *t = tmpl_arena_strndup(c->a, b.data, b.len);
		rc = t ? add_piece(c, pieces, n, (struct piece){PIECE_TEXT, t, b.len, NULL})
		       : nomem(c);
	}
	buf_release(&b);
	return rc;
}

static int parse_placeholder(struct cc *c, struct piece **pieces, size_t *n)
{
	const char *open = c->p++;
	struct piece p = {.kind = PIECE_VALUE};
	skip_ws(c);
	if (*c->p == '?' || *c->p == '!') {
		p.kind = *c->p == '?' ? PIECE_IF : PIECE_UNLESS;
		c->p++;
	}
	int rc = parse_expr(c, &p.e);
	if (rc)
		return rc;
	if (!*c->p) {
		c->p = open;
		return fail(c, "placeholder not closed with '}'");
	}
	if (*c->p != '}')
		return fail(c, "unexpected '%c' in a placeholder", *c->p);
	c->p++;
	return add_piece(c, pieces, n, p);
}

int tmpl_compile(const char *src, const struct tmpl_scope *scope, struct tmpl_arena *a,
		 struct tmpl **out, char *err, size_t errlen)
{
	struct cc c = {.src = src, .p = src, .scope = scope, .a = a, .err = err,
		       .errlen = errlen, .in_template = true};
	struct piece *pieces = NULL;
	size_t n = 0;
	int rc = 0;
	while (*c.p && !rc)
		rc = *c.p == '{' && c.p[1] != '{' ? parse_placeholder(&c, &pieces, &n)
						   : parse_text(&c, &pieces, &n);
	if (rc)
		return rc;
	struct tmpl *t = tmpl_arena_alloc(a, sizeof *t);
	if (!t)
		return nomem(&c);
	t->pieces = pieces;
	t->n = n;
	t->literal = n == 0 ? "" : n == 1 && pieces[0].kind == PIECE_TEXT ? pieces[0].text : NULL;
	t->single = n == 1 && pieces[0].kind == PIECE_VALUE ? pieces[0].e : NULL;
	*out = t;
	return 0;
}

const char *tmpl_literal(const struct tmpl *t)
{
	return t->literal;
}
