/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * relay_int: what herald-relay's files share (relay.c: options, sockets and
 * the poll loop; intake.c: taking messages in, logging and publishing them;
 * replay.c: answering replay requests) and nothing else includes: the
 * options, the relay struct, and the functions one file calls in another.
 * Not for the log (relaylog.h is its interface) nor for anything outside
 * src/relay.
 *
 * Threads: none. The relay is one thread and one zmq_poll loop; nothing here
 * is locked. The relay owns every socket and message in struct relay;
 * relay_release (relay.c) frees them.
 */
#ifndef HERALD_RELAY_INT_H
#define HERALD_RELAY_INT_H

#include "relaylog.h"
#include "src/common/buf.h"
#include "src/common/log.h"
#include "src/common/statelock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define BATCH_MAX	256	    /* messages per write transaction */
#define BATCH_BYTES	(64u << 20) /* ...or this many envelope bytes, whichever first */
#define MSGID_MAX	512	    /* longer msg_ids are not indexed (LMDB key limit) */
#define REQUEST_BYTES	(8 << 20)   /* libzmq drops a replay peer sending more */
#define FRAME_SLACK	65536	    /* libzmq drops an inbound peer sending max-size + this */
#define FULL_RETRY_MS	1000	    /* while the map is full, try a write this often */
#define LOG_INTERVAL_MS 10000

struct opts {
	const char *pull, *pub, *replay, *state, *name;
	uint64_t keep;
	size_t max_size, map_size;
	int hwm;
	enum log_level level;
};

/* One inbound message waiting for its batch to commit. */
struct pending {
	zmq_msg_t topic, env;
	char msg_id[MSGID_MAX];
	size_t msg_id_len; /* 0: none, or too long to index */
};

struct relay {
	struct opts o;
	void *ctx, *pull, *pub, *rep;
	struct statelock *lock; /* the state dir is ours; taken first, dropped last */
	struct relaylog *log;
	char *name_json; /* the name as a JSON string literal, quotes included */
	struct pending batch[BATCH_MAX];
	struct relaylog_item items[BATCH_MAX];
	size_t nbatch;
	struct buf meta;
	bool full;		/* the LMDB map is full: intake refused */
	uint64_t full_retry_ms; /* next write attempt while full */
	uint64_t accepted, refused, dropped, replays, bad_replays;
	struct log_limit refuse_rl, store_rl, replay_rl;
};

/* relay.c: receive the rest of a multipart message whose first frame is in
 * keep[0]: frames go into keep[1..nkeep-1] (initialised messages), any more
 * are discarded. Returns the total frame count. */
int relay_recv_rest(void *s, zmq_msg_t *const *keep, int nkeep);

/* intake.c: drain up to BATCH_MAX waiting messages from PULL (or
 * BATCH_BYTES), log them in one transaction, then publish them. */
void relay_intake(struct relay *r);
/* intake.c: close the messages of an uncommitted batch. */
void relay_batch_clear(struct relay *r);
/* intake.c: r->meta = the meta frame for (seq, t). 0 or -ENOMEM. */
int relay_format_meta(struct relay *r, uint64_t seq, double t);

/* replay.c: answer one request waiting on the REP socket, if any. */
void relay_serve_replay(struct relay *r);

#endif
