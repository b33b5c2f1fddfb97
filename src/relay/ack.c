/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ack: herald-relay's acknowledged intake, a ROUTER socket (--ack). A
 * publisher sends [request id, topic, envelope] from a DEALER (a REQ peer's
 * empty delimiter frame is accepted and mirrored); the relay answers
 * [request id, status] where status is a JSON object, and answers "ok" only
 * once the message is durable in the log: after the commit (and its fsync)
 * of the batch it went into. A retry of a message the log already holds
 * (same msg_id) is answered "ok" again and not logged twice; so is a retry
 * that finds the first try still in the batch. The wire format and the
 * status codes are documented in doc/herald-relay.8.
 *
 * Not for checking messages (intake.c's relay_check_message, the same rules
 * as PULL), committing (intake.c) or LMDB (relaylog.c). The plain PULL
 * intake stays as it was: at most once per hop, nobody is told anything.
 */
#include "relay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <zmq.h>

#define ACK_FRAMES 5 /* [identity, (empty: REQ), request id, topic, envelope] */

/* A request being taken apart: the frames as received. */
struct ackreq {
	zmq_msg_t f[ACK_FRAMES];
	int n;	   /* frames received (any beyond ACK_FRAMES are discarded) */
	bool req;  /* f[1] is a REQ peer's empty delimiter */
	int reqid; /* index of the request id frame, or -1 if there is none */
};

static const char *const status_names[] = {
    [ACK_OK] = "ok",	 [ACK_MALFORMED] = "malformed", [ACK_TOO_LARGE] = "too_large",
    [ACK_FULL] = "full", [ACK_ERROR] = "error",
};

/* ---- replies ---- */

/* The status frame: {"status": ..., "msg_id": ..., "seq": N, "duplicate": true}
 * for ok, {"status": ..., "reason": ...} otherwise. NULL when out of memory. */
static char *status_text(enum ack_status st, const struct pending *p, uint64_t seq, bool dup,
			 const char *reason)
{
	json_t *o = json_pack("{s:s}", "status", status_names[st]);
	char *text = NULL;
	int bad = !o;
	if (!bad && st == ACK_OK) {
		bad |= json_object_set_new(o, "msg_id", json_stringn(p->msg_id, p->msg_id_len));
		bad |= json_object_set_new(o, "seq", json_integer((json_int_t)seq));
		if (dup)
			bad |= json_object_set_new(o, "duplicate", json_true());
	} else if (!bad) {
		bad |= json_object_set_new(o, "reason", json_string(reason ? reason : ""));
	}
	if (!bad)
		text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* Send [identity, (empty), request id, status]. ROUTER never blocks: a peer
 * that is gone or not reading loses the reply, and its retry gets another. */
static void send_reply(struct relay *r, zmq_msg_t *ident, bool req, const void *reqid,
		       size_t reqid_len, const char *text)
{
	const char *out = text ? text : "{\"status\":\"error\",\"reason\":\"out of memory\"}";
	int fl = ZMQ_SNDMORE | ZMQ_DONTWAIT;
	if (zmq_msg_send(ident, r->ack, fl) < 0 || (req && zmq_send(r->ack, "", 0, fl) < 0) ||
	    zmq_send(r->ack, reqid, reqid_len, fl) < 0 ||
	    zmq_send(r->ack, out, strlen(out), ZMQ_DONTWAIT) < 0)
		log_limited(&r->ack_rl, L_WARN, "relay '%s': ack reply failed (%s)", r->o.name,
			    zmq_strerror(errno));
}

/* Answer a request at once (a refusal, or ok for a message logged before). */
static void answer_now(struct relay *r, struct ackreq *q, enum ack_status st,
		       const struct pending *p, uint64_t seq, const char *reason)
{
	char *text = status_text(st, p, seq, true, reason);
	/* Without a usable request id the reply carries an empty one: the peer
	 * learns its requests are malformed instead of waiting for ever. */
	if (q->reqid >= 0)
		send_reply(r, &q->f[0], q->req, zmq_msg_data(&q->f[q->reqid]),
			   zmq_msg_size(&q->f[q->reqid]), text);
	else
		send_reply(r, &q->f[0], q->req, "", 0, text);
	free(text);
	if (st == ACK_OK) {
		r->acked++;
		r->ack_dups++;
		return;
	}
	r->ack_refused++;
	log_limited(&r->ack_rl, L_WARN,
		    "relay '%s': ack request answered %s (%s); %" PRIu64 " refused so far",
		    r->o.name, status_names[st], reason, r->ack_refused);
}

void relay_ack_answer(struct relay *r, int rc, uint64_t first)
{
	enum ack_status st = rc == 0 ? ACK_OK : rc == -ENOSPC ? ACK_FULL : ACK_ERROR;
	const char *reason = rc == -ENOSPC ? "the log is full; retry later"
			     : rc	   ? relaylog_error(r->log)
					   : NULL;
	for (size_t i = 0; i < r->nwait; i++) {
		struct waiter *w = &r->waiters[i];
		char *text = status_text(st, &r->batch[w->idx], first + w->idx, false, reason);
		send_reply(r, &w->ident, w->req, w->reqid, w->reqid_len, text);
		free(text);
		if (rc == 0)
			r->acked++;
		else
			r->ack_refused++;
	}
	if (rc && r->nwait)
		log_limited(&r->ack_rl, L_WARN,
			    "relay '%s': %zu ack requests answered %s (%s); the publishers retry",
			    r->o.name, r->nwait, status_names[st], reason);
}

/* ---- requests ---- */

/* Receive a request into q. false: nothing was waiting. */
static bool receive(struct relay *r, struct ackreq *q)
{
	zmq_msg_t *keep[ACK_FRAMES];
	for (int i = 0; i < ACK_FRAMES; i++) {
		zmq_msg_init(&q->f[i]);
		keep[i] = &q->f[i];
	}
	if (zmq_msg_recv(&q->f[0], r->ack, ZMQ_DONTWAIT) < 0)
		return false; /* EAGAIN, or EINTR: the loop comes back */
	q->n = relay_recv_rest(r->ack, keep, ACK_FRAMES);
	q->req = q->n > 1 && zmq_msg_size(&q->f[1]) == 0;
	q->reqid = q->req ? 2 : 1;
	if (q->reqid >= q->n || zmq_msg_size(&q->f[q->reqid]) > ACK_REQID_MAX)
		q->reqid = -1;
	return true;
}

static void ackreq_close(struct ackreq *q)
{
	for (int i = 0; i < ACK_FRAMES; i++)
		zmq_msg_close(&q->f[i]);
}

/* The batch entry already holding this msg_id, or -1. */
static long in_batch(const struct relay *r, const struct pending *p)
{
	for (size_t i = 0; i < r->nbatch; i++) {
		const struct pending *b = &r->batch[i];
		if (b->msg_id_len == p->msg_id_len && !memcmp(b->msg_id, p->msg_id, p->msg_id_len))
			return (long)i;
	}
	return -1;
}

/* Is the request well-formed and loggable? Moves topic and envelope into p.
 * NULL if so, else the reason (and *st the refusal). */
static const char *check_request(struct relay *r, struct ackreq *q, struct pending *p,
				 enum ack_status *st)
{
	int body = q->reqid + 1; /* the topic frame */
	*st = ACK_MALFORMED;
	if (q->reqid < 0)
		return "no request id frame (or one longer than 64 bytes)";
	if (q->n > ACK_FRAMES || q->n - body != 2)
		return "wrong frame count: want [request id, topic, envelope]";
	zmq_msg_move(&p->topic, &q->f[body]);
	zmq_msg_move(&p->env, &q->f[body + 1]);
	const char *why = relay_check_message(r, p, 2, st);
	if (why)
		return why;
	if (p->msg_id_len == 0)
		return "the acknowledged intake needs a msg_id (a string of 1 to 511 bytes)";
	return NULL;
}

/* Look the msg_id up in the log. 1: logged before (answered), 0: new, or
 * answered with an error (-1). */
static int logged_before(struct relay *r, struct ackreq *q, struct pending *p)
{
	uint64_t seq = 0;
	int rc = relaylog_find_msgid(r->log, p->msg_id, p->msg_id_len, &seq);
	if (rc == 0) {
		answer_now(r, q, ACK_OK, p, seq, NULL);
		return 1;
	}
	if (rc == -ENOENT)
		return 0;
	/* -ENAMETOOLONG: such an id could never be found again: refuse for good. */
	answer_now(r, q, rc == -ENAMETOOLONG ? ACK_MALFORMED : ACK_ERROR, p, 0,
		   relaylog_error(r->log));
	return -1;
}

/* Queue a waiter for batch entry idx; the identity moves into it. */
static void add_waiter(struct relay *r, struct ackreq *q, size_t idx)
{
	struct waiter *w = &r->waiters[r->nwait++];
	zmq_msg_init(&w->ident);
	zmq_msg_move(&w->ident, &q->f[0]);
	w->req = q->req;
	w->reqid_len = zmq_msg_size(&q->f[q->reqid]);
	memcpy(w->reqid, zmq_msg_data(&q->f[q->reqid]), w->reqid_len);
	w->idx = idx;
}

int relay_ack_take(struct relay *r, size_t *bytes)
{
	struct pending *p = &r->batch[r->nbatch];
	struct ackreq q;
	enum ack_status st;
	const char *why;
	int rc = 0;
	zmq_msg_init(&p->topic);
	zmq_msg_init(&p->env);
	if (!receive(r, &q)) {
		rc = -1;
		goto out;
	}
	if ((why = check_request(r, &q, p, &st))) {
		answer_now(r, &q, st, p, 0, why);
		goto out;
	}
	if (relay_refusing(r)) {
		answer_now(r, &q, ACK_FULL, p, 0, "the log is full; retry later");
		goto out;
	}
	long dup = in_batch(r, p);
	if (dup >= 0) {
		add_waiter(r, &q, (size_t)dup);
		rc = 1;
		goto out;
	}
	if (logged_before(r, &q, p))
		goto out;
	add_waiter(r, &q, r->nbatch);
	*bytes += zmq_msg_size(&p->env);
	r->nbatch++; /* the batch owns topic and envelope now */
	ackreq_close(&q);
	return 1;
out:
	zmq_msg_close(&p->topic);
	zmq_msg_close(&p->env);
	ackreq_close(&q);
	return rc;
}
