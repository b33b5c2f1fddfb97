/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outbox: durable notifications waiting for delivery, the schedule that says
 * when each is due, digests being collected, dead letters and the bounded
 * log of deliveries. All in the store's LMDB environment, so notifications
 * commit in the committer's batch transaction together with the cursors and
 * the seen set: after a crash, what was committed is here and what was not
 * is replayed.
 *
 * Tables (keys big-endian; values start with a version byte):
 *   notes        [seq] -> JSON note (see notify.h), in arrival order
 *   due          [due ms][kind][id] -> [dest][user]     the schedule
 *   digests      digest id -> JSON {id, user, destination, due, count, created}
 *   open_digest  "user\0"[dest] -> digest id            the one still collecting
 *   members      [digest id][note id] -> ""             notes inside a digest
 *   dead         id -> JSON note + {reason, dead_at}
 *   delivered    [order] -> JSON {id, user, destination, sink, count, attempts, at,
 *                notes: [each note's id, subscriptions, created, topic, title,
 *                summary, link, agent, severity, usernames, packages, msg_id,
 *                timestamp, and its msg while the record's bodies stay under
 *                4 KiB]}  (for "why did I get this")
 *   when         id -> [due ms][seq]                    where a note is, when it is due
 * Notes are stored by sequence number so that a batch of new notes appends
 * (their ids are hashes: keyed by id, every note would dirty its own page);
 * `when` finds a note (seq; 0 for a digest) and its schedule key from its
 * id, so an entry can move in the schedule without rewriting its document.
 * A due entry is either one note (kind 'n') or a digest (kind 'd'); notes in a
 * digest have no due entry of their own. Entries of paused destinations are
 * parked at due = OUTBOX_PARKED until the destination resumes.
 *
 * Ids: 16 bytes, shown as 32 lowercase hex. A note's id is derived from the
 * message, the user and the destination, so the same match always has the
 * same id (a sink can use it for idempotency) and is stored once.
 *
 * Times are wall-clock Unix milliseconds (they survive restarts).
 * Errors: 0 or a negative errno; -ENOSPC when the map is full, -ENOENT for an
 * unknown id. Threads: like store.h (LMDB serialises writers).
 */
#ifndef HERALD_OUTBOX_H
#define HERALD_OUTBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define OUTBOX_ID_LEN 16
#define OUTBOX_HEX_LEN 32
#define OUTBOX_PARKED UINT64_MAX

struct outbox_entry {
	unsigned char id[OUTBOX_ID_LEN]; /* the note's or the digest's */
	uint64_t due;
	bool digest;
	uint64_t dest;
	char user[65];
};

void outbox_hex(const unsigned char id[OUTBOX_ID_LEN], char hex[OUTBOX_HEX_LEN + 1]);
/* 0, or -EINVAL when `hex` is not 32 hex digits. */
int outbox_unhex(const char *hex, unsigned char id[OUTBOX_ID_LEN]);
/* The id of the note for message `msg_key` (16 bytes), user and destination. */
void outbox_note_id(const unsigned char msg_key[16], const char *user, uint64_t dest,
		    unsigned char id[OUTBOX_ID_LEN]);

/* ---- committing (inside the batch transaction) ---- */

struct outbox_add {
	const unsigned char *id;   /* outbox_note_id() */
	const char *user;
	uint64_t dest;
	const char *json;          /* the note document (see outbox_note_doc) */
	size_t len;
	uint64_t now;
	uint32_t digest_interval;  /* seconds; 0: instant */
	uint32_t digest_max;       /* a digest holding this many is due at once */
};
/* 1 when stored, 0 when a note with this id is already pending (or the
 * same match was committed before), negative on error. */
int outbox_put(struct store_txn *t, const struct outbox_add *a);

/* ---- dispatching ---- */

/*
 * Up to `max` due entries with due <= now, in due order, skipping those for
 * which skip(arg, entry) is true (already in flight). *next is set to the
 * earliest due time after now (UINT64_MAX: nothing scheduled).
 */
int outbox_due(struct store *s, uint64_t now, struct outbox_entry *out, size_t max, size_t *n,
	       bool (*skip)(void *arg, const struct outbox_entry *e), void *arg, uint64_t *next);

/* The note documents of an entry: one note, or a digest's members (at most
 * `max`, oldest first), as a new JSON array. *more is set when a digest holds
 * more than `max`. -ENOENT when the entry vanished (dropped meanwhile),
 * -EBADMSG when a stored note cannot be parsed. */
int outbox_load(struct store *s, const struct outbox_entry *e, size_t max, json_t **notes,
		bool *more);
/* The same inside a write transaction: what it wrote so far is seen. */
int outbox_load_txn(struct store_txn *t, const struct outbox_entry *e, size_t max, json_t **notes,
		    bool *more);

/* Outcomes, inside a write transaction. `notes` is what outbox_load gave. */
int outbox_delivered(struct store_txn *t, const struct outbox_entry *e, const json_t *notes,
		     bool more, const char *sink, uint64_t now, size_t log_max);
/* Delivery attempts made so far for an entry (0 for a fresh one). */
int outbox_attempts(struct store_txn *t, const struct outbox_entry *e, uint32_t *attempts);
/* Move to a new due time; attempts += charge; last_error = reason. */
int outbox_reschedule(struct store_txn *t, const struct outbox_entry *e, uint64_t due,
		      uint32_t charge, const char *reason);
/* Into the dead letters with the reason (every note of a digest). */
int outbox_dead(struct store_txn *t, const struct outbox_entry *e, const json_t *notes,
		const char *reason, uint64_t now);
/* An entry outbox_load could not read (-EBADMSG): each unreadable note
 * becomes a dead letter of what is known about it (id, user, destination)
 * with `reason`, so it is tried once and never again; a digest's readable
 * members stay, due as they were. */
int outbox_dead_unreadable(struct store_txn *t, const struct outbox_entry *e, const char *reason,
			   uint64_t now);
/* An instant note of a destination over its rate limit joins the
 * destination's open digest, due at `due` at the latest. */
int outbox_into_digest(struct store_txn *t, const struct outbox_entry *e, uint64_t due,
		       uint32_t digest_max, uint64_t now);
/* Make every parked entry of (user, dest) due now, in transactions of a few
 * hundred (a full store still has room for those). Returns how many, or < 0
 * (then some may be moved already; calling again moves the rest). */
int outbox_unpark(struct store *s, const char *user, uint64_t dest, uint64_t now);

/* ---- management (API) ---- */

/* Pending notes, optionally of one user, as a JSON array of note documents
 * with "due" (ms) and "digest" (hex id or absent); at most `limit`, after
 * the id `after` (NULL: from the start). */
int outbox_list(struct store *s, const char *user, const char *after, size_t limit,
		json_t **out);
int outbox_show(struct store *s, const unsigned char id[OUTBOX_ID_LEN], json_t **out);
/* Due now (a digest member: its whole digest). */
int outbox_retry(struct store *s, const unsigned char id[OUTBOX_ID_LEN], uint64_t now);
int outbox_drop(struct store *s, const unsigned char id[OUTBOX_ID_LEN]);

int outbox_dead_list(struct store *s, const char *user, const char *after, size_t limit,
		     json_t **out);
int outbox_dead_show(struct store *s, const unsigned char id[OUTBOX_ID_LEN], json_t **out);
/* Back into the outbox, due now, attempts reset. */
int outbox_dead_retry(struct store *s, const unsigned char id[OUTBOX_ID_LEN], uint64_t now);
int outbox_dead_drop(struct store *s, const unsigned char id[OUTBOX_ID_LEN]);

/* The newest `limit` delivery records, newest first, optionally of one user. */
int outbox_delivered_list(struct store *s, const char *user, size_t limit, json_t **out);
/* The newest delivery record of `user` that delivered note `id` (alone or
 * in a digest): the record in *rec, the note as kept in it in *note (a
 * borrowed member of *rec). -ENOENT when the log holds none (any more). */
int outbox_delivered_find(struct store *s, const char *user, const unsigned char id[OUTBOX_ID_LEN],
			  json_t **rec, json_t **note);

struct outbox_counts {
	size_t pending, due_now, parked, digests, dead;
};
int outbox_count(struct store *s, uint64_t now, struct outbox_counts *out);

#endif
