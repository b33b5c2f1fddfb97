/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ingest: from bus frames to verified envelopes, in arrival order.
 *
 * One I/O thread owns every ZeroMQ socket: a SUB per source (each connect
 * address of each [endpoint]) and a REQ per replay address. It does no
 * parsing; it moves frames into an ordered ring. Worker threads take ring
 * slots in any order and parse + canonicalize + verify them. The single
 * consumer (the committer) takes finished slots strictly in ring order, so
 * per-source order survives parallel verification, and replay answers arrive
 * in the same stream followed by a "replay done" marker.
 *
 * When the ring is full the I/O thread stops reading; ZeroMQ's receive
 * high-water mark then applies and anything dropped shows up as a sequence
 * gap, which replay fills. Nothing is dropped silently inside heraldd.
 *
 * [amqp NAME] sections are sources too (amqpsrc.h): each one's consumer
 * thread puts its deliveries into the same ring, so one group commit covers
 * bus and AMQP messages alike; workers read them with fmsg instead of
 * verifying a signature (the broker is trusted, trust = broker). Such a
 * source is not sequenced. After each batch the consumer calls
 * ingest_settle(), which tells the AMQP consumers what to acknowledge.
 *
 * The ring has several producers (the ZeroMQ I/O thread and one thread
 * per [amqp] section): each claims, fills (by moving pointers, no I/O) and
 * publishes a slot under the ring lock.
 *
 * Threads: ingest_take/ingest_release/ingest_settle/ingest_request_replay
 * belong to the one consumer thread; ingest_set_verifier may be called from
 * any thread.
 */
#ifndef HERALD_INGEST_H
#define HERALD_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "src/common/config.h"
#include "src/common/envelope.h"
#include "metrics.h"
#include "src/common/verify.h"

struct ingest_source {
	const char *key;    /* "endpoint-name address": durable cursor key; borrowed from ingest */
	const char *name;   /* endpoint name */
	bool sequenced;     /* has a replay address: gaps are tracked and replayed */
};

enum ingest_kind { INGEST_MESSAGE, INGEST_REPLAY_DONE };

/* One finished ring slot. Valid until ingest_release(). */
struct ingest_item {
	enum ingest_kind kind;
	uint32_t source;      /* index into ingest_sources() */
	bool replayed;        /* came from a replay answer */
	bool via_relay;       /* came with a relay's meta frame: its seq is the relay's,
			       * so it counts even when the message is bad */
	bool has_seq;         /* seq is set (relay meta, or verified envelope "i") */
	uint64_t seq;
	/* INGEST_MESSAGE */
	bool ok;              /* verified; env is valid */
	bool wanted;          /* topic matches the configured subscriptions */
	enum reject_reason why; /* when !ok */
	struct envelope env;
	const char *signer;   /* borrowed from the verifier; NULL if unsigned */
	const char *raw;      /* the envelope bytes (an AMQP delivery: its body) */
	size_t raw_len;
	struct amqpsrc_delivery *delivery; /* an AMQP delivery; NULL for the bus */
	const json_t *headers; /* its AMQP headers when ok (schema_describe_headers);
				* NULL for the bus */
	/* INGEST_REPLAY_DONE */
	bool more, failed;
	uint64_t last_seq;
	/* private to ingest */
	zmq_msg_t part[3];
	int nparts;
	int state;
	struct amqpsrc_delivery *spare; /* an AMQP delivery's memory, kept for reuse */
};

struct ingest;
struct amqpsrc_delivery;

/* Start the I/O thread and `cfg->workers` workers. `cfg` and `m` must outlive
 * the ingest; `v` is borrowed until replaced by ingest_set_verifier. */
int ingest_start(const struct config *cfg, struct verifier *v, struct metrics *m,
		 struct ingest **out, char *err, size_t errlen);
/* Stop all threads and free everything. NULL is a no-op. */
void ingest_stop(struct ingest *in);

size_t ingest_source_count(const struct ingest *in);
const struct ingest_source *ingest_source_get(const struct ingest *in, size_t i);

/*
 * Wait up to `timeout_ms` for finished slots; point items[0..n) at up to
 * `max` of them in arrival order and return n. They stay valid until
 * ingest_release(in, n).
 */
size_t ingest_take(struct ingest *in, struct ingest_item **items, size_t max, int timeout_ms);
void ingest_release(struct ingest *in, size_t n);

/*
 * After commit_batch over items[0..n) (before ingest_release): settle each
 * AMQP delivery among them with its consumer. A malformed one is rejected
 * for good; the others are acknowledged if `committed`, else requeued.
 */
void ingest_settle(struct ingest *in, struct ingest_item **items, size_t n, bool committed);

/* Ask source `src` for sequence numbers lo..hi (hi may be SEQ_OPEN). The
 * answer arrives through ingest_take, ending with an INGEST_REPLAY_DONE. */
int ingest_request_replay(struct ingest *in, uint32_t src, uint64_t lo, uint64_t hi);

/* Swap the verifier (config reload). The old one is returned: no worker uses
 * it after this returns, but finished slots may still point at its signer
 * names, so free it only once ingest_drained(in, *mark) says so. */
struct verifier *ingest_set_verifier(struct ingest *in, struct verifier *v, uint64_t *mark);
/* Has the consumer released every slot filled before `mark` was taken? */
bool ingest_drained(struct ingest *in, uint64_t mark);

#endif
