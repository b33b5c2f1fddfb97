/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_relay_ack: herald-relay's acknowledged intake (--ack), over loopback
 * TCP with libzmq directly (DEALER and REQ peers, REQ for replay). Checks
 * each reply code (ok with msg_id and seq, malformed for every shape error,
 * too_large, error when the durable write fails, full when the map is), that
 * a retry of a logged message is answered ok and logged once (also across a
 * SIGKILL), that two tries in one batch are logged once, and that no reply
 * leaves before the
 * commit's fsync: the relay runs under syncshim.so (LD_PRELOAD), which lets
 * the test hold or fail LMDB's fdatasync and count the calls (group commit:
 * many requests per sync). The binary comes from $RELAY_BIN, the shim from
 * $SYNCSHIM (default: next to this test, in .libs/). A watchdog bails out
 * if anything hangs.
 *
 * Not for the PULL intake or replay queries: test_relay covers those.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include "tests/unit/tap.h"
#include "tests/unit/relay/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
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
#define WATCHDOG_S 120
#define MAX_SIZE   "4K"
#define N_GROUP	   50

static void *g_ctx;
static char g_tmp[] = "/tmp/herald-relay-ack-test.XXXXXX";
static char g_shimdir[300];
static const char *g_map_size = "64M";

struct relay {
	pid_t pid;
	char pull[64], pub[64], rep[64], ack[64];
	char log[320];
};

/* ---- process handling (the rest is in harness.c) ---- */

static void shim_path(char *out, size_t n)
{
	const char *env = getenv("SYNCSHIM");
	const char *top = getenv("top_builddir");
	if (env)
		snprintf(out, n, "%s", env);
	else
		snprintf(out, n, "%s/tests/unit/relay/.libs/syncshim.so", top ? top : ".");
}

static void exec_relay(const struct relay *r, const char *state)
{
	const char *bin = getenv("RELAY_BIN") ? getenv("RELAY_BIN") : "./herald-relay";
	char shim[600];
	int fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	shim_path(shim, sizeof shim);
	/* If this test dies without cleaning up, the relay goes with it. */
	if (fd < 0 || dup2(fd, 2) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(127);
	setenv("LD_PRELOAD", shim, 1);
	setenv("SYNCSHIM_DIR", g_shimdir, 1);
	/* A sanitizer build: the shim comes before the runtime, and that is fine. */
	char asan[512];
	const char *was = getenv("ASAN_OPTIONS");
	snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0", was ? was : "", was ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
	execl(bin, bin, "--pull", r->pull, "--pub", r->pub, "--replay", r->rep, "--ack", r->ack,
	      "--state", state, "--max-size", MAX_SIZE, "--map-size", g_map_size, "--log-level",
	      "debug", (char *)NULL);
	_exit(127);
}

static bool start_relay(struct relay *r, const char *state)
{
	static int runs;
	for (int attempt = 0; attempt < 5; attempt++) {
		snprintf(r->pull, sizeof r->pull, "tcp://127.0.0.1:%d", free_port());
		snprintf(r->pub, sizeof r->pub, "tcp://127.0.0.1:%d", free_port());
		snprintf(r->rep, sizeof r->rep, "tcp://127.0.0.1:%d", free_port());
		snprintf(r->ack, sizeof r->ack, "tcp://127.0.0.1:%d", free_port());
		snprintf(r->log, sizeof r->log, "%s/relay-%d.log", g_tmp, ++runs);
		fflush(stdout);
		r->pid = fork();
		if (r->pid < 0)
			bail("fork failed");
		if (r->pid == 0)
			exec_relay(r, state);
		g_child = r->pid;
		if (wait_ready(r->log, &r->pid))
			return true;
		kill_child();
	}
	return false;
}

/* ---- the shim's control files ---- */

static void shim_set(const char *name, bool on)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s", g_shimdir, name);
	if (on) {
		int fd = open(path, O_WRONLY | O_CREAT, 0600);
		if (fd < 0)
			bail("cannot create a shim control file");
		close(fd);
	} else {
		unlink(path);
	}
}

/* fdatasync/fsync calls the relay made so far. */
static long sync_calls(void)
{
	char path[400];
	struct stat st;
	snprintf(path, sizeof path, "%s/calls", g_shimdir);
	return stat(path, &st) == 0 ? (long)st.st_size / 5 : 0; /* "sync\n" each */
}

/* Wait until the relay made more than `n` sync calls. */
static bool wait_sync_beyond(long n)
{
	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		if (sync_calls() > n)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* ---- sockets and messages ---- */

static void *sock(int type, const char *endpoint)
{
	int t = TIMEOUT_MS, zero = 0;
	void *s = zmq_socket(g_ctx, type);
	if (!s)
		bail("zmq_socket failed");
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof t);
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &t, sizeof t);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (endpoint && zmq_connect(s, endpoint))
		bail("zmq_connect failed");
	return s;
}

static char *envelope(const char *topic, const char *msg_id)
{
	char *s;
	if (asprintf(&s, "{\"topic\": \"%s\", \"msg\": {\"n\": 1}, \"msg_id\": \"%s\"}", topic,
		     msg_id) < 0)
		bail("out of memory");
	return s;
}

/* Send [request id, topic, envelope] (n frames of these, n <= 3). */
static void send_req(void *s, const char *id, const char *topic, const char *env, int n)
{
	const char *p[3] = {id, topic, env};
	for (int i = 0; i < n; i++)
		if (zmq_send(s, p[i], strlen(p[i]), i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
			bail("send failed");
}

struct answer {
	char id[80];
	char status[32];
	char msg_id[80];
	char reason[200];
	long long seq;
	bool dup;
};

/* Receive one answer [request id, status] within timeout_ms. false if none. */
static bool recv_answer(void *s, int timeout_ms, struct answer *a)
{
	zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
	char f[2][1024];
	int more = 1, n = 0;
	size_t len = sizeof more;
	*a = (struct answer){.seq = -1};
	if (zmq_poll(&it, 1, timeout_ms) <= 0)
		return false;
	while (more) {
		int got = zmq_recv(s, f[n < 2 ? n : 1], sizeof f[0] - 1, 0);
		if (got < 0)
			return false;
		f[n < 2 ? n : 1][got < (int)sizeof f[0] - 1 ? got : (int)sizeof f[0] - 1] = '\0';
		n++;
		zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len);
	}
	if (n != 2)
		return false;
	json_t *o = json_loads(f[1], 0, NULL);
	snprintf(a->id, sizeof a->id, "%.79s", f[0]);
	snprintf(a->status, sizeof a->status, "%s",
		 json_string_value(json_object_get(o, "status")) ?: "");
	snprintf(a->msg_id, sizeof a->msg_id, "%s",
		 json_string_value(json_object_get(o, "msg_id")) ?: "");
	snprintf(a->reason, sizeof a->reason, "%s",
		 json_string_value(json_object_get(o, "reason")) ?: "");
	if (json_is_integer(json_object_get(o, "seq")))
		a->seq = json_integer_value(json_object_get(o, "seq"));
	a->dup = json_is_true(json_object_get(o, "duplicate"));
	json_decref(o);
	return true;
}

/* How many log entries carry this msg_id, by a full replay scan. */
static int logged(const struct relay *r, const char *msg_id)
{
	void *req = sock(ZMQ_REQ, r->rep);
	char want[120];
	int count = 0, more = 1;
	size_t len = sizeof more;
	snprintf(want, sizeof want, "\"msg_id\": \"%s\"", msg_id);
	const char *q = "{\"seq_range\": [1, null], \"limit\": 10000}";
	if (zmq_send(req, q, strlen(q), 0) < 0)
		bail("replay request failed");
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, req, 0) < 0)
			bail("replay reply timed out");
		size_t n = zmq_msg_size(&m);
		if (n >= strlen(want) && memmem(zmq_msg_data(&m), n, want, strlen(want)))
			count++;
		zmq_msg_close(&m);
		zmq_getsockopt(req, ZMQ_RCVMORE, &more, &len);
	}
	zmq_close(req);
	return count;
}

/* ---- tests ---- */

static void test_ok_and_retry(struct relay *r, void *d)
{
	bool got;
	struct answer a;
	char *env = envelope("org.test.ack", "ack-1");
	send_req(d, "r1", "org.test.ack", env, 3);
	got = recv_answer(d, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.id, "r1") && !strcmp(a.status, "ok") && !strcmp(a.msg_id, "ack-1") &&
	       a.seq == 1 && !a.dup,
	   "a new message: ok, request id echoed, msg_id and seq 1 (%s %s seq %lld)", a.id,
	   a.status, a.seq);
	send_req(d, "r2", "org.test.ack", env, 3);
	got = recv_answer(d, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.id, "r2") && !strcmp(a.status, "ok") && a.seq == 1 && a.dup,
	   "a retry (same msg_id): ok again, the same seq, duplicate: true");
	ok(logged(r, "ack-1") == 1, "the retried message is logged once");
	free(env);
}

static void test_malformed(void *d)
{
	bool got;
	static const struct {
		const char *what, *topic, *env;
		int frames;
	} bad[] = {
	    {"not JSON", "org.test.ack", "{nope", 3},
	    {"not an object", "org.test.ack", "[1, 2]", 3},
	    {"topic differs", "org.test.other", "{\"topic\": \"org.test.ack\", \"msg_id\": \"m\"}",
	     3},
	    {"no msg_id", "org.test.ack", "{\"topic\": \"org.test.ack\"}", 3},
	    {"empty msg_id", "org.test.ack", "{\"topic\": \"org.test.ack\", \"msg_id\": \"\"}", 3},
	    {"empty topic frame", "", "{\"topic\": \"\", \"msg_id\": \"m\"}", 3},
	    {"two frames", "org.test.ack", "", 2},
	};
	struct answer a;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char id[16];
		snprintf(id, sizeof id, "bad%zu", i);
		send_req(d, id, bad[i].topic, bad[i].env, bad[i].frames);
		got = recv_answer(d, TIMEOUT_MS, &a);
		ok(got && !strcmp(a.id, id) && !strcmp(a.status, "malformed") && a.reason[0],
		   "%s: malformed (%s)", bad[i].what, a.reason);
	}
	send_req(d, "only-id", "", "", 1);
	got = recv_answer(d, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.id, "only-id") && !strcmp(a.status, "malformed"),
	   "a request id and nothing else: malformed (%s)", a.reason);
	char big[5000];
	int n = snprintf(big, sizeof big,
			 "{\"topic\": \"org.test.ack\", \"msg_id\": \"big\", \"p\": \"");
	memset(big + n, 'x', sizeof big - (size_t)n - 3);
	memcpy(big + sizeof big - 3, "\"}", 3);
	send_req(d, "big", "org.test.ack", big, 3);
	got = recv_answer(d, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.id, "big") && !strcmp(a.status, "too_large"),
	   "an envelope over --max-size " MAX_SIZE ": too_large (%s)", a.reason);
}

static void test_req_peer(struct relay *r)
{
	bool got;
	void *q = sock(ZMQ_REQ, r->ack);
	struct answer a;
	char *env = envelope("org.test.ack", "ack-req");
	send_req(q, "q1", "org.test.ack", env, 3);
	got = recv_answer(q, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.id, "q1") && !strcmp(a.status, "ok"),
	   "a REQ peer gets its answer through the delimiter frame");
	zmq_close(q);
	free(env);
}

/* The answer waits for the fsync; two tries in one batch are logged once. */
static void test_after_sync(struct relay *r, void *d)
{
	bool got;
	struct answer a, b;
	char *env = envelope("org.test.ack", "ack-held"),
	     *env2 = envelope("org.test.ack", "ack-twice");
	long before = sync_calls();
	shim_set("hold", true);
	send_req(d, "h1", "org.test.ack", env, 3);
	ok(wait_sync_beyond(before), "the relay reaches the commit's fsync (held)");
	send_req(d, "t1", "org.test.ack", env2, 3);
	send_req(d, "t2", "org.test.ack", env2, 3);
	ok(!recv_answer(d, 1000, &a), "no answer while the fsync is held (waited 1 s)");
	shim_set("hold", false);
	got = recv_answer(d, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.id, "h1") && !strcmp(a.status, "ok"),
	   "the answer comes once the fsync returned: ok");
	bool both = recv_answer(d, TIMEOUT_MS, &a) && recv_answer(d, TIMEOUT_MS, &b);
	ok(both && !strcmp(a.status, "ok") && !strcmp(b.status, "ok") && a.seq == b.seq,
	   "two tries of one message in one batch: both ok, one seq (%lld, %lld)", a.seq, b.seq);
	ok(logged(r, "ack-twice") == 1, "...and it is logged once");
	free(env);
	free(env2);
}

/* A failed fsync: the request gets an error, never ok; a retry then logs it. */
static void test_sync_fails(struct relay *r, void *d)
{
	bool got;
	struct answer a;
	char *env = envelope("org.test.ack", "ack-fail");
	shim_set("fail", true);
	send_req(d, "f1", "org.test.ack", env, 3);
	got = recv_answer(d, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.id, "f1") && !strcmp(a.status, "error"),
	   "fsync fails: the answer is error, not ok (%s: %s)", a.status, a.reason);
	shim_set("fail", false);
	ok(logged(r, "ack-fail") == 0, "and the message is not in the log");
	send_req(d, "f2", "org.test.ack", env, 3);
	got = recv_answer(d, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.status, "ok") && !a.dup,
	   "the retry after the failure: ok, a new entry (%s %s)", a.status, a.reason);
	ok(logged(r, "ack-fail") == 1, "logged once");
	free(env);
}

/* Group commit: requests that arrive during one commit share the next fsync. */
static void test_group_commit(void *d)
{
	struct answer a;
	char *env = envelope("org.test.ack", "group-0");
	long before = sync_calls();
	int oks = 0;
	shim_set("hold", true);
	send_req(d, "g0", "org.test.ack", env, 3);
	free(env);
	if (!wait_sync_beyond(before))
		diag("the relay did not reach the fsync");
	for (int i = 1; i <= N_GROUP; i++) {
		char id[16], msg_id[32];
		snprintf(id, sizeof id, "g%d", i);
		snprintf(msg_id, sizeof msg_id, "group-%d", i);
		env = envelope("org.test.ack", msg_id);
		send_req(d, id, "org.test.ack", env, 3);
		free(env);
	}
	sleep_ms(500); /* let them all reach the relay's socket */
	shim_set("hold", false);
	for (int i = 0; i <= N_GROUP && recv_answer(d, TIMEOUT_MS, &a); i++)
		oks += !strcmp(a.status, "ok");
	long syncs = sync_calls() - before;
	ok(oks == N_GROUP + 1, "%d requests acknowledged", oks);
	ok(syncs >= 1 && syncs < N_GROUP / 2, "group commit: %d requests took %ld fsync calls",
	   N_GROUP + 1, syncs);
}

/* After a SIGKILL the index still knows what was logged. */
static void test_after_kill(struct relay *r, const char *state)
{
	bool got;
	struct answer a;
	char *env = envelope("org.test.ack", "ack-1");
	kill_child();
	if (!ok(start_relay(r, state), "relay restarts after SIGKILL"))
		bail("relay did not restart");
	void *d = sock(ZMQ_DEALER, r->ack);
	send_req(d, "k1", "org.test.ack", env, 3);
	got = recv_answer(d, TIMEOUT_MS, &a);
	ok(got && !strcmp(a.status, "ok") && a.dup && a.seq == 1,
	   "a retry after the relay was killed: ok, duplicate, seq 1");
	ok(logged(r, "ack-1") == 1, "still logged once");
	zmq_close(d);
	free(env);
}

/* A full log: the answer is full, never ok, and nothing is logged. */
static void test_log_full(struct relay *r)
{
	char state[300], full_id[32] = "";
	struct answer a = {.seq = -1};
	int oks = 0;
	snprintf(state, sizeof state, "%s/full", g_tmp);
	g_map_size = "256K";
	if (!ok(start_relay(r, state), "relay with a 256K map starts"))
		bail("relay did not start");
	void *d = sock(ZMQ_DEALER, r->ack);
	for (int i = 1; i <= 200 && !full_id[0]; i++) { /* 3 KiB each: ~60 fill 256 KiB */
		char id[16], msg_id[32], *env;
		snprintf(id, sizeof id, "m%d", i);
		snprintf(msg_id, sizeof msg_id, "full-%d", i);
		if (asprintf(
			&env,
			"{\"topic\": \"org.test.ack\", \"msg_id\": \"%s\", \"pad\": \"%03000d\"}",
			msg_id, 0) < 0)
			bail("out of memory");
		send_req(d, id, "org.test.ack", env, 3);
		free(env);
		if (!recv_answer(d, TIMEOUT_MS, &a))
			break;
		if (!strcmp(a.status, "ok"))
			oks++;
		else if (!strcmp(a.status, "full"))
			snprintf(full_id, sizeof full_id, "%s", msg_id);
		else
			break;
	}
	ok(oks > 0 && full_id[0], "the map fills: %d answered ok, then full (%s)", oks, a.reason);
	ok(full_id[0] && logged(r, full_id) == 0, "the message answered full is not in the log");
	zmq_close(d);
	kill_child();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int main(void)
{
	struct relay r;
	char state[300], shim[600];
	signal(SIGALRM, on_alarm);
	alarm(WATCHDOG_S);
	if (!mkdtemp(g_tmp))
		bail("mkdtemp failed");
	snprintf(g_shimdir, sizeof g_shimdir, "%s/shim", g_tmp);
	snprintf(state, sizeof state, "%s/state", g_tmp);
	if (mkdir(g_shimdir, 0700))
		bail("mkdir failed");
	shim_path(shim, sizeof shim);
	if (access(shim, R_OK)) {
		printf("1..0 # SKIP no %s\n", shim);
		return 0;
	}
	g_ctx = zmq_ctx_new();
	if (!ok(start_relay(&r, state), "relay with --ack starts under the sync shim"))
		bail("relay did not start");
	void *d = sock(ZMQ_DEALER, r.ack);
	test_ok_and_retry(&r, d);
	test_malformed(d);
	test_req_peer(&r);
	test_after_sync(&r, d);
	test_sync_fails(&r, d);
	test_group_commit(d);
	zmq_close(d);
	test_after_kill(&r, state);
	kill_child();
	test_log_full(&r);
	zmq_ctx_term(g_ctx);
	if (tap_failed == 0)
		nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		diag("relay logs and state kept in %s", g_tmp);
	int rc = tap_done();
	fflush(stdout);
	return rc;
}
