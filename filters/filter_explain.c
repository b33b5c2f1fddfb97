/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_explain: filter_explain(), the "why" behind `herald filter test`
 * and `herald sub explain`: each clause with its truth value and the values
 * it looked at, in the words of the filter's own source. Evaluation itself
 * is filter_eval.c's; this file only decides what to show and how.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_int.h"

#define MAX_SHOWN_ITEMS 20  /* of a list, then "... (N more)" */
#define MAX_SHOWN_BYTES 120 /* of a string or JSON value */

struct ex {
	struct eval e;
	struct buf *out;
	int rc; /* the first buffer error; later output is skipped */
};

__attribute__((format(printf, 2, 3))) static void put(struct ex *x, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n;

	if (x->rc)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		x->rc = -1;
		return;
	}
	if ((size_t)n < sizeof small) {
		x->rc = buf_append(x->out, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		x->rc = -1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	x->rc = buf_append(x->out, big, (size_t)n);
	free(big);
}

static void put_bytes(struct ex *x, const char *s, size_t n)
{
	if (!x->rc)
		x->rc = buf_append(x->out, s, n);
}

/* The clause as written, on one line: whitespace runs become one space and
 * comments disappear (strings are kept as they are). */
static void put_clause(struct ex *x, const struct node *n)
{
	const char *s = filter_source(x->e.f) + n->src_off;
	bool in_str = false, space = false;

	for (size_t i = 0; i < n->src_len; i++) {
		char c = s[i];
		if (in_str) {
			put_bytes(x, &c, 1);
			if (c == '\\' && i + 1 < n->src_len)
				put_bytes(x, &s[++i], 1);
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '#') {
			while (i + 1 < n->src_len && s[i + 1] != '\n')
				i++;
			space = true;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = true;
		} else {
			if (space)
				put_bytes(x, " ", 1);
			space = false;
			put_bytes(x, &c, 1);
			in_str = c == '"';
		}
	}
}

/* A string in double quotes, escaped, cut at MAX_SHOWN_BYTES. */
static void put_quoted(struct ex *x, const char *s, size_t n)
{
	size_t shown = n > MAX_SHOWN_BYTES ? MAX_SHOWN_BYTES : n;

	put_bytes(x, "\"", 1);
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			put(x, "\\%c", c);
		else if (c < 0x20)
			put(x, "\\u%04x", c);
		else
			put_bytes(x, (const char *)&c, 1);
	}
	put(x, "%s\"", shown < n ? "..." : "");
}

static void put_names(struct ex *x, const char *const *items, size_t n)
{
	put_bytes(x, "[", 1);
	for (size_t i = 0; i < n && i < MAX_SHOWN_ITEMS; i++)
		put(x, "%s%s", i ? ", " : "", items[i]);
	if (n > MAX_SHOWN_ITEMS)
		put(x, ", ... (%zu more)", n - MAX_SHOWN_ITEMS);
	put_bytes(x, "]", 1);
}

static void put_json(struct ex *x, const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t n;

	if (!s) {
		put(x, "(unprintable)");
		return;
	}
	n = strlen(s);
	if (n > MAX_SHOWN_BYTES)
		put(x, "%.*s...", MAX_SHOWN_BYTES, s);
	else
		put_bytes(x, s, n);
	free(s);
}

static void put_path(struct ex *x, const struct node *n)
{
	const struct seg *s = AT(x->e.f, n->kid, struct seg);

	put(x, "msg");
	for (unsigned i = 0; i < n->n_path; i++) {
		const char *key = s[i].key.off ? str_at(x->e.f, s[i].key.off) : NULL;
		bool plain =
		    key && *key &&
		    strspn(key,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") ==
			s[i].key.len &&
		    !(key[0] >= '0' && key[0] <= '9');
		if (!key) {
			put(x, "[%u]", s[i].index);
		} else if (plain) {
			put(x, ".%s", key);
		} else {
			put_bytes(x, "[", 1);
			put_quoted(x, key, s[i].key.len);
			put_bytes(x, "]", 1);
		}
	}
}

/* "field = value" for what the left side of a comparison saw. */
static void put_lhs(struct ex *x, const struct node *n)
{
	enum field fl = (enum field)n->field;
	char *const *items;
	size_t count;
	const char *s;

	switch (field_type(fl)) {
	case FT_TEXT:
		s = eval_text(x->e.m, fl);
		put(x, "%s = ", field_name(fl));
		if (s)
			put_quoted(x, s, strlen(s));
		else
			put(x, "(absent)");
		break;
	case FT_LEVEL:
		if (x->e.m->meta)
			put(x, "severity = %s", severity_name(x->e.m->meta->severity));
		else
			put(x, "severity = (absent)");
		break;
	case FT_LIST:
	case FT_EACH:
		put(x, "%s = ", fl == F_USERNAME ? "usernames" : fl == F_PACKAGE ? "packages"
										 : field_name(fl));
		if (eval_names(x->e.m, fl, &items, &count))
			put_names(x, (const char *const *)items, count);
		else
			put(x, "(absent)");
		break;
	default: {
		const json_t *j = x->e.m->msg ? eval_path(x->e.f, n, x->e.m->msg) : NULL;
		put_path(x, n);
		put(x, " = ");
		if (j)
			put_json(x, j);
		else
			put(x, "(absent)");
	}
	}
}

/* What the right side resolved to, when it came from the user. */
static void put_rhs(struct ex *x, const struct node *n)
{
	const struct filter_user *u = x->e.user;

	if (n->rhs == RV_ME) {
		put(x, ", me = ");
		if (u && u->name)
			put_quoted(x, u->name, strlen(u->name));
		else
			put(x, "(unknown)");
	} else if (n->rhs == RV_NAMED) {
		const char *name = str_at(x->e.f, n->v.str.off);
		const struct filter_list *l = eval_find_list(u, name);
		put(x, ", @%s = ", name);
		if (l)
			put_names(x, l->items, l->n);
		else
			put(x, "(no such list)");
	}
}

static void put_indent(struct ex *x, int depth)
{
	for (int i = 0; i < depth; i++)
		put(x, "  ");
}

static void explain_node(struct ex *x, const struct node *n, int depth)
{
	bool r;

	x->e.regex_rc = 0;
	r = n->kind == NK_CMP ? eval_cmp(&x->e, n) : eval_node(&x->e, n);
	put_indent(x, depth);
	put_clause(x, n);
	put(x, ": %s", r ? "true" : "false");
	if (n->kind == NK_CMP) {
		put(x, " (");
		put_lhs(x, n);
		put_rhs(x, n);
		if (x->e.regex_rc < 0) {
			PCRE2_UCHAR msg[120];
			pcre2_get_error_message(x->e.regex_rc, msg, sizeof msg);
			put(x, ", regex gave up: %s", (const char *)msg);
		}
		put(x, ")\n");
		return;
	}
	put(x, "\n");
	for (const struct node *k = node_at(x->e.f, n->kid);; k = node_at(x->e.f, k->next)) {
		explain_node(x, k, depth + 1);
		if (n->kind == NK_NOT || !k->next)
			break;
	}
}

int filter_explain(const struct filter *f, const struct msg_view *m, const struct filter_user *user,
		   struct filter_scratch *scratch, struct buf *out, bool *matched)
{
	struct ex x = {{f, m, user, scratch, 0}, out, 0};
	const struct node *root = node_at(f, f->root);
	const char *why = "";

	*matched = eval_node(&x.e, root);
	if (root->kind == NK_AND || root->kind == NK_OR) {
		/* The top-level clauses, each on its own line. */
		for (const struct node *k = node_at(f, root->kid);; k = node_at(f, k->next)) {
			explain_node(&x, k, 0);
			if (!k->next)
				break;
		}
		if (!*matched)
			why = root->kind == NK_AND ? " (every clause must be true)"
						   : " (no clause is true)";
	} else {
		explain_node(&x, root, 0);
	}
	put(&x, "=> %s%s\n", *matched ? "match" : "no match", why);
	return x.rc ? -ENOMEM : 0;
}
