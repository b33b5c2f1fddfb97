/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * amqpsrc: one [amqp NAME] section's consumer, fedora-messaging over AMQP
 * (rabbitmq-c). Named amqpsrc because rabbitmq-c owns the amqp_ prefix.
 *
 * One thread per section owns its connection (rabbitmq-c is not
 * thread-safe): it connects (amqp or amqps with server verification and an
 * optional client certificate), declares the queue (a named durable one,
 * or an exclusive server-named one), binds it, sets the prefetch, and
 * copies each delivery's routing key, properties and body into a struct
 * amqpsrc_delivery that it hands to ingest (the `submit` callback) in
 * arrival order. It does not parse: ingest's workers do (fmsg.c).
 *
 * A delivery is settled only after the committer's transaction: the main
 * thread calls amqpsrc_settle_add() for each item of a committed (or
 * failed) batch and amqpsrc_settle_post() once; the consumer thread, woken
 * through an eventfd it polls beside the socket, sends basic.ack with
 * multiple=true for each run of committed deliveries, basic.reject without
 * requeue for malformed ones, basic.nack with requeue for those of a failed
 * commit. A delivery carries its connection's generation: settlements of a
 * previous connection are dropped (the broker requeued those deliveries
 * when it closed; dedup by message id drops what was already accepted).
 * A lost connection is retried with backoff (1 s doubling to 30 s).
 *
 * Threads: amqpsrc_start/stop from the owner; amqpsrc_settle_add/post from
 * one thread (the committer's); submit is called on the consumer thread.
 * Lock: `lock` guards the posted settlements only, and is never held while
 * calling rabbitmq-c or submit.
 */
#ifndef HERALD_AMQPSRC_H
#define HERALD_AMQPSRC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/buf.h"
#include "src/common/config.h"
#include "src/common/fmsg.h"
#include "metrics.h"

struct amqpsrc;

/* One delivery, copied off the connection. Owned by whoever holds the
 * pointer: the consumer fills it, ingest keeps it in a ring slot and hands
 * back an empty one in exchange (memory is reused, not freed). */
struct amqpsrc_delivery {
	struct amqpsrc *from;   /* to settle with */
	uint32_t gen;           /* the connection it came on */
	uint64_t tag;           /* its delivery tag on that connection */
	struct buf routing_key, message_id, body; /* body: empty when too_large */
	bool has_message_id, has_encoding;
	bool too_large;         /* over max_message_size: the body was not kept */
	const char *bad_headers; /* static: why the headers table could not be read
				  * as JSON (amqphdr.h); NULL when it could */
	char content_encoding[32]; /* truncated: anything that long is not utf-8 */
	json_t *headers;        /* owned; NULL when the message had none */
};

/* fmsg's view of a delivery (borrowing it); too_large and bad_headers are
 * the caller's to check first. */
struct fmsg_in amqpsrc_fmsg_in(const struct amqpsrc_delivery *d);
void amqpsrc_delivery_free(struct amqpsrc_delivery *d); /* NULL is a no-op */

/*
 * Where deliveries go: submit(arg, source, &d) takes *d (in arrival order)
 * and leaves in *d an empty delivery to reuse, or NULL; it may block while
 * the ring is full. Not 0: the pipeline is stopping.
 */
struct amqpsrc_sink {
	int (*submit)(void *arg, uint32_t source, struct amqpsrc_delivery **d);
	void *arg;
	uint32_t source; /* this section's index among ingest's sources */
};

/* Start the consumer thread for `cfg` (borrowed, must outlive it). It
 * connects in the background: a broker that is down is retried, not an
 * error. 0 or a negative errno with `err` set. */
int amqpsrc_start(const struct config_amqp *cfg, size_t max_body, struct metrics *m,
		  const struct amqpsrc_sink *sink, struct amqpsrc **out, char *err, size_t errlen);
/* Stop the thread and close the connection; unsettled deliveries go back
 * to the queue (the broker requeues them). NULL is a no-op. */
void amqpsrc_stop(struct amqpsrc *s);

enum amqpsrc_outcome {
	AMQPSRC_ACK,     /* committed: accepted, a duplicate or not subscribed to */
	AMQPSRC_REJECT,  /* malformed: rejected without requeue */
	AMQPSRC_REQUEUE, /* the commit failed: back to the queue */
};

/* Queue the outcome of one delivery (in delivery order); nothing is sent
 * until amqpsrc_settle_post(). Committer thread only. */
int amqpsrc_settle_add(struct amqpsrc *s, const struct amqpsrc_delivery *d,
		       enum amqpsrc_outcome o);
/* Hand what was added to the consumer thread and wake it. */
void amqpsrc_settle_post(struct amqpsrc *s);

#endif
