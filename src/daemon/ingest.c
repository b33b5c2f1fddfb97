/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ingest: ZeroMQ I/O thread, ordered ring, verify workers (see ingest.h).
 * Not for deciding what is accepted: that is the committer's job (heraldd.c)
 * once it has seen sequence numbers and the store.
 *
 * Each ring slot owns its envelope, and with it the parse (canon nodes) and
 * the decoded fields: the committer reads those after the worker has moved
 * on, so a per-worker parse would not live long enough. A slot keeps that
 * memory between messages (envelope_clear), so the hot path does not
 * allocate once every slot has been used; a big message's memory is given
 * back when its slot is released.
 *
 * Wake-ups are rationed, because on a small machine every one is a pair of
 * context switches on a core a worker wanted: a worker finishes a slot and
 * claims the next under one lock, the I/O thread publishes a slot and
 * reserves the next under one lock, and under load the consumer sleeps
 * until DONE_BATCH slots are ready (at once when no work is queued).
 */
#include "ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/log.h"
#include "amqpsrc.h"
#include "seqtrack.h"
#include "src/common/clock.h"

#define RING_SIZE 8192 /* power of two */
#define RECV_BURST 256
/* Under load the consumer is woken once this many slots are ready, not per
 * slot: each wake-up is two context switches on cores the workers need. */
#define DONE_BATCH 32
#define REPLAY_ATTEMPTS 3
/* Frame bytes allowed beyond max_message_size before libzmq drops the peer:
 * a frame merely over the limit is still read, refused and counted. */
#define FRAME_SLACK 4096

enum slot_state { SLOT_EMPTY, SLOT_FILLED, SLOT_DONE };

struct source {
	struct ingest_source pub;
	char *key;           /* owned */
	const char *connect; /* borrowed from the config */
	const char *replay;  /* borrowed; NULL if none */
	void *sub, *req;
	bool pending;        /* a replay request is out */
	uint64_t lo, hi;
	int attempts;
	uint64_t deadline_ms;
};

struct replay_cmd {
	uint32_t src;
	uint64_t lo, hi;
};

struct ingest {
	const struct config *cfg;
	struct metrics *m;
	void *zctx;
	void *cmd_out, *cmd_in; /* consumer -> I/O thread */
	struct source *src;
	size_t nsrc;           /* ZeroMQ sources first, then one per [amqp] section */
	size_t nzmq;
	struct amqpsrc **amqp; /* [namqp]; source nzmq + k is amqp[k] */
	size_t namqp;

	struct ingest_item *ring;
	/* Under lock. tail <= done <= claim <= head: the consumer holds
	 * [tail, done) or may take it; done is the first unfinished slot. */
	uint64_t head, claim, done, tail;
	pthread_mutex_t lock;
	pthread_cond_t work_cv, done_cv, space_cv;
	bool stopping;

	pthread_rwlock_t vlock;
	struct verifier *v;

	pthread_t io;
	pthread_t *workers;
	int nworkers, started_workers;
	bool io_started;
	struct log_limit rl_reject;
};

/* ---- ring ---- */

static struct ingest_item *ring_slot(struct ingest *in, uint64_t i)
{
	return &in->ring[i & (RING_SIZE - 1)];
}

static void publish_locked(struct ingest *in, struct ingest_item *it)
{
	it->state = SLOT_FILLED;
	in->head++;
	pthread_cond_signal(&in->work_cv);
}

/*
 * The next slot, once there is room, emptied for a producer; NULL when
 * stopping. The caller fills it (moves only) and publishes it before it
 * lets go of the lock, so producers never hold a slot between two locks
 * and any number of them can share the ring.
 */
static struct ingest_item *claim_locked(struct ingest *in)
{
	while (!in->stopping && in->head - in->tail >= RING_SIZE)
		pthread_cond_wait(&in->space_cv, &in->lock);
	if (in->stopping)
		return NULL;
	struct ingest_item *it = ring_slot(in, in->head);
	/* it->env was cleared when the slot was released. */
	it->nparts = 0;
	it->replayed = it->via_relay = it->has_seq = it->ok = it->wanted = false;
	it->more = it->failed = false;
	it->seq = it->last_seq = 0;
	it->signer = NULL;
	it->headers = NULL;
	return it;
}

/* Frames received outside the lock, moved into a slot under it. */
struct frames {
	zmq_msg_t part[3];
	int nparts;          /* 0: malformed (more than three frames) */
};

static void frames_close(struct frames *f)
{
	for (int i = 0; i < f->nparts; i++)
		zmq_msg_close(&f->part[i]);
	f->nparts = 0;
}

/* Publish one message's frames as the next slot; false when stopping. */
static bool ring_put_frames(struct ingest *in, uint32_t src, bool replayed, struct frames *f)
{
	pthread_mutex_lock(&in->lock);
	struct ingest_item *it = claim_locked(in);
	if (it) {
		it->kind = INGEST_MESSAGE;
		it->source = src;
		it->replayed = replayed;
		for (int i = 0; i < f->nparts; i++) {
			zmq_msg_init(&it->part[i]);
			zmq_msg_move(&it->part[i], &f->part[i]);
		}
		it->nparts = f->nparts;
		publish_locked(in, it);
	}
	pthread_mutex_unlock(&in->lock);
	frames_close(f); /* moved-from messages are empty */
	return it != NULL;
}

/* amqpsrc's submit: a delivery into the next slot, the slot's spare back. */
static int ring_put_delivery(void *arg, uint32_t src, struct amqpsrc_delivery **d)
{
	struct ingest *in = arg;
	pthread_mutex_lock(&in->lock);
	struct ingest_item *it = claim_locked(in);
	if (it) {
		it->kind = INGEST_MESSAGE;
		it->source = src;
		it->delivery = *d;
		*d = it->spare;
		it->spare = NULL;
		publish_locked(in, it);
	}
	pthread_mutex_unlock(&in->lock);
	return it ? 0 : -ECANCELED;
}

size_t ingest_take(struct ingest *in, struct ingest_item **items, size_t max, int timeout_ms)
{
	struct timespec until = clock_deadline(timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
	size_t n = 0;
	pthread_mutex_lock(&in->lock);
	while (in->tail == in->head || ring_slot(in, in->tail)->state != SLOT_DONE) {
		if (in->stopping || pthread_cond_timedwait(&in->done_cv, &in->lock, &until))
			break;
	}
	while (n < max && in->tail + n != in->head && ring_slot(in, in->tail + n)->state == SLOT_DONE) {
		items[n] = ring_slot(in, in->tail + n);
		n++;
	}
	pthread_mutex_unlock(&in->lock);
	return n;
}

static void slot_clear(struct ingest_item *it)
{
	envelope_clear(&it->env);
	for (int i = 0; i < it->nparts && i < 3; i++)
		zmq_msg_close(&it->part[i]);
	it->nparts = 0;
	if (it->delivery) { /* its memory waits in the slot for the next delivery */
		amqpsrc_delivery_free(it->spare);
		it->spare = it->delivery;
		it->delivery = NULL;
	}
	it->state = SLOT_EMPTY;
}

void ingest_settle(struct ingest *in, struct ingest_item **items, size_t n, bool committed)
{
	for (size_t i = 0; i < n; i++) {
		const struct amqpsrc_delivery *d = items[i]->delivery;
		if (!d)
			continue;
		enum amqpsrc_outcome o = !items[i]->ok ? AMQPSRC_REJECT
				       : committed     ? AMQPSRC_ACK
						       : AMQPSRC_REQUEUE;
		if (amqpsrc_settle_add(d->from, d, o)) /* unsettled: redelivered after a reconnect */
			log_error("ingest: out of memory settling an AMQP delivery");
	}
	for (size_t k = 0; k < in->namqp; k++)
		amqpsrc_settle_post(in->amqp[k]);
}

void ingest_release(struct ingest *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		slot_clear(ring_slot(in, in->tail + i));
	pthread_mutex_lock(&in->lock);
	in->tail += n;
	pthread_cond_signal(&in->space_cv);
	pthread_mutex_unlock(&in->lock);
}

/* ---- workers ---- */

static enum reject_reason from_envelope(enum envelope_error e)
{
	switch (e) {
	case ENVELOPE_NO_TOPIC: return REJECT_NO_TOPIC;
	case ENVELOPE_NO_BODY: return REJECT_NO_BODY;
	case ENVELOPE_BAD_FIELD: return REJECT_BAD_FIELD;
	default: return REJECT_BAD_JSON;
	}
}

static enum reject_reason from_verify(enum verify_result r)
{
	switch (r) {
	case VERIFY_UNSIGNED: return REJECT_UNSIGNED;
	case VERIFY_UNSUPPORTED: return REJECT_UNSUPPORTED_CRYPTO;
	case VERIFY_MALFORMED: return REJECT_MALFORMED_SIGNATURE;
	case VERIFY_UNKNOWN_SIGNER: return REJECT_UNKNOWN_SIGNER;
	case VERIFY_BAD_CERTIFICATE: return REJECT_BAD_CERTIFICATE;
	case VERIFY_POLICY: return REJECT_POLICY;
	default: return REJECT_BAD_SIGNATURE;
	}
}

/* The relay's meta frame: {"seq": N, ...}. */
static int parse_meta(const zmq_msg_t *part, uint64_t *seq)
{
	json_t *meta = json_loadb(zmq_msg_data((zmq_msg_t *)part), zmq_msg_size((zmq_msg_t *)part), 0, NULL);
	json_t *s = json_object_get(meta, "seq");
	int rc = -1;
	if (json_is_integer(s) && json_integer_value(s) > 0) {
		*seq = (uint64_t)json_integer_value(s);
		rc = 0;
	}
	json_decref(meta);
	return rc;
}

static bool topic_wanted(const struct config *cfg, const char *topic)
{
	if (!cfg->n_subscribe)
		return true;
	for (size_t i = 0; i < cfg->n_subscribe; i++)
		if (!strncmp(topic, cfg->subscribe[i], strlen(cfg->subscribe[i])))
			return true;
	return false;
}

/* Parse and verify one slot; returns the rejection reason or -1 if fine. */
static int check_slot(struct ingest *in, struct ingest_item *it, struct buf *scratch,
		      const char **detail)
{
	it->via_relay = it->nparts == 3;
	if (it->nparts < 2 || it->nparts > 3)
		return (*detail = "wrong number of frames"), REJECT_BAD_FRAMES;
	it->raw = zmq_msg_data(&it->part[1]);
	it->raw_len = zmq_msg_size(&it->part[1]);
	if (it->raw_len > in->cfg->max_message_size)
		return (*detail = "message over max_message_size"), REJECT_TOO_LARGE;
	if (it->nparts == 3 && parse_meta(&it->part[2], &it->seq))
		return (*detail = "relay meta frame without a valid seq"), REJECT_BAD_FRAMES;
	it->has_seq = it->nparts == 3;
	enum envelope_error ee = envelope_reparse(&it->env, it->raw, it->raw_len, detail);
	if (ee != ENVELOPE_OK)
		return from_envelope(ee);
	size_t tlen = zmq_msg_size(&it->part[0]);
	if (!it->replayed &&
	    (tlen != it->env.topic_len || memcmp(zmq_msg_data(&it->part[0]), it->env.topic, tlen)))
		return (*detail = "topic frame differs from the envelope topic"), REJECT_TOPIC_MISMATCH;
	pthread_rwlock_rdlock(&in->vlock);
	enum verify_result vr =
		verify_envelope(in->v, &it->env, it->raw, it->raw_len, scratch, &it->signer, detail);
	pthread_rwlock_unlock(&in->vlock);
	if (vr != VERIFY_OK)
		return from_verify(vr);
	if (!it->has_seq && it->env.has_i) {
		it->has_seq = true;
		it->seq = (uint64_t)it->env.i;
	}
	it->wanted = topic_wanted(in->cfg, it->env.topic);
	return -1;
}

/* An AMQP delivery: fedora-messaging's format, no signature (the broker
 * is trusted). Returns fmsg's reason, FMSG_OK if fine. */
static enum fmsg_reason check_delivery(struct ingest *in, struct ingest_item *it,
				       const char **detail)
{
	const struct amqpsrc_delivery *d = it->delivery;
	enum fmsg_reason r;
	if (d->too_large) {
		*detail = "body over max_message_size";
		r = FMSG_TOO_LARGE;
	} else if (d->bad_headers) {
		*detail = d->bad_headers;
		r = FMSG_BAD_HEADER;
	} else {
		struct fmsg_in fin = amqpsrc_fmsg_in(d);
		r = fmsg_parse(&fin, in->cfg->max_message_size, (double)clock_wall_ms() / 1000,
			       &it->env, detail);
	}
	if (r)
		return r;
	it->raw = it->env.raw;
	it->raw_len = it->env.raw_len;
	it->headers = d->headers;
	it->wanted = topic_wanted(in->cfg, it->env.topic);
	return FMSG_OK;
}

static void process_delivery(struct ingest *in, struct ingest_item *it, struct log_limit *rl)
{
	const char *detail = "";
	enum fmsg_reason r = check_delivery(in, it, &detail);
	it->ok = r == FMSG_OK;
	if (it->ok)
		return;
	metric_add(&in->m->amqp_rejected[r], 1);
	log_limited(rl, L_WARN, "amqp '%s': delivery rejected: %s (%s)", in->src[it->source].pub.name,
		    fmsg_reason_name(r), detail);
}

static void process_slot(struct ingest *in, struct ingest_item *it, struct buf *scratch,
			 struct log_limit *rl)
{
	if (it->kind != INGEST_MESSAGE)
		return;
	if (it->delivery) {
		process_delivery(in, it, rl);
		return;
	}
	const char *detail = "";
	int why = check_slot(in, it, scratch, &detail);
	it->ok = why < 0;
	if (it->ok)
		return;
	it->why = (enum reject_reason)why;
	metric_add(&in->m->rejected[why], 1);
	log_limited(rl, L_WARN, "ingest '%s': message rejected: %s (%s)",
		    in->src[it->source].pub.name, metrics_reject_name(it->why), detail);
	envelope_clear(&it->env);
}

/*
 * Slot `it` is finished: move `done` over the finished run and wake the
 * consumer when a batch is ready, or at once when no work is queued (light
 * load: no reason to wait). Under load it sleeps through DONE_BATCH slots.
 */
static void finish_locked(struct ingest *in, struct ingest_item *it)
{
	uint64_t before = in->done;
	it->state = SLOT_DONE;
	while (in->done != in->claim && ring_slot(in, in->done)->state == SLOT_DONE)
		in->done++;
	if (in->done != before && (in->done - in->tail >= DONE_BATCH || in->claim == in->head))
		pthread_cond_signal(&in->done_cv);
}

static void *worker_main(void *arg)
{
	struct ingest *in = arg;
	struct buf scratch = BUF_INIT;
	struct log_limit rl = {.interval_ms = 5000};
	/* The lock is held between slots: finishing one and claiming the
	 * next take one lock round trip. */
	pthread_mutex_lock(&in->lock);
	for (;;) {
		while (!in->stopping && in->claim == in->head)
			pthread_cond_wait(&in->work_cv, &in->lock);
		if (in->stopping)
			break;
		struct ingest_item *it = ring_slot(in, in->claim++);
		pthread_mutex_unlock(&in->lock);
		process_slot(in, it, &scratch, &rl);
		pthread_mutex_lock(&in->lock);
		finish_locked(in, it);
	}
	pthread_mutex_unlock(&in->lock);
	buf_release(&scratch);
	return NULL;
}

/* ---- I/O thread ---- */

/* Read one multipart message; more than three frames make it malformed. */
static int recv_frames(void *sock, struct frames *f)
{
	int more = 1, n = 0;
	size_t len = sizeof more;
	while (more) {
		zmq_msg_t tmp;
		zmq_msg_init(&tmp);
		if (zmq_msg_recv(&tmp, sock, n ? 0 : ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&tmp);
			if (n == 0)
				return -errno;
			break;
		}
		if (n < 3) {
			zmq_msg_init(&f->part[n]);
			zmq_msg_move(&f->part[n], &tmp);
		}
		zmq_msg_close(&tmp);
		n++;
		if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len))
			more = 0;
	}
	f->nparts = n > 3 ? 3 : n;
	if (n > 3)
		frames_close(f); /* nparts 0: the worker rejects it */
	return 0;
}

static void read_source(struct ingest *in, uint32_t s)
{
	for (int burst = 0; burst < RECV_BURST; burst++) {
		struct frames f;
		if (recv_frames(in->src[s].sub, &f) < 0)
			return; /* EAGAIN: drained */
		metric_add(&in->m->received, 1);
		if (!ring_put_frames(in, s, false, &f))
			return;
	}
}

static void push_replay_done(struct ingest *in, uint32_t s, uint64_t last, bool more, bool failed)
{
	pthread_mutex_lock(&in->lock);
	struct ingest_item *it = claim_locked(in);
	if (it) {
		it->kind = INGEST_REPLAY_DONE;
		it->source = s;
		it->replayed = true;
		it->last_seq = last;
		it->more = more;
		it->failed = failed;
		publish_locked(in, it);
	}
	pthread_mutex_unlock(&in->lock);
}

static int send_replay_request(struct ingest *in, struct source *src)
{
	char req[160];
	if (src->hi == SEQ_OPEN)
		snprintf(req, sizeof req, "{\"seq_range\":[%llu,null],\"limit\":%d}",
			 (unsigned long long)src->lo, in->cfg->replay_batch);
	else
		snprintf(req, sizeof req, "{\"seq_range\":[%llu,%llu],\"limit\":%d}",
			 (unsigned long long)src->lo, (unsigned long long)src->hi,
			 in->cfg->replay_batch);
	if (!src->req) {
		int zero = 0;
		src->req = zmq_socket(in->zctx, ZMQ_REQ);
		if (!src->req)
			return -errno;
		/* A replay answer is many envelopes, each a frame of its own. */
		int64_t frame_max = (int64_t)in->cfg->max_message_size + FRAME_SLACK;
		zmq_setsockopt(src->req, ZMQ_LINGER, &zero, sizeof zero);
		zmq_setsockopt(src->req, ZMQ_MAXMSGSIZE, &frame_max, sizeof frame_max);
		if (zmq_connect(src->req, src->replay)) {
			int e = -errno;
			zmq_close(src->req);
			src->req = NULL;
			return e;
		}
	}
	if (zmq_send(src->req, req, strlen(req), ZMQ_DONTWAIT) < 0)
		return -errno;
	src->attempts++;
	src->deadline_ms = clock_mono_ms() + (uint64_t)in->cfg->replay_timeout_ms;
	metric_add(&in->m->replay_requests, 1);
	log_debug("ingest '%s': replay request %s", src->pub.name, req);
	return 0;
}

static void replay_give_up(struct ingest *in, uint32_t s, const char *why)
{
	struct source *src = &in->src[s];
	log_warn("ingest '%s': replay from %s failed (%s)", src->pub.name, src->replay, why);
	metric_add(&in->m->replay_failures, 1);
	if (src->req) {
		zmq_close(src->req);
		src->req = NULL;
	}
	src->pending = false;
	push_replay_done(in, s, 0, false, true);
}

static void start_replay(struct ingest *in, const struct replay_cmd *cmd)
{
	if (cmd->src >= in->nzmq || !in->src[cmd->src].replay)
		return;
	struct source *src = &in->src[cmd->src];
	if (src->pending && src->req) {
		/* The committer rewound (a failed commit) and asks again: the old
		 * question is moot, and a REQ socket cannot send twice. */
		zmq_close(src->req);
		src->req = NULL;
	}
	src->pending = true;
	src->lo = cmd->lo;
	src->hi = cmd->hi;
	src->attempts = 0;
	int rc = send_replay_request(in, src);
	if (rc)
		replay_give_up(in, cmd->src, zmq_strerror(-rc));
}

/* One frame of a replay answer: status, meta or envelope. */
enum frame_kind { FRAME_STATUS, FRAME_META, FRAME_ENVELOPE, FRAME_ERROR };

static enum frame_kind classify(zmq_msg_t *f, json_t **status)
{
	json_t *j = json_loadb(zmq_msg_data(f), zmq_msg_size(f), 0, NULL);
	enum frame_kind k = FRAME_ENVELOPE;
	if (json_object_get(j, "error"))
		k = FRAME_ERROR;
	else if (json_object_get(j, "count"))
		k = FRAME_STATUS;
	else if (json_object_get(j, "seq") && !json_object_get(j, "topic"))
		k = FRAME_META;
	if (status && (k == FRAME_STATUS || k == FRAME_ERROR))
		*status = j;
	else
		json_decref(j);
	return k;
}

/* Move a replay answer into the ring: [status] then [meta, envelope]* or,
 * from a fedmsg replay server, bare envelopes. */
static void read_replay(struct ingest *in, uint32_t s)
{
	struct source *src = &in->src[s];
	bool more_frames = true, more = false, failed = false;
	uint64_t last = 0;
	zmq_msg_t meta;
	bool have_meta = false;
	zmq_msg_init(&meta);
	for (int idx = 0; more_frames; idx++) {
		zmq_msg_t f;
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, src->req, 0) < 0) {
			zmq_msg_close(&f);
			failed = true;
			break;
		}
		more_frames = zmq_msg_more(&f);
		json_t *status = NULL;
		enum frame_kind k = classify(&f, idx == 0 ? &status : NULL);
		if (k == FRAME_ERROR || k == FRAME_STATUS) {
			if (k == FRAME_ERROR)
				log_warn("ingest '%s': replay refused: %s", src->pub.name,
					 json_string_value(json_object_get(status, "error")));
			failed = k == FRAME_ERROR;
			more = json_is_true(json_object_get(status, "more"));
			json_decref(status);
			zmq_msg_close(&f);
			continue;
		}
		if (k == FRAME_META) {
			zmq_msg_close(&meta);
			zmq_msg_init(&meta);
			zmq_msg_move(&meta, &f);
			have_meta = true;
			zmq_msg_close(&f);
			continue;
		}
		struct frames fr = {.nparts = 2};
		zmq_msg_init(&fr.part[0]);
		zmq_msg_init(&fr.part[1]);
		zmq_msg_move(&fr.part[1], &f);
		if (have_meta) {
			uint64_t seq;
			if (!parse_meta(&meta, &seq) && seq > last)
				last = seq;
			zmq_msg_init(&fr.part[2]);
			zmq_msg_move(&fr.part[2], &meta);
			fr.nparts = 3;
			have_meta = false;
		}
		zmq_msg_close(&f);
		metric_add(&in->m->received, 1);
		if (!ring_put_frames(in, s, true, &fr))
			break;
	}
	zmq_msg_close(&meta);
	src->pending = false;
	if (failed) {
		replay_give_up(in, s, "error answer");
		return;
	}
	push_replay_done(in, s, last, more, false);
}

static void check_replay_timeouts(struct ingest *in)
{
	uint64_t now = clock_mono_ms();
	for (uint32_t s = 0; s < in->nzmq; s++) {
		struct source *src = &in->src[s];
		if (!src->pending || now < src->deadline_ms)
			continue;
		/* A REQ socket that missed its answer is stuck: start over. */
		zmq_close(src->req);
		src->req = NULL;
		if (src->attempts >= REPLAY_ATTEMPTS) {
			replay_give_up(in, s, "no answer");
			continue;
		}
		int rc = send_replay_request(in, src);
		if (rc)
			replay_give_up(in, s, zmq_strerror(-rc));
	}
}

static void read_commands(struct ingest *in)
{
	struct replay_cmd cmd;
	while (zmq_recv(in->cmd_in, &cmd, sizeof cmd, ZMQ_DONTWAIT) == (int)sizeof cmd)
		start_replay(in, &cmd);
}

static bool is_stopping(struct ingest *in)
{
	pthread_mutex_lock(&in->lock);
	bool s = in->stopping;
	pthread_mutex_unlock(&in->lock);
	return s;
}

static void *io_main(void *arg)
{
	struct ingest *in = arg;
	size_t cap = 1 + 2 * in->nzmq;
	zmq_pollitem_t *items = calloc(cap, sizeof *items);
	uint32_t *who = calloc(cap, sizeof *who);
	if (!items || !who) {
		log_error("ingest: out of memory in the I/O thread");
		goto out;
	}
	while (!is_stopping(in)) {
		size_t n = 0;
		items[n++] = (zmq_pollitem_t){.socket = in->cmd_in, .events = ZMQ_POLLIN};
		for (uint32_t s = 0; s < in->nzmq; s++) {
			who[n] = s;
			items[n++] = (zmq_pollitem_t){.socket = in->src[s].sub, .events = ZMQ_POLLIN};
			if (in->src[s].pending && in->src[s].req) {
				who[n] = s | 0x80000000u;
				items[n++] = (zmq_pollitem_t){.socket = in->src[s].req, .events = ZMQ_POLLIN};
			}
		}
		if (zmq_poll(items, (int)n, 100) < 0 && errno != EINTR) {
			log_error("ingest: zmq_poll failed (%s)", zmq_strerror(errno));
			break;
		}
		if (items[0].revents & ZMQ_POLLIN)
			read_commands(in);
		for (size_t i = 1; i < n; i++) {
			if (!(items[i].revents & ZMQ_POLLIN))
				continue;
			if (who[i] & 0x80000000u)
				read_replay(in, who[i] & 0x7fffffffu);
			else
				read_source(in, who[i]);
		}
		check_replay_timeouts(in);
	}
out:
	free(items);
	free(who);
	return NULL;
}

/* ---- setup ---- */

static int open_source(struct ingest *in, struct source *src, const struct config_endpoint *e,
		       const char *addr, char *err, size_t errlen)
{
	size_t klen = strlen(e->name) + strlen(addr) + 2;
	if (!(src->key = malloc(klen)))
		return -ENOMEM;
	snprintf(src->key, klen, "%s %s", e->name, addr);
	src->pub = (struct ingest_source){src->key, e->name, e->replay != NULL};
	src->connect = addr;
	src->replay = e->replay;
	if (!(src->sub = zmq_socket(in->zctx, ZMQ_SUB)))
		goto zfail;
	int hwm = in->cfg->rcvhwm, zero = 0;
	/* libzmq drops a peer that sends a frame far beyond the limit before
	 * it allocates it; those just over still arrive and are counted. */
	int64_t frame_max = (int64_t)in->cfg->max_message_size + FRAME_SLACK;
	if (zmq_setsockopt(src->sub, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
	    zmq_setsockopt(src->sub, ZMQ_LINGER, &zero, sizeof zero) ||
	    zmq_setsockopt(src->sub, ZMQ_MAXMSGSIZE, &frame_max, sizeof frame_max))
		goto zfail;
	/* A sequenced source must see every number to find gaps, so it filters
	 * topics here after counting; others let ZeroMQ filter. */
	if (src->replay || !in->cfg->n_subscribe) {
		if (zmq_setsockopt(src->sub, ZMQ_SUBSCRIBE, "", 0))
			goto zfail;
	} else {
		for (size_t i = 0; i < in->cfg->n_subscribe; i++)
			if (zmq_setsockopt(src->sub, ZMQ_SUBSCRIBE, in->cfg->subscribe[i],
					   strlen(in->cfg->subscribe[i])))
				goto zfail;
	}
	if (zmq_connect(src->sub, addr))
		goto zfail;
	return 0;
zfail:
	snprintf(err, errlen, "ingest '%s': cannot connect to %s (%s)", e->name, addr,
		 zmq_strerror(errno));
	return -EINVAL;
}

static int open_sockets(struct ingest *in, char *err, size_t errlen)
{
	const struct config *cfg = in->cfg;
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		in->nzmq += cfg->endpoints[i].n_connect;
	in->nsrc = in->nzmq + cfg->n_amqp;
	if (!(in->src = calloc(in->nsrc ? in->nsrc : 1, sizeof *in->src)))
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		for (size_t j = 0; j < cfg->endpoints[i].n_connect; j++) {
			int rc = open_source(in, &in->src[k++], &cfg->endpoints[i],
					     cfg->endpoints[i].connect[j], err, errlen);
			if (rc)
				return rc;
		}
	char name[64];
	snprintf(name, sizeof name, "inproc://herald-ingest-%p", (void *)in);
	in->cmd_in = zmq_socket(in->zctx, ZMQ_PULL);
	in->cmd_out = zmq_socket(in->zctx, ZMQ_PUSH);
	if (!in->cmd_in || !in->cmd_out || zmq_bind(in->cmd_in, name) || zmq_connect(in->cmd_out, name)) {
		snprintf(err, errlen, "ingest: command channel: %s", zmq_strerror(errno));
		return -EIO;
	}
	return 0;
}

/* One source and one consumer thread per [amqp NAME] section, after the
 * ZeroMQ sources; started once the workers run. */
static int start_amqp(struct ingest *in, char *err, size_t errlen)
{
	const struct config *cfg = in->cfg;
	if (!cfg->n_amqp)
		return 0;
	if (!(in->amqp = calloc(cfg->n_amqp, sizeof *in->amqp)))
		return -ENOMEM;
	for (size_t k = 0; k < cfg->n_amqp; k++) {
		struct source *src = &in->src[in->nzmq + k];
		const struct config_amqp *a = &cfg->amqp[k];
		size_t klen = strlen(a->name) + sizeof "amqp ";
		if (!(src->key = malloc(klen)))
			return -ENOMEM;
		snprintf(src->key, klen, "amqp %s", a->name);
		src->pub = (struct ingest_source){src->key, a->name, false};
		struct amqpsrc_sink sink = {ring_put_delivery, in, (uint32_t)(in->nzmq + k)};
		int rc = amqpsrc_start(a, cfg->max_message_size, in->m, &sink, &in->amqp[k], err,
				       errlen);
		if (rc)
			return rc;
		in->namqp++;
	}
	return 0;
}

int ingest_start(const struct config *cfg, struct verifier *v, struct metrics *m,
		 struct ingest **out, char *err, size_t errlen)
{
	struct ingest *in = calloc(1, sizeof *in);
	if (!in)
		return -ENOMEM;
	in->cfg = cfg;
	in->m = m;
	in->v = v;
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->work_cv, NULL);
	clock_cond_init(&in->done_cv); /* waited on with a deadline */
	pthread_cond_init(&in->space_cv, NULL);
	pthread_rwlock_init(&in->vlock, NULL);
	int rc = -ENOMEM;
	in->ring = calloc(RING_SIZE, sizeof *in->ring);
	in->nworkers = cfg->workers;
	in->workers = calloc((size_t)in->nworkers, sizeof *in->workers);
	if (!in->ring || !in->workers || !(in->zctx = zmq_ctx_new()))
		goto fail;
	if ((rc = open_sockets(in, err, errlen)))
		goto fail;
	for (; in->started_workers < in->nworkers; in->started_workers++)
		if ((rc = -pthread_create(&in->workers[in->started_workers], NULL, worker_main, in)))
			goto fail;
	if ((rc = -pthread_create(&in->io, NULL, io_main, in)))
		goto fail;
	in->io_started = true;
	if ((rc = start_amqp(in, err, errlen)))
		goto fail;
	*out = in;
	return 0;
fail:
	if (!*err)
		snprintf(err, errlen, "ingest: %s", strerror(-rc));
	ingest_stop(in);
	return rc;
}

void ingest_stop(struct ingest *in)
{
	if (!in)
		return;
	pthread_mutex_lock(&in->lock);
	in->stopping = true;
	pthread_cond_broadcast(&in->work_cv);
	pthread_cond_broadcast(&in->space_cv);
	pthread_cond_broadcast(&in->done_cv);
	pthread_mutex_unlock(&in->lock);
	for (size_t k = 0; k < in->namqp; k++) /* after stopping: none waits for ring space */
		amqpsrc_stop(in->amqp[k]);
	free(in->amqp);
	if (in->io_started)
		pthread_join(in->io, NULL);
	for (int i = 0; i < in->started_workers; i++)
		pthread_join(in->workers[i], NULL);
	if (in->ring) {
		for (uint64_t i = in->tail; i != in->head; i++)
			slot_clear(ring_slot(in, i));
		for (size_t i = 0; i < RING_SIZE; i++) {
			envelope_release(&in->ring[i].env);
			amqpsrc_delivery_free(in->ring[i].spare);
		}
	}
	for (size_t s = 0; s < in->nsrc; s++) {
		if (in->src[s].sub)
			zmq_close(in->src[s].sub);
		if (in->src[s].req)
			zmq_close(in->src[s].req);
		free(in->src[s].key);
	}
	if (in->cmd_in)
		zmq_close(in->cmd_in);
	if (in->cmd_out)
		zmq_close(in->cmd_out);
	/* Until it returns 0 libzmq's threads run: a signal's EINTR is not the end. */
	if (in->zctx)
		while (zmq_ctx_term(in->zctx) && errno == EINTR)
			;
	free(in->src);
	free(in->ring);
	free(in->workers);
	pthread_rwlock_destroy(&in->vlock);
	pthread_cond_destroy(&in->work_cv);
	pthread_cond_destroy(&in->done_cv);
	pthread_cond_destroy(&in->space_cv);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

size_t ingest_source_count(const struct ingest *in)
{
	return in->nsrc;
}

const struct ingest_source *ingest_source_get(const struct ingest *in, size_t i)
{
	return i < in->nsrc ? &in->src[i].pub : NULL;
}

int ingest_request_replay(struct ingest *in, uint32_t src, uint64_t lo, uint64_t hi)
{
	struct replay_cmd cmd = {src, lo, hi};
	return zmq_send(in->cmd_out, &cmd, sizeof cmd, 0) == (int)sizeof cmd ? 0 : -errno;
}

struct verifier *ingest_set_verifier(struct ingest *in, struct verifier *v, uint64_t *mark)
{
	pthread_rwlock_wrlock(&in->vlock);
	struct verifier *old = in->v;
	in->v = v;
	pthread_rwlock_unlock(&in->vlock);
	pthread_mutex_lock(&in->lock);
	*mark = in->head;
	pthread_mutex_unlock(&in->lock);
	return old;
}

bool ingest_drained(struct ingest *in, uint64_t mark)
{
	pthread_mutex_lock(&in->lock);
	bool done = in->tail >= mark;
	pthread_mutex_unlock(&in->lock);
	return done;
}
