/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * intake: how herald-relay takes messages in. Messages pushed to the PULL
 * socket or sent to the acknowledged intake (ack.c) are checked for shape,
 * gathered into one batch, appended to the log in one durable transaction
 * (group commit: one fsync for the batch), and only then republished on PUB
 * as [topic, envelope, meta] and acknowledged. Not for the sockets' setup or
 * the poll loop (relay.c), nor for the ack wire format (ack.c), nor for
 * replay (replay.c), nor for LMDB (relaylog.c).
 */
#include "relay_int.h"
#include "src/common/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <zmq.h>

/* ---- intake ---- */

static bool topic_matches(json_t *t, const zmq_msg_t *frame)
{
	return json_string_length(t) == zmq_msg_size(frame) &&
	       memcmp(json_string_value(t), zmq_msg_data((zmq_msg_t *)frame),
		      zmq_msg_size(frame)) == 0;
}

/* See relay_int.h. */
const char *relay_check_message(struct relay *r, struct pending *p, int nframes,
				enum ack_status *status)
{
	const char *why = NULL;
	json_t *root = NULL, *t, *id;
	*status = ACK_MALFORMED;
	if (nframes != 2)
		return "wrong frame count";
	if (zmq_msg_size(&p->topic) == 0)
		return "empty topic";
	if (zmq_msg_size(&p->env) > r->o.max_size) {
		*status = ACK_TOO_LARGE;
		return "envelope larger than --max-size";
	}
	root = json_loadb(zmq_msg_data(&p->env), zmq_msg_size(&p->env), JSON_ALLOW_NUL, NULL);
	t = json_object_get(root, "topic");
	if (!root)
		why = "envelope is not JSON";
	else if (!json_is_object(root))
		why = "envelope is not a JSON object";
	else if (!json_is_string(t))
		why = "envelope topic is not a string";
	else if (!topic_matches(t, &p->topic))
		why = "envelope topic differs from the topic frame";
	id = json_object_get(root, "msg_id");
	p->msg_id_len = 0;
	if (!why && json_is_string(id) && json_string_length(id) <= sizeof p->msg_id) {
		p->msg_id_len = json_string_length(id);
		memcpy(p->msg_id, json_string_value(id), p->msg_id_len);
	}
	json_decref(root);
	return why;
}

/* Take one message off PULL into the batch. 1: added, 0: refused, -1: none waiting. */
static int take_one(struct relay *r)
{
	struct pending *p = &r->batch[r->nbatch];
	zmq_msg_t *const frames[2] = {&p->topic, &p->env};
	enum ack_status status;
	const char *why;
	zmq_msg_init(&p->topic);
	zmq_msg_init(&p->env);
	if (zmq_msg_recv(&p->topic, r->pull, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&p->topic);
		zmq_msg_close(&p->env);
		return -1; /* EAGAIN, or EINTR: the loop comes back */
	}
	int n = relay_recv_rest(r->pull, frames, 2);
	why = relay_check_message(r, p, n, &status);
	if (why) {
		r->refused++;
		log_limited(&r->refuse_rl, L_WARN,
			    "relay '%s': refused message (%s; %d frames, %zu bytes); %" PRIu64
			    " refused so far",
			    r->o.name, why, n, zmq_msg_size(&p->env), r->refused);
		zmq_msg_close(&p->topic);
		zmq_msg_close(&p->env);
		return 0;
	}
	r->nbatch++;
	return 1;
}

void relay_batch_clear(struct relay *r)
{
	for (size_t i = 0; i < r->nbatch; i++) {
		zmq_msg_close(&r->batch[i].topic);
		zmq_msg_close(&r->batch[i].env);
	}
	r->nbatch = 0;
	for (size_t i = 0; i < r->nwait; i++)
		zmq_msg_close(&r->waiters[i].ident);
	r->nwait = 0;
}

int relay_format_meta(struct relay *r, uint64_t seq, double t)
{
	buf_reset(&r->meta);
	return buf_printf(&r->meta, "{\"seq\":%" PRIu64 ",\"relay\":%s,\"time\":%.6f}", seq,
			  r->name_json, t);
}

/* Publish [topic, envelope, meta]; the received frames are handed over as they came. */
static void publish(struct relay *r, struct pending *p, uint64_t seq, double t)
{
	if (relay_format_meta(r, seq, t)) {
		log_limited(&r->store_rl, L_ERROR, "relay '%s': out of memory formatting meta",
			    r->o.name);
		return;
	}
	/* PUB never blocks: past the HWM it drops for that subscriber, by design. */
	if (zmq_msg_send(&p->topic, r->pub, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_msg_send(&p->env, r->pub, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(r->pub, r->meta.data, r->meta.len, ZMQ_DONTWAIT) < 0)
		log_limited(&r->store_rl, L_WARN, "relay '%s': publish seq %" PRIu64 " failed (%s)",
			    r->o.name, seq, zmq_strerror(errno));
}

/* While the map is full, writes are only tried every FULL_RETRY_MS; what
 * arrives in between is dropped and counted (or answered "full"). */
bool relay_refusing(const struct relay *r)
{
	return r->full && clock_mono_ms() < r->full_retry_ms;
}

static void note_store_result(struct relay *r, int rc)
{
	if (rc == 0 && r->full) {
		log_info("relay '%s': log has space again; intake resumed (%" PRIu64
			 " dropped so far)",
			 r->o.name, r->dropped);
		r->full = false;
	} else if (rc == -ENOSPC) {
		if (!r->full)
			log_error("relay '%s': log is full (%s); refusing intake until there is "
				  "space: raise --map-size or lower --keep",
				  r->o.name, relaylog_error(r->log));
		r->full = true;
		r->full_retry_ms = clock_mono_ms() + FULL_RETRY_MS;
	} else if (rc) {
		log_limited(&r->store_rl, L_ERROR,
			    "relay '%s': cannot log batch of %zu (%s); dropped", r->o.name,
			    r->nbatch, relaylog_error(r->log));
	}
}

/* Log the batch in one transaction, then publish it: never publish what is not durable. */
static void commit_batch(struct relay *r)
{
	uint64_t first = 0;
	double t = 0;
	int rc = -ENOSPC;
	for (size_t i = 0; i < r->nbatch; i++) {
		struct pending *p = &r->batch[i];
		r->items[i] = (struct relaylog_item){zmq_msg_data(&p->topic),
						     zmq_msg_size(&p->topic),
						     zmq_msg_data(&p->env),
						     zmq_msg_size(&p->env),
						     p->msg_id,
						     p->msg_id_len};
	}
	if (!relay_refusing(r)) {
		rc = relaylog_append_batch(r->log, r->items, r->nbatch, &first, &t);
		note_store_result(r, rc);
	}
	if (rc == 0) {
		for (size_t i = 0; i < r->nbatch; i++)
			publish(r, &r->batch[i], first + i, t);
		r->accepted += r->nbatch;
		log_debug("relay '%s': logged seq %" PRIu64 "..%" PRIu64, r->o.name, first,
			  first + r->nbatch - 1);
	} else {
		r->dropped += r->nbatch;
	}
	/* After the commit returned: only what is durable is answered "ok". */
	relay_ack_answer(r, rc, first);
	relay_batch_clear(r);
}

/* Room for one more message and one more waiter (a retry adds only a waiter). */
static bool batch_room(const struct relay *r, size_t bytes)
{
	return r->nbatch < BATCH_MAX && r->nwait < BATCH_MAX && bytes < BATCH_BYTES;
}

/* Drain both intakes in turns, so neither starves the other, then commit. */
void relay_intake(struct relay *r)
{
	size_t bytes = 0;
	bool pull = true, ack = r->ack != NULL;
	while ((pull || ack) && batch_room(r, bytes)) {
		int rc = pull ? take_one(r) : -1;
		if (rc < 0)
			pull = false;
		else if (rc > 0)
			bytes += zmq_msg_size(&r->batch[r->nbatch - 1].env);
		if (ack && batch_room(r, bytes) && relay_ack_take(r, &bytes) < 0)
			ack = false;
	}
	if (r->nbatch)
		commit_batch(r);
}
