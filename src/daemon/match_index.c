/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * match_index: building a match snapshot, the inverted index from package,
 * username, topic and topic glob to the subscriptions that need them (see
 * match.h), its reference counting, and layering an overlay on a full
 * snapshot. Not for running messages over the index (match.c) nor for
 * reading the store (match_load.c).
 */
#include "match.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "match_int.h"

/* ---- the string map's writers (strmap_get is in match_int.h) ---- */

static int strmap_grow(struct strmap *m)
{
	uint32_t cap = m->cap ? m->cap * 2 : 64;
	char **keys = calloc(cap, sizeof *keys);
	uint32_t *vals = calloc(cap, sizeof *vals);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		uint32_t j = (uint32_t)hash_str(m->keys[i]) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

/* Find or insert; *val is set to the existing value or to `fresh`. */
static int strmap_put(struct strmap *m, const char *key, uint32_t fresh, uint32_t *val)
{
	if ((m->n + 1) * 4 > m->cap * 3 && strmap_grow(m))
		return -ENOMEM;
	uint32_t j = (uint32_t)hash_str(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (!strcmp(m->keys[j], key)) {
			*val = m->vals[j];
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	if (!(m->keys[j] = strdup(key)))
		return -ENOMEM;
	m->vals[j] = *val = fresh;
	m->n++;
	return 1;
}

static void strmap_release(struct strmap *m)
{
	for (uint32_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

static int postings_add(struct postings *p, uint32_t v)
{
	if (p->n && p->v[p->n - 1] == v)
		return 0; /* a subscription listing the same key twice */
	if (p->n == p->cap) {
		uint32_t cap = p->cap ? p->cap * 2 : 4;
		uint32_t *nv = realloc(p->v, cap * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n++] = v;
	return 0;
}
/* ---- snapshot ---- */

struct match_builder {
	struct match_snapshot *s;
	unsigned compile_flags; /* FILTER_COMPILE_* */
};

static void user_free(struct muser *u)
{
	for (size_t i = 0; i < u->fu.n_lists; i++) {
		for (size_t k = 0; k < u->lists[i].n; k++)
			free((char *)u->lists[i].items[k]);
		free((char **)u->lists[i].items);
		free((char *)u->lists[i].name);
	}
	free(u->lists);
	free(u->name);
}

void match_snapshot_unref(struct match_snapshot *s);

static void snapshot_free(struct match_snapshot *s)
{
	for (uint32_t i = 0; i < s->n_users; i++)
		user_free(&s->users[i]);
	for (uint32_t i = 0; i < s->n_subs; i++) {
		filter_free(s->subs[i].f);
		free(s->subs[i].dests);
	}
	for (uint32_t i = 0; i < s->n_posts; i++)
		free(s->posts[i].v);
	for (int k = 0; k < IX_COUNT; k++)
		strmap_release(&s->ix[k]);
	strmap_release(&s->user_by_name);
	free(s->users);
	free(s->subs);
	free(s->posts);
	free(s->globs);
	free(s->glob_post);
	free(s->slow.v);
	for (size_t i = 0; i < s->n_overlay_users; i++)
		free(s->overlay_users[i]);
	free(s->overlay_users);
	free(s->base_masked);
	for (size_t i = 0; i < s->n_invalid; i++)
		free(s->invalid[i].user);
	free(s->invalid);
	match_snapshot_unref(s->base);
	free(s);
}

void match_snapshot_ref(struct match_snapshot *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void match_snapshot_unref(struct match_snapshot *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		snapshot_free(s);
}

struct match_builder *match_builder_new(void)
{
	struct match_builder *b = calloc(1, sizeof *b);
	if (b && !(b->s = calloc(1, sizeof *b->s))) {
		free(b);
		return NULL;
	}
	if (b)
		atomic_init(&b->s->refs, 1);
	return b;
}

void match_builder_free(struct match_builder *b)
{
	if (!b)
		return;
	if (b->s)
		snapshot_free(b->s);
	free(b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Copy one named list, sorted, as filter_eval expects. */
static int copy_list(struct filter_list *dst, const char *name, const char *const *items, size_t n)
{
	char **v = calloc(n ? n : 1, sizeof *v);
	if (!v || !(dst->name = strdup(name))) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(items[i]))) {
			while (i--)
				free(v[i]);
			free(v);
			return -ENOMEM;
		}
	qsort(v, n, sizeof *v, cmp_str);
	dst->items = (const char *const *)v;
	dst->n = n;
	return 0;
}

int match_builder_user(struct match_builder *b, const char *name, const char *const *list_names,
		       const char *const *const *lists, const size_t *n_items, size_t n_lists)
{
	struct match_snapshot *s = b->s;
	uint32_t idx;
	if (s->n_users == s->cap_users) {
		uint32_t cap = s->cap_users ? s->cap_users * 2 : 64;
		struct muser *u = realloc(s->users, cap * sizeof *u);
		if (!u)
			return -ENOMEM;
		s->users = u;
		s->cap_users = cap;
	}
	int rc = strmap_put(&s->user_by_name, name, s->n_users, &idx);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -EEXIST;
	struct muser *u = &s->users[s->n_users];
	memset(u, 0, sizeof *u);
	if (!(u->name = strdup(name)) || !(u->lists = calloc(n_lists ? n_lists : 1, sizeof *u->lists)))
		goto nomem;
	for (size_t i = 0; i < n_lists; i++, u->fu.n_lists++)
		if (copy_list(&u->lists[i], list_names[i], lists[i], n_items[i]))
			goto nomem;
	u->fu.name = u->name;
	u->fu.lists = u->lists;
	s->n_users++;
	return 0;
nomem:
	user_free(u);
	return -ENOMEM;
}

static int new_posting(struct match_snapshot *s, uint32_t *idx)
{
	if (s->n_posts == s->cap_posts) {
		uint32_t cap = s->cap_posts ? s->cap_posts * 2 : 256;
		struct postings *p = realloc(s->posts, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		s->posts = p;
		s->cap_posts = cap;
	}
	memset(&s->posts[s->n_posts], 0, sizeof s->posts[0]);
	*idx = s->n_posts++;
	return 0;
}

static bool is_glob(const char *t)
{
	return strpbrk(t, "*?") != NULL;
}

static int remember_glob(struct match_snapshot *s, const char *pattern, uint32_t post)
{
	if (s->n_globs == s->cap_globs) {
		uint32_t cap = s->cap_globs ? s->cap_globs * 2 : 64;
		char **g = realloc(s->globs, cap * sizeof *g);
		if (!g)
			return -ENOMEM;
		s->globs = g;
		uint32_t *p = realloc(s->glob_post, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		s->glob_post = p;
		s->cap_globs = cap;
	}
	s->globs[s->n_globs] = NULL; /* filled in at finish from the map's own key */
	s->glob_post[s->n_globs++] = post;
	(void)pattern;
	return 0;
}

struct key_ctx {
	struct match_snapshot *s;
	uint32_t sub;
};

static int add_key(void *arg, const struct filter_key *k)
{
	struct key_ctx *c = arg;
	struct match_snapshot *s = c->s;
	enum index_kind ix = k->kind == FILTER_KEY_PACKAGE	    ? IX_PACKAGE
			     : k->kind == FILTER_KEY_USERNAME   ? IX_USERNAME
			     : is_glob(k->value)		    ? IX_GLOB
								    : IX_TOPIC;
	uint32_t post;
	int rc = new_posting(s, &post);
	if (rc)
		return rc;
	uint32_t got;
	rc = strmap_put(&s->ix[ix], k->value, post, &got);
	if (rc < 0)
		return rc;
	if (rc == 0)
		s->n_posts--; /* key existed: give the fresh posting list back */
	else if (ix == IX_GLOB && (rc = remember_glob(s, k->value, got)))
		return rc;
	s->n_keys++;
	return postings_add(&s->posts[got], c->sub);
}

int match_builder_sub(struct match_builder *b, const char *user, uint64_t id, const char *src,
		      const uint64_t *dests, size_t n_dests, uint32_t digest_interval)
{
	struct filter_error why;
	return match_builder_sub_why(b, user, id, src, dests, n_dests, digest_interval, &why);
}

int match_builder_sub_why(struct match_builder *b, const char *user, uint64_t id,
			  const char *src, const uint64_t *dests, size_t n_dests,
			  uint32_t digest_interval, struct filter_error *why)
{
	struct match_snapshot *s = b->s;
	uint32_t u = strmap_get(&s->user_by_name, user);
	if (u == UINT32_MAX)
		return -ENOENT;
	struct filter *f;
	int rc = filter_compile_flags(src, b->compile_flags, &f, why);
	if (rc)
		return rc;
	if (s->n_subs == s->cap_subs) {
		uint32_t cap = s->cap_subs ? s->cap_subs * 2 : 1024;
		struct msub *ns = realloc(s->subs, cap * sizeof *ns);
		if (!ns) {
			filter_free(f);
			return -ENOMEM;
		}
		s->subs = ns;
		s->cap_subs = cap;
	}
	struct msub *sub = &s->subs[s->n_subs];
	*sub = (struct msub){.id = id, .user = u, .f = f, .digest = digest_interval};
	if (!(sub->dests = malloc((n_dests ? n_dests : 1) * sizeof *dests))) {
		filter_free(f);
		return -ENOMEM;
	}
	memcpy(sub->dests, dests, n_dests * sizeof *dests);
	sub->n_dests = (uint32_t)n_dests;
	struct key_ctx kc = {s, s->n_subs};
	s->n_subs++;
	rc = filter_index_keys(f, &s->users[u].fu, add_key, &kc);
	if (rc < 0)
		return rc;
	sub->kind = rc == 1 ? 0 : rc == 0 ? 1 : 2;
	if (rc == 0)
		return postings_add(&s->slow, kc.sub);
	if (rc == 2)
		s->n_never++;
	return 0;
}

int match_builder_invalid(struct match_builder *b, const char *user, uint64_t id)
{
	struct match_snapshot *s = b->s;
	if (s->n_invalid == s->cap_invalid) {
		size_t cap = s->cap_invalid ? s->cap_invalid * 2 : 16;
		struct match_invalid *v = realloc(s->invalid, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		s->invalid = v;
		s->cap_invalid = cap;
	}
	char *name = strdup(user);
	if (!name)
		return -ENOMEM;
	s->invalid[s->n_invalid++] = (struct match_invalid){id, name};
	return 0;
}

void match_builder_unchecked(struct match_builder *b)
{
	b->compile_flags |= FILTER_COMPILE_UNCHECKED;
}

static int cmp_invalid(const void *a, const void *b)
{
	const struct match_invalid *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

struct match_snapshot *match_builder_finish(struct match_builder *b)
{
	struct match_snapshot *s = b->s;
	/* Point each glob at the key string its map owns. */
	struct strmap *g = &s->ix[IX_GLOB];
	for (uint32_t i = 0; i < g->cap; i++) {
		if (!g->keys[i])
			continue;
		for (uint32_t k = 0; k < s->n_globs; k++)
			if (s->glob_post[k] == g->vals[i])
				s->globs[k] = g->keys[i];
	}
	if (s->n_invalid > 1)
		qsort(s->invalid, s->n_invalid, sizeof *s->invalid, cmp_invalid);
	b->s = NULL;
	free(b);
	return s;
}

/* Is `user` one of those an overlay replaces? */
static bool overlaid(const struct match_snapshot *s, const char *user)
{
	for (size_t i = 0; i < s->n_overlay_users; i++)
		if (!strcmp(s->overlay_users[i], user))
			return true;
	return false;
}

/* The base's invalid subscriptions the overlay does not replace. */
static size_t base_invalid(const struct match_snapshot *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->base->n_invalid; i++)
		n += !overlaid(s, s->base->invalid[i].user);
	return n;
}

void match_snapshot_stats(const struct match_snapshot *s, struct match_stats *out)
{
	*out = (struct match_stats){.users = s->n_users, .subscriptions = s->n_subs,
				    .slow = s->slow.n, .never = s->n_never, .keys = s->n_keys,
				    .invalid = s->n_invalid};
	if (s->base)
		out->invalid += base_invalid(s);
	if (s->base) { /* approximate: the hidden base users still count */
		struct match_stats b;
		match_snapshot_stats(s->base, &b);
		out->users += b.users;
		out->subscriptions += b.subscriptions;
		out->slow += b.slow;
		out->never += b.never;
		out->keys += b.keys;
	}
	out->indexed = out->subscriptions - out->slow - out->never;
}

static const struct match_invalid *find_invalid(const struct match_snapshot *s, uint64_t id)
{
	struct match_invalid key = {id, NULL};
	return s->n_invalid ? bsearch(&key, s->invalid, s->n_invalid, sizeof key, cmp_invalid)
			    : NULL;
}

bool match_snapshot_was_invalid(const struct match_snapshot *s, uint64_t id)
{
	if (find_invalid(s, id))
		return true;
	/* The base's entry counts unless the overlay reloaded that user. */
	const struct match_invalid *b = s->base ? find_invalid(s->base, id) : NULL;
	return b && !overlaid(s, b->user);
}

void match_snapshot_on_quarantine(struct match_snapshot *s, match_quarantine_fn fn, void *arg)
{
	s->on_quarantine = fn;
	s->on_quarantine_arg = arg;
}

bool match_snapshot_is_quarantined(const struct match_snapshot *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->n_subs; i++)
		if (s->subs[i].id == id)
			return __atomic_load_n(&s->subs[i].quarantined, __ATOMIC_RELAXED);
	return s->base ? match_snapshot_is_quarantined(s->base, id) : false;
}

bool match_snapshot_is_slow(const struct match_snapshot *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->n_subs; i++)
		if (s->subs[i].id == id)
			return s->subs[i].kind == 1;
	return s->base ? match_snapshot_is_slow(s->base, id) : false;
}
/* ---- overlays: small changes without a full rebuild ---- */

struct match_snapshot *match_snapshot_overlay(struct match_snapshot *base,
					      struct match_snapshot *overlay, char **users,
					      size_t n_users)
{
	if (base->base) { /* always layer on the full snapshot underneath */
		struct match_snapshot *full = base->base;
		base = full;
	}
	uint8_t *masked = calloc(base->n_users + 1, 1);
	if (!masked)
		return NULL;
	for (size_t i = 0; i < n_users; i++) {
		uint32_t u = strmap_get(&base->user_by_name, users[i]);
		if (u != UINT32_MAX)
			masked[u] = 1;
	}
	match_snapshot_ref(base);
	overlay->base = base;
	overlay->base_masked = masked;
	overlay->overlay_users = users;
	overlay->n_overlay_users = n_users;
	return overlay;
}
