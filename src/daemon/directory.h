/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * directory: the business rules for users, destinations and subscriptions,
 * kept as JSON documents in the store's document tables (store.h).
 *
 * Every operation validates its whole input first, then runs as one store
 * transaction: it either applies completely or changes nothing. A refusal
 * carries an HTTP-like status and a message meant for a person:
 *   400 bad input, 403 forbidden, 404 missing, 409 conflict,
 *   500 store failure, 507 store full.
 * Not for transport (api.c, api_v1.c), nor for matching (match.c reads the
 * same documents), nor for explaining matches (explain.c).
 *
 * Documents (what GET returns, what match.c reads):
 *   user  {"name", "lists": {LIST: [sorted unique strings]},
 *          "quiet_hours": {"start": "HH:MM", "end": "HH:MM"} | null,
 *          "timezone": IANA name}
 *   dest  {"id", "user", "sink", "address", "verified", "paused", "paused_reason"}
 *   sub   {"id", "user", "name" (optional), "filter", "destinations": [ids],
 *          "mode": "instant" | "digest", "digest_interval" (digest only), "enabled",
 *          and when quarantined: "state": "quarantined", "reason": TEXT;
 *          when muted: "muted_until": Unix seconds}
 *         GET (one or the list) adds "state" ("active", "disabled", "muted",
 *         "invalid", "quarantined") and for "invalid" and "quarantined" a
 *         "reason".
 * Keys: users by name; dests and subs by "user\0" + u64 BE id.
 *
 * Consistency: a write transaction holds LMDB's single writer lock, and the
 * store runs with MDB_NOTLS, so the read-only scans made while it is open
 * (store_doc_foreach) see exactly the state the transaction started from:
 * nobody else can commit in between. Every document write goes through this
 * module so that the cross-document rules (a subscription names only its
 * user's existing destinations, a user's records go with the user) hold.
 *
 * Ownership: inputs are borrowed; a json_t ** result is a new reference the
 * caller decrefs. Threads: any thread may call any function (LMDB serialises
 * the writers); nothing here keeps state between calls.
 */
#ifndef HERALD_DIRECTORY_H
#define HERALD_DIRECTORY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filters/filter.h"

struct store;

/* Limits, part of the API contract (doc/herald-api.7). */
#define DIRECTORY_NAME_MAX 64          /* user names */
#define DIRECTORY_LIST_NAME_MAX 32
#define DIRECTORY_LISTS_MAX 64         /* named lists per user */
#define DIRECTORY_LIST_ITEMS_MAX 10000
#define DIRECTORY_ITEM_MAX 256         /* bytes per list item */
#define DIRECTORY_SINK_MAX 32
#define DIRECTORY_ADDRESS_MAX 2048
#define DIRECTORY_REASON_MAX 256
#define DIRECTORY_SUB_NAME_MAX 128
#define DIRECTORY_SUB_DESTS_MAX 64
#define DIRECTORY_DESTS_PER_USER 256
#define DIRECTORY_SUBS_PER_USER 1024
#define DIRECTORY_DIGEST_MIN 60        /* seconds */
#define DIRECTORY_DIGEST_MAX 604800

#ifndef HERALD_ZONEINFO_DIR
#define HERALD_ZONEINFO_DIR "/usr/share/zoneinfo"
#endif

/* Why an operation was refused. `status` is 0 after success. */
struct directory_error {
	int status;
	char msg[512];
};

/* Pure checks, shared with the token file parser and the CLI-facing API. */
bool directory_valid_user_name(const char *name);
bool directory_valid_list_name(const char *name);
/* An IANA zone that exists under HERALD_ZONEINFO_DIR (or "UTC"). */
bool directory_valid_timezone(const char *tz);

/*
 * Each returns 0, or a negative errno-style code with *e filled in
 * (-EINVAL 400, -EPERM 403, -ENOENT 404, -EEXIST 409, -ENOSPC 507, other 500).
 * `in` is the request body (a JSON object, or NULL where the body is optional).
 */

/* ---- users ---- */
int directory_user_add(struct store *s, const json_t *in, json_t **out, struct directory_error *e);
int directory_user_get(struct store *s, const char *name, json_t **out, struct directory_error *e);
/* Change a user's quiet_hours and/or timezone (`in` holds only those, each
 * checked as directory_user_add checks them). *out is the updated user. */
int directory_user_update(struct store *s, const char *name, const json_t *in, json_t **out,
			  struct directory_error *e);
/* All users, in name order: a JSON array. */
int directory_user_list(struct store *s, json_t **out, struct directory_error *e);
/* At most `limit` (>= 1) users whose names sort after `after` (NULL: from
 * the first), in name order: a JSON array. One read transaction. */
int directory_user_page(struct store *s, const char *after, size_t limit, json_t **out,
			struct directory_error *e);
/* Deletes the user with every destination and subscription of theirs.
 * *out: {"deleted": NAME, "destinations": N, "subscriptions": N}. */
int directory_user_del(struct store *s, const char *name, json_t **out, struct directory_error *e);
/* Replace one named list (`items`: a JSON array of strings; empty removes
 * the list). *out is the updated user. */
int directory_user_set_list(struct store *s, const char *name, const char *list,
			    const json_t *items, json_t **out, struct directory_error *e);

/* ---- destinations ---- */

/* How a new destination's sink and address are checked (dispatch_validate):
 * 0, -ENOENT for an unknown sink, other: refused with err. */
struct directory_sinks {
	int (*validate)(void *arg, const char *sink, const char *address, char *err,
			size_t errlen);
	void *arg;
};
/* `sinks` may be NULL: no sink check (tools and tests without a daemon). */
int directory_dest_add(struct store *s, const char *user, const json_t *in,
		       const struct directory_sinks *sinks, json_t **out,
		       struct directory_error *e);
int directory_dest_get(struct store *s, const char *user, uint64_t id, json_t **out,
		       struct directory_error *e);
/* Is the destination paused, and verified, as seen inside write transaction
 * t (so the answers cannot change before t commits)? 0, -ENOENT or an error. */
struct store_txn;
int directory_dest_paused_txn(struct store_txn *t, const char *user, uint64_t id, bool *paused,
			      bool *verified);
int directory_dest_list(struct store *s, const char *user, json_t **out,
			struct directory_error *e);
/* Refused (409) while a subscription of the user sends to it. */
int directory_dest_del(struct store *s, const char *user, uint64_t id, json_t **out,
		       struct directory_error *e);
/* `in`: NULL or {"reason": TEXT}. */
int directory_dest_pause(struct store *s, const char *user, uint64_t id, const json_t *in,
			 json_t **out, struct directory_error *e);
int directory_dest_resume(struct store *s, const char *user, uint64_t id, json_t **out,
			  struct directory_error *e);
/* The owner proved the address (dispatch_check_code): "verified": true. */
int directory_dest_set_verified(struct store *s, const char *user, uint64_t id, json_t **out,
				struct directory_error *e);

/* ---- subscriptions ---- */
int directory_sub_add(struct store *s, const char *user, const json_t *in, json_t **out,
		      struct directory_error *e);
int directory_sub_list(struct store *s, const char *user, json_t **out,
		       struct directory_error *e);
/* One subscription, plus "slow": true when its filter gives the match
 * index nothing to use (filter_index_keys() says FILTER_SLOW: it runs on
 * every message), and "never": true when it cannot match for this user as
 * things stand (for example `packages & @mine` without a list "mine"). */
int directory_sub_get(struct store *s, const char *user, uint64_t id, json_t **out,
		      struct directory_error *e);
int directory_sub_del(struct store *s, const char *user, uint64_t id, json_t **out,
		      struct directory_error *e);
/* Enabling also lifts a quarantine; it is refused (400) for a filter the
 * language no longer accepts. */
int directory_sub_set_enabled(struct store *s, const char *user, uint64_t id, bool enabled,
			      json_t **out, struct directory_error *e);
/*
 * Mute (directory_mute.c): disable the subscription until `until_s` (Unix
 * seconds), with "muted_until" in its document (GET shows "state":
 * "muted"); directory_unmute_due turns it back on then. Enabling or
 * disabling it meanwhile ends the mute. A quarantined subscription stays
 * as it is (it is off already, until its owner looks at it). *out: the
 * subscription.
 */
int directory_sub_mute(struct store *s, const char *user, uint64_t id, int64_t until_s,
		       json_t **out, struct directory_error *e);
/* Turn back on, in time order, the muted subscriptions whose until is <=
 * now_s and which are still muted as they were (mutes that were ended,
 * subscriptions deleted: their entries are just dropped), looking at `max`
 * entries at most. The count turned on, or a negative errno (store). Called about once a second by the
 * matcher's refresher thread (match_load.c): one read when nothing is due. */
int directory_unmute_due(struct store *s, int64_t now_s, size_t max);
/* The matcher's verdict (match.h): disable the subscription with "state":
 * "quarantined" and the reason, until its owner or an admin enables it. */
int directory_sub_quarantine(struct store *s, const char *user, uint64_t id, const char *reason,
			     struct directory_error *e);

/*
 * A filter_user (filter.h) over a user document, to evaluate filters for that
 * user. Strings are borrowed from `doc`, which must outlive the view; the
 * arrays are the view's own (items sorted by strcmp, as filter.h requires).
 * 0 or -ENOMEM; release with directory_user_view_release (also after a
 * failure).
 */
struct directory_user_view {
	struct filter_user user;
	struct filter_list *lists;
	const char **items;
};
int directory_user_view_init(const json_t *doc, struct directory_user_view *v);
void directory_user_view_release(struct directory_user_view *v);

/*
 * Does this filter source compile? 0, or -EINVAL with e->msg
 * "filter LINE:COL: what was expected" (status 400). Shared with explain.c.
 */
int directory_check_filter(const char *src, struct directory_error *e);

/*
 * Every key of the object `obj` must be in the NULL-terminated `known`; keys
 * in `owned` (NULL or NULL-terminated) get their own message, because a
 * client may well send back what GET returned. `what` names the object in
 * the message. 0 or -EINVAL (400).
 */
int directory_check_keys(const json_t *obj, const char *what, const char *const *known,
			 const char *const *owned, struct directory_error *e);

/* Fill *e (status and printf-style message) and return the matching code. */
int directory_fail(struct directory_error *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
