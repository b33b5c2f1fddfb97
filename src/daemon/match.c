/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * match: the subscription index and matching (see match.h). Not for reading
 * the store's documents beyond what loading a snapshot needs, nor for
 * turning matches into notifications.
 */
#include "match.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "src/common/log.h"
#include "store.h"
#include "src/common/clock.h"

/* ---- a string -> postings map (open addressing, power-of-two table) ---- */

struct postings {
	uint32_t *v;
	uint32_t n, cap;
};

struct strmap {
	char **keys;           /* owned */
	uint32_t *vals;        /* index into the owner's postings array */
	uint32_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h ^ (h >> 29);
}

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

/* Index of `key`'s value, or UINT32_MAX. */
static uint32_t strmap_get(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return UINT32_MAX;
	uint32_t j = (uint32_t)hash_str(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (!strcmp(m->keys[j], key))
			return m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	return UINT32_MAX;
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

struct muser {
	char *name;
	struct filter_user fu;
	struct filter_list *lists;  /* owned, with their items */
};

struct msub {
	uint64_t id;
	uint32_t user;       /* index into users */
	struct filter *f;
	uint64_t *dests;
	uint32_t n_dests;
	uint32_t digest;     /* seconds; 0: instant */
	uint8_t kind;        /* 0 indexed, 1 slow, 2 never */
};

/* Which index a posting list belongs to. */
enum index_kind { IX_PACKAGE, IX_USERNAME, IX_TOPIC, IX_GLOB, IX_COUNT };

struct match_snapshot {
	atomic_int refs;
	struct muser *users;
	uint32_t n_users, cap_users;
	struct msub *subs;
	uint32_t n_subs, cap_subs;
	struct strmap user_by_name;
	struct strmap ix[IX_COUNT];   /* key -> postings index */
	struct postings *posts;       /* all posting lists */
	uint32_t n_posts, cap_posts;
	char **globs;                 /* IX_GLOB keys by posting: globs[i] for posts index */
	uint32_t *glob_post;          /* posting list of each glob, parallel to globs */
	uint32_t n_globs, cap_globs;
	struct postings slow;
	size_t n_never, n_keys;
	/* An overlay: this snapshot holds only the users in overlay_users and
	 * sits on a full `base` whose subscriptions of those users are hidden. */
	struct match_snapshot *base;  /* referenced; NULL for a full snapshot */
	uint8_t *base_masked;         /* per base user: hidden? */
	char **overlay_users;         /* owned */
	size_t n_overlay_users;
};

struct match_builder {
	struct match_snapshot *s;
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
	struct match_snapshot *s = b->s;
	uint32_t u = strmap_get(&s->user_by_name, user);
	if (u == UINT32_MAX)
		return -ENOENT;
	struct filter_error ferr;
	struct filter *f;
	int rc = filter_compile(src, &f, &ferr);
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
	b->s = NULL;
	free(b);
	return s;
}

void match_snapshot_stats(const struct match_snapshot *s, struct match_stats *out)
{
	*out = (struct match_stats){.users = s->n_users, .subscriptions = s->n_subs,
				    .slow = s->slow.n, .never = s->n_never, .keys = s->n_keys};
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

bool match_snapshot_is_slow(const struct match_snapshot *s, uint64_t id)
{
	for (uint32_t i = 0; i < s->n_subs; i++)
		if (s->subs[i].id == id)
			return s->subs[i].kind == 1;
	return s->base ? match_snapshot_is_slow(s->base, id) : false;
}

/* ---- matching ---- */

struct pending_hit {
	const char *user; /* the owning snapshot's copy: one per user */
	uint64_t dest, sub;
	uint32_t digest;
};

/* Per-topic answer of "which globs match", cached per scratch. */
struct topic_cache_entry {
	const struct match_snapshot *snap;
	char *topic;
	uint32_t *globs;
	uint32_t n;
};

#define TOPIC_CACHE 1024 /* power of two; distinct topics on a bus are few */

struct match_scratch {
	const struct match_snapshot *snap; /* what the cached state belongs to */
	uint32_t *stamp;                   /* per subscription: epoch it was last queued */
	uint32_t cap_stamp, epoch;
	uint32_t *cand;
	uint32_t n_cand, cap_cand;
	struct pending_hit *pend;
	uint32_t n_pend, cap_pend;
	struct match_hit *hits;
	uint32_t cap_hits;
	uint64_t *hit_subs;
	uint32_t cap_hit_subs;
	struct topic_cache_entry cache[TOPIC_CACHE];
	struct filter_scratch *fs;
};

struct match_scratch *match_scratch_new(void)
{
	struct match_scratch *sc = calloc(1, sizeof *sc);
	if (sc && !(sc->fs = filter_scratch_new())) {
		free(sc);
		return NULL;
	}
	return sc;
}

static void cache_clear(struct match_scratch *sc)
{
	for (int i = 0; i < TOPIC_CACHE; i++) {
		free(sc->cache[i].topic);
		free(sc->cache[i].globs);
		sc->cache[i] = (struct topic_cache_entry){0};
	}
}

void match_scratch_free(struct match_scratch *sc)
{
	if (!sc)
		return;
	cache_clear(sc);
	filter_scratch_free(sc->fs);
	free(sc->stamp);
	free(sc->cand);
	free(sc->pend);
	free(sc->hits);
	free(sc->hit_subs);
	free(sc);
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	uint32_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *n = realloc(*p, (size_t)c * size);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

static uint32_t total_subs(const struct match_snapshot *s)
{
	return s->n_subs + (s->base ? s->base->n_subs : 0);
}

/* Make the scratch fit this snapshot (a new snapshot resets its caches). */
static int scratch_bind(struct match_scratch *sc, const struct match_snapshot *s)
{
	if (sc->snap == s)
		return 0;
	cache_clear(sc);
	if (grow((void **)&sc->stamp, &sc->cap_stamp, total_subs(s) + 1, sizeof *sc->stamp))
		return -ENOMEM;
	memset(sc->stamp, 0, (size_t)sc->cap_stamp * sizeof *sc->stamp);
	sc->epoch = 0;
	sc->snap = s;
	return 0;
}

/* Queue a posting list's subscriptions once each; `off` keeps the stamps of
 * a base snapshot and its overlay apart. */
static int queue(struct match_scratch *sc, const struct postings *p, uint32_t off)
{
	if (grow((void **)&sc->cand, &sc->cap_cand, sc->n_cand + p->n, sizeof *sc->cand))
		return -ENOMEM;
	for (uint32_t i = 0; i < p->n; i++) {
		uint32_t v = p->v[i];
		if (sc->stamp[v + off] == sc->epoch)
			continue;
		sc->stamp[v + off] = sc->epoch;
		sc->cand[sc->n_cand++] = v;
	}
	return 0;
}

static int queue_key(const struct match_snapshot *s, struct match_scratch *sc, enum index_kind ix,
		     const char *key, uint32_t off)
{
	uint32_t post = strmap_get(&s->ix[ix], key);
	return post == UINT32_MAX ? 0 : queue(sc, &s->posts[post], off);
}

/* The globs of `s` matching `topic`, computed once per distinct topic. */
static const struct topic_cache_entry *globs_for(const struct match_snapshot *s,
						 struct match_scratch *sc, const char *topic)
{
	uint64_t h = hash_str(topic) ^ ((uintptr_t)s >> 4) * 0x9e3779b97f4a7c15ull;
	struct topic_cache_entry *e = &sc->cache[h & (TOPIC_CACHE - 1)];
	if (e->topic && e->snap == s && !strcmp(e->topic, topic))
		return e;
	free(e->topic);
	free(e->globs);
	*e = (struct topic_cache_entry){0};
	uint32_t *v = malloc((s->n_globs ? s->n_globs : 1) * sizeof *v), n = 0;
	if (!v || !(e->topic = strdup(topic))) {
		free(v);
		return NULL;
	}
	for (uint32_t k = 0; k < s->n_globs; k++)
		if (filter_glob_match(s->globs[k], topic))
			v[n++] = s->glob_post[k];
	e->snap = s;
	e->globs = v;
	e->n = n;
	return e;
}

static int collect_candidates(const struct match_snapshot *s, const struct msg_view *m,
			      struct match_scratch *sc, uint32_t off)
{
	int rc = 0;
	const struct meta *meta = m->meta;
	sc->n_cand = 0;
	for (size_t i = 0; !rc && meta && i < meta->n_packages; i++)
		rc = queue_key(s, sc, IX_PACKAGE, meta->packages[i], off);
	for (size_t i = 0; !rc && meta && i < meta->n_usernames; i++)
		rc = queue_key(s, sc, IX_USERNAME, meta->usernames[i], off);
	if (!rc)
		rc = queue_key(s, sc, IX_TOPIC, m->topic, off);
	if (!rc && s->n_globs) {
		const struct topic_cache_entry *e = globs_for(s, sc, m->topic);
		if (!e)
			return -ENOMEM;
		for (uint32_t k = 0; !rc && k < e->n; k++)
			rc = queue(sc, &s->posts[e->globs[k]], off);
	}
	if (!rc)
		rc = queue(sc, &s->slow, off);
	return rc;
}

static int cmp_pending(const void *a, const void *b)
{
	const struct pending_hit *x = a, *y = b;
	if (x->user != y->user)
		return (uintptr_t)x->user < (uintptr_t)y->user ? -1 : 1;
	if (x->dest != y->dest)
		return x->dest < y->dest ? -1 : 1;
	return x->sub < y->sub ? -1 : x->sub > y->sub;
}

/* Record that subscription `i` of `s` matched: one pending hit per destination. */
static int record(const struct match_snapshot *s, struct match_scratch *sc, uint32_t i)
{
	const struct msub *sub = &s->subs[i];
	if (grow((void **)&sc->pend, &sc->cap_pend, sc->n_pend + sub->n_dests, sizeof *sc->pend))
		return -ENOMEM;
	for (uint32_t d = 0; d < sub->n_dests; d++)
		sc->pend[sc->n_pend++] =
			(struct pending_hit){s->users[sub->user].name, sub->dests[d], sub->id,
					     sub->digest};
	return 0;
}

/* Group pending hits by (user, destination) into the result. */
static int group(struct match_scratch *sc, struct match_result *out)
{
	if (sc->n_pend > 1)
		qsort(sc->pend, sc->n_pend, sizeof *sc->pend, cmp_pending);
	if (grow((void **)&sc->hits, &sc->cap_hits, sc->n_pend, sizeof *sc->hits) ||
	    grow((void **)&sc->hit_subs, &sc->cap_hit_subs, sc->n_pend, sizeof *sc->hit_subs))
		return -ENOMEM;
	size_t n = 0;
	for (uint32_t i = 0; i < sc->n_pend; i++) {
		const struct pending_hit *p = &sc->pend[i];
		sc->hit_subs[i] = p->sub;
		if (n && sc->pend[i - 1].user == p->user && sc->pend[i - 1].dest == p->dest) {
			struct match_hit *h = &sc->hits[n - 1];
			h->n_subs++;
			/* instant wins; among digests, the shortest interval */
			if (!p->digest || (h->digest_interval && p->digest < h->digest_interval))
				h->digest_interval = p->digest;
			continue;
		}
		sc->hits[n++] = (struct match_hit){p->user, p->dest, &sc->hit_subs[i], 1, p->digest};
	}
	out->hits = sc->hits;
	out->n_hits = n;
	return 0;
}

/* Run the filters of the queued candidates of `s`; `masked` (may be NULL)
 * hides users whose subscriptions an overlay replaced. */
static int evaluate(const struct match_snapshot *s, const uint8_t *masked, const struct msg_view *m,
		    struct match_scratch *sc, struct match_result *out)
{
	for (uint32_t c = 0; c < sc->n_cand; c++) {
		/* Candidates are scattered over a large index: fetch ahead, in
		 * two steps because the filter's address is in the subscription. */
		if (c + 8 < sc->n_cand)
			__builtin_prefetch(&s->subs[sc->cand[c + 8]]);
		if (c + 4 < sc->n_cand) {
			const struct msub *ahead = &s->subs[sc->cand[c + 4]];
			__builtin_prefetch(ahead->f);
			__builtin_prefetch(&s->users[ahead->user]);
		}
		const struct msub *sub = &s->subs[sc->cand[c]];
		if (masked && masked[sub->user])
			continue;
		out->n_candidates++;
		if (!filter_eval(sub->f, m, &s->users[sub->user].fu, sc->fs))
			continue;
		out->n_matched++;
		if (record(s, sc, sc->cand[c]))
			return -ENOMEM;
	}
	return 0;
}

static int start(const struct match_snapshot *s, struct match_scratch *sc, struct match_result *out)
{
	*out = (struct match_result){0};
	if (scratch_bind(sc, s))
		return -ENOMEM;
	if (++sc->epoch == 0) { /* wrapped: forget every stamp */
		memset(sc->stamp, 0, (size_t)sc->cap_stamp * sizeof *sc->stamp);
		sc->epoch = 1;
	}
	sc->n_cand = 0;
	sc->n_pend = 0;
	return 0;
}

int match_run(const struct match_snapshot *s, const struct msg_view *m, struct match_scratch *sc,
	      struct match_result *out)
{
	int rc = start(s, sc, out);
	if (!rc && s->base) {
		rc = collect_candidates(s->base, m, sc, 0);
		if (!rc)
			rc = evaluate(s->base, s->base_masked, m, sc, out);
	}
	if (!rc)
		rc = collect_candidates(s, m, sc, s->base ? s->base->n_subs : 0);
	if (!rc)
		rc = evaluate(s, NULL, m, sc, out);
	return rc ? rc : group(sc, out);
}

static int queue_all(const struct match_snapshot *s, struct match_scratch *sc)
{
	sc->n_cand = 0;
	if (grow((void **)&sc->cand, &sc->cap_cand, s->n_subs + 1, sizeof *sc->cand))
		return -ENOMEM;
	for (uint32_t i = 0; i < s->n_subs; i++)
		sc->cand[sc->n_cand++] = i;
	return 0;
}

int match_run_linear(const struct match_snapshot *s, const struct msg_view *m,
		     struct match_scratch *sc, struct match_result *out)
{
	int rc = start(s, sc, out);
	if (!rc && s->base && !(rc = queue_all(s->base, sc)))
		rc = evaluate(s->base, s->base_masked, m, sc, out);
	if (!rc && !(rc = queue_all(s, sc)))
		rc = evaluate(s, NULL, m, sc, out);
	return rc ? rc : group(sc, out);
}

/* ---- overlays: small changes without a full rebuild ---- */

static struct match_snapshot *match_snapshot_overlay(struct match_snapshot *base,
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

/* ---- loading from the store ---- */

struct load_ctx {
	struct match_builder *b;
	size_t bad;
	char *err;
	size_t errlen;
};

static int load_user(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct load_ctx *c = arg;
	json_t *doc = json_loadb(json, len, 0, NULL);
	json_t *lists = json_object_get(doc, "lists");
	const char *name = json_string_value(json_object_get(doc, "name"));
	size_t n = json_object_size(lists), i = 0;
	const char **names = calloc(n + 1, sizeof *names);
	const char ***items = calloc(n + 1, sizeof *items);
	size_t *counts = calloc(n + 1, sizeof *counts);
	int rc = -ENOMEM;
	if (!names || !items || !counts)
		goto out;
	const char *lname;
	json_t *arr;
	json_object_foreach(lists, lname, arr) {
		names[i] = lname;
		counts[i] = json_array_size(arr);
		if (!(items[i] = calloc(counts[i] + 1, sizeof **items)))
			goto out;
		for (size_t k = 0; k < counts[i]; k++)
			items[i][k] = json_string_value(json_array_get(arr, k));
		i++;
	}
	rc = name ? match_builder_user(c->b, name, names, (const char *const *const *)items, counts, n)
		  : (c->bad++, 0);
out:
	for (size_t k = 0; items && k < n; k++)
		free(items[k]);
	free(items);
	free(names);
	free(counts);
	json_decref(doc);
	return rc == -EEXIST ? 0 : rc;
}

/* A subscription document's digest interval; 0 for instant delivery. */
static uint32_t digest_of(const json_t *doc)
{
	const char *mode = json_string_value(json_object_get(doc, "mode"));
	if (!mode || strcmp(mode, "digest"))
		return 0;
	json_int_t iv = json_integer_value(json_object_get(doc, "digest_interval"));
	return iv > 0 && iv <= UINT32_MAX ? (uint32_t)iv : 3600;
}

static int load_sub(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct load_ctx *c = arg;
	json_t *doc = json_loadb(json, len, 0, NULL);
	json_t *dests = json_object_get(doc, "destinations");
	const char *user = json_string_value(json_object_get(doc, "user"));
	const char *filter = json_string_value(json_object_get(doc, "filter"));
	json_t *enabled = json_object_get(doc, "enabled");
	size_t n = json_array_size(dests);
	uint64_t *ids = calloc(n + 1, sizeof *ids);
	int rc = ids ? 0 : -ENOMEM;
	for (size_t i = 0; ids && i < n; i++)
		ids[i] = (uint64_t)json_integer_value(json_array_get(dests, i));
	if (!rc && user && filter && !json_is_false(enabled)) {
		rc = match_builder_sub(c->b, user, (uint64_t)json_integer_value(json_object_get(doc, "id")),
				       filter, ids, n,
				       digest_of(doc));
		if (rc == -EINVAL || rc == -ENOENT) { /* validated on the way in; never fatal */
			c->bad++;
			rc = 0;
		}
	}
	free(ids);
	json_decref(doc);
	return rc;
}

/* Build a snapshot of just these users (the overlay of a small change). */
static int load_users(struct store *st, char **users, size_t n, struct match_snapshot **out)
{
	struct load_ctx c = {match_builder_new(), 0, NULL, 0};
	struct buf doc = BUF_INIT, prefix = BUF_INIT;
	int rc = c.b ? 0 : -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		rc = store_doc_get(st, STORE_USERS, users[i], strlen(users[i]), &doc);
		if (rc == -ENOENT) { /* deleted: the overlay just hides them */
			rc = 0;
			continue;
		}
		if (!rc)
			rc = load_user(&c, users[i], strlen(users[i]), doc.data, doc.len);
		buf_reset(&prefix);
		if (!rc)
			rc = buf_append(&prefix, users[i], strlen(users[i]) + 1);
		if (!rc)
			rc = store_doc_foreach(st, STORE_SUBS, prefix.data, prefix.len, load_sub, &c);
	}
	buf_release(&doc);
	buf_release(&prefix);
	if (rc) {
		match_builder_free(c.b);
		return rc;
	}
	return (*out = match_builder_finish(c.b)) ? 0 : -ENOMEM;
}

int match_snapshot_load(struct store *st, struct match_snapshot **out, char *err, size_t errlen)
{
	struct load_ctx c = {match_builder_new(), 0, err, errlen};
	if (!c.b)
		return -ENOMEM;
	int rc = store_doc_foreach(st, STORE_USERS, NULL, 0, load_user, &c);
	if (!rc)
		rc = store_doc_foreach(st, STORE_SUBS, NULL, 0, load_sub, &c);
	if (rc) {
		snprintf(err, errlen, "match: cannot load subscriptions (%s)", store_strerror(rc));
		match_builder_free(c.b);
		return rc;
	}
	if (!(*out = match_builder_finish(c.b)))
		return -ENOMEM;
	return 0;
}

/* ---- the live snapshot ---- */

struct matcher {
	struct store *store;
	pthread_mutex_t lock;    /* guards current */
	pthread_cond_t wake;
	struct match_snapshot *current;
	uint64_t generation;     /* of the store when current was built */
	bool stopping;
	pthread_t thread;
};

static void swap_in(struct matcher *m, struct match_snapshot *s, uint64_t gen)
{
	pthread_mutex_lock(&m->lock);
	struct match_snapshot *old = m->current;
	m->current = s;
	m->generation = gen;
	pthread_mutex_unlock(&m->lock);
	match_snapshot_unref(old);
}

#define OVERLAY_MAX 2000 /* users changed since the last full rebuild */

/* `a` plus the names in `b` not already there, as a fresh owned array. */
static char **merge_names(char *const *a, size_t na, char *const *b, size_t nb, size_t *n)
{
	char **v = calloc(na + nb + 1, sizeof *v);
	size_t k = 0;
	for (size_t i = 0; v && i < na + nb; i++) {
		const char *name = i < na ? a[i] : b[i - na];
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = !strcmp(v[j], name);
		if (dup)
			continue;
		if (!(v[k] = strdup(name))) {
			while (k)
				free(v[--k]);
			free(v);
			return NULL;
		}
		k++;
	}
	*n = k;
	return v;
}

/* A change of a few users: rebuild only them, layered on the full index.
 * Returns NULL when a full rebuild is the better answer. */
static struct match_snapshot *small_change(struct matcher *m, char **changed, size_t n)
{
	pthread_mutex_lock(&m->lock);
	struct match_snapshot *cur = m->current;
	match_snapshot_ref(cur);
	pthread_mutex_unlock(&m->lock);
	struct match_snapshot *full = cur->base ? cur->base : cur, *overlay = NULL, *out = NULL;
	size_t nu = 0;
	char **users = merge_names(cur->overlay_users, cur->n_overlay_users, changed, n, &nu);
	if (users && nu <= OVERLAY_MAX && !load_users(m->store, users, nu, &overlay) &&
	    (out = match_snapshot_overlay(full, overlay, users, nu)))
		users = NULL; /* the overlay owns them now */
	else
		match_snapshot_unref(overlay);
	for (size_t i = 0; users && i < nu; i++)
		free(users[i]);
	free(users);
	match_snapshot_unref(cur);
	return out;
}

/* Bring the index up to date with the store: small changes as an overlay,
 * anything bigger (or "everything") as a full rebuild. */
static void refresh(struct matcher *m, uint64_t gen, struct log_limit *rl)
{
	char **changed, err[256];
	size_t n;
	bool all;
	uint64_t t0 = clock_mono_us();
	store_take_changed(m->store, &changed, &n, &all);
	struct match_snapshot *s = all ? NULL : small_change(m, changed, n);
	bool partial = s != NULL;
	if (!s && match_snapshot_load(m->store, &s, err, sizeof err)) {
		log_limited(rl, L_ERROR, "%s", err);
		s = NULL;
	}
	if (s) {
		struct match_stats st;
		match_snapshot_stats(s, &st);
		swap_in(m, s, gen);
		log_info("match: index %s: %zu changed users, %zu subscriptions (%zu slow) in %llu ms",
			 partial ? "updated" : "rebuilt", n, st.subscriptions, st.slow,
			 (unsigned long long)(clock_mono_us() - t0) / 1000);
	}
	for (size_t i = 0; i < n; i++)
		free(changed[i]);
	free(changed);
}

static void *refresher(void *arg)
{
	struct matcher *m = arg;
	struct log_limit rl = {.interval_ms = 10000};
	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		struct timespec until = clock_deadline(100);
		pthread_cond_timedwait(&m->wake, &m->lock, &until);
		uint64_t gen = store_doc_generation(m->store);
		if (m->stopping || gen == m->generation)
			continue;
		pthread_mutex_unlock(&m->lock);
		refresh(m, gen, &rl);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int matcher_start(struct store *s, struct matcher **out, char *err, size_t errlen)
{
	struct matcher *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->store = s;
	pthread_mutex_init(&m->lock, NULL);
	clock_cond_init(&m->wake); /* waited on with a deadline */
	m->generation = store_doc_generation(s);
	char **changed;
	size_t n;
	bool all;
	store_take_changed(s, &changed, &n, &all); /* the full load below covers them */
	for (size_t i = 0; i < n; i++)
		free(changed[i]);
	free(changed);
	int rc = match_snapshot_load(s, &m->current, err, errlen);
	if (!rc && (rc = -pthread_create(&m->thread, NULL, refresher, m)))
		snprintf(err, errlen, "match: cannot start the index thread (%s)", strerror(-rc));
	if (rc) {
		match_snapshot_unref(m->current);
		pthread_cond_destroy(&m->wake);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

struct match_snapshot *matcher_acquire(struct matcher *m)
{
	pthread_mutex_lock(&m->lock);
	struct match_snapshot *s = m->current;
	match_snapshot_ref(s);
	pthread_mutex_unlock(&m->lock);
	return s;
}

void matcher_stop(struct matcher *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	match_snapshot_unref(m->current);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
