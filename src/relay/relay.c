/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * herald-relay: the bus relay. Services PUSH [topic, envelope] to its PULL
 * socket; the relay checks the shape of each message, appends a batch of them
 * to its durable log (relaylog) in one transaction, and only then republishes
 * them on its PUB socket as [topic, envelope, meta]. A REP socket answers
 * replay requests from the log. One thread, one zmq_poll loop.
 *
 * Not for signature checks (heraldd verifies; the envelope bytes are passed
 * on untouched because they are signed), not for LMDB (relaylog owns it), not
 * for understanding messages beyond "a JSON object whose topic matches".
 * The wire protocol is documented in doc/herald-relay.8.
 */
#include "src/common/buf.h"
#include "src/common/log.h"
#include "relaylog.h"
#include "src/common/clock.h"
#include "src/common/statelock.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BATCH_MAX	256	    /* messages per write transaction */
#define BATCH_BYTES	(64u << 20) /* ...or this many envelope bytes, whichever first */
#define MSGID_MAX	512	    /* longer msg_ids are not indexed (LMDB key limit) */
#define LIMIT_DEFAULT	1000
#define LIMIT_MAX	10000
#define REPLY_BYTES	(64u << 20) /* a replay reply is cut (more: true) past this */
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

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fputs("Usage: herald-relay --pull ENDPOINT --pub ENDPOINT --state DIR [options]\n"
	      "Log bus messages pushed to PULL durably, republish them on PUB, serve replay on "
	      "REP.\n"
	      "\n"
	      "  --pull ENDPOINT    bind the inbound PULL socket (required)\n"
	      "  --pub ENDPOINT     bind the outbound PUB socket (required)\n"
	      "  --replay ENDPOINT  bind the replay REP socket (optional)\n"
	      "  --state DIR        directory holding the LMDB log (required)\n"
	      "  --name NAME        relay name in the meta frame (default \"relay\")\n"
	      "  --keep N           messages kept for replay (default 1000000)\n"
	      "  --max-size BYTES   largest accepted envelope, K/M/G suffix ok (default 1M)\n"
	      "  --hwm N            PUB send high-water mark, 0 = none (default 100000)\n"
	      "  --map-size BYTES   LMDB map size, K/M/G suffix ok (default 1G)\n"
	      "  --log-level LEVEL  error, warn, info or debug (default info)\n"
	      "  --help             show this help\n",
	      f);
}

/* Decimal number with an optional binary K/M/G/T suffix, within [min, max]. */
static int parse_num(const char *s, bool suffix, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned shift = 0;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (suffix && *end) {
		const char *units = "KMGT", *u = strchr(units, *end);
		if (!u || end[1])
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		end++;
	}
	if (*end || v > (max >> shift) || (v << shift) < min)
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int set_opt(struct opts *o, int c, const char *arg)
{
	uint64_t v = 0;
	int rc = 0;
	switch (c) {
	case 'p': o->pull = arg; break;
	case 'P': o->pub = arg; break;
	case 'r': o->replay = arg; break;
	case 's': o->state = arg; break;
	case 'n':
		o->name = arg;
		rc = *arg ? 0 : -EINVAL;
		break;
	case 'k': rc = parse_num(arg, false, 1, UINT64_MAX, &o->keep); break;
	case 'm':
		rc = parse_num(arg, true, 1, 1u << 30, &v);
		o->max_size = (size_t)v;
		break;
	case 'M':
		rc = parse_num(arg, true, 1u << 16, SIZE_MAX, &v);
		o->map_size = (size_t)v;
		break;
	case 'h':
		rc = parse_num(arg, false, 0, INT_MAX, &v);
		o->hwm = (int)v;
		break;
	case 'l': rc = log_level_parse(arg, &o->level); break;
	default: rc = -EINVAL;
	}
	return rc;
}

/* 0: run; 1: exit 0 (help); -1: usage error (exit 2). */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"pull", required_argument, NULL, 'p'},
		{"pub", required_argument, NULL, 'P'},
		{"replay", required_argument, NULL, 'r'},
		{"state", required_argument, NULL, 's'},
		{"name", required_argument, NULL, 'n'},
		{"keep", required_argument, NULL, 'k'},
		{"max-size", required_argument, NULL, 'm'},
		{"hwm", required_argument, NULL, 'h'},
		{"map-size", required_argument, NULL, 'M'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	int c, idx;
	*o = (struct opts){.name = "relay",
			   .keep = 1000000,
			   .max_size = 1u << 20,
			   .map_size = (size_t)1 << 30,
			   .hwm = 100000,
			   .level = L_INFO};
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		if (c == 'H') {
			usage(stdout);
			return 1;
		}
		if (c == '?' || set_opt(o, c, optarg)) {
			if (c != '?')
				fprintf(stderr, "herald-relay: bad value for --%s: %s\n",
					longopts[idx].name, optarg);
			return -1;
		}
	}
	if (optind < argc || !o->pull || !o->pub || !o->state) {
		fprintf(stderr, "herald-relay: %s\n",
			optind < argc ? "unexpected argument"
				      : "--pull, --pub and --state are required");
		return -1;
	}
	return 0;
}

/* ---- sockets ---- */

static int new_socket(struct relay *r, void **out, int type, const char *what)
{
	int zero = 0;
	void *s = zmq_socket(r->ctx, type);
	if (!s) {
		log_error("relay '%s': cannot create %s socket (%s)", r->o.name, what,
			  zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	*out = s; /* closed by relay_release whatever happens next */
	return 0;
}

static int do_bind(struct relay *r, void *s, const char *endpoint, const char *what)
{
	if (zmq_bind(s, endpoint) == 0)
		return 0;
	log_error("relay '%s': cannot bind %s socket to %s (%s)", r->o.name, what, endpoint,
		  zmq_strerror(errno));
	return -1;
}

static int setup_sockets(struct relay *r)
{
	int64_t in_max = (int64_t)r->o.max_size + FRAME_SLACK, req_max = REQUEST_BYTES;
	int linger = 1000, sndtimeo = 1000;
	if (!(r->ctx = zmq_ctx_new())) {
		log_error("relay '%s': cannot create zmq context (%s)", r->o.name,
			  zmq_strerror(errno));
		return -1;
	}
	if (new_socket(r, &r->pull, ZMQ_PULL, "pull") || new_socket(r, &r->pub, ZMQ_PUB, "pub") ||
	    (r->o.replay && new_socket(r, &r->rep, ZMQ_REP, "replay")))
		return -1;
	/* Frames far beyond --max-size are cut off by libzmq before they cost memory;
	 * those merely over the limit still arrive and are refused and counted. */
	zmq_setsockopt(r->pull, ZMQ_MAXMSGSIZE, &in_max, sizeof in_max);
	zmq_setsockopt(r->pub, ZMQ_SNDHWM, &r->o.hwm, sizeof r->o.hwm);
	/* Give subscribers a moment to get the last batch on shutdown. */
	zmq_setsockopt(r->pub, ZMQ_LINGER, &linger, sizeof linger);
	if (r->rep) {
		zmq_setsockopt(r->rep, ZMQ_MAXMSGSIZE, &req_max, sizeof req_max);
		/* REP replies do not block (past the HWM they are dropped); a
		 * timeout anyway, so a surprise can never stall intake. */
		zmq_setsockopt(r->rep, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
	}
	if (do_bind(r, r->pull, r->o.pull, "pull") || do_bind(r, r->pub, r->o.pub, "pub") ||
	    (r->rep && do_bind(r, r->rep, r->o.replay, "replay")))
		return -1;
	return 0;
}

/* Receive the rest of a multipart message whose first frame is in keep[0]:
 * frames go into keep[1..nkeep-1] (initialised messages), any more are
 * discarded. Returns the total frame count. */
static int recv_rest(void *s, zmq_msg_t *const *keep, int nkeep)
{
	int n = 1, more;
	size_t len = sizeof more;
	zmq_msg_t junk;
	while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_t *m = n < nkeep ? keep[n] : &junk;
		if (m == &junk)
			zmq_msg_init(&junk);
		/* The rest of a multipart message is already here: this does not block. */
		while (zmq_msg_recv(m, s, 0) < 0 && errno == EINTR)
			;
		if (m == &junk)
			zmq_msg_close(&junk);
		n++;
		len = sizeof more;
	}
	return n;
}

/* ---- intake ---- */

static bool topic_matches(json_t *t, const zmq_msg_t *frame)
{
	return json_string_length(t) == zmq_msg_size(frame) &&
	       memcmp(json_string_value(t), zmq_msg_data((zmq_msg_t *)frame),
		      zmq_msg_size(frame)) == 0;
}

/* NULL if the message may be logged (msg_id filled in), else why not. */
static const char *check_message(struct relay *r, struct pending *p, int nframes)
{
	const char *why = NULL;
	json_t *root = NULL, *t, *id;
	if (nframes != 2)
		return "wrong frame count";
	if (zmq_msg_size(&p->topic) == 0)
		return "empty topic";
	if (zmq_msg_size(&p->env) > r->o.max_size)
		return "envelope larger than --max-size";
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
	const char *why;
	zmq_msg_init(&p->topic);
	zmq_msg_init(&p->env);
	if (zmq_msg_recv(&p->topic, r->pull, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&p->topic);
		zmq_msg_close(&p->env);
		return -1; /* EAGAIN, or EINTR: the loop comes back */
	}
	int n = recv_rest(r->pull, frames, 2);
	why = check_message(r, p, n);
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

static void batch_clear(struct relay *r)
{
	for (size_t i = 0; i < r->nbatch; i++) {
		zmq_msg_close(&r->batch[i].topic);
		zmq_msg_close(&r->batch[i].env);
	}
	r->nbatch = 0;
}

static int format_meta(struct relay *r, uint64_t seq, double t)
{
	buf_reset(&r->meta);
	return buf_printf(&r->meta, "{\"seq\":%" PRIu64 ",\"relay\":%s,\"time\":%.6f}", seq,
			  r->name_json, t);
}

/* Publish [topic, envelope, meta]; the received frames are handed over as they came. */
static void publish(struct relay *r, struct pending *p, uint64_t seq, double t)
{
	if (format_meta(r, seq, t)) {
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
 * arrives in between is dropped and counted. */
static bool refusing(struct relay *r)
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
	if (!refusing(r)) {
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
	batch_clear(r);
}

/* Drain up to BATCH_MAX waiting messages (or BATCH_BYTES), then commit them. */
static void intake(struct relay *r)
{
	size_t bytes = 0;
	while (r->nbatch < BATCH_MAX && bytes < BATCH_BYTES) {
		int rc = take_one(r);
		if (rc < 0)
			break;
		if (rc > 0)
			bytes += zmq_msg_size(&r->batch[r->nbatch - 1].env);
	}
	if (r->nbatch)
		commit_batch(r);
}

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
	if (format_meta(r, e->seq, e->time))
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
static void serve_replay(struct relay *r)
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
	if (recv_rest(r->rep, frames, 1) != 1) {
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

/* ---- main ---- */

static int relay_init(struct relay *r)
{
	char err[600];
	json_t *name = json_string(r->o.name);
	r->name_json = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
	json_decref(name);
	if (!r->name_json) {
		log_error("relay '%s': name is not valid UTF-8 (or out of memory)", r->o.name);
		return -1;
	}
	r->refuse_rl.interval_ms = r->store_rl.interval_ms = r->replay_rl.interval_ms =
		LOG_INTERVAL_MS;
	/* Before the log and the ports: a second relay on this state touches neither. */
	if (statelock_acquire(r->o.state, "herald-relay.lock", &r->lock, err, sizeof err)) {
		log_error("relay '%s': %s", r->o.name, err);
		return -1;
	}
	if (relaylog_open(r->o.state, r->o.map_size, r->o.keep, &r->log, err, sizeof err)) {
		log_error("relay '%s': cannot open log in %s (%s)", r->o.name, r->o.state, err);
		return -1;
	}
	return setup_sockets(r);
}

static void relay_release(struct relay *r)
{
	batch_clear(r);
	if (r->rep)
		zmq_close(r->rep);
	if (r->pub)
		zmq_close(r->pub);
	if (r->pull)
		zmq_close(r->pull);
	/* zmq_ctx_term joins libzmq's I/O and reaper threads. A signal (a second
	 * SIGTERM: the handlers have no SA_RESTART) makes it return EINTR with
	 * them still running, and main would then exit under them: LeakSanitizer's
	 * stop-the-world tracer was seen to spin forever at such an exit. */
	if (r->ctx)
		while (zmq_ctx_term(r->ctx) && errno == EINTR)
			;
	relaylog_close(r->log);
	buf_release(&r->meta);
	free(r->name_json);
	statelock_free(r->lock);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll must return EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int run(struct relay *r)
{
	zmq_pollitem_t items[2] = {{r->pull, 0, ZMQ_POLLIN, 0}, {r->rep, 0, ZMQ_POLLIN, 0}};
	int nitems = r->rep ? 2 : 1;
	fprintf(stderr, "herald-relay: ready\n");
	fflush(stderr);
	while (!g_stop) {
		/* A timeout, so a signal landing just before the poll is seen within a second. */
		int n = zmq_poll(items, nitems, 1000);
		if (n < 0 && errno != EINTR) {
			log_error("relay '%s': poll failed (%s)", r->o.name, zmq_strerror(errno));
			return -1;
		}
		if (n <= 0)
			continue;
		if (items[0].revents & ZMQ_POLLIN)
			intake(r);
		if (nitems > 1 && (items[1].revents & ZMQ_POLLIN))
			serve_replay(r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct relay r; /* static: the batch arrays are large */
	int rc = parse_args(argc, argv, &r.o);
	if (rc)
		return rc > 0 ? 0 : 2;
	log_setup("herald-relay", r.o.level, false);
	install_signals();
	rc = relay_init(&r);
	if (rc == 0)
		rc = run(&r);
	if (rc == 0)
		log_info("relay '%s': stopping: %" PRIu64 " accepted, %" PRIu64 " refused, %" PRIu64
			 " dropped, %" PRIu64 " replay requests (%" PRIu64 " refused)",
			 r.o.name, r.accepted, r.refused, r.dropped, r.replays, r.bad_replays);
	relay_release(&r);
	return rc ? 1 : 0;
}
