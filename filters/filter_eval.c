/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_eval: filter_eval(), one walk over the compiled tree against a
 * message view and a user. Allocates nothing and writes nothing shared, so
 * one filter can be evaluated by many threads at once (each with its own
 * scratch). Not for explaining (filter_explain.c reuses these functions).
 *
 * Semantics in one place (herald-filters(7) says the same for users):
 * - absent values (missing JSON path, NULL link/agent, no meta, unknown
 *   `me`, missing @list) make every comparison false; `!=` is the negation
 *   of `==`, so it is true for them;
 * - no coercion: a string never equals a number; numbers compare
 *   numerically (integers exactly), strings bytewise (strcmp order);
 * - `package`/`username` are true when some element satisfies the test,
 *   and `package != x` means no element equals x.
 */
#include <string.h>

#include "filter_int.h"

enum vt { VT_ABSENT, VT_STR, VT_NUM, VT_TRUE, VT_FALSE, VT_NULL, VT_OTHER };

/* One value as the comparisons see it. */
struct val {
	enum vt t;
	const char *s; /* VT_STR; may hold NUL when it came from JSON */
	size_t len;
	struct num num;
};

static void val_text(const char *s, struct val *v)
{
	v->t = s ? VT_STR : VT_ABSENT;
	v->s = s;
	v->len = s ? strlen(s) : 0;
}

static void val_json(const json_t *j, struct val *v)
{
	v->s = NULL;
	v->len = 0;
	switch (json_typeof(j)) {
	case JSON_STRING:
		v->t = VT_STR;
		v->s = json_string_value(j);
		v->len = json_string_length(j);
		break;
	case JSON_INTEGER:
		v->t = VT_NUM;
		v->num.is_int = true;
		v->num.i = json_integer_value(j);
		v->num.d = (double)v->num.i;
		break;
	case JSON_REAL:
		v->t = VT_NUM;
		v->num.is_int = false;
		v->num.d = json_real_value(j);
		break;
	case JSON_TRUE: v->t = VT_TRUE; break;
	case JSON_FALSE: v->t = VT_FALSE; break;
	case JSON_NULL: v->t = VT_NULL; break;
	default: v->t = VT_OTHER; break;
	}
}

/* strcmp order between a counted string and a C string. */
static int cmp_counted(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (y == 0)
			return 1;
		if (x != y)
			return x < y ? -1 : 1;
	}
	return b[i] ? -1 : 0;
}

static int num_cmp(const struct num *a, const struct num *b)
{
	if (a->is_int && b->is_int)
		return (a->i > b->i) - (a->i < b->i);
	return (a->d > b->d) - (a->d < b->d);
}

/* Binary search in a strcmp-sorted array (meta lists, user lists). */
static bool sorted_has(const char *const *items, size_t n, const char *s, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_counted(s, len, items[mid]);
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

/* The same in a [...] literal's sorted strings. */
static bool lit_has(const struct filter *f, const struct lit_list *l, const char *s, size_t len)
{
	const struct strref *r = AT(f, l->strs, struct strref);
	size_t lo = 0, hi = l->n_str;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_counted(s, len, str_at(f, r[mid].off));
		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return false;
}

static bool lit_has_num(const struct filter *f, const struct lit_list *l, const struct num *x)
{
	const struct num *nums = AT(f, l->nums, struct num);

	for (uint32_t i = 0; i < l->n_num; i++)
		if (num_cmp(x, &nums[i]) == 0)
			return true;
	return false;
}

/* Do two sorted name arrays share an element? Search the smaller in the
 * larger: a message names a few packages, a user may follow thousands. */
static bool sorted_meet(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	if (na > nb)
		return sorted_meet(b, nb, a, na);
	for (size_t i = 0; i < na; i++)
		if (sorted_has(b, nb, a[i], strlen(a[i])))
			return true;
	return false;
}

static bool lit_meet(const struct filter *f, const struct lit_list *l, const char *const *items,
		     size_t n)
{
	const struct strref *r = AT(f, l->strs, struct strref);

	if (n <= l->n_str) {
		for (size_t i = 0; i < n; i++)
			if (lit_has(f, l, items[i], strlen(items[i])))
				return true;
		return false;
	}
	for (uint32_t i = 0; i < l->n_str; i++)
		if (sorted_has(items, n, str_at(f, r[i].off), r[i].len))
			return true;
	return false;
}

const struct filter_list *eval_find_list(const struct filter_user *u, const char *name)
{
	if (!u)
		return NULL;
	for (size_t i = 0; i < u->n_lists; i++)
		if (u->lists[i].name && !strcmp(u->lists[i].name, name))
			return &u->lists[i];
	return NULL;
}

static const char *me(const struct eval *e)
{
	return e->user ? e->user->name : NULL;
}

const char *eval_text(const struct msg_view *m, enum field fl)
{
	const struct meta *mt = m->meta;

	if (fl == F_TOPIC)
		return m->topic;
	if (!mt)
		return NULL;
	switch (fl) {
	case F_APP: return mt->app;
	case F_TITLE: return mt->title;
	case F_SUMMARY: return mt->summary;
	case F_LINK: return mt->link;
	case F_AGENT: return mt->agent;
	default: return NULL;
	}
}

bool eval_names(const struct msg_view *m, enum field fl, char *const **items, size_t *n)
{
	if (!m->meta)
		return false;
	const struct meta *mt = m->meta;
	switch (fl) {
	case F_USERNAMES:
	case F_USERNAME: *items = mt->usernames, *n = mt->n_usernames; break;
	case F_CONTAINERS: *items = mt->containers, *n = mt->n_containers; break;
	case F_MODULES: *items = mt->modules, *n = mt->n_modules; break;
	case F_FLATPAKS: *items = mt->flatpaks, *n = mt->n_flatpaks; break;
	case F_GROUPS: *items = mt->groups, *n = mt->n_groups; break;
	default: *items = mt->packages, *n = mt->n_packages; break;
	}
	return *items != NULL || *n == 0;
}

const json_t *eval_path(const struct filter *f, const struct node *n, const json_t *j)
{
	const struct seg *s = AT(f, n->kid, struct seg);

	for (unsigned i = 0; i < n->n_path && j; i++) {
		if (s[i].key.off)
			j = json_is_object(j) ? json_object_get(j, str_at(f, s[i].key.off)) : NULL;
		else
			j = json_is_array(j) ? json_array_get(j, s[i].index) : NULL;
	}
	return j;
}

static bool val_eq(const struct eval *e, const struct node *n, const struct val *v)
{
	switch (n->rhs) {
	case RV_STR:
		return v->t == VT_STR && v->len == n->v.str.len &&
		       !memcmp(v->s, str_at(e->f, n->v.str.off), v->len);
	case RV_NUM: return v->t == VT_NUM && num_cmp(&v->num, &n->v.num) == 0;
	case RV_TRUE: return v->t == VT_TRUE;
	case RV_FALSE: return v->t == VT_FALSE;
	case RV_NULL: return v->t == VT_NULL;
	case RV_ME: return me(e) && v->t == VT_STR && cmp_counted(v->s, v->len, me(e)) == 0;
	default: return false;
	}
}

/* <, <=, >, >=: same types only. */
static bool val_order(const struct eval *e, const struct node *n, const struct val *v)
{
	int c;

	if (n->rhs == RV_STR && v->t == VT_STR)
		c = cmp_counted(v->s, v->len, str_at(e->f, n->v.str.off));
	else if (n->rhs == RV_NUM && v->t == VT_NUM)
		c = num_cmp(&v->num, &n->v.num);
	else
		return false;
	switch (n->op) {
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	default: return c >= 0;
	}
}

static bool val_in(const struct eval *e, const struct node *n, const struct val *v)
{
	const struct filter_list *l;

	if (n->rhs == RV_LIST) {
		const struct lit_list *lit = AT(e->f, n->v.list, struct lit_list);
		if (v->t == VT_STR)
			return lit_has(e->f, lit, v->s, v->len);
		return v->t == VT_NUM && lit_has_num(e->f, lit, &v->num);
	}
	l = eval_find_list(e->user, str_at(e->f, n->v.str.off));
	return l && v->t == VT_STR && sorted_has(l->items, l->n, v->s, v->len);
}

static bool val_regex(struct eval *e, const struct node *n, const struct val *v)
{
	int rc;

	if (v->t != VT_STR)
		return false;
	rc = scratch_regex_match(e->scratch, regex_at(e->f, n->v.regex), v->s, v->len);
	if (rc < 0)
		e->regex_rc = rc;
	return rc > 0;
}

/* One value against the node's operator and right side. */
static bool scalar(struct eval *e, const struct node *n, const struct val *v)
{
	if (v->t == VT_ABSENT)
		return false;
	switch (n->op) {
	case OP_EQ: return val_eq(e, n, v);
	case OP_GLOB:
		return v->t == VT_STR && glob_match_n(str_at(e->f, n->v.str.off), v->s, v->len);
	case OP_REGEX: return val_regex(e, n, v);
	case OP_IN: return val_in(e, n, v);
	default: return val_order(e, n, v);
	}
}

static bool level_op(const struct eval *e, const struct node *n)
{
	unsigned lv;

	if (!e->m->meta)
		return false;
	lv = (unsigned)e->m->meta->severity;
	switch (n->op) {
	case OP_IN: return lv < 32 && (n->v.levels >> lv) & 1;
	case OP_EQ: return lv == n->v.level;
	case OP_LT: return lv < n->v.level;
	case OP_LE: return lv <= n->v.level;
	case OP_GT: return lv > n->v.level;
	default: return lv >= n->v.level;
	}
}

/* `& @list` or `& [...]` against a names array. */
static bool names_meet(const struct eval *e, const struct node *n, const char *const *items,
		       size_t count)
{
	const struct filter_list *l;

	if (n->rhs == RV_LIST)
		return lit_meet(e->f, AT(e->f, n->v.list, struct lit_list), items, count);
	l = eval_find_list(e->user, str_at(e->f, n->v.str.off));
	return l && sorted_meet(items, count, l->items, l->n);
}

/* usernames / packages: has, & */
static bool list_op(const struct eval *e, const struct node *n)
{
	char *const *items;
	size_t count;
	const char *s;

	if (!eval_names(e->m, (enum field)n->field, &items, &count))
		return false;
	if (n->op == OP_AND_LIST)
		return names_meet(e, n, (const char *const *)items, count);
	s = n->rhs == RV_ME ? me(e) : str_at(e->f, n->v.str.off);
	return s && sorted_has((const char *const *)items, count, s, strlen(s));
}

/* username / package: true when some element passes. Equality and
 * membership use the sorted arrays instead of a scan. */
static bool each_op(struct eval *e, const struct node *n)
{
	char *const *items;
	size_t count;
	struct val v;

	if (!eval_names(e->m, (enum field)n->field, &items, &count))
		return false;
	if (n->op == OP_EQ && (n->rhs == RV_STR || n->rhs == RV_ME)) {
		const char *s = n->rhs == RV_ME ? me(e) : str_at(e->f, n->v.str.off);
		return s && sorted_has((const char *const *)items, count, s, strlen(s));
	}
	if (n->op == OP_IN)
		return names_meet(e, n, (const char *const *)items, count);
	for (size_t i = 0; i < count; i++) {
		val_text(items[i], &v);
		if (scalar(e, n, &v))
			return true;
	}
	return false;
}

/* One array element: `has` wants it equal to the value, `&` in the list
 * (l: the user's list, looked up once for the whole array). */
static bool element_passes(struct eval *e, const struct node *n, const struct filter_list *l,
			   const struct val *v)
{
	if (n->op == OP_HAS)
		return val_eq(e, n, v);
	if (l)
		return v->t == VT_STR && sorted_has(l->items, l->n, v->s, v->len);
	return val_in(e, n, v);
}

/* has / & on a JSON array: some element passes. */
static bool json_array_op(struct eval *e, const struct node *n, const json_t *arr)
{
	const struct filter_list *l = NULL;
	struct val v;
	size_t i;
	json_t *x;

	if (!json_is_array(arr))
		return false;
	if (n->op == OP_AND_LIST && n->rhs == RV_NAMED &&
	    !(l = eval_find_list(e->user, str_at(e->f, n->v.str.off))))
		return false;
	json_array_foreach(arr, i, x)
	{
		val_json(x, &v);
		if (element_passes(e, n, l, &v))
			return true;
	}
	return false;
}

static bool json_op(struct eval *e, const struct node *n)
{
	const json_t *j = e->m->msg ? eval_path(e->f, n, e->m->msg) : NULL;
	struct val v;

	if (!j)
		return false;
	if (n->op == OP_HAS || n->op == OP_AND_LIST)
		return json_array_op(e, n, j);
	val_json(j, &v);
	return scalar(e, n, &v);
}

bool eval_cmp(struct eval *e, const struct node *n)
{
	struct val v;
	bool r;

	switch (field_type((enum field)n->field)) {
	case FT_TEXT:
		val_text(eval_text(e->m, (enum field)n->field), &v);
		r = scalar(e, n, &v);
		break;
	case FT_LEVEL: r = level_op(e, n); break;
	case FT_LIST: r = list_op(e, n); break;
	case FT_EACH: r = each_op(e, n); break;
	default: r = json_op(e, n); break;
	}
	return r != (bool)n->neg;
}

bool eval_node(struct eval *e, const struct node *n)
{
	const struct node *k;

	switch (n->kind) {
	case NK_AND:
		for (k = node_at(e->f, n->kid);; k = node_at(e->f, k->next)) {
			if (!eval_node(e, k))
				return false;
			if (!k->next)
				return true;
		}
	case NK_OR:
		for (k = node_at(e->f, n->kid);; k = node_at(e->f, k->next)) {
			if (eval_node(e, k))
				return true;
			if (!k->next)
				return false;
		}
	case NK_NOT: return !eval_node(e, node_at(e->f, n->kid));
	default: return eval_cmp(e, n);
	}
}

bool filter_eval(const struct filter *f, const struct msg_view *m, const struct filter_user *user,
		 struct filter_scratch *scratch)
{
	struct eval e = {f, m, user, scratch, 0};

	return eval_node(&e, node_at(f, f->root));
}
