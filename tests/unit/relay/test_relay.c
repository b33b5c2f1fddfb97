/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_relay: end-to-end test of the herald-relay binary over loopback TCP,
 * speaking its wire protocol with libzmq directly (PUSH in, SUB out, REQ for
 * replay). Checks sequence numbers, byte-identical envelopes, replay paging
 * and every query kind, refusal of bad requests and bad inbound messages,
 * restart durability, retention and a full LMDB map. The binary comes from
 * $RELAY_BIN (default ./herald-relay). Every wait has a timeout and a global
 * alarm kills the relay and bails out if anything hangs.
 *
 * Not a unit test of relaylog: it only looks at the LMDB files directly to
 * check that pruning also pruned the msg_id index.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strndup */
#endif
#include "tests/unit/tap.h"
#include "tests/unit/relay/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define TIMEOUT_MS 5000
#define N_MAIN	   1000
#define N_KEEP	   250
#define WATCHDOG_S 240

static void *g_ctx;
static char g_tmp[] = "/tmp/herald-relay-test.XXXXXX";
static int g_logs; /* relay runs so far; each logs to its own file */

struct relay {
	pid_t pid;
	char pull[64], pub[64], rep[64];
	char log[256];
};

/* ---- process handling (the rest is in harness.c) ---- */

static void dump_log(const struct relay *r)
{
	char line[1024];
	FILE *f = fopen(r->log, "r");
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		printf("#   relay: %s", line);
	fclose(f);
}

static void exec_relay(const struct relay *r, const char *state, const char **extra)
{
	const char *bin = getenv("RELAY_BIN") ? getenv("RELAY_BIN") : "./herald-relay";
	const char *argv[32] = {bin,	"--pull",  r->pull, "--pub",  r->pub,	   "--replay",
				r->rep, "--state", state,   "--name", "test-relay"};
	int n = 11, fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	/* If this test dies without cleaning up, the relay goes with it. */
	if (fd < 0 || dup2(fd, 2) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(127);
	execv(bin, (char **)argv);
	_exit(127);
}

/* Start the relay on fresh ports, retrying if a port was taken meanwhile. */
static bool start_relay(struct relay *r, const char *state, const char **extra)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		snprintf(r->pull, sizeof r->pull, "tcp://127.0.0.1:%d", free_port());
		snprintf(r->pub, sizeof r->pub, "tcp://127.0.0.1:%d", free_port());
		snprintf(r->rep, sizeof r->rep, "tcp://127.0.0.1:%d", free_port());
		snprintf(r->log, sizeof r->log, "%s/relay-%d.log", g_tmp, ++g_logs);
		fflush(stdout);
		r->pid = fork();
		if (r->pid < 0)
			bail("fork failed");
		if (r->pid == 0)
			exec_relay(r, state, extra);
		g_child = r->pid;
		if (wait_ready(r->log, &r->pid))
			return true;
		dump_log(r);
		kill_child();
	}
	return false;
}

/* SIGTERM and wait; returns the exit status, or -1 if it had to be killed. */
static int stop_relay(struct relay *r)
{
	int status;
	kill(r->pid, SIGTERM);
	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			r->pid = g_child = -1;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(10);
	}
	kill_child();
	return -1;
}

/* ---- sockets ---- */

static void *sock(int type, const char *endpoint)
{
	int t = TIMEOUT_MS, zero = 0;
	void *s = zmq_socket(g_ctx, type);
	if (!s)
		bail("zmq_socket failed");
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &t, sizeof t);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (type == ZMQ_SUB) {
		zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero); /* we read after pushing all */
		zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	}
	if (type == ZMQ_REQ) {
		int one = 1; /* after a timeout, the next request still goes out */
		zmq_setsockopt(s, ZMQ_REQ_RELAXED, &one, sizeof one);
		zmq_setsockopt(s, ZMQ_REQ_CORRELATE, &one, sizeof one);
	}
	if (endpoint && zmq_connect(s, endpoint))
		bail("zmq_connect failed");
	return s;
}

/* A SUB that has finished its handshake, so the relay knows the subscription
 * before the first message is pushed (no slow-joiner loss). */
static void *subscriber(const char *endpoint)
{
	static int n;
	char mon[64];
	void *s = sock(ZMQ_SUB, NULL), *m;
	bool done = false;
	snprintf(mon, sizeof mon, "inproc://sub-monitor-%d", n++);
	if (zmq_socket_monitor(s, mon, ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
		bail("zmq_socket_monitor failed");
	m = sock(ZMQ_PAIR, mon);
	if (zmq_connect(s, endpoint))
		bail("zmq_connect failed");
	while (!done) {
		zmq_msg_t ev;
		zmq_msg_init(&ev);
		if (zmq_msg_recv(&ev, m, 0) < 0)
			bail("subscriber handshake timed out");
		done = zmq_msg_size(&ev) == 6 &&
		       *(uint16_t *)zmq_msg_data(&ev) == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
		zmq_msg_close(&ev);
	}
	zmq_socket_monitor(s, NULL, 0);
	zmq_close(m);
	sleep_ms(200); /* the subscription frame follows the handshake */
	return s;
}

struct frames {
	size_t n, cap;
	zmq_msg_t *m;
};

static void frames_free(struct frames *f)
{
	for (size_t i = 0; i < f->n; i++)
		zmq_msg_close(&f->m[i]);
	free(f->m);
	*f = (struct frames){0, 0, NULL};
}

/* Receive one whole multipart message. false on timeout (f is then empty). */
static bool recv_frames(void *s, struct frames *f)
{
	int more = 1;
	size_t len = sizeof more;
	*f = (struct frames){0, 0, NULL};
	while (more) {
		if (f->n == f->cap) {
			f->cap = f->cap ? 2 * f->cap : 16;
			if (!(f->m = realloc(f->m, f->cap * sizeof *f->m)))
				bail("out of memory");
		}
		zmq_msg_init(&f->m[f->n]);
		if (zmq_msg_recv(&f->m[f->n], s, 0) < 0) {
			zmq_msg_close(&f->m[f->n]);
			frames_free(f);
			return false;
		}
		f->n++;
		zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len);
	}
	return true;
}

static bool frame_is(zmq_msg_t *m, const void *p, size_t n)
{
	return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), p, n) == 0;
}

static json_t *frame_json(zmq_msg_t *m)
{
	return json_loadb(zmq_msg_data(m), zmq_msg_size(m), 0, NULL);
}

/* Send frames given as (pointer, length) pairs; n frames. */
static bool send_parts(void *s, const void *const *p, const size_t *len, int n)
{
	for (int i = 0; i < n; i++)
		if (zmq_send(s, p[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			return false;
	return true;
}

/* ---- messages ---- */

struct msgs {
	int n;
	char **topic, **env;
	double *time; /* log time from the live meta frame, by seq */
};

static char *xstrdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xstrdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		bail("out of memory");
	va_end(ap);
	return s;
}

/* Envelopes with odd spacing, key order and escapes: a relay that re-encoded
 * them would be caught by the byte comparison. */
static void make_msgs(struct msgs *m, int n, const char *prefix)
{
	m->n = n;
	m->topic = calloc((size_t)n + 2, sizeof *m->topic);
	m->env = calloc((size_t)n + 2, sizeof *m->env);
	m->time = calloc((size_t)n + 2, sizeof *m->time);
	for (int i = 1; i <= n; i++) {
		m->topic[i] = xstrdup_printf("org.herald.test.%s.%d", prefix, i % 7);
		m->env[i] = xstrdup_printf(
			"{\"msg\": {\"n\": %d, \"caf\\u00e9\" :\t\"%.*s\"},  \"topic\":\"%s\", "
			"\"msg_id\": \"%s-%d\", \"i\": %d, \"timestamp\": 1.7e9}",
			i, i % 50, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
			m->topic[i], prefix, i, i);
	}
}

static void msgs_free(struct msgs *m)
{
	for (int i = 0; m->topic && i <= m->n + 1; i++) {
		free(m->topic[i]);
		free(m->env[i]);
	}
	free(m->topic);
	free(m->env);
	free(m->time);
}

static bool push_one(void *push, const char *topic, const char *env)
{
	const void *p[2] = {topic, env};
	size_t len[2] = {strlen(topic), strlen(env)};
	return send_parts(push, p, len, 2);
}

/* Push msgs[from..to] in chunks with pauses, so they land in several batches
 * with distinct log times. */
static bool push_range(void *push, const struct msgs *m, int from, int to, int chunk)
{
	for (int i = from; i <= to; i++) {
		if (!push_one(push, m->topic[i], m->env[i]))
			return false;
		if ((i - from + 1) % chunk == 0)
			sleep_ms(20);
	}
	return true;
}

/* Parse a meta frame; false if it is not {"seq": int, "relay": "test-relay", "time": real}. */
static bool read_meta(zmq_msg_t *f, uint64_t *seq, double *t)
{
	json_t *o = frame_json(f);
	json_t *s = json_object_get(o, "seq"), *r = json_object_get(o, "relay");
	json_t *tm = json_object_get(o, "time");
	bool good = json_is_integer(s) && json_is_string(r) &&
		    strcmp(json_string_value(r), "test-relay") == 0 && json_is_number(tm) &&
		    json_object_size(o) == 3;
	if (good) {
		*seq = (uint64_t)json_integer_value(s);
		*t = json_number_value(tm);
	}
	json_decref(o);
	return good;
}

/* Receive `count` live messages expected to be m[first_idx..] with seqs from
 * first_seq; record log times. Returns how many matched in order. */
static int sub_expect(void *sub, struct msgs *m, int first_idx, uint64_t first_seq, int count)
{
	struct frames f;
	int good = 0;
	for (int i = 0; i < count; i++) {
		uint64_t seq;
		double t;
		int idx = first_idx + i;
		if (!recv_frames(sub, &f)) {
			diag("sub: timed out after %d of %d", i, count);
			return good;
		}
		bool match = f.n == 3 && frame_is(&f.m[0], m->topic[idx], strlen(m->topic[idx])) &&
			     frame_is(&f.m[1], m->env[idx], strlen(m->env[idx])) &&
			     read_meta(&f.m[2], &seq, &t) && seq == first_seq + (uint64_t)i;
		if (match) {
			m->time[idx] = t;
			good++;
		} else if (good == i) {
			diag("sub: message %d differs (frames %zu)", i, f.n);
		}
		frames_free(&f);
	}
	return good;
}

/* ---- replay ---- */

struct reply {
	json_t *status;
	struct frames f;
};

static void reply_free(struct reply *r)
{
	json_decref(r->status);
	r->status = NULL;
	frames_free(&r->f);
}

static bool request(void *req, const char *text, struct reply *r)
{
	r->status = NULL;
	r->f = (struct frames){0, 0, NULL};
	if (zmq_send(req, text, strlen(text), 0) < 0 || !recv_frames(req, &r->f) || r->f.n == 0) {
		diag("request %.200s: no reply", text);
		return false;
	}
	r->status = frame_json(&r->f.m[0]);
	return r->status != NULL;
}

static int64_t status_int(const struct reply *r, const char *key)
{
	json_t *v = json_object_get(r->status, key);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static bool status_more(const struct reply *r)
{
	return json_is_true(json_object_get(r->status, "more"));
}

/* The reply holds exactly the messages with these seqs (ascending), byte-identical. */
static bool reply_is(const struct reply *r, const struct msgs *m, uint64_t seq_base,
		     const uint64_t *seqs, size_t n)
{
	if (!r->status || status_int(r, "count") != (int64_t)n || r->f.n != 1 + 2 * n)
		return false;
	if (n == 0)
		return !json_object_get(r->status, "first_seq") &&
		       !json_object_get(r->status, "last_seq");
	if (status_int(r, "first_seq") != (int64_t)seqs[0] ||
	    status_int(r, "last_seq") != (int64_t)seqs[n - 1])
		return false;
	for (size_t i = 0; i < n; i++) {
		uint64_t seq;
		double t;
		size_t idx = seqs[i] - seq_base;
		zmq_msg_t *meta = (zmq_msg_t *)&r->f.m[1 + 2 * i],
			  *env = (zmq_msg_t *)&r->f.m[2 + 2 * i];
		if (!read_meta(meta, &seq, &t) || seq != seqs[i] || t != m->time[idx] ||
		    !frame_is(env, m->env[idx], strlen(m->env[idx])))
			return false;
	}
	return true;
}

/* One seq_range page [a, null]: exactly seqs a..expect_last, byte-identical,
 * with the expected more flag. Streams the frames rather than keeping them. */
static bool page_ok(void *req, const struct msgs *m, uint64_t a, int limit, uint64_t expect_last,
		    bool expect_more, uint64_t *last)
{
	char text[128];
	zmq_msg_t part;
	int more = 1, nframes = 0;
	size_t len = sizeof more;
	bool good = true;
	json_t *st = NULL;
	snprintf(text, sizeof text, "{\"seq_range\": [%llu, null], \"limit\": %d}",
		 (unsigned long long)a, limit);
	if (zmq_send(req, text, strlen(text), 0) < 0)
		return false;
	while (more) {
		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, req, 0) < 0) {
			zmq_msg_close(&part);
			json_decref(st);
			return false;
		}
		if (nframes == 0) {
			st = frame_json(&part);
		} else if (nframes % 2 == 1) {
			uint64_t seq;
			double t;
			good = good && read_meta(&part, &seq, &t) &&
			       seq == a + (uint64_t)(nframes / 2);
		} else {
			uint64_t seq = a + (uint64_t)(nframes / 2 - 1);
			good = good && seq <= (uint64_t)m->n &&
			       frame_is(&part, m->env[seq], strlen(m->env[seq]));
		}
		nframes++;
		zmq_msg_close(&part);
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &len);
	}
	uint64_t count = expect_last - a + 1;
	json_t *mo = json_object_get(st, "more");
	good = good && (uint64_t)nframes == 1 + 2 * count &&
	       json_integer_value(json_object_get(st, "count")) == (json_int_t)count &&
	       json_integer_value(json_object_get(st, "last_seq")) == (json_int_t)expect_last &&
	       json_is_boolean(mo) && json_is_true(mo) == expect_more;
	*last = (uint64_t)json_integer_value(json_object_get(st, "last_seq"));
	json_decref(st);
	return good;
}

/* A bad request must get a single {"error": "..."} frame naming the problem,
 * not an internal failure. */
static bool is_error_reply(void *req, const char *text)
{
	struct reply r;
	bool good = request(req, text, &r) && r.f.n == 1 && json_is_object(r.status) &&
		    json_object_size(r.status) == 1;
	const char *e = good ? json_string_value(json_object_get(r.status, "error")) : NULL;
	good = e && *e && strncmp(e, "internal", 8) != 0;
	if (!good && r.status)
		diag("reply to %.200s was %.*s", text, (int)zmq_msg_size(&r.f.m[0]),
		     (char *)zmq_msg_data(&r.f.m[0]));
	reply_free(&r);
	return good;
}

/* ---- test sections ---- */

static void test_live(void *push, void *sub, struct msgs *m)
{
	ok(push_range(push, m, 1, N_MAIN, 100), "pushed %d messages", N_MAIN);
	ok(sub_expect(sub, m, 1, 1, N_MAIN) == N_MAIN,
	   "sub got all %d with seq 1..%d, byte-identical envelopes and meta", N_MAIN, N_MAIN);
}

static void test_paging(void *req, const struct msgs *m)
{
	static const struct {
		uint64_t last;
		bool more;
	} pages[] = {{300, true}, {600, true}, {900, true}, {1000, false}};
	uint64_t a = 1, last = 0;
	for (size_t i = 0; i < 4; i++) {
		ok(page_ok(req, m, a, 300, pages[i].last, pages[i].more, &last),
		   "seq_range [%llu, null] limit 300: seqs %llu..%llu, more=%s",
		   (unsigned long long)a, (unsigned long long)a, (unsigned long long)pages[i].last,
		   pages[i].more ? "true" : "false");
		a = last + 1;
	}
	ok(page_ok(req, m, 995, 1000, 1000, false, &last),
	   "seq_range from 995 with default-size limit");
}

static void test_queries(void *req, const struct msgs *m)
{
	struct reply r;
	uint64_t want_ids[] = {3, 5, 999};
	uint64_t want_msgids[] = {7, 500};
	uint64_t want_range[] = {10, 11, 12};
	char text[256];

	ok(request(req, "{\"seq_ids\": [999, 5, 3, 5, 5000, 0]}", &r) &&
		   reply_is(&r, m, 0, want_ids, 3) && !status_more(&r),
	   "seq_ids: existing ones, ascending, deduplicated");
	reply_free(&r);
	ok(request(req, "{\"msg_ids\": [\"main-500\", \"nope\", \"main-7\"]}", &r) &&
		   reply_is(&r, m, 0, want_msgids, 2),
	   "msg_ids: found by index, unknown skipped");
	reply_free(&r);
	ok(request(req, "{\"seq_range\": [10, 12], \"limit\": 3}", &r) &&
		   reply_is(&r, m, 0, want_range, 3) && !status_more(&r),
	   "seq_range [10, 12] with limit 3 is complete (more=false)");
	reply_free(&r);
	ok(request(req, "{\"seq_range\": [5000, null]}", &r) && reply_is(&r, m, 0, NULL, 0) &&
		   !status_more(&r),
	   "seq_range past the end: count 0, no first/last");
	reply_free(&r);
	snprintf(text, sizeof text, "{\"msg_ids\": []}");
	ok(request(req, text, &r) && reply_is(&r, m, 0, NULL, 0), "msg_ids []: count 0");
	reply_free(&r);
}

/* Expected seqs of a time query, from the live meta times. */
static size_t time_expect(const struct msgs *m, double t0, double t1, uint64_t *out)
{
	size_t n = 0;
	for (int i = 1; i <= m->n; i++)
		if (m->time[i] >= t0 && m->time[i] <= t1)
			out[n++] = (uint64_t)i;
	return n;
}

static void test_time(void *req, const struct msgs *m)
{
	static uint64_t want[N_MAIN];
	struct reply r;
	char text[256];
	double t0 = m->time[250], t1 = m->time[420];
	size_t n = time_expect(m, t0, t1, want), k;
	/* Batches may share a log time, so the window can hold more than 250..420. */
	ok(t0 <= t1 && n >= 171, "the window [time of 250, time of 420] holds %zu messages", n);
	snprintf(text, sizeof text, "{\"time\": [%.6f, %.6f], \"limit\": 10000}", t0, t1);
	ok(request(req, text, &r) && reply_is(&r, m, 0, want, n) && !status_more(&r),
	   "time range: exactly the messages logged in [t0, t1], more=false");
	reply_free(&r);
	snprintf(text, sizeof text, "{\"time\": [%.6f, %.6f], \"limit\": 10}", t0, t1);
	ok(request(req, text, &r) && reply_is(&r, m, 0, want, 10) && status_more(&r),
	   "time range with limit 10: the first 10, more=true");
	reply_free(&r);
	snprintf(text, sizeof text, "{\"time\": [0, 1000]}");
	ok(request(req, text, &r) && reply_is(&r, m, 0, NULL, 0),
	   "time range before the log: count 0");
	reply_free(&r);
	snprintf(text, sizeof text, "{\"time\": [%.6f, null], \"limit\": 5}", m->time[N_MAIN]);
	k = time_expect(m, m->time[N_MAIN], 1e300, want);
	ok(request(req, text, &r) && reply_is(&r, m, 0, want, k < 5 ? k : 5),
	   "time [t, null]: newest batch");
	reply_free(&r);
}

static void test_bad_requests(void *req, const struct msgs *m)
{
	static const char *bad[] = {
		"not json",
		"[1, 2]",
		"{}",
		"{\"limit\": 5}",
		"{\"foo\": [1, 2]}",
		"{\"seq_range\": [1, 2], \"seq_ids\": [1]}",
		"{\"seq_range\": [5, 2]}",
		"{\"seq_range\": \"1-2\"}",
		"{\"seq_range\": [1]}",
		"{\"seq_range\": [-1, 2]}",
		"{\"seq_range\": [null, 2]}",
		"{\"seq_range\": [1, 2], \"limit\": 0}",
		"{\"seq_range\": [1, 2], \"limit\": 10001}",
		"{\"seq_range\": [1, 2], \"limit\": \"10\"}",
		"{\"seq_ids\": [1, \"2\"]}",
		"{\"seq_ids\": 5}",
		"{\"seq_ids\": [1, 2, 3], \"limit\": 2}",
		"{\"msg_ids\": [1]}",
		"{\"msg_ids\": \"main-1\"}",
		"{\"time\": [2, 1]}",
		"{\"time\": [\"a\", 1]}",
		"{\"time\": [1, 2, 3]}",
		"",
	};
	struct reply r;
	uint64_t one[] = {1};
	size_t nbad = sizeof bad / sizeof bad[0];
	int good = 0;
	for (size_t i = 0; i < nbad; i++) {
		bool e = is_error_reply(req, bad[i]);
		if (!e)
			diag("no error reply for: %.200s", bad[i]);
		good += e;
	}
	ok(good == (int)nbad, "%d of %zu bad requests got a single {\"error\": ...} frame", good,
	   nbad);

	/* 1001 ids against the default limit of 1000. */
	char *many = malloc(8 * 1001 + 32);
	size_t len = (size_t)sprintf(many, "{\"seq_ids\": [");
	for (int i = 0; i < 1001; i++)
		len += (size_t)sprintf(many + len, "%s%d", i ? "," : "", i + 1);
	strcpy(many + len, "]}");
	ok(is_error_reply(req, many), "too many ids gets an error");
	free(many);

	const void *p[2] = {"{\"seq_ids\": [1]}", "extra"};
	size_t plen[2] = {strlen(p[0]), 5};
	r.status = NULL;
	ok(send_parts(req, p, plen, 2) && recv_frames(req, &r.f) && r.f.n == 1 &&
		   (r.status = frame_json(&r.f.m[0])) && json_object_get(r.status, "error"),
	   "two-frame request gets an error");
	reply_free(&r);
	ok(request(req, "{\"seq_ids\": [1]}", &r) && reply_is(&r, m, 0, one, 1),
	   "replay still answers after bad requests");
	reply_free(&r);
}

static void test_malformed(struct relay *rl, void *push, void *sub, struct msgs *m,
			   uint64_t next_seq)
{
	size_t big_len = (1u << 20) + 1;
	char *big = malloc(big_len + 1);
	const char *t = m->topic[1];
	memset(big, ' ', big_len);
	memcpy(big, "{\"topic\": \"", 11);
	memcpy(big + 11, t, strlen(t));
	memcpy(big + 11 + strlen(t), "\"}", 2); /* valid JSON, just too big */
	big[big_len] = '\0';
	struct {
		const char *what;
		int n;
		const void *p[3];
		size_t len[3];
	} bad[] = {
		{"one frame", 1, {t}, {strlen(t)}},
		{"three frames", 3, {t, m->env[1], "x"}, {strlen(t), strlen(m->env[1]), 1}},
		{"empty topic", 2, {"", "{\"topic\": \"\"}"}, {0, 13}},
		{"topic mismatch", 2, {"org.other", m->env[1]}, {9, strlen(m->env[1])}},
		{"not JSON", 2, {t, "{\"topic\": "}, {strlen(t), 10}},
		{"JSON array", 2, {t, "[1, 2]"}, {strlen(t), 6}},
		{"topic not a string", 2, {t, "{\"topic\": 5}"}, {strlen(t), 12}},
		{"no topic", 2, {t, "{\"msg\": {}}"}, {strlen(t), 11}},
		{"oversized", 2, {t, big}, {strlen(t), big_len}},
	};
	int sent = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		sent += send_parts(push, bad[i].p, bad[i].len, bad[i].n);
	ok(sent == (int)(sizeof bad / sizeof bad[0]), "pushed %d malformed messages", sent);
	free(big);

	/* The next valid message must be the next thing on SUB, with the next seq. */
	ok(push_one(push, m->topic[2], m->env[2]) && sub_expect(sub, m, 2, next_seq, 1) == 1,
	   "malformed ones dropped, next valid message gets seq %llu",
	   (unsigned long long)next_seq);
	ok(kill(rl->pid, 0) == 0 && file_has(rl->log, "refused message"),
	   "relay is alive and logged the refusals");
}

/* Restart on the same state: the sequence continues, old messages replay. */
static void test_restart(struct relay *rl, const char *state, struct msgs *m, struct msgs *more)
{
	struct reply r;
	uint64_t old[] = {1, 2, 3};
	uint64_t by_id[] = {42};
	ok(stop_relay(rl) == 0, "SIGTERM: relay exits 0");
	if (!ok(start_relay(rl, state, NULL), "relay restarts on the same state dir"))
		bail("relay did not restart");
	void *push = sock(ZMQ_PUSH, rl->pull), *sub = subscriber(rl->pub),
	     *req = sock(ZMQ_REQ, rl->rep);
	ok(push_one(push, more->topic[1], more->env[1]) &&
		   sub_expect(sub, more, 1, N_MAIN + 1, 1) == 1,
	   "first message after restart gets seq %d", N_MAIN + 1);
	ok(request(req, "{\"seq_range\": [1, 3]}", &r) && reply_is(&r, m, 0, old, 3),
	   "old messages replay after restart");
	reply_free(&r);
	ok(request(req, "{\"msg_ids\": [\"main-42\"]}", &r) && reply_is(&r, m, 0, by_id, 1),
	   "msg_id index survives restart");
	reply_free(&r);
	test_malformed(rl, push, sub, more, N_MAIN + 2);
	zmq_close(push);
	zmq_close(sub);
	zmq_close(req);
	ok(stop_relay(rl) == 0, "SIGTERM after restart: relay exits 0");
}

/* Entries in a named database of the relay's environment, read directly. */
static long db_entries(const char *state, const char *name)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_stat st;
	long n = -1;
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 4) ||
	    mdb_env_open(env, state, MDB_RDONLY, 0600) ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) || mdb_dbi_open(txn, name, 0, &dbi) ||
	    mdb_stat(txn, dbi, &st))
		goto out;
	n = (long)st.ms_entries;
out:
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return n;
}

static void test_retention(const char *state)
{
	struct relay rl;
	struct msgs m;
	struct reply r;
	const char *extra[] = {"--keep", "100", NULL};
	uint64_t kept[] = {151, 250};
	make_msgs(&m, N_KEEP, "keep");
	if (!ok(start_relay(&rl, state, extra), "relay with --keep 100 starts"))
		bail("relay did not start");
	void *push = sock(ZMQ_PUSH, rl.pull), *sub = subscriber(rl.pub),
	     *req = sock(ZMQ_REQ, rl.rep);
	ok(push_range(push, &m, 1, N_KEEP, 30) && sub_expect(sub, &m, 1, 1, N_KEEP) == N_KEEP,
	   "%d messages published with seq 1..%d", N_KEEP, N_KEEP);
	uint64_t last = 0;
	ok(request(req, "{\"seq_range\": [1, null], \"limit\": 1}", &r) &&
		   status_int(&r, "first_seq") == 151 && status_more(&r),
	   "oldest replayable is seq 151");
	reply_free(&r);
	ok(page_ok(req, &m, 151, 1000, 250, false, &last),
	   "exactly seqs 151..250 replay, byte-identical");
	ok(request(req, "{\"seq_ids\": [1, 150, 151, 250]}", &r) && reply_is(&r, &m, 0, kept, 2),
	   "seq_ids of pruned messages are skipped");
	reply_free(&r);
	ok(request(req, "{\"msg_ids\": [\"keep-1\", \"keep-150\"]}", &r) &&
		   reply_is(&r, &m, 0, NULL, 0),
	   "msg_ids of pruned messages find nothing");
	reply_free(&r);
	zmq_close(push);
	zmq_close(sub);
	zmq_close(req);
	ok(stop_relay(&rl) == 0, "relay with --keep exits 0");
	ok(db_entries(state, "log") == 100 && db_entries(state, "ids") == 100,
	   "log and msg_id index both hold 100 entries (log %ld, ids %ld)",
	   db_entries(state, "log"), db_entries(state, "ids"));
	msgs_free(&m);
}

/* Record a live message as seq `seq` of `seen`, if it is in order. */
static bool note_seen(struct msgs *seen, struct frames *f, uint64_t seq_expected)
{
	uint64_t seq;
	double t;
	if (f->n != 3 || !read_meta(&f->m[2], &seq, &t) || seq != seq_expected ||
	    seq > (uint64_t)seen->n)
		return false;
	free(seen->topic[seq]);
	free(seen->env[seq]);
	seen->topic[seq] = strndup(zmq_msg_data(&f->m[0]), zmq_msg_size(&f->m[0]));
	seen->env[seq] = strndup(zmq_msg_data(&f->m[1]), zmq_msg_size(&f->m[1]));
	seen->time[seq] = t;
	return true;
}

/* A small map fills up: intake is refused and counted, the relay keeps
 * serving, nothing is corrupted, and a bigger map on restart carries on from
 * the last stored seq. What was stored is whatever SUB saw (`seen`). */
static void test_map_full(const char *state)
{
	struct relay rl;
	struct msgs m, seen = {0};
	struct frames f;
	struct reply r;
	const char *small[] = {"--map-size", "256K", NULL}, *large[] = {"--map-size", "64M", NULL};
	uint64_t got = 0, last = 0;
	int t_ms = 1000;
	bool in_order = true;
	make_msgs(&m, 200, "full");
	make_msgs(&seen, 201, "unused");
	for (int i = 1; i <= 200; i++) { /* 8 KiB each: a few dozen fill 256 KiB */
		free(m.env[i]);
		m.env[i] = xstrdup_printf(
			"{\"topic\": \"%s\", \"msg_id\": \"full-%d\", \"pad\": \"%08000d\"}",
			m.topic[i], i, 0);
	}
	if (!ok(start_relay(&rl, state, small), "relay with a 256K map starts"))
		bail("relay did not start");
	void *push = sock(ZMQ_PUSH, rl.pull), *sub = subscriber(rl.pub),
	     *req = sock(ZMQ_REQ, rl.rep);
	ok(push_range(push, &m, 1, 200, 5), "pushed 200 messages of 8 KiB");
	zmq_setsockopt(sub, ZMQ_RCVTIMEO, &t_ms, sizeof t_ms);
	while (recv_frames(sub, &f)) {
		in_order = in_order && note_seen(&seen, &f, got + 1);
		got++;
		frames_free(&f);
	}
	diag("%llu of 200 stored before the map filled", (unsigned long long)got);
	ok(in_order && got > 0 && got < 200, "published seqs 1..%llu, then refused intake",
	   (unsigned long long)got);
	ok(file_has(rl.log, "log is full"), "map full was logged");
	ok(request(req, "{\"seq_range\": [1, null], \"limit\": 1}", &r) &&
		   status_int(&r, "first_seq") == 1 && status_more(&r) == (got > 1),
	   "replay works while full");
	reply_free(&r);
	zmq_close(push);
	zmq_close(sub);
	zmq_close(req);
	ok(stop_relay(&rl) == 0, "full relay exits 0");

	if (!ok(start_relay(&rl, state, large), "relay restarts with a 64M map"))
		bail("relay did not restart");
	push = sock(ZMQ_PUSH, rl.pull);
	sub = subscriber(rl.pub);
	req = sock(ZMQ_REQ, rl.rep);
	ok(push_one(push, m.topic[1], m.env[1]) && recv_frames(sub, &f) &&
		   note_seen(&seen, &f, got + 1),
	   "intake resumes at seq %llu", (unsigned long long)got + 1);
	frames_free(&f);
	ok(in_order && page_ok(req, &seen, 1, 1000, got + 1, false, &last),
	   "all stored messages intact after map full");
	zmq_close(push);
	zmq_close(sub);
	zmq_close(req);
	ok(stop_relay(&rl) == 0, "relay exits 0");
	msgs_free(&m);
	msgs_free(&seen);
}

static void test_usage(void)
{
	const char *bin = getenv("RELAY_BIN") ? getenv("RELAY_BIN") : "./herald-relay";
	int status = -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "--pull", "tcp://127.0.0.1:1", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 2, "missing required options: exit 2");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void mkstate(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", g_tmp, name);
}

int main(void)
{
	struct relay rl;
	struct msgs m, more;
	char state[300], keep[300], full[300];
	signal(SIGALRM, on_alarm);
	alarm(WATCHDOG_S);
	if (!mkdtemp(g_tmp))
		bail("mkdtemp failed");
	g_ctx = zmq_ctx_new();
	mkstate(state, sizeof state, "main"); /* the relay creates it */
	mkstate(keep, sizeof keep, "keep");
	mkstate(full, sizeof full, "full");
	make_msgs(&m, N_MAIN, "main");
	make_msgs(&more, 2, "more");

	test_usage();
	if (!ok(start_relay(&rl, state, NULL), "relay starts and prints the ready line"))
		bail("relay did not start");
	void *push = sock(ZMQ_PUSH, rl.pull), *sub = subscriber(rl.pub),
	     *req = sock(ZMQ_REQ, rl.rep);
	test_live(push, sub, &m);
	test_paging(req, &m);
	test_queries(req, &m);
	test_time(req, &m);
	test_bad_requests(req, &m);
	zmq_close(push);
	zmq_close(sub);
	zmq_close(req);
	test_restart(&rl, state, &m, &more);
	test_retention(keep);
	test_map_full(full);

	kill_child();
	zmq_ctx_term(g_ctx);
	if (tap_failed == 0) {
		if (nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
			diag("could not remove %s", g_tmp);
	} else {
		diag("relay logs and state kept in %s", g_tmp);
	}
	msgs_free(&m);
	msgs_free(&more);
	int rc = tap_done();
	fflush(stdout); /* before any sanitizer exit handler can cut the plan off */
	return rc;
}
