/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * commit: the committer, the stage that decides what is accepted. It takes
 * ingest's finished items (verified envelopes and "replay done" markers) in
 * arrival order, tracks each source's sequence numbers, drops messages
 * already accepted (by msg_id), understands and matches the new ones and
 * puts their notifications in the outbox, all in one store transaction per
 * batch: a message counts as accepted only once that transaction commits.
 * Not for receiving, parsing or verifying messages (ingest), nor for
 * delivering notifications (dispatch).
 *
 * Owns: a seqtrack per source and its durable cursor; which ranges to ask
 * replay for; the batch transaction (dedup marks, cursors, outbox writes);
 * loss accounting (holes a replay could not fill; an unsequenced source's
 * holes, lost at once); the rewind after a failed commit (the sequence state
 * goes back to the durable cursors, so the batch's messages are asked for
 * again rather than counted lost); stopping intake while the store is full
 * and resuming it once delivery has freed space.
 *
 * Borrows, for its whole life (the caller keeps them alive): the config
 * (map_size, print_accepted, dispatch.digest_max_items), the store, the
 * schema, the matcher, the metrics, dispatch (woken when notifications were
 * stored; NULL: nobody to wake), the recent store (fed with each accepted
 * message after its batch commits; NULL: none) and the sources (struct
 * commit_sources).
 *
 * Threads: none of its own, and not thread-safe: one thread (the daemon's
 * main loop) makes every call. A batch holds the store's write transaction
 * from commit_batch's start to its end.
 */
#ifndef HERALD_COMMIT_H
#define HERALD_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/config.h"
#include "ingest.h"
#include "metrics.h"

#define COMMIT_BATCH_MAX 1024 /* items per commit_batch call */

struct store;
struct schema;
struct matcher;
struct dispatch;
struct recent;

/*
 * What the committer needs of ingest, and no more: the sources, which are
 * fixed for the committer's life (an item's `source` indexes them), and a
 * way to ask one for a replay. heraldd points these at ingest; a test can
 * answer them from a table, without ZeroMQ.
 */
struct commit_sources {
	size_t n;
	/* Source i; the pointed-to strings stay valid for the committer's life. */
	const struct ingest_source *(*get)(void *arg, size_t i);
	/* Ask source `src` for lo..hi (hi may be SEQ_OPEN); the answer comes back
	 * as items, ending with an INGEST_REPLAY_DONE. 0, or -1 with errno. */
	int (*request_replay)(void *arg, uint32_t src, uint64_t lo, uint64_t hi);
	void *arg;
};

struct commit_deps {
	const struct config *cfg;
	struct store *store;
	struct schema *schema;
	struct matcher *matcher;
	struct metrics *metrics;
	struct dispatch *dispatch; /* may be NULL */
	struct recent *recent;     /* each accepted message goes there once its batch
				    * commits (src/web/recent.h); may be NULL */
	struct commit_sources sources;
};

struct commit;

/* A committer over `deps` (copied; what it points to is borrowed). Each
 * source resumes from its durable cursor; a source that has one is asked
 * for everything after it by the first commit_request_replays (catch-up
 * after a restart). 0 or -ENOMEM. */
int commit_new(const struct commit_deps *deps, struct commit **out);
void commit_free(struct commit *c); /* NULL is a no-op */

/*
 * Check the store's fill level (call before every batch: a read transaction
 * and a walk of LMDB's short freelist, microseconds). Intake stops when less
 * than a reserve of the map is free and resumes once twice the reserve is.
 * After any other failed commit (EIO, EFBIG...) it stays closed for a
 * second, doubling up to 30 s while commits keep failing. True: take input.
 */
bool commit_intake_open(struct commit *c);
/* How many items the next batch may hold: COMMIT_BATCH_MAX, fewer once the
 * store is over half full (as of the last commit_intake_open). */
size_t commit_batch_max(const struct commit *c);

/*
 * Commit items[0..n) (n <= COMMIT_BATCH_MAX) in one transaction and count
 * the outcome in the metrics. The items are only read. On a store error
 * nothing of the batch is kept or counted, not even the numbers it gave up
 * as lost (after the rewind they are missing again): the error is logged
 * and counted, the sequence state rewinds to the durable cursors (so the
 * messages are asked for again), a full store stops intake and any other
 * failure pauses it (see commit_intake_open). Returns 0 or
 * that store error, already dealt with: the caller need not act on it.
 */
int commit_batch(struct commit *c, struct ingest_item **items, size_t n);

/* Ask every sequenced source for what it is missing, at most one request in
 * flight per source. Nothing while intake is stopped. */
void commit_request_replays(struct commit *c);

#endif
