/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * match_int: the inside of a match snapshot, shared by the files of the
 * matcher (match_index.c builds it, match.c runs messages over it,
 * match_load.c fills it from the store and keeps the live one). Not for
 * anyone else: everything outside the matcher goes through match.h.
 *
 * A snapshot is immutable once match_builder_finish returns it; the
 * functions here that change one are for the builder's thread only.
 */
#ifndef HERALD_MATCH_INT_H
#define HERALD_MATCH_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "filters/filter.h"
#include "match.h"

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

/* Inline: both sit on match_run's path, once per key of every message. */
static inline uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* Index of `key`'s value, or UINT32_MAX. */
static inline uint32_t strmap_get(const struct strmap *m, const char *key)
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

/* ---- snapshot ---- */

/* A subscription of the store that is not in the index. */
struct match_invalid {
	uint64_t id;
	char *user; /* owned */
};

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
	/* The only fields that change in a finished snapshot, by the matching
	 * threads, with relaxed __atomic loads and stores (a lost update only
	 * delays a quarantine by a message): one bit per message this
	 * subscription ran a regex on, 1 when it was cut short, newest lowest;
	 * and whether it is quarantined (skipped from then on). */
	uint8_t strikes;
	uint8_t quarantined;
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
	/* Subscriptions that failed to load, by id once finished (an overlay's
	 * own; its base's count too, except those of the overlay's users). */
	struct match_invalid *invalid;
	size_t n_invalid, cap_invalid;
	/* Told about each quarantine decided on this snapshot's subscriptions
	 * (set before the snapshot is shared; NULL: nobody). */
	match_quarantine_fn on_quarantine;
	void *on_quarantine_arg;
};

/* match_builder_sub, also saying why a filter does not compile (`why` is
 * filled in when it returns -EINVAL). */
int match_builder_sub_why(struct match_builder *b, const char *user, uint64_t id,
			  const char *filter, const uint64_t *dests, size_t n_dests,
			  uint32_t digest_interval, struct filter_error *why);
/* Record that subscription `id` of `user` could not be loaded. 0 or -ENOMEM. */
int match_builder_invalid(struct match_builder *b, const char *user, uint64_t id);
/* Did subscription `id` fail to load into `s` (or the base under it)? */
bool match_snapshot_was_invalid(const struct match_snapshot *s, uint64_t id);

/* Make `overlay` (a snapshot of just `users`) sit on `base`, hiding base's
 * subscriptions of those users. Takes ownership of `users` and returns
 * `overlay`, or NULL on allocation failure (then nothing is taken). */
struct match_snapshot *match_snapshot_overlay(struct match_snapshot *base,
					      struct match_snapshot *overlay, char **users,
					      size_t n_users);

#endif
