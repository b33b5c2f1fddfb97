/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmpl: compiler and evaluator for the schema rules' expressions and
 * templates (see tmpl.h; the language is documented in doc/herald-schema.5).
 * Compiling does all the parsing, so evaluating a rule walks prepared
 * structures only. Not for rule files or topic matching: schema.c.
 */
#include "tmpl.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct tmpl_chunk {
	struct tmpl_chunk *next;
	size_t cap, used;
	bool borrowed; /* the caller's first buffer */
	max_align_t data[];
};

#define CHUNK_MIN 8192

void tmpl_arena_init(struct tmpl_arena *a, void *buf, size_t size)
{
	a->head = NULL;
	a->first = NULL;
	a->first_size = 0;
	if (buf && size > sizeof(struct tmpl_chunk) + 64) {
		a->first = buf;
		a->first_size = size;
	}
	tmpl_arena_reset(a);
}

static struct tmpl_chunk *first_chunk(struct tmpl_arena *a)
{
	struct tmpl_chunk *c = a->first;
	c->next = NULL;
	c->cap = a->first_size - sizeof *c;
	c->used = 0;
	c->borrowed = true;
	return c;
}

void tmpl_arena_reset(struct tmpl_arena *a)
{
	struct tmpl_chunk *c = a->head;
	while (c) {
		struct tmpl_chunk *next = c->next;
		if (!c->borrowed)
			free(c);
		c = next;
	}
	a->head = a->first ? first_chunk(a) : NULL;
}

void tmpl_arena_release(struct tmpl_arena *a)
{
	tmpl_arena_reset(a);
}

void *tmpl_arena_alloc(struct tmpl_arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	if (n > SIZE_MAX / 4)
		return NULL;
	n = (n + align - 1) / align * align;
	struct tmpl_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
		if (c && c->cap * 2 > cap && c->cap < (1u << 20))
			cap = c->cap * 2;
		c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->borrowed = false;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

char *tmpl_arena_strndup(struct tmpl_arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = tmpl_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

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

enum src_kind { SRC_MSG, SRC_TOPIC, SRC_LIT, SRC_VAR };

enum xf_op {
	XF_LOWER, XF_UPPER, XF_NVR, XF_USER, XF_STRIP_PREFIX, XF_STRIP_SUFFIX,
	XF_PREPEND, XF_APPEND, XF_BEFORE, XF_AFTER, XF_BASENAME, XF_SPLIT,
	XF_MENTIONS, XF_MAP, XF_KEEP, XF_DROP, XF_KEYS, XF_FIRSTLINE, XF_STRIP_ENV,
	XF_TRUNCATE, XF_HEAD, XF_REPLACE,
	/* list transforms: see the whole list at once */
	XF_FIRST, XF_LAST, XF_NTH, XF_COUNT, XF_JOIN, XF_UNIQUE, XF_SORT,
};

enum arg_kind { ARG_NONE, ARG_OPTIONAL, ARG_STRING, ARG_INT, ARG_MAP, ARG_PAIR };

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
	{"first", XF_FIRST, ARG_NONE},
	{"last", XF_LAST, ARG_NONE},
	{"nth", XF_NTH, ARG_INT},
	{"count", XF_COUNT, ARG_NONE},
	{"join", XF_JOIN, ARG_STRING},
	{"unique", XF_UNIQUE, ARG_NONE},
	{"sort", XF_SORT, ARG_NONE},
};

struct map_ent {
	const char *from, *to;
	size_t from_len, to_len;
};

struct xform {
	enum xf_op op;
	const char *arg; /* NUL-terminated, or NULL */
	size_t arg_len;
	long n;          /* ARG_INT */
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

/* ---- compiler ---- */

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

static bool is_key_char(char ch)
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
	while (is_key_char(*c->p))
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
	while (is_key_char(*c->p))
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
	if (len == 3 && !memcmp(start, "msg", 3)) {
		c->p = p;
		alt->src = SRC_MSG;
		return parse_path(c, alt);
	}
	if (len == 5 && !memcmp(start, "topic", 5)) {
		c->p = p;
		alt->src = SRC_TOPIC;
		if (*c->p == '.' || *c->p == '[')
			return fail(c, "the topic is a string: it has no fields (try a transform)");
		return 0;
	}
	return fail(c, "expected msg..., topic, $variable or a \"quoted string\"");
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

/* ---- evaluation ---- */

static int push(const struct tmpl_ctx *c, struct tmpl_vals *v, struct tmpl_val x)
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
static int push_copy(const struct tmpl_ctx *c, struct tmpl_vals *v, const char *s, size_t n)
{
	char *p = tmpl_arena_strndup(c->arena, s, n);
	if (!p)
		return -ENOMEM;
	return push(c, v, (struct tmpl_val){p, n, NULL, n == 0});
}

/* A number's text; zero is false, as in Python. */
static int push_number(const struct tmpl_ctx *c, struct tmpl_vals *v, const char *num, bool zero)
{
	int rc = push_copy(c, v, num, strlen(num));
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
		return push(c, v, (struct tmpl_val){json_string_value(j), json_string_length(j), j,
						    json_string_length(j) == 0});
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return push_number(c, v, num, json_integer_value(j) == 0);
	case JSON_REAL:
		format_real(json_real_value(j), num, sizeof num);
		return push_number(c, v, num, json_real_value(j) == 0);
	case JSON_TRUE:
		return push(c, v, (struct tmpl_val){"true", 4, j, false});
	case JSON_FALSE:
		return push(c, v, (struct tmpl_val){"false", 5, j, true});
	case JSON_NULL:
		return 0;
	case JSON_OBJECT:
		return push(c, v, (struct tmpl_val){NULL, 0, j, json_object_size(j) == 0});
	case JSON_ARRAY:
		return push(c, v, (struct tmpl_val){NULL, 0, j, json_array_size(j) == 0});
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
			rc = push_copy(c, v, b.data, b.len);
		buf_release(&b);
		if (done)
			return rc < 0 ? rc : 0;
	}
	return 0;
}

static int eval_var(const struct tmpl_ctx *c, const struct alt *a, struct tmpl_vals *v)
{
	if (a->var >= c->n_vars)
		return 0;
	struct tmpl_vals vals = {0};
	int rc = var_values(c, c->vars[a->var], &vals);
	if (rc || !a->n_segs) {
		for (size_t i = 0; !rc && i < vals.n; i++)
			rc = push(c, v, vals.v[i]);
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
	case SRC_TOPIC:
		return push(c, v, (struct tmpl_val){c->topic, strlen(c->topic), NULL, !*c->topic});
	case SRC_LIT:
		return push(c, v, (struct tmpl_val){a->lit, a->lit_len, NULL, a->lit_len == 0});
	case SRC_VAR:
		return eval_var(c, a, v);
	}
	return 0;
}

/* -- per-value transforms: each reads one string and pushes 0..n -- */

static const char *find_str(const char *s, size_t n, const char *needle, size_t m)
{
	if (!m || m > n)
		return NULL;
	for (size_t i = 0; i + m <= n; i++)
		if (s[i] == needle[0] && !memcmp(s + i, needle, m))
			return s + i;
	return NULL;
}

static int xf_case(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x, bool up)
{
	char *p = tmpl_arena_strndup(c->arena, x.s, x.len);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < x.len; i++) {
		if (up && p[i] >= 'a' && p[i] <= 'z')
			p[i] = (char)(p[i] - 'a' + 'A');
		else if (!up && p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] - 'A' + 'a');
	}
	return push(c, out, (struct tmpl_val){p, x.len, NULL, x.falsy});
}

/* name-version-release: drop the last two dash-separated fields. */
static int xf_nvr(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x)
{
	size_t dashes = 0, cut = x.len;
	for (size_t i = x.len; i-- > 0 && dashes < 2;) {
		if (x.s[i] == '-') {
			dashes++;
			cut = i;
		}
	}
	if (dashes < 2 || cut == 0)
		return push(c, out, x);
	return push_copy(c, out, x.s, cut);
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && !memcmp(s + n - m, suffix, m);
}

/* A FAS OpenID identity, [http(s)://]NAME.id.fedoraproject.org[/], names NAME. */
static const char *openid_name(const char *s, size_t n, size_t *len)
{
	static const char suffix[] = ".id.fedoraproject.org";
	size_t skip = 0;
	if (n > 7 && !memcmp(s, "http://", 7))
		skip = 7;
	else if (n > 8 && !memcmp(s, "https://", 8))
		skip = 8;
	s += skip;
	n -= skip;
	if (n && s[n - 1] == '/')
		n--;
	if (n <= sizeof suffix - 1 || !ends_with(s, n, suffix))
		return NULL;
	*len = n - (sizeof suffix - 1);
	return memchr(s, '/', *len) ? NULL : s;
}

/* Alias or e-mail -> account: the identity map first, then FAS OpenID
 * identities and the @fedoraproject.org convention; other e-mail addresses
 * name no account and are dropped. */
static int xf_user(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x)
{
	/* Every value's text is NUL-terminated (see push_copy), so plain get. */
	const json_t *hit = c->identity ? json_object_get(c->identity, x.s) : NULL;
	if (json_is_string(hit))
		return push(c, out, (struct tmpl_val){json_string_value(hit),
						      json_string_length(hit), NULL, false});
	size_t name_len;
	const char *name = openid_name(x.s, x.len, &name_len);
	if (name)
		return push_copy(c, out, name, name_len);
	const char *at = memchr(x.s, '@', x.len);
	if (!at)
		return push(c, out, x);
	if (ends_with(x.s, x.len, "@fedoraproject.org") && at > x.s)
		return push_copy(c, out, x.s, (size_t)(at - x.s));
	return 0;
}

static int xf_affix(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x,
		    const struct xform *f)
{
	const char *a = f->arg;
	size_t m = f->arg_len;
	switch (f->op) {
	case XF_STRIP_PREFIX:
		if (x.len >= m && !memcmp(x.s, a, m))
			return push_copy(c, out, x.s + m, x.len - m);
		return push(c, out, x);
	case XF_STRIP_SUFFIX:
		if (x.len >= m && !memcmp(x.s + x.len - m, a, m))
			return push_copy(c, out, x.s, x.len - m);
		return push(c, out, x);
	default:
		break;
	}
	if (!x.len)
		return push(c, out, x); /* nothing to decorate: "" stays "" */
	char *p = tmpl_arena_alloc(c->arena, x.len + m + 1);
	if (!p)
		return -ENOMEM;
	bool pre = f->op == XF_PREPEND;
	memcpy(p, pre ? a : x.s, pre ? m : x.len);
	memcpy(p + (pre ? m : x.len), pre ? x.s : a, pre ? x.len : m);
	p[x.len + m] = '\0';
	return push(c, out, (struct tmpl_val){p, x.len + m, NULL, x.len + m == 0});
}

static int xf_cut(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x,
		  const struct xform *f)
{
	if (f->op == XF_BASENAME) {
		size_t i = x.len;
		while (i && x.s[i - 1] != '/')
			i--;
		return i ? push_copy(c, out, x.s + i, x.len - i) : push(c, out, x);
	}
	if (f->op == XF_FIRSTLINE) {
		const char *nl = memchr(x.s, '\n', x.len);
		size_t n = nl ? (size_t)(nl - x.s) : x.len;
		while (n && x.s[n - 1] == '\r')
			n--;
		return n == x.len ? push(c, out, x) : push_copy(c, out, x.s, n);
	}
	const char *hit = find_str(x.s, x.len, f->arg, f->arg_len);
	if (!hit)
		return push(c, out, x);
	if (f->op == XF_BEFORE)
		return push_copy(c, out, x.s, (size_t)(hit - x.s));
	const char *rest = hit + f->arg_len;
	return push_copy(c, out, rest, x.len - (size_t)(rest - x.s));
}

static bool is_default_sep(char ch)
{
	return ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int xf_split(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x,
		    const struct xform *f)
{
	size_t i = 0;
	while (i < x.len) {
		size_t start = i, next;
		if (f->arg) {
			const char *hit = find_str(x.s + i, x.len - i, f->arg, f->arg_len);
			i = hit ? (size_t)(hit - x.s) : x.len;
			next = hit ? i + f->arg_len : x.len;
		} else {
			while (i < x.len && !is_default_sep(x.s[i]))
				i++;
			next = i + (i < x.len);
		}
		if (i > start && push_copy(c, out, x.s + start, i - start))
			return -ENOMEM;
		i = next;
	}
	return 0;
}

/* @name mentions, as in "/cc @codeblock." (not e-mail addresses). */
static int xf_mentions(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x)
{
	for (size_t i = 0; i < x.len; i++) {
		if (x.s[i] != '@' || (i && (is_key_char(x.s[i - 1]) || x.s[i - 1] == '.')))
			continue;
		size_t j = i + 1;
		while (j < x.len && is_key_char(x.s[j]))
			j++;
		if (j > i + 1 && push_copy(c, out, x.s + i + 1, j - i - 1))
			return -ENOMEM;
		i = j - 1;
	}
	return 0;
}

/* Every occurrence of map[0].from becomes map[0].to. */
static int xf_replace(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x,
		      const struct xform *f)
{
	const struct map_ent *e = f->map;
	if (!find_str(x.s, x.len, e->from, e->from_len))
		return push(c, out, x);
	struct buf b = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < x.len && !rc;) {
		const char *hit = find_str(x.s + i, x.len - i, e->from, e->from_len);
		size_t upto = hit ? (size_t)(hit - x.s) : x.len;
		rc = buf_append(&b, x.s + i, upto - i);
		if (!rc && hit)
			rc = buf_append(&b, e->to, e->to_len);
		i = hit ? upto + e->from_len : x.len;
	}
	if (!rc)
		rc = push_copy(c, out, b.data ? b.data : "", b.len);
	buf_release(&b);
	return rc ? -ENOMEM : 0;
}

static int xf_map(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x,
		  const struct xform *f)
{
	for (size_t i = 0; i < f->n_map; i++) {
		const struct map_ent *e = &f->map[i];
		if (e->from_len == x.len && !memcmp(e->from, x.s, x.len))
			return push(c, out, (struct tmpl_val){e->to, e->to_len, NULL,
							      e->to_len == 0});
	}
	const struct map_ent *d = f->map_default;
	return d ? push(c, out, (struct tmpl_val){d->to, d->to_len, NULL, d->to_len == 0}) : 0;
}

/* `*` matches any run of characters, dots included (like topic globs). */
static bool glob_match(const char *p, const char *s, const char *end)
{
	const char *star = NULL, *resume = NULL;
	while (s < end) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p && *p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

/* <org>.<domain>.<env>. as in org.fedoraproject.prod. or io.pagure.stg. */
static size_t env_prefix_len(const char *s, size_t n)
{
	static const char *const envs[] = {"prod", "stg", "stage", "dev", "test", "local"};
	const char *d1 = memchr(s, '.', n);
	const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - s)) : NULL;
	const char *d3 = d2 ? memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - s)) : NULL;
	if (!d3)
		return 0;
	size_t len = (size_t)(d3 - d2 - 1);
	for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
		if (strlen(envs[i]) == len && !memcmp(envs[i], d2 + 1, len))
			return (size_t)(d3 + 1 - s);
	return 0;
}

/* Cut to n characters (not bytes: UTF-8 sequences stay whole), and for
 * truncate (not head) mark the cut with "...". */
static int xf_truncate(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x,
		       long n, bool mark)
{
	size_t chars = 0, i = 0;
	for (; i < x.len; i++) {
		if (((unsigned char)x.s[i] & 0xC0) == 0x80)
			continue;
		if (chars++ == (size_t)n)
			break;
	}
	if (i >= x.len)
		return push(c, out, x);
	if (!mark)
		return push_copy(c, out, x.s, i);
	char *p = tmpl_arena_alloc(c->arena, i + 4);
	if (!p)
		return -ENOMEM;
	memcpy(p, x.s, i);
	memcpy(p + i, "...", 4);
	return push(c, out, (struct tmpl_val){p, i + 3, NULL, false});
}

static int xf_keys(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x)
{
	if (!json_is_object(x.j))
		return 0;
	const char *k;
	const json_t *el;
	json_object_foreach((json_t *)x.j, k, el) {
		if (push(c, out, (struct tmpl_val){k, strlen(k), NULL, !*k}))
			return -ENOMEM;
	}
	return 0;
}

static int apply_one(const struct xform *f, const struct tmpl_ctx *c, struct tmpl_val x,
		     struct tmpl_vals *out)
{
	if (f->op == XF_KEYS)
		return xf_keys(c, out, x);
	if (!x.s)
		return 0; /* string transforms drop objects and arrays */
	switch (f->op) {
	case XF_LOWER: return xf_case(c, out, x, false);
	case XF_UPPER: return xf_case(c, out, x, true);
	case XF_NVR: return xf_nvr(c, out, x);
	case XF_USER: return xf_user(c, out, x);
	case XF_STRIP_PREFIX:
	case XF_STRIP_SUFFIX:
	case XF_PREPEND:
	case XF_APPEND: return xf_affix(c, out, x, f);
	case XF_BEFORE:
	case XF_AFTER:
	case XF_BASENAME:
	case XF_FIRSTLINE: return xf_cut(c, out, x, f);
	case XF_SPLIT: return xf_split(c, out, x, f);
	case XF_MENTIONS: return xf_mentions(c, out, x);
	case XF_MAP: return xf_map(c, out, x, f);
	case XF_REPLACE: return xf_replace(c, out, x, f);
	case XF_KEEP:
	case XF_DROP:
		return glob_match(f->arg, x.s, x.s + x.len) == (f->op == XF_KEEP) ? push(c, out, x)
										  : 0;
	case XF_STRIP_ENV: {
		size_t cut = env_prefix_len(x.s, x.len);
		return cut ? push_copy(c, out, x.s + cut, x.len - cut) : push(c, out, x);
	}
	case XF_TRUNCATE: return xf_truncate(c, out, x, f->n, true);
	case XF_HEAD: return xf_truncate(c, out, x, f->n, false);
	default: return 0;
	}
}

/* -- list transforms -- */

static int xf_join(const struct tmpl_ctx *c, const struct tmpl_vals *in, const char *sep,
		   size_t seplen, struct tmpl_vals *out)
{
	size_t total = 0, n = 0;
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i].s)
			total += in->v[i].len + (n++ ? seplen : 0);
	if (!n)
		return 0;
	char *p = tmpl_arena_alloc(c->arena, total + 1), *w = p;
	if (!p)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < in->n; i++) {
		if (!in->v[i].s)
			continue;
		if (n++) {
			memcpy(w, sep, seplen);
			w += seplen;
		}
		memcpy(w, in->v[i].s, in->v[i].len);
		w += in->v[i].len;
	}
	*w = '\0';
	return push(c, out, (struct tmpl_val){p, total, NULL, total == 0});
}

static int cmp_val(const void *a, const void *b)
{
	const struct tmpl_val *x = a, *y = b;
	if (!x->s || !y->s)
		return !x->s - !y->s;
	return strcmp(x->s, y->s);
}

static int xf_unique(const struct tmpl_ctx *c, const struct tmpl_vals *in, struct tmpl_vals *out)
{
	for (size_t i = 0; i < in->n; i++) {
		bool seen = false;
		for (size_t j = 0; j < out->n && !seen; j++)
			seen = in->v[i].s && out->v[j].s && in->v[i].len == out->v[j].len &&
			       !memcmp(in->v[i].s, out->v[j].s, in->v[i].len);
		if (!seen && push(c, out, in->v[i]))
			return -ENOMEM;
	}
	return 0;
}

static int apply_list(const struct xform *f, const struct tmpl_ctx *c, const struct tmpl_vals *in,
		      struct tmpl_vals *out)
{
	char num[32];
	long n = (long)in->n;
	switch (f->op) {
	case XF_FIRST: return n ? push(c, out, in->v[0]) : 0;
	case XF_LAST: return n ? push(c, out, in->v[n - 1]) : 0;
	case XF_NTH: {
		long i = f->n < 0 ? n + f->n : f->n;
		return i >= 0 && i < n ? push(c, out, in->v[i]) : 0;
	}
	case XF_COUNT:
		snprintf(num, sizeof num, "%ld", n);
		return push_number(c, out, num, n == 0);
	case XF_JOIN: return xf_join(c, in, f->arg, f->arg_len, out);
	case XF_UNIQUE: return xf_unique(c, in, out);
	case XF_SORT:
		for (size_t i = 0; i < in->n; i++)
			if (push(c, out, in->v[i]))
				return -ENOMEM;
		if (out->n > 1)
			qsort(out->v, out->n, sizeof *out->v, cmp_val);
		return 0;
	default: return 0;
	}
}

static bool is_list_xf(enum xf_op op)
{
	return op >= XF_FIRST;
}

static int apply(const struct xform *f, const struct tmpl_ctx *c, const struct tmpl_vals *in,
		 struct tmpl_vals *out)
{
	if (is_list_xf(f->op))
		return apply_list(f, c, in, out);
	for (size_t i = 0; i < in->n; i++) {
		int rc = apply_one(f, c, in->v[i], out);
		if (rc)
			return rc;
	}
	return 0;
}

static int eval_alt(const struct alt *a, const struct tmpl_ctx *c, struct tmpl_vals *v)
{
	struct tmpl_vals cur = {0};
	int rc = eval_source(a, c, &cur);
	for (size_t i = 0; !rc && i < a->n_xf; i++) {
		struct tmpl_vals next = {0};
		rc = apply(&a->xf[i], c, &cur, &next);
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
			if (push(c, out, v.v[j]))
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
