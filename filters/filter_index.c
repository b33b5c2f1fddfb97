/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_index: filter_index_keys(), the keys the matcher's index files a
 * subscription under. A key set is a necessary condition: the filter can
 * only be true for a message that carries one of the keys. Not the index
 * itself (that is the matcher's), and never an evaluation.
 *
 * Derivation:
 *   topic ~ g, topic == t, topic in [...] / @L     topic keys
 *   packages has x, packages & [...] / @L,
 *   package == x, package in [...] / @L            package keys (x may be me)
 *   the same for usernames / username              username keys
 *   A and B    the most selective indexable side (names beat topics, then
 *              fewer keys); never if either side can never match
 *   A or B     the union, only if every side is indexable
 *   not A, !=, everything else                     not indexable ("slow")
 * An empty or missing list, or `me` without a user name, can never match.
 */
#include "filter_int.h"

struct plan {
	int status; /* FILTER_SLOW, FILTER_INDEXED or FILTER_NEVER */
	bool topic; /* some key is a topic (less selective than a name) */
	size_t n;   /* how many keys */
};

static const struct plan slow = {FILTER_SLOW, false, 0};

static struct plan keys(size_t n, bool topic)
{
	struct plan p = {n ? FILTER_INDEXED : FILTER_NEVER, topic, n};
	return p;
}

struct ctx {
	const struct filter *f;
	const struct filter_user *u;
	int (*cb)(void *arg, const struct filter_key *k);
	void *arg;
};

static enum filter_key_kind key_kind(enum field fl)
{
	if (fl == F_TOPIC)
		return FILTER_KEY_TOPIC;
	return fl == F_PACKAGES || fl == F_PACKAGE ? FILTER_KEY_PACKAGE : FILTER_KEY_USERNAME;
}

/* Which comparisons name their keys outright. */
static bool keyed(const struct node *n)
{
	if (n->neg)
		return false;
	switch (n->field) {
	case F_TOPIC:
		return (n->op == OP_EQ || n->op == OP_GLOB || n->op == OP_IN) && n->rhs != RV_ME;
	case F_PACKAGES:
	case F_USERNAMES: return n->op == OP_HAS || n->op == OP_AND_LIST;
	case F_PACKAGE:
	case F_USERNAME: return n->op == OP_EQ || n->op == OP_IN;
	default: return false;
	}
}

static struct plan plan_cmp(const struct ctx *c, const struct node *n)
{
	bool topic = n->field == F_TOPIC;
	const struct filter_list *l;

	if (!keyed(n))
		return slow;
	switch (n->rhs) {
	case RV_STR: return keys(1, topic);
	case RV_ME: return keys(c->u && c->u->name ? 1 : 0, topic);
	case RV_LIST: return keys(AT(c->f, n->v.list, struct lit_list)->n_str, topic);
	case RV_NAMED:
		l = eval_find_list(c->u, str_at(c->f, n->v.str.off));
		return keys(l ? l->n : 0, topic);
	default: return slow;
	}
}

static bool better(const struct plan *a, const struct plan *b)
{
	if (a->topic != b->topic)
		return !a->topic;
	return a->n < b->n;
}

static struct plan plan_node(const struct ctx *c, const struct node *n, const struct node **best);

/* and: the best indexable child; or: all children must be indexable. */
static struct plan plan_chain(const struct ctx *c, const struct node *n, const struct node **best)
{
	struct plan acc = {n->kind == NK_AND ? FILTER_SLOW : FILTER_NEVER, false, 0};
	const struct node *k = node_at(c->f, n->kid);

	for (;; k = node_at(c->f, k->next)) {
		struct plan p = plan_node(c, k, NULL);
		if (n->kind == NK_AND) {
			if (p.status == FILTER_NEVER)
				return p;
			if (p.status == FILTER_INDEXED &&
			    (acc.status == FILTER_SLOW || better(&p, &acc))) {
				acc = p;
				if (best)
					*best = k;
			}
		} else if (p.status == FILTER_SLOW) {
			return slow;
		} else if (p.status == FILTER_INDEXED) {
			acc.status = FILTER_INDEXED;
			acc.topic |= p.topic;
			acc.n += p.n;
		}
		if (!k->next)
			return acc;
	}
}

static struct plan plan_node(const struct ctx *c, const struct node *n, const struct node **best)
{
	switch (n->kind) {
	case NK_AND:
	case NK_OR: return plan_chain(c, n, best);
	case NK_NOT: return slow;
	default: return plan_cmp(c, n);
	}
}

static int emit(const struct ctx *c, enum filter_key_kind kind, const char *value)
{
	struct filter_key k = {kind, value};
	return c->cb(c->arg, &k);
}

static int emit_cmp(const struct ctx *c, const struct node *n)
{
	enum filter_key_kind kind = key_kind((enum field)n->field);
	int rc = 0;

	if (n->rhs == RV_STR)
		return emit(c, kind, str_at(c->f, n->v.str.off));
	if (n->rhs == RV_ME)
		return emit(c, kind, c->u->name);
	if (n->rhs == RV_LIST) {
		const struct lit_list *l = AT(c->f, n->v.list, struct lit_list);
		const struct strref *r = AT(c->f, l->strs, struct strref);
		for (uint32_t i = 0; i < l->n_str && !rc; i++)
			rc = emit(c, kind, str_at(c->f, r[i].off));
		return rc;
	}
	const struct filter_list *l = eval_find_list(c->u, str_at(c->f, n->v.str.off));
	for (size_t i = 0; i < l->n && !rc; i++)
		rc = emit(c, kind, l->items[i]);
	return rc;
}

/* Emit the keys plan_node() promised; n is known to be indexable. */
static int emit_node(const struct ctx *c, const struct node *n)
{
	const struct node *best = NULL;
	int rc = 0;

	if (n->kind == NK_CMP)
		return emit_cmp(c, n);
	if (n->kind == NK_AND) {
		plan_chain(c, n, &best);
		return emit_node(c, best);
	}
	for (const struct node *k = node_at(c->f, n->kid); !rc; k = node_at(c->f, k->next)) {
		if (plan_node(c, k, NULL).status == FILTER_INDEXED)
			rc = emit_node(c, k);
		if (!k->next)
			break;
	}
	return rc;
}

int filter_index_keys(const struct filter *f, const struct filter_user *user,
		      int (*cb)(void *arg, const struct filter_key *k), void *arg)
{
	struct ctx c = {f, user, cb, arg};
	const struct node *root = node_at(f, f->root);
	struct plan p = plan_node(&c, root, NULL);
	int rc;

	if (p.status != FILTER_INDEXED)
		return p.status;
	rc = emit_node(&c, root);
	return rc ? rc : FILTER_INDEXED;
}
