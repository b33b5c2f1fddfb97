/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * replay: herald-relay's REP socket. Each request is one JSON object holding
 * one query (seq_range, seq_ids, time or msg_ids, plus an optional limit);
 * the answer is a status frame followed by [meta, envelope] pairs read from
 * the log, bounded in count and bytes. Every request gets exactly one reply.
 * Not for intake (intake.c) nor for LMDB (relaylog.c); the wire protocol is
 * documented in doc/herald-relay.8.
 */
#include "relay_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define LIMIT_DEFAULT	1000
#define LIMIT_MAX	10000
#define REPLY_BYTES	(64u << 20) /* a replay reply is cut (more: true) past this */

/* ---- replay ---- */

enum qkind { Q_NONE, Q_RANGE, Q_SEQS, Q_TIME, Q_MSGIDS };

struct request {
	enum qkind kind;
	json_t *arg; /* borrowed from the parsed request */
	size_t limit;
};

/* The reply being collected: frames in pairs [meta, envelope]. */
struct reply {
	struct relay *r;
	zmq_msg_t *frames;
	size_t nframes, cap, bytes, count;
	uint64_t first, last;
	bool more;
};

static const struct {
	const char *key;
	enum qkind kind;
} queries[] = {
	{"seq_range", Q_RANGE}, {"seq_ids", Q_SEQS}, {"time", Q_TIME}, {"msg_ids", Q_MSGIDS}};

/* Record why a request is refused; returns 1, the "bad request" result. */
__attribute__((format(printf, 2, 3))) static int bad(struct buf *err, const char *fmt, ...)
{
	va_list ap;
	char text[256];
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	buf_reset(err);
	buf_puts(err, text);
	return 1;
}

static int parse_limit(json_t *v, size_t *limit, struct buf *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > LIMIT_MAX)
		return bad(err, "limit must be an integer from 1 to %d", LIMIT_MAX);
	*limit = (size_t)json_integer_value(v);
	return 0;
}

/* Find the one query and the optional limit; refuse anything else.
 * 0, or 1 for a bad request (err says why). */
static int parse_request(json_t *root, struct request *q, struct buf *err)
{
	const char *key;
	json_t *v;
	*q = (struct request){Q_NONE, NULL, LIMIT_DEFAULT};
	if (!json_is_object(root))
		return bad(err, "request must be a JSON object");
	json_object_foreach (root, key, v) {
		size_t i, nq = sizeof queries / sizeof queries[0];
		if (strcmp(key, "limit") == 0) {
			if (parse_limit(v, &q->limit, err))
				return 1;
			continue;
		}
		for (i = 0; i < nq && strcmp(key, queries[i].key) != 0; i++)
			;
		if (i == nq)
			return bad(err, "unknown key \"%.64s\"", key);
		if (q->kind != Q_NONE)
			return bad(err, "request must hold exactly one query");
		q->kind = queries[i].kind;
		q->arg = v;
	}
	if (q->kind == Q_NONE)
		return bad(err, "request needs one of seq_range, seq_ids, time, msg_ids");
	return 0;
}

static bool is_seq(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

static int collect(const struct relaylog_entry *e, void *arg)
{
	struct reply *rp = arg;
	struct relay *r = rp->r;
	if (rp->count > 0 && rp->bytes + e->envelope_len > REPLY_BYTES)
		return 1; /* keep replies bounded; the client asks again from last_seq + 1 */
	if (rp->nframes + 2 > rp->cap) {
		size_t cap = rp->cap ? rp->cap * 2 : 64;
		zmq_msg_t *f = realloc(rp->frames, cap * sizeof *f);
		if (!f)
			return -ENOMEM;
		rp->frames = f;
		rp->cap = cap;
	}
	if (relay_format_meta(r, e->seq, e->time))
		return -ENOMEM;
	zmq_msg_t *m = &rp->frames[rp->nframes];
	if (zmq_msg_init_size(&m[0], r->meta.len))
		return -ENOMEM;
	if (zmq_msg_init_size(&m[1], e->envelope_len)) {
		zmq_msg_close(&m[0]);
		return -ENOMEM;
	}
	memcpy(zmq_msg_data(&m[0]), r->meta.data, r->meta.len);
	memcpy(zmq_msg_data(&m[1]), e->envelope, e->envelope_len);
	rp->nframes += 2;
	rp->bytes += e->envelope_len;
	if (rp->count++ == 0)
		rp->first = e->seq;
	rp->last = e->seq;
	return 0;
}

static int run_range(struct relay *r, const struct request *q, struct reply *rp, struct buf *err)
{
	json_t *a = json_array_get(q->arg, 0), *b = json_array_get(q->arg, 1);
	if (!json_is_array(q->arg) || json_array_size(q->arg) != 2 || !is_seq(a) ||
	    !(is_seq(b) || json_is_null(b)))
		return bad(err, "seq_range must be [first, last]: integers >= 0, last may be null");
	uint64_t lo = (uint64_t)json_integer_value(a);
	uint64_t hi = json_is_null(b) ? UINT64_MAX : (uint64_t)json_integer_value(b);
	if (lo > hi)
		return bad(err, "seq_range first is greater than last");
	return relaylog_query_range(r->log, lo, hi, q->limit, collect, rp, &rp->more);
}

static int run_time(struct relay *r, const struct request *q, struct reply *rp, struct buf *err)
{
	json_t *a = json_array_get(q->arg, 0), *b = json_array_get(q->arg, 1);
	if (!json_is_array(q->arg) || json_array_size(q->arg) != 2 || !json_is_number(a) ||
	    !(json_is_number(b) || json_is_null(b)))
		return bad(err, "time must be [t0, t1]: unix times as numbers, t1 may be null");
	double t0 = json_number_value(a), t1 = json_is_null(b) ? INFINITY : json_number_value(b);
	if (t0 > t1)
		return bad(err, "time t0 is greater than t1");
	return relaylog_query_time(r->log, t0, t1, q->limit, collect, rp, &rp->more);
}

/* Id lists are never cut silently: more ids than the limit is an error. */
static int check_ids(const struct request *q, const char *what, struct buf *err)
{
	if (!json_is_array(q->arg))
		return bad(err, "%s must be an array", what);
	if (json_array_size(q->arg) > q->limit)
		return bad(err, "too many %s: %zu > limit %zu", what, json_array_size(q->arg),
			   q->limit);
	return 0;
}

static int run_seqs(struct relay *r, const struct request *q, struct reply *rp, struct buf *err)
{
	size_t i, n = json_array_size(q->arg);
	json_t *v;
	int rc;
	if ((rc = check_ids(q, "seq_ids", err)))
		return rc;
	uint64_t *seqs = malloc((n ? n : 1) * sizeof *seqs);
	if (!seqs)
		return -ENOMEM;
	json_array_foreach (q->arg, i, v) {
		if (!is_seq(v)) {
			free(seqs);
			return bad(err, "seq_ids must hold integers >= 0");
		}
		seqs[i] = (uint64_t)json_integer_value(v);
	}
	rc = relaylog_query_seqs(r->log, seqs, n, collect, rp, &rp->more);
	free(seqs);
	return rc;
}

static int run_msgids(struct relay *r, const struct request *q, struct reply *rp, struct buf *err)
{
	size_t i, n = json_array_size(q->arg);
	json_t *v;
	int rc;
	if ((rc = check_ids(q, "msg_ids", err)))
		return rc;
	struct relaylog_id *ids = malloc((n ? n : 1) * sizeof *ids);
	if (!ids)
		return -ENOMEM;
	json_array_foreach (q->arg, i, v) {
		if (!json_is_string(v)) {
			free(ids);
			return bad(err, "msg_ids must hold strings");
		}
		ids[i] = (struct relaylog_id){json_string_value(v), json_string_length(v)};
	}
	rc = relaylog_query_msgids(r->log, ids, n, collect, rp, &rp->more);
	free(ids);
	return rc;
}

/* 0: reply collected; > 0: bad request (err says why); < 0: internal failure. */
static int run_request(struct relay *r, const char *data, size_t len, struct reply *rp,
		       struct buf *err)
{
	json_error_t jerr;
	struct request q;
	int rc;
	json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, &jerr);
	if (!root)
		return bad(err, "request is not valid JSON (%s)", jerr.text);
	if ((rc = parse_request(root, &q, err)) == 0) {
		switch (q.kind) {
		case Q_RANGE: rc = run_range(r, &q, rp, err); break;
		case Q_TIME: rc = run_time(r, &q, rp, err); break;
		case Q_SEQS: rc = run_seqs(r, &q, rp, err); break;
		default: rc = run_msgids(r, &q, rp, err); break;
		}
	}
	json_decref(root);
	return rc;
}

static void reply_release(struct reply *rp)
{
	for (size_t i = 0; i < rp->nframes; i++)
		zmq_msg_close(&rp->frames[i]);
	free(rp->frames);
	rp->frames = NULL;
	rp->nframes = 0;
}

static int send_frame(void *s, const void *p, size_t n, int flags)
{
	int rc;
	while ((rc = zmq_send(s, p, n, flags)) < 0 && errno == EINTR)
		;
	return rc < 0 ? -1 : 0;
}

/* zmq_msg_send returns a byte count; we want 0 or -1. */
static int send_msg(void *s, zmq_msg_t *m, int flags)
{
	int rc;
	while ((rc = zmq_msg_send(m, s, flags)) < 0 && errno == EINTR)
		;
	return rc < 0 ? -1 : 0;
}

static void send_error(struct relay *r, const char *text)
{
	json_t *o = json_pack("{s:s}", "error", text);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	/* Even out of memory, the REQ side must get an answer. */
	const char *out = s ? s : "{\"error\":\"internal error\"}";
	if (send_frame(r->rep, out, strlen(out), 0))
		log_limited(&r->replay_rl, L_WARN, "relay '%s': replay reply failed (%s)",
			    r->o.name, zmq_strerror(errno));
	free(s);
	json_decref(o);
}

/* Status frame, then the [meta, envelope] pairs. The frames are consumed. */
static void send_reply(struct relay *r, struct reply *rp)
{
	struct buf st = BUF_INIT;
	int rc = buf_printf(&st, "{\"count\":%zu,\"more\":%s", rp->count,
			    rp->more ? "true" : "false");
	if (rc == 0 && rp->count)
		rc = buf_printf(&st, ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64, rp->first,
				rp->last);
	if (rc == 0)
		rc = buf_putc(&st, '}');
	if (rc) {
		send_error(r, "internal error (out of memory)");
		goto out;
	}
	rc = send_frame(r->rep, st.data, st.len, rp->nframes ? ZMQ_SNDMORE : 0);
	for (size_t i = 0; rc == 0 && i < rp->nframes; i++)
		rc = send_msg(r->rep, &rp->frames[i], i + 1 < rp->nframes ? ZMQ_SNDMORE : 0);
	if (rc < 0)
		log_limited(&r->replay_rl, L_WARN, "relay '%s': replay reply failed (%s)",
			    r->o.name, zmq_strerror(errno));
out:
	buf_release(&st);
}

/* Answer one request. Whatever happens, exactly one reply goes out: a REQ
 * peer waits for it forever otherwise. */
void relay_serve_replay(struct relay *r)
{
	zmq_msg_t req, *const frames[1] = {&req};
	struct reply rp = {.r = r};
	struct buf err = BUF_INIT;
	int rc;
	zmq_msg_init(&req);
	if (zmq_msg_recv(&req, r->rep, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&req);
		return; /* nothing received: nothing owed */
	}
	r->replays++;
	if (relay_recv_rest(r->rep, frames, 1) != 1) {
		rc = bad(&err, "request must be a single frame");
	} else {
		rc = run_request(r, zmq_msg_data(&req), zmq_msg_size(&req), &rp, &err);
	}
	if (rc < 0) {
		log_limited(&r->replay_rl, L_ERROR, "relay '%s': replay query failed (%s)",
			    r->o.name, rc == -ENOMEM ? "out of memory" : relaylog_error(r->log));
		bad(&err, "internal error (%s)",
		    rc == -ENOMEM ? "out of memory" : relaylog_error(r->log));
	}
	if (rc) {
		r->bad_replays++;
		log_debug("relay '%s': replay request refused (%s)", r->o.name,
			  err.data ? err.data : "");
		send_error(r, err.data ? err.data : "internal error");
	} else {
		send_reply(r, &rp);
	}
	reply_release(&rp);
	buf_release(&err);
	zmq_msg_close(&req);
}
