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
 * Threads: a snapshot is shared read-only; a match_scratch belongs to one
 * thread. match_run allocates only when the scratch must grow.
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
};

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
/* Build the index; the builder is consumed. Never NULL: everything was
 * allocated as it was added, so nothing is left that can fail. */
struct match_snapshot *match_builder_finish(struct match_builder *b);
void match_builder_free(struct match_builder *b); /* NULL is a no-op */

/* Build a snapshot from every user and enabled subscription in the store. */
int match_snapshot_load(struct store *s, struct match_snapshot **out, char *err, size_t errlen);

void match_snapshot_ref(struct match_snapshot *s);
void match_snapshot_unref(struct match_snapshot *s); /* NULL is a no-op */
void match_snapshot_stats(const struct match_snapshot *s, struct match_stats *out);
/* Is subscription `id` indexed (false: slow or unknown)? */
bool match_snapshot_is_slow(const struct match_snapshot *s, uint64_t id);

/* ---- matching ---- */

struct match_scratch *match_scratch_new(void);
void match_scratch_free(struct match_scratch *sc);

/* Match one message. 0 or -ENOMEM. */
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
 */
struct matcher;
struct metrics;
int matcher_start(struct store *s, struct matcher **out, char *err, size_t errlen);
struct match_snapshot *matcher_acquire(struct matcher *m);
/* From now on keep metrics->subscriptions_invalid equal to the current
 * snapshot's count (set at once, then at every swap). `metrics` is borrowed
 * and must outlive the matcher; NULL stops the updates. Any thread. */
void matcher_set_metrics(struct matcher *m, struct metrics *metrics);
void matcher_stop(struct matcher *m); /* NULL is a no-op */

#endif
