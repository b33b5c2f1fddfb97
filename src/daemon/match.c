/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * match: running one message over a snapshot (see match.h): collecting the
 * candidates from the index, running their filters and grouping the hits
 * per (user, destination), with the per-thread scratch that keeps this
 * free of allocation; and the per-message regex budgets with the strikes
 * that quarantine a subscription (match.h). Not for building the index (match_index.c), reading
 * the store's documents (match_load.c), nor turning matches into
 * notifications.
 */
#include "match.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "match_int.h"

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
	/* per user of the bound snapshot (base users first): the epoch their
	 * budget was last reset in, and what is left of it this message */
	uint32_t *ustamp;
	uint64_t *uleft;
	uint32_t cap_users;
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
	free(sc->ustamp);
	free(sc->uleft);
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

static uint32_t total_users(const struct match_snapshot *s)
{
	return s->n_users + (s->base ? s->base->n_users : 0);
}

/* Forget every stamp (a new snapshot, or the epoch wrapped). */
static void stamps_clear(struct match_scratch *sc)
{
	memset(sc->stamp, 0, (size_t)sc->cap_stamp * sizeof *sc->stamp);
	memset(sc->ustamp, 0, (size_t)sc->cap_users * sizeof *sc->ustamp);
}

/* Make the scratch fit this snapshot (a new snapshot resets its caches). */
static int scratch_bind(struct match_scratch *sc, const struct match_snapshot *s)
{
	if (sc->snap == s)
		return 0;
	cache_clear(sc);
	uint32_t cap_left = sc->cap_users;
	if (grow((void **)&sc->stamp, &sc->cap_stamp, total_subs(s) + 1, sizeof *sc->stamp) ||
	    grow((void **)&sc->uleft, &cap_left, total_users(s) + 1, sizeof *sc->uleft) ||
	    grow((void **)&sc->ustamp, &sc->cap_users, total_users(s) + 1, sizeof *sc->ustamp))
		return -ENOMEM;
	stamps_clear(sc);
	sc->epoch = 0;
	sc->snap = s;
	return 0;
}

/* A stamp that is never queued again: a quarantined subscription, once this
 * scratch has seen it so (until the snapshot changes or the epoch wraps,
 * when the flag check in evaluate() finds it again). */
#define STAMP_SKIP UINT32_MAX

/* Queue a posting list's subscriptions once each; `off` keeps the stamps of
 * a base snapshot and its overlay apart. */
static int queue(struct match_scratch *sc, const struct postings *p, uint32_t off)
{
	if (grow((void **)&sc->cand, &sc->cap_cand, sc->n_cand + p->n, sizeof *sc->cand))
		return -ENOMEM;
	for (uint32_t i = 0; i < p->n; i++) {
		uint32_t v = p->v[i];
		if (sc->stamp[v + off] >= sc->epoch) /* queued, or STAMP_SKIP */
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

/* ---- budgets and quarantine ---- */

/* What user `u` (index over base and overlay users) has left this message. */
static uint64_t *user_left(struct match_scratch *sc, uint32_t u)
{
	if (sc->ustamp[u] != sc->epoch) {
		sc->ustamp[u] = sc->epoch;
		sc->uleft[u] = MATCH_USER_BUDGET_NS;
	}
	return &sc->uleft[u];
}

static void quarantine(const struct match_snapshot *s, struct msub *sub, struct match_result *out)
{
	if (__atomic_exchange_n(&sub->quarantined, 1, __ATOMIC_RELAXED))
		return; /* another thread got there first */
	out->n_quarantined++;
	if (s->on_quarantine)
		s->on_quarantine(s->on_quarantine_arg, s->users[sub->user].name, sub->id,
				 MATCH_QUARANTINE_REASON);
}

/* One message's verdict on a subscription that ran a regex: a strike when
 * it was cut short or heavy (match.h). Subscriptions never struck write
 * nothing. */
static void strike(const struct match_snapshot *s, struct msub *sub, bool cut,
		   struct match_result *out)
{
	uint8_t h = __atomic_load_n(&sub->strikes, __ATOMIC_RELAXED);
	if (!cut && !h)
		return;
	h = (uint8_t)(h << 1 | cut);
	__atomic_store_n(&sub->strikes, h, __ATOMIC_RELAXED);
	out->n_cut += cut;
	if (__builtin_popcount(h) >= MATCH_QUARANTINE_STRIKES)
		quarantine(s, sub, out);
}

/* filter_eval within the subscription's and its user's budgets. */
static bool eval_budgeted(const struct match_snapshot *s, uint32_t uoff, struct msub *sub,
			  const struct msg_view *m, struct match_scratch *sc,
			  struct match_result *out)
{
	uint64_t *left = user_left(sc, uoff + sub->user);
	uint64_t allow = *left < MATCH_SUB_BUDGET_NS ? *left : MATCH_SUB_BUDGET_NS;
	bool cut;
	filter_scratch_budget(sc->fs, allow);
	bool hit = filter_eval(sub->f, m, &s->users[sub->user].fu, sc->fs);
	uint64_t spent = filter_scratch_spent(sc->fs, &cut);
	filter_scratch_budget(sc->fs, FILTER_BUDGET_NONE);
	*left -= spent < *left ? spent : *left;
	if (allow > 0 && (spent > 0 || cut))
		strike(s, sub, cut || spent > MATCH_SUB_HEAVY_NS, out);
	return hit;
}

/* Run the filters of the queued candidates of `s`; `masked` (may be NULL)
 * hides users whose subscriptions an overlay replaced; `soff` and `uoff` are
 * where the subscriptions and users of `s` start in the scratch's stamps and
 * budgets. */
static int evaluate(const struct match_snapshot *s, const uint8_t *masked, uint32_t soff,
		    uint32_t uoff, const struct msg_view *m, struct match_scratch *sc,
		    struct match_result *out)
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
		struct msub *sub = &s->subs[sc->cand[c]];
		if (masked && masked[sub->user])
			continue;
		if (__atomic_load_n(&sub->quarantined, __ATOMIC_RELAXED)) {
			sc->stamp[sc->cand[c] + soff] = STAMP_SKIP;
			continue;
		}
		out->n_candidates++;
		bool hit = filter_has_regex(sub->f)
				   ? eval_budgeted(s, uoff, sub, m, sc, out)
				   : filter_eval(sub->f, m, &s->users[sub->user].fu, sc->fs);
		if (!hit)
			continue;
		out->n_matched++;
		if (record(s, sc, sc->cand[c]))
			return -ENOMEM;
	}
	return 0;
}

/* Where the overlay's subscriptions start in the scratch's stamps. */
static uint32_t base_subs(const struct match_snapshot *s)
{
	return s->base ? s->base->n_subs : 0;
}

/* evaluate() for `s` itself: its subscriptions and users come after the
 * base's in the stamps and budgets. */
static int evaluate_overlay(const struct match_snapshot *s, const struct msg_view *m,
			    struct match_scratch *sc, struct match_result *out)
{
	return evaluate(s, NULL, base_subs(s), s->base ? s->base->n_users : 0, m, sc, out);
}

static int start(const struct match_snapshot *s, struct match_scratch *sc, struct match_result *out)
{
	*out = (struct match_result){0};
	if (scratch_bind(sc, s))
		return -ENOMEM;
	if (++sc->epoch == 0) { /* wrapped: forget every stamp */
		stamps_clear(sc);
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
			rc = evaluate(s->base, s->base_masked, 0, 0, m, sc, out);
	}
	if (!rc)
		rc = collect_candidates(s, m, sc, base_subs(s));
	if (!rc)
		rc = evaluate_overlay(s, m, sc, out);
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
		rc = evaluate(s->base, s->base_masked, 0, 0, m, sc, out);
	if (!rc && !(rc = queue_all(s, sc)))
		rc = evaluate_overlay(s, m, sc, out);
	return rc ? rc : group(sc, out);
}
