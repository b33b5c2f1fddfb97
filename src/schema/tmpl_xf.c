/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmpl_xf: the transforms of the schema rules' expressions (`| nvr`,
 * `| user`, `| join(", ")`... see doc/herald-schema.5): per-value ones read
 * one string and push 0..n values, list ones see the whole list at once.
 *
 * Not for parsing a transform or its arguments (tmpl_compile.c checks them
 * once) nor for evaluating paths and alternatives (tmpl.c).
 */
#include "tmpl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

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
	return tmpl_push(c, out, (struct tmpl_val){p, x.len, NULL, x.falsy});
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
		return tmpl_push(c, out, x);
	return tmpl_push_copy(c, out, x.s, cut);
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
	/* Every value's text is NUL-terminated (see tmpl_push_copy), so plain get. */
	const json_t *hit = c->identity ? json_object_get(c->identity, x.s) : NULL;
	if (json_is_string(hit))
		return tmpl_push(c, out, (struct tmpl_val){json_string_value(hit),
						      json_string_length(hit), NULL, false});
	size_t name_len;
	const char *name = openid_name(x.s, x.len, &name_len);
	if (name)
		return tmpl_push_copy(c, out, name, name_len);
	const char *at = memchr(x.s, '@', x.len);
	if (!at)
		return tmpl_push(c, out, x);
	if (ends_with(x.s, x.len, "@fedoraproject.org") && at > x.s)
		return tmpl_push_copy(c, out, x.s, (size_t)(at - x.s));
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
			return tmpl_push_copy(c, out, x.s + m, x.len - m);
		return tmpl_push(c, out, x);
	case XF_STRIP_SUFFIX:
		if (x.len >= m && !memcmp(x.s + x.len - m, a, m))
			return tmpl_push_copy(c, out, x.s, x.len - m);
		return tmpl_push(c, out, x);
	default:
		break;
	}
	if (!x.len)
		return tmpl_push(c, out, x); /* nothing to decorate: "" stays "" */
	char *p = tmpl_arena_alloc(c->arena, x.len + m + 1);
	if (!p)
		return -ENOMEM;
	bool pre = f->op == XF_PREPEND;
	memcpy(p, pre ? a : x.s, pre ? m : x.len);
	memcpy(p + (pre ? m : x.len), pre ? x.s : a, pre ? x.len : m);
	p[x.len + m] = '\0';
	return tmpl_push(c, out, (struct tmpl_val){p, x.len + m, NULL, x.len + m == 0});
}

static int xf_cut(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x,
		  const struct xform *f)
{
	if (f->op == XF_BASENAME) {
		size_t i = x.len;
		while (i && x.s[i - 1] != '/')
			i--;
		return i ? tmpl_push_copy(c, out, x.s + i, x.len - i) : tmpl_push(c, out, x);
	}
	if (f->op == XF_FIRSTLINE) {
		const char *nl = memchr(x.s, '\n', x.len);
		size_t n = nl ? (size_t)(nl - x.s) : x.len;
		while (n && x.s[n - 1] == '\r')
			n--;
		return n == x.len ? tmpl_push(c, out, x) : tmpl_push_copy(c, out, x.s, n);
	}
	const char *hit = find_str(x.s, x.len, f->arg, f->arg_len);
	if (!hit)
		return tmpl_push(c, out, x);
	if (f->op == XF_BEFORE)
		return tmpl_push_copy(c, out, x.s, (size_t)(hit - x.s));
	const char *rest = hit + f->arg_len;
	return tmpl_push_copy(c, out, rest, x.len - (size_t)(rest - x.s));
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
		if (i > start && tmpl_push_copy(c, out, x.s + start, i - start))
			return -ENOMEM;
		i = next;
	}
	return 0;
}

/* @name mentions, as in "/cc @codeblock." (not e-mail addresses). */
static int xf_mentions(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x)
{
	for (size_t i = 0; i < x.len; i++) {
		if (x.s[i] != '@' || (i && (tmpl_is_key_char(x.s[i - 1]) || x.s[i - 1] == '.')))
			continue;
		size_t j = i + 1;
		while (j < x.len && tmpl_is_key_char(x.s[j]))
			j++;
		if (j > i + 1 && tmpl_push_copy(c, out, x.s + i + 1, j - i - 1))
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
		return tmpl_push(c, out, x);
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
		rc = tmpl_push_copy(c, out, b.data ? b.data : "", b.len);
	buf_release(&b);
	return rc ? -ENOMEM : 0;
}

static int xf_map(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x,
		  const struct xform *f)
{
	for (size_t i = 0; i < f->n_map; i++) {
		const struct map_ent *e = &f->map[i];
		if (e->from_len == x.len && !memcmp(e->from, x.s, x.len))
			return tmpl_push(c, out, (struct tmpl_val){e->to, e->to_len, NULL,
							      e->to_len == 0});
	}
	const struct map_ent *d = f->map_default;
	return d ? tmpl_push(c, out, (struct tmpl_val){d->to, d->to_len, NULL, d->to_len == 0}) : 0;
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
		return tmpl_push(c, out, x);
	if (!mark)
		return tmpl_push_copy(c, out, x.s, i);
	char *p = tmpl_arena_alloc(c->arena, i + 4);
	if (!p)
		return -ENOMEM;
	memcpy(p, x.s, i);
	memcpy(p + i, "...", 4);
	return tmpl_push(c, out, (struct tmpl_val){p, i + 3, NULL, false});
}

static int xf_keys(const struct tmpl_ctx *c, struct tmpl_vals *out, struct tmpl_val x)
{
	if (!json_is_object(x.j))
		return 0;
	const char *k;
	const json_t *el;
	json_object_foreach((json_t *)x.j, k, el) {
		if (tmpl_push(c, out, (struct tmpl_val){k, strlen(k), NULL, !*k}))
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
		return glob_match(f->arg, x.s, x.s + x.len) == (f->op == XF_KEEP) ? tmpl_push(c, out, x)
										  : 0;
	case XF_STRIP_ENV: {
		size_t cut = env_prefix_len(x.s, x.len);
		return cut ? tmpl_push_copy(c, out, x.s + cut, x.len - cut) : tmpl_push(c, out, x);
	}
	case XF_SAME:
	case XF_DIFFER: {
		/* Keep the value when it equals (same) or not (differ) the variable's
		 * text; a variable without a value equals nothing. */
		size_t len = 0;
		const char *v = tmpl_var_text(c, (size_t)f->n, &len);
		bool eq = v && len == x.len && !memcmp(v, x.s, len);
		return eq == (f->op == XF_SAME) ? tmpl_push(c, out, x) : 0;
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
	return tmpl_push(c, out, (struct tmpl_val){p, total, NULL, total == 0});
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
		if (!seen && tmpl_push(c, out, in->v[i]))
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
	case XF_FIRST: return n ? tmpl_push(c, out, in->v[0]) : 0;
	case XF_LAST: return n ? tmpl_push(c, out, in->v[n - 1]) : 0;
	case XF_NTH: {
		long i = f->n < 0 ? n + f->n : f->n;
		return i >= 0 && i < n ? tmpl_push(c, out, in->v[i]) : 0;
	}
	case XF_COUNT:
		snprintf(num, sizeof num, "%ld", n);
		return tmpl_push_number(c, out, num, n == 0);
	case XF_JOIN: return xf_join(c, in, f->arg, f->arg_len, out);
	case XF_UNIQUE: return xf_unique(c, in, out);
	case XF_SORT:
		for (size_t i = 0; i < in->n; i++)
			if (tmpl_push(c, out, in->v[i]))
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

int tmpl_apply(const struct xform *f, const struct tmpl_ctx *c, const struct tmpl_vals *in,
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
