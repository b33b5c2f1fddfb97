/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * relay_int: what herald-relay's files share (relay.c: options, sockets and
 * the poll loop; intake.c: taking messages in, logging and publishing them;
 * ack.c: the acknowledged intake's requests and replies; replay.c: answering
 * replay requests) and nothing else includes: the
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
#define ACK_REQID_MAX	64 /* acknowledged intake: request ids are echoed, up to this */

/* What the acknowledged intake answers (doc/herald-relay.8, "ACKNOWLEDGED INTAKE"). */
enum ack_status {
	ACK_OK,	       /* durable in the log (now, or already before: a retry) */
	ACK_MALFORMED, /* never loggable: do not retry */
	ACK_TOO_LARGE, /* larger than --max-size: do not retry */
	ACK_FULL,      /* the log is full: retry later */
	ACK_ERROR,     /* the write failed: retry later */
};

struct opts {
	const char *pull, *pub, *replay, *ack, *state, *name;
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

/* An acknowledged request waiting for the batch entry it asked for to commit.
 * Several may wait for one entry (a retry that arrived while the first try
 * was still in the batch): the message is logged once, each gets the reply. */
struct waiter {
	zmq_msg_t ident; /* the peer's ROUTER identity */
	bool req;	 /* a REQ peer: the reply needs the empty delimiter frame */
	char reqid[ACK_REQID_MAX];
	size_t reqid_len;
	size_t idx; /* into relay.batch */
};

struct relay {
	struct opts o;
	void *ctx, *pull, *pub, *rep, *ack; /* ack: ROUTER, NULL without --ack */
	struct statelock *lock;		    /* the state dir is ours; taken first, dropped last */
	struct relaylog *log;
	char *name_json; /* the name as a JSON string literal, quotes included */
	struct pending batch[BATCH_MAX];
	struct relaylog_item items[BATCH_MAX];
	size_t nbatch;
	struct waiter waiters[BATCH_MAX]; /* acknowledged requests in this batch */
	size_t nwait;
	struct buf meta;
	bool full;		/* the LMDB map is full: intake refused */
	uint64_t full_retry_ms; /* next write attempt while full */
	uint64_t accepted, refused, dropped, replays, bad_replays;
	uint64_t acked, ack_dups, ack_refused; /* ok replies, of which retries; error replies */
	struct log_limit refuse_rl, store_rl, replay_rl, ack_rl;
};

/* relay.c: receive the rest of a multipart message whose first frame is in
 * keep[0]: frames go into keep[1..nkeep-1] (initialised messages), any more
 * are discarded. Returns the total frame count. */
int relay_recv_rest(void *s, zmq_msg_t *const *keep, int nkeep);

/* intake.c: drain up to BATCH_MAX waiting messages from PULL and the ack
 * socket (or BATCH_BYTES), log them in one transaction (one fsync), then
 * publish them and answer their acknowledged requests. */
void relay_intake(struct relay *r);
/* intake.c: close the messages of an uncommitted batch and its waiters. */
void relay_batch_clear(struct relay *r);
/* intake.c: NULL if p (nframes frames received) may be logged, p->msg_id
 * filled in; else why not, and *status says which refusal it is. */
const char *relay_check_message(struct relay *r, struct pending *p, int nframes,
				enum ack_status *status);
/* intake.c: while the map is full, writes are tried only every FULL_RETRY_MS. */
bool relay_refusing(const struct relay *r);

/* ack.c: take one request off the ack socket. A new message goes into the
 * batch with a waiter (returns 1); a retry of one in the batch gets a waiter
 * only (1); a refused request or a retry of a message already logged is
 * answered at once (0); -1: nothing was waiting. *bytes grows by what the
 * batch took. */
int relay_ack_take(struct relay *r, size_t *bytes);
/* ack.c: answer every waiter once the batch's append returned rc (0: its
 * entries got seq first, first + 1, ...), then forget the waiters. */
void relay_ack_answer(struct relay *r, int rc, uint64_t first);
/* intake.c: r->meta = the meta frame for (seq, t). 0 or -ENOMEM. */
int relay_format_meta(struct relay *r, uint64_t seq, double t);

/* replay.c: answer one request waiting on the REP socket, if any. */
void relay_serve_replay(struct relay *r);

#endif
