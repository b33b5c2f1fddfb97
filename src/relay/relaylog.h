/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * relaylog: the durable replay log of herald-relay, and the only place the
 * relay touches LMDB.
 *
 * Messages are appended in batches, one durable write transaction per batch;
 * each gets the next relay sequence number (u64, from 1, never reused) and a
 * log time (unix seconds, made non-decreasing in sequence order so that time
 * queries can binary-search). The oldest entries beyond `keep` are pruned in
 * the same transaction. Queries read a consistent snapshot and hand entries
 * to a visitor callback in ascending sequence order.
 *
 * Not for parsing or validating envelopes (the relay does that before
 * appending), nor for anything about sockets or the wire format.
 *
 * On-disk layout (environment in the state directory, named databases):
 *   "log"  key: u64 BE seq   value: [ver=1][f64 BE time][u32 BE topic len][topic][envelope]
 *   "ids"  key: msg_id bytes value: [ver=1][u64 BE seq]   (newest seq carrying that msg_id)
 *   "meta" key: "schema"     value: [ver=1][u32 BE schema version]
 *          key: "next_seq"   value: [ver=1][u64 BE next sequence number]
 *
 * Contract: one struct relaylog per process and state directory, used from a
 * single thread (no call is thread-safe). All errors are returned as 0 or a
 * negative errno-style code; relaylog_error() describes the last failure with
 * LMDB's own text.
 */
#ifndef HERALD_RELAYLOG_H
#define HERALD_RELAYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAYLOG_SCHEMA	   1u	/* bump with a migration in relaylog.c */
#define RELAYLOG_FORMAT	   1u	/* the version byte at the start of every value */
#define RELAYLOG_PRUNE_MAX 1024 /* entries pruned per transaction at most; bounds txn size */

struct relaylog;

/* One message to append. Everything is borrowed for the duration of the call. */
struct relaylog_item {
	const void *topic;
	size_t topic_len;
	const void *envelope; /* stored byte for byte */
	size_t envelope_len;
	/* NULL/0 if the envelope has none; not indexed if longer than LMDB's key limit. */
	const void *msg_id;
	size_t msg_id_len;
};

/* One stored message handed to a visitor. Pointers point into the LMDB map and
 * are valid only during the callback: copy what you keep. */
struct relaylog_entry {
	uint64_t seq;
	double time;
	const char *topic;
	size_t topic_len;
	const char *envelope;
	size_t envelope_len;
};

/* A msg_id to look up (borrowed). */
struct relaylog_id {
	const void *id;
	size_t len;
};

/* Visitor: return 0 to go on, > 0 to stop early (the query then reports
 * more = true), < 0 to abort the query with that code. */
typedef int (*relaylog_visit_fn)(const struct relaylog_entry *e, void *arg);

/*
 * Open (creating if needed, mode 0700/0600) the log in directory `dir` with an
 * LMDB map of `map_size` bytes, keeping at most `keep` (>= 1) messages. Prunes
 * down to `keep` at once if an earlier run kept more. On success *out is a new
 * log to be released with relaylog_close(). On failure returns a negative code
 * and writes a reason into err (errlen bytes).
 */
int relaylog_open(const char *dir, size_t map_size, uint64_t keep, struct relaylog **out, char *err,
		  size_t errlen);

/* Close the environment and free the log. NULL is a no-op. */
void relaylog_close(struct relaylog *log);

/*
 * Append `n` (>= 1) items in one durable write transaction, pruning the oldest
 * beyond `keep`. On success the items got sequence numbers *first_seq ..
 * *first_seq + n - 1 and log time *time. Nothing is written on failure.
 * Returns 0, -ENOSPC (map full: nothing was written; retry later), or another
 * negative code (-EIO for LMDB's own failures).
 */
int relaylog_append_batch(struct relaylog *log, const struct relaylog_item *items, size_t n,
			  uint64_t *first_seq, double *time);

/* Entries with a <= seq <= b (b = UINT64_MAX: up to the newest), at most
 * `limit`. *more is true if matching entries were left out. */
int relaylog_query_range(struct relaylog *log, uint64_t a, uint64_t b, size_t limit,
			 relaylog_visit_fn fn, void *arg, bool *more);

/* Entries with t0 <= log time <= t1, at most `limit`; *more as above. */
int relaylog_query_time(struct relaylog *log, double t0, double t1, size_t limit,
			relaylog_visit_fn fn, void *arg, bool *more);

/* Entries with the given sequence numbers (any order, duplicates allowed;
 * visited once each in ascending order). Missing ones are skipped. *more is
 * true only if the visitor stopped early. */
int relaylog_query_seqs(struct relaylog *log, const uint64_t *seqs, size_t n, relaylog_visit_fn fn,
			void *arg, bool *more);

/* Entries carrying the given msg_ids, in ascending seq order; unknown or
 * pruned ids are skipped. *more as for relaylog_query_seqs. */
int relaylog_query_msgids(struct relaylog *log, const struct relaylog_id *ids, size_t n,
			  relaylog_visit_fn fn, void *arg, bool *more);

/*
 * The newest sequence number logged with this msg_id, in *seq. Returns 0,
 * -ENOENT if no entry the log still holds carries it (the index is pruned
 * with the log, so duplicate detection reaches back `keep` messages),
 * -ENAMETOOLONG if len is 0 or too long to be indexed, or another negative
 * code on failure.
 */
int relaylog_find_msgid(struct relaylog *log, const void *id, size_t len, uint64_t *seq);

/* Human-readable reason for the last failure ("" if none). Owned by the log,
 * valid until the next call. */
const char *relaylog_error(const struct relaylog *log);

#endif
