/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * match: which subscriptions want a message, fast enough that a million
 * subscriptions cost little more than a thousand.
 *
 * A snapshot is an immutable index over every enabled subscription: an
 * inverted index from package and username to the subscriptions that need
 * them, exact topics and topic globs, and the short list of "slow"
 * subscriptions whose filters have nothing indexable. Each subscription is
 * indexed under one necessary condition chosen by filter_index_keys(), so a
 * message only reaches the candidates that could match; the full filter then
 * runs on those. Matches are grouped per (user, destination): one
 * notification records every subscription that matched it.
 *
 * Snapshots are reference-counted and swapped atomically by the matcher when
 * subscriptions change (store generation); readers never block writers.
 *
 * Threads: a snapshot is shared read-only, except each subscription's
 * budget strikes and quarantine flag (relaxed atomics, see match_int.h); a
 * match_scratch belongs to one thread. match_run allocates only when the
 * scratch must grow.
 */
#ifndef HERALD_MATCH_H
#define HERALD_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/meta.h"

struct store;
struct match_snapshot;
struct match_builder;
struct match_scratch;

/* One (user, destination) that should be notified, and why. */
struct match_hit {
	const char *user;      /* borrowed from the snapshot */
	uint64_t dest;
	const uint64_t *subs;  /* ids of every subscription that matched, ascending */
	uint32_t n_subs;
	/* 0 when an instant subscription matched; else the shortest interval
	 * (seconds) of the digest subscriptions that did */
	uint32_t digest_interval;
};

struct match_result {
	const struct match_hit *hits; /* owned by the scratch, valid until its next use */
	size_t n_hits;
	size_t n_candidates;  /* subscriptions whose filter ran */
	size_t n_matched;     /* subscriptions that matched */
	size_t n_cut;         /* ... whose regexes were cut short (budget or limits) */
	size_t n_quarantined; /* ... quarantined because of this message */
};

/*
 * Budgets (herald-filters(7), "Limits"). Per message, the regexes of one
 * subscription may run for MATCH_SUB_BUDGET_NS in all, and those of all the
 * subscriptions of one user for MATCH_USER_BUDGET_NS; each single run is
 * also bounded by PCRE2's limits (filter_scratch.c). What is cut short
 * counts as not matching. Subscriptions without a regex are not metered.
 *
 * Quarantine: a message is a strike against a subscription when its
 * regexes were cut short there, or took more than MATCH_SUB_HEAVY_NS (a
 * hundred times what ordinary patterns on notification fields take: a
 * filter that stays under the budget but is expensive on every message
 * costs everyone too). A subscription with MATCH_QUARANTINE_STRIKES strikes
 * in the last MATCH_QUARANTINE_WINDOW messages it ran regexes on is
 * skipped from then on by the snapshot, and the snapshot's quarantine
 * callback is told once (the matcher persists it, see below). A
 * subscription that only found its user's budget already spent is not
 * charged a strike: the one that spent it is.
 */
#define MATCH_SUB_BUDGET_NS	 (100 * 1000ull)  /* 100 us */
#define MATCH_USER_BUDGET_NS	 (1000 * 1000ull) /* 1 ms */
#define MATCH_SUB_HEAVY_NS	 (10 * 1000ull)	  /* 10 us */
#define MATCH_QUARANTINE_STRIKES 3
#define MATCH_QUARANTINE_WINDOW	 8 /* bits of msub.strikes */
#define MATCH_QUARANTINE_REASON                                                                    \
	"its filter's regular expressions exceeded their evaluation budget on 3 of the last 8 "     \
	"messages (PCRE2's match limits, 100 us per message for the subscription or 1 ms for its " \
	"user, or more than 10 us on a message); change the filter, then enable the "             \
	"subscription again"

/* Called from the matching thread, inside match_run: must be quick and
 * must not touch the store. `user` and `reason` are borrowed for the call. */
typedef void (*match_quarantine_fn)(void *arg, const char *user, uint64_t id, const char *reason);

struct match_stats {
	size_t users, subscriptions, indexed, slow, never, keys;
	/* enabled subscriptions that could not be loaded (their filter does not
	 * compile, their user is unknown, the document is broken): they match
	 * nothing, and each is logged once when it first fails to load */
	size_t invalid;
};

/* ---- building (also used by benchmarks and tests without a store) ---- */

struct match_builder *match_builder_new(void);
/* A user and their named lists: lists[i] has n_items[i] strings. Copied. */
int match_builder_user(struct match_builder *b, const char *name, const char *const *list_names,
		       const char *const *const *lists, const size_t *n_items, size_t n_lists);
/* A subscription of an already added user; the filter source is compiled
 * here. `digest_interval`: 0 for instant delivery, else seconds per digest. Returns 0, -ENOENT (unknown user), -EINVAL (filter does not
 * compile: the subscription is skipped) or -ENOMEM. */
int match_builder_sub(struct match_builder *b, const char *user, uint64_t id, const char *filter,
		      const uint64_t *dests, size_t n_dests, uint32_t digest_interval);
/* From now on compile filters without the regex shape rule
 * (FILTER_COMPILE_UNCHECKED): for benchmarks and tests that model filters
 * stored before the rule; the budgets still bound them. */
void match_builder_unchecked(struct match_builder *b);
/* Build the index; the builder is consumed. Never NULL: everything was
 * allocated as it was added, so nothing is left that can fail. */
struct match_snapshot *match_builder_finish(struct match_builder *b);
void match_builder_free(struct match_builder *b); /* NULL is a no-op */

/* Build a snapshot from every user and enabled subscription in the store. */
int match_snapshot_load(struct store *s, struct match_snapshot **out, char *err, size_t errlen);

void match_snapshot_ref(struct match_snapshot *s);
void match_snapshot_unref(struct match_snapshot *s); /* NULL is a no-op */
void match_snapshot_stats(const struct match_snapshot *s, struct match_stats *out);
/* Who hears about quarantines on `s` (and on its base, for an overlay).
 * Only before `s` is shared with other threads. */
void match_snapshot_on_quarantine(struct match_snapshot *s, match_quarantine_fn fn, void *arg);
/* Has subscription `id` been quarantined in `s` (or the base under it)? */
bool match_snapshot_is_quarantined(const struct match_snapshot *s, uint64_t id);
/* Is subscription `id` indexed (false: slow or unknown)? */
bool match_snapshot_is_slow(const struct match_snapshot *s, uint64_t id);

/* ---- matching ---- */

struct match_scratch *match_scratch_new(void);
void match_scratch_free(struct match_scratch *sc);

/* Match one message, within the budgets above. 0 or -ENOMEM. */
int match_run(const struct match_snapshot *s, const struct msg_view *m, struct match_scratch *sc,
	      struct match_result *out);
/* The same result by evaluating every subscription (the baseline for
 * benchmarks and a cross-check for tests). */
int match_run_linear(const struct match_snapshot *s, const struct msg_view *m,
		     struct match_scratch *sc, struct match_result *out);

/* ---- the live snapshot ---- */

/*
 * A matcher keeps the current snapshot of a store and rebuilds it in its own
 * thread when the store's documents change (polled every 100 ms), then swaps
 * it in: matching never waits for a rebuild. matcher_acquire returns a
 * referenced snapshot; the caller unrefs it when done.
 *
 * Quarantines decided while matching over the matcher's snapshots are
 * queued to that same thread, which writes them to the store
 * (directory_sub_quarantine: disabled, "state": "quarantined" with the
 * reason), logs them and counts them in metrics->subscriptions_quarantined;
 * the store change then reloads that user without the subscription, so it
 * stays out after a restart until enabled again. The matching thread never
 * writes the store. That thread also turns muted subscriptions back on when
 * their time is up (directory_unmute_due, about once a second, outside the
 * matcher's lock), a document change like any other. Lock order: a store
 * write transaction (the commit
 * thread matches inside one) may be held when the matcher's lock is taken,
 * never the other way round.
 */
struct matcher;
struct metrics;
int matcher_start(struct store *s, struct matcher **out, char *err, size_t errlen);
struct match_snapshot *matcher_acquire(struct matcher *m);
/* From now on keep metrics->subscriptions_invalid equal to the current
 * snapshot's count (set at once, then at every swap), and count persisted
 * quarantines in metrics->subscriptions_quarantined. `metrics` is borrowed
 * and must outlive the matcher; NULL stops the updates. Any thread. */
void matcher_set_metrics(struct matcher *m, struct metrics *metrics);
void matcher_stop(struct matcher *m); /* NULL is a no-op */

#endif
