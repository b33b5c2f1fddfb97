/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the dispatcher (src/daemon/dispatch.h): each scheduler
 * decision and each recorded outcome, asserted exactly on the outbox, the
 * directory and what a stand-in sink (tests/broken-sinks/standin.c)
 * received. Every case runs a fresh store and dispatcher whose entries were
 * committed before it started, so its first pass sees all of them.
 * Not for: the daemon around it (tests/integration/test_outbox.sh) or the
 * outbox's own bookkeeping (test_outbox.c).
 * Plugins are found under $top_builddir (set by `make check`).
 */
#include "src/daemon/dispatch.h"

#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/common/clock.h"
#include "src/common/config.h"
#include "src/daemon/directory.h"
#include "src/daemon/metrics.h"
#include "src/daemon/outbox.h"
#include "src/daemon/store.h"
#include "src/daemon/store_int.h"
#include "src/web/links.h"
#include "tests/unit/tap.h"

#define HOUR_MS (3600 * 1000ull)

static char plugins[1100], workdir[64];

struct env {
	char dir[200], log[300];
	struct store *s;
	struct config cfg;
	struct config_sink sink;
	struct herald_sink_option opt;
	struct metrics m;
	struct dispatch *d;
};

/* A fresh store, and a config with one [sink stand] of the stand-in. */
static void env_init(struct env *v, const char *name)
{
	char err[300];
	memset(v, 0, sizeof *v);
	snprintf(v->dir, sizeof v->dir, "%s/%s", workdir, name);
	snprintf(v->log, sizeof v->log, "%s/%s.log", workdir, name);
	if (mkdir(v->dir, 0700) || store_open(v->dir, 1 << 24, 100, &v->s, err, sizeof err)) {
		printf("Bail out! cannot open a store in %s (%s)\n", v->dir, err);
		exit(1);
	}
	v->opt = (struct herald_sink_option){.key = "log", .value = v->log};
	v->sink = (struct config_sink){.name = "stand", .plugin = "standin", .rate = 0,
				       .batch = 64, .options = &v->opt, .n_options = 1};
	v->cfg.path = "test_dispatch.conf";
	v->cfg.dispatch = (struct config_dispatch){
		.plugin_dir = plugins, .retry_base_ms = HOUR_MS, .retry_max_ms = HOUR_MS,
		.max_attempts = 12, .pause_after_ms = 6 * HOUR_MS, .probe_interval_ms = HOUR_MS,
		.delivery_log = 100, .digest_max_items = 100, .digest_max_bytes = 65536,
		.rate = 0, .burst = 20};
	v->cfg.sinks = &v->sink;
	v->cfg.n_sinks = 1;
}

static int env_start(struct env *v, const struct dispatch_deps *extra)
{
	char err[300] = "";
	struct dispatch_deps deps = {.cfg = &v->cfg, .store = v->s, .metrics = &v->m};
	if (extra) {
		deps.thread_start = extra->thread_start;
		deps.links = extra->links;
	}
	int rc = dispatch_start(&deps, &v->d, err, sizeof err);
	ok(rc == 0, "dispatcher started (%s)", err);
	return rc;
}

static void env_release(struct env *v)
{
	dispatch_stop(v->d);
	store_close(v->s);
}

static json_t *parse(const char *text)
{
	return json_loads(text, 0, NULL);
}

static void user_add(struct env *v, const char *body)
{
	struct directory_error e;
	json_t *in = parse(body), *out = NULL;
	if (directory_user_add(v->s, in, &out, &e))
		printf("Bail out! user %s: %s\n", body, e.msg), exit(1);
	json_decref(in);
	json_decref(out);
}

/* A destination of alice on the stand-in with this address; its id. */
static uint64_t dest_add(struct env *v, const char *address)
{
	struct directory_error e;
	char body[200];
	snprintf(body, sizeof body, "{\"sink\": \"stand\", \"address\": \"%s\"}", address);
	json_t *in = parse(body), *out = NULL;
	if (directory_dest_add(v->s, "alice", in, NULL, &out, &e))
		printf("Bail out! destination %s: %s\n", address, e.msg), exit(1);
	uint64_t id = (uint64_t)json_integer_value(json_object_get(out, "id"));
	json_decref(in);
	json_decref(out);
	return id;
}

/* Commit note n for (alice, dest): instant and due now, or (digest_max > 0)
 * into an hourly digest due once it holds digest_max notes. */
static void note_put_sub(struct env *v, unsigned n, uint64_t dest, uint32_t digest_max,
			 uint64_t sub);

static void note_put_in(struct env *v, unsigned n, uint64_t dest, uint32_t digest_max)
{
	note_put_sub(v, n, dest, digest_max, 0);
}

/* note_put_in, the note naming subscription `sub` (0: none). */
static void note_put_sub(struct env *v, unsigned n, uint64_t dest, uint32_t digest_max,
			 uint64_t sub)
{
	unsigned char key[16] = {0}, id[OUTBOX_ID_LEN];
	char hex[OUTBOX_HEX_LEN + 1], json[300], subs[40] = "";
	struct store_txn *t = NULL;
	memcpy(key, &n, sizeof n);
	outbox_note_id(key, "alice", dest, id);
	outbox_hex(id, hex);
	if (sub)
		snprintf(subs, sizeof subs, ",\"subscriptions\":[%llu]", (unsigned long long)sub);
	snprintf(json, sizeof json,
		 "{\"id\":\"%s\",\"user\":\"alice\",\"destination\":%llu,\"title\":\"n%u\","
		 "\"topic\":\"t\"%s}", hex, (unsigned long long)dest, n, subs);
	struct outbox_add a = {.id = id, .user = "alice", .dest = dest, .json = json,
			       .len = strlen(json), .now = clock_wall_ms(),
			       .digest_interval = digest_max ? 3600 : 0, .digest_max = digest_max};
	int rc = store_begin(v->s, &t);
	if (!rc && outbox_put(t, &a) != 1) {
		store_abort(t);
		rc = -EIO;
	} else if (!rc) {
		rc = store_commit(t);
	}
	if (rc)
		printf("Bail out! cannot put note %u\n", n), exit(1);
}

static void note_put(struct env *v, unsigned n, uint64_t dest)
{
	note_put_in(v, n, dest, 0);
}

/* Poll until cond(v) holds; false after a minute (a hang, not a slow run). */
static bool wait_for(struct env *v, bool (*cond)(struct env *))
{
	for (int i = 0; i < 6000; i++) {
		if (cond(v))
			return true;
		usleep(10000);
	}
	return false;
}

static struct outbox_counts counts(struct env *v)
{
	struct outbox_counts c = {0};
	outbox_count(v->s, 0, &c);
	return c;
}

static bool nothing_pending(struct env *v) { return counts(v).pending == 0; }
static bool one_dead(struct env *v) { return counts(v).dead == 1; }
static bool one_parked(struct env *v) { return counts(v).parked == 1; }

/* The only pending note (its document, with "due"), or NULL. */
static json_t *pending_note(struct env *v)
{
	json_t *all = NULL, *one = NULL;
	if (!outbox_list(v->s, NULL, NULL, 10, &all) && json_array_size(all) == 1)
		one = json_incref(json_array_get(all, 0));
	json_decref(all);
	return one;
}

static uint64_t u64(const json_t *doc, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(doc, key));
}

static const char *text(const json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));
	return s ? s : "";
}

/* What the stand-in received: its log, or "" */
static const char *received(struct env *v, char *buf, size_t len)
{
	FILE *f = fopen(v->log, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	return buf;
}

/* A pending note whose attempt was charged (retry): pending and not due now. */
static bool note_rescheduled(struct env *v)
{
	json_t *n = pending_note(v);
	bool done = n && (u64(n, "attempts") > 0 || *text(n, "last_error"));
	json_decref(n);
	return done;
}

static bool instance_broken(struct env *v)
{
	json_t *st = NULL;
	bool broken = !dispatch_status(v->d, &st) &&
		      u64(json_array_get(st, 0), "broken_until") > 0;
	json_decref(st);
	return broken;
}

/* The destination's document (alice's first). */
static json_t *first_dest(struct env *v)
{
	struct directory_error e;
	json_t *all = NULL, *one = NULL;
	if (!directory_dest_list(v->s, "alice", &all, &e))
		one = json_incref(json_array_get(all, 0));
	json_decref(all);
	return one;
}

/* ---- the scheduler's decisions ---- */

static void deleted_dest(void)
{
	struct env v;
	struct directory_error e;
	json_t *out = NULL, *dead = NULL;
	env_init(&v, "deleted");
	user_add(&v, "{\"name\": \"alice\"}");
	uint64_t id = dest_add(&v, "ok");
	ok(!directory_dest_del(v.s, "alice", id, &out, &e), "destination deleted");
	json_decref(out);
	note_put(&v, 1, id);
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, one_dead), "a note to a deleted destination becomes a dead letter");
	char want[100], buf[200];
	snprintf(want, sizeof want, "destination %llu of alice was deleted", (unsigned long long)id);
	ok(!outbox_dead_list(v.s, "alice", NULL, 10, &dead) && json_array_size(dead) == 1 &&
		   !strcmp(text(json_array_get(dead, 0), "reason"), want),
	   "with the reason '%s'", want);
	ok(counts(&v).pending == 0 && !*received(&v, buf, sizeof buf), "nothing was sent");
	json_decref(dead);
	env_release(&v);
}

static void paused_dest(void)
{
	struct env v;
	struct directory_error e;
	json_t *out = NULL, *in = parse("{\"reason\": \"holiday\"}");
	char buf[200];
	env_init(&v, "paused");
	user_add(&v, "{\"name\": \"alice\"}");
	uint64_t id = dest_add(&v, "ok");
	ok(!directory_dest_pause(v.s, "alice", id, in, &out, &e), "destination paused");
	json_decref(in);
	json_decref(out);
	note_put(&v, 1, id);
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, one_parked), "a note to a paused destination is parked");
	json_t *n = pending_note(&v);
	ok(n && u64(n, "due") == OUTBOX_PARKED && u64(n, "attempts") == 0,
	   "parked (due never), no attempt charged");
	json_decref(n);
	ok(!*received(&v, buf, sizeof buf), "nothing was sent");
	env_release(&v);
}

/* Quiet hours from an hour ago to two hours from now (UTC, whole minutes):
 * the note is due when they end. */
static void quiet_hours(void)
{
	struct env v;
	char body[200], start[8], end[8], buf[200];
	uint64_t now = clock_wall_ms(), minute = now - now % 60000;
	uint64_t ends = minute + 2 * HOUR_MS;
	time_t a = (time_t)((minute - HOUR_MS) / 1000), b = (time_t)(ends / 1000);
	struct tm ta, tb;
	gmtime_r(&a, &ta);
	gmtime_r(&b, &tb);
	strftime(start, sizeof start, "%H:%M", &ta);
	strftime(end, sizeof end, "%H:%M", &tb);
	env_init(&v, "quiet");
	snprintf(body, sizeof body, "{\"name\": \"alice\", \"timezone\": \"UTC\", "
		 "\"quiet_hours\": {\"start\": \"%s\", \"end\": \"%s\"}}", start, end);
	user_add(&v, body);
	note_put(&v, 1, dest_add(&v, "ok"));
	if (env_start(&v, NULL))
		return;
	json_t *n = NULL;
	for (int i = 0; i < 6000 && !(n && u64(n, "due") > now + HOUR_MS); i++, usleep(10000)) {
		json_decref(n);
		n = pending_note(&v);
	}
	ok(n && u64(n, "due") == ends, "in quiet hours %s-%s: due at their end (%llu, want %llu)",
	   start, end, (unsigned long long)(n ? u64(n, "due") : 0), (unsigned long long)ends);
	ok(n && u64(n, "attempts") == 0 && !*received(&v, buf, sizeof buf),
	   "nothing sent, no attempt charged");
	json_decref(n);
	env_release(&v);
}

/* One token a minute, a bucket of one: the first note goes out, the second
 * joins the destination's digest, due when the next token comes. */
static void rate_limited(void)
{
	struct env v;
	char buf[400];
	env_init(&v, "rate");
	v.sink.rate = 1;
	v.sink.burst = 1;
	user_add(&v, "{\"name\": \"alice\"}");
	uint64_t id = dest_add(&v, "ok");
	note_put(&v, 1, id);
	note_put(&v, 2, id);
	uint64_t before = clock_wall_ms();
	if (env_start(&v, NULL))
		return;
	json_t *n = NULL;
	for (int i = 0; i < 6000 && !(n && *text(n, "digest")); i++, usleep(10000)) {
		json_decref(n);
		n = pending_note(&v);
	}
	ok(n && *text(n, "digest"), "the second note joined a digest");
	ok(n && !strcmp(text(n, "title"), "n2") && u64(n, "due") >= before + 59000 &&
		   u64(n, "due") <= clock_wall_ms() + 60001,
	   "due when the next token comes (in %lld ms)",
	   n ? (long long)(u64(n, "due") - before) : -1);
	char want[100];
	snprintf(want, sizeof want, "call 1\nitem ok %llu 1\n", (unsigned long long)id);
	ok(!strcmp(received(&v, buf, sizeof buf), want), "the first note alone was sent (%s)", buf);
	json_decref(n);
	env_release(&v);
}

/* Five notes, a batch limit of two: calls of exactly 2, 2 and 1 items. And
 * at the limit exactly (two notes, limit two): one call of both. */
static void batches(unsigned notes, int limit, const char *want)
{
	struct env v;
	char name[40], buf[400];
	snprintf(name, sizeof name, "batch%u-%d", notes, limit);
	env_init(&v, name);
	v.sink.batch = limit;
	user_add(&v, "{\"name\": \"alice\"}");
	uint64_t id = dest_add(&v, "ok");
	for (unsigned i = 1; i <= notes; i++)
		note_put(&v, i, id);
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, nothing_pending), "%u notes delivered", notes);
	received(&v, buf, sizeof buf);
	char calls[100] = "", *o = calls;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, "call ", 5))
			o += snprintf(o, (size_t)(calls + sizeof calls - o), "%s%s",
				      o == calls ? "" : ",", line + 5);
	ok(!strcmp(calls, want), "batch limit %d: calls of %s items (want %s)", limit, calls, want);
	json_t *log = NULL;
	ok(!outbox_delivered_list(v.s, "alice", 100, &log) && json_array_size(log) == notes,
	   "each in the delivery log");
	json_decref(log);
	env_release(&v);
}

/* ---- the recorder's outcomes ---- */

static void delivered(void)
{
	struct env v;
	json_t *log = NULL;
	env_init(&v, "delivered");
	user_add(&v, "{\"name\": \"alice\"}");
	note_put(&v, 1, dest_add(&v, "ok"));
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, nothing_pending), "delivered: removed from the outbox");
	ok(!outbox_delivered_list(v.s, "alice", 10, &log) && json_array_size(log) == 1 &&
		   !strcmp(text(json_array_get(log, 0), "sink"), "stand") &&
		   u64(json_array_get(log, 0), "attempts") == 1,
	   "and in the delivery log (sink stand, 1 attempt)");
	ok(counts(&v).dead == 0, "no dead letter");
	json_decref(log);
	env_release(&v);
}

/* Retry: attempts 1 and due later. With retry-after 100 s (longer than the
 * backoff's 1 s +-20%) exactly 100 s after the outcome; without, within
 * the backoff's jitter. */
static void retry(const char *address, uint64_t lo, uint64_t hi)
{
	struct env v;
	env_init(&v, address);
	v.cfg.dispatch.retry_base_ms = v.cfg.dispatch.retry_max_ms = 1000;
	user_add(&v, "{\"name\": \"alice\"}");
	note_put(&v, 1, dest_add(&v, address));
	uint64_t before = clock_wall_ms();
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, note_rescheduled), "%s: rescheduled", address);
	uint64_t after = clock_wall_ms();
	json_t *n = pending_note(&v);
	uint64_t due = n ? u64(n, "due") : 0;
	char reason[64];
	snprintf(reason, sizeof reason, "standin: %s", address);
	ok(n && u64(n, "attempts") == 1 && !strcmp(text(n, "last_error"), reason),
	   "%s: attempts 1, last_error '%s'", address, text(n, "last_error"));
	ok(due >= before + lo && due <= after + hi, "%s: due %lld ms later (%llu..%llu)", address,
	   (long long)(due - before), (unsigned long long)lo, (unsigned long long)hi);
	ok(counts(&v).dead == 0, "%s: no dead letter", address);
	json_decref(n);
	env_release(&v);
}

static void rejected(void)
{
	struct env v;
	json_t *dead = NULL;
	env_init(&v, "rejected");
	user_add(&v, "{\"name\": \"alice\"}");
	note_put(&v, 1, dest_add(&v, "reject"));
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, one_dead), "rejected: a dead letter");
	ok(!outbox_dead_list(v.s, "alice", NULL, 10, &dead) && json_array_size(dead) == 1 &&
		   !strcmp(text(json_array_get(dead, 0), "reason"), "standin: reject") &&
		   counts(&v).pending == 0,
	   "with the sink's reason, nothing left pending");
	json_decref(dead);
	env_release(&v);
}

/* Overwrite the document of the oldest stored note with bytes that are
 * not JSON (its record version byte kept): what a corrupted or
 * future-format note looks like to outbox_load. */
static void note_corrupt_first(struct env *v)
{
	struct store_txn *t = NULL;
	MDB_cursor *c = NULL;
	MDB_val k, val;
	int rc = store_begin(v->s, &t);
	if (!rc)
		rc = mdb_cursor_open(store_txn_mdb(t), store_db(v->s, STORE_DB_NOTES), &c);
	if (!rc)
		rc = mdb_cursor_get(c, &k, &val, MDB_FIRST);
	if (!rc) {
		char bad[] = "?{\"id\": not json";
		bad[0] = *(const char *)val.mv_data;
		MDB_val nv = {sizeof bad - 1, bad};
		rc = mdb_cursor_put(c, &k, &nv, MDB_CURRENT);
	}
	if (c)
		mdb_cursor_close(c);
	if (!rc)
		rc = store_commit(t);
	if (rc)
		printf("Bail out! cannot corrupt a note (%d)\n", rc), exit(1);
}

/* A note that cannot be read is tried once and becomes a dead letter with
 * the reason; the sink never sees it, the note beside it is delivered. */
static void unreadable(bool digest)
{
	struct env v;
	json_t *dead = NULL;
	char buf[400], hex[OUTBOX_HEX_LEN + 1];
	unsigned char key[16] = {0}, id[OUTBOX_ID_LEN];
	const char *what = digest ? "unreadable in a digest" : "unreadable";
	env_init(&v, digest ? "unreadable-digest" : "unreadable");
	user_add(&v, "{\"name\": \"alice\"}");
	uint64_t dest = dest_add(&v, "ok");
	for (unsigned i = 1; i <= (digest ? 3 : 2); i++)
		note_put_in(&v, i, dest, digest ? 3 : 0);
	note_corrupt_first(&v);
	unsigned one = 1;
	memcpy(key, &one, sizeof one);
	outbox_note_id(key, "alice", dest, id);
	outbox_hex(id, hex);
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, nothing_pending), "%s: nothing left pending (no endless retry)", what);
	ok(counts(&v).dead == 1, "%s: one dead letter", what);
	const json_t *d = NULL;
	if (!outbox_dead_list(v.s, "alice", NULL, 10, &dead))
		d = json_array_get(dead, 0);
	ok(d && !strcmp(text(d, "id"), hex) && u64(d, "destination") == dest &&
		   !strcmp(text(d, "reason"), "stored notification cannot be read (not valid JSON)"),
	   "%s: the dead letter names note 1, its destination and why ('%s')",
	   what, d ? text(d, "reason") : "");
	json_t *log = NULL;
	received(&v, buf, sizeof buf);
	const char *item = strstr(buf, "item ");
	unsigned notes = 0;
	ok(item && !strstr(item + 1, "item ") && sscanf(item, "item %*s %*u %u", &notes) == 1 &&
		   notes == (digest ? 2 : 1) &&
		   !outbox_delivered_list(v.s, "alice", 10, &log) && json_array_size(log) == 1 &&
		   strcmp(text(json_array_get(log, 0), "id"), hex),
	   "%s: the sink got one item of the readable notes (%s), delivered", what,
	   digest ? "a digest of 2" : "note 2");
	json_decref(log);
	ok(v.m.dead_letters == 1, "%s: counted as a dead letter", what);
	json_decref(dead);
	env_release(&v);
}

static void broken(void)
{
	struct env v;
	json_t *st = NULL;
	env_init(&v, "broken");
	v.cfg.dispatch.probe_interval_ms = 300000;
	user_add(&v, "{\"name\": \"alice\"}");
	note_put(&v, 1, dest_add(&v, "broken"));
	uint64_t before = clock_wall_ms();
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, instance_broken), "broken: the instance is paused");
	uint64_t after = clock_wall_ms();
	uint64_t until = !dispatch_status(v.d, &st) ? u64(json_array_get(st, 0), "broken_until") : 0;
	ok(until >= before + 300000 && until <= after + 300000,
	   "until its probe, probe_interval_ms later (in %lld ms)", (long long)(until - before));
	json_decref(st);
	json_t *n = pending_note(&v);
	ok(n && u64(n, "attempts") == 0 && !*text(n, "last_error") && counts(&v).dead == 0,
	   "the note is still pending, no attempt charged");
	json_decref(n);
	env_release(&v);
}

static void gone(void)
{
	struct env v;
	env_init(&v, "gone");
	v.cfg.dispatch.retry_base_ms = 10; /* due again at once: then parked */
	user_add(&v, "{\"name\": \"alice\"}");
	note_put(&v, 1, dest_add(&v, "gone"));
	if (env_start(&v, NULL))
		return;
	ok(wait_for(&v, one_parked), "gone: the note is parked");
	json_t *d = first_dest(&v), *n = pending_note(&v);
	const char *want = "paused by heraldd: the destination is gone: standin: gone";
	ok(d && json_is_true(json_object_get(d, "paused")) && !strcmp(text(d, "paused_reason"), want),
	   "the destination is paused with the reason (%s)", d ? text(d, "paused_reason") : "");
	ok(n && u64(n, "attempts") == 0 && counts(&v).dead == 0, "no attempt charged");
	json_decref(d);
	json_decref(n);
	env_release(&v);
}

/* ---- a worker thread that does not start ---- */

static int fail_worker(pthread_t *t, void *(*fn)(void *), void *arg, const char *what)
{
	return strcmp(what, "worker") ? pthread_create(t, NULL, fn, arg) : EAGAIN;
}

static void on_alarm(int sig)
{
	static const char msg[] = "not ok - dispatch_stop hung (a thread that never started)\n";
	(void)sig;
	if (write(1, msg, sizeof msg - 1) < 0)
		_exit(2);
	_exit(1);
}

static bool waits_with_reason(struct env *v)
{
	json_t *n = pending_note(v);
	bool done = n && *text(n, "last_error");
	json_decref(n);
	return done;
}

static void no_worker(void)
{
	struct env v;
	struct dispatch_deps hook = {.thread_start = fail_worker};
	json_t *st = NULL;
	char buf[100];
	env_init(&v, "noworker");
	user_add(&v, "{\"name\": \"alice\"}");
	note_put(&v, 1, dest_add(&v, "ok"));
	if (env_start(&v, &hook))
		return;
	ok(!dispatch_status(v.d, &st), "status");
	const json_t *s = json_array_get(st, 0);
	ok(s && json_is_false(json_object_get(s, "loaded")) &&
		   strstr(text(s, "error"), "cannot start its worker thread"),
	   "the instance is reported not loaded, with the reason (%s)", text(s, "error"));
	json_decref(st);
	ok(wait_for(&v, waits_with_reason), "its note waits, with a reason");
	json_t *n = pending_note(&v);
	ok(n && !strcmp(text(n, "last_error"), "sink 'stand' did not load") &&
		   u64(n, "attempts") == 0 && !*received(&v, buf, sizeof buf),
	   "nothing was handed to it (%s)", n ? text(n, "last_error") : "");
	json_decref(n);
	ok(!dispatch_status(v.d, &st) && json_is_false(json_object_get(json_array_get(st, 0),
								       "busy")),
	   "it is not busy");
	json_decref(st);
	signal(SIGALRM, on_alarm);
	alarm(60);
	env_release(&v);
	alarm(0);
	ok(1, "dispatch_stop returned");
}

/* A subscription of alice to `dest`; its id. */
static uint64_t sub_add(struct env *v, uint64_t dest)
{
	struct directory_error e;
	json_t *in = json_pack("{s:s, s:[I]}", "filter", "topic == \"t\"", "destinations",
			       (json_int_t)dest), *out = NULL;
	if (directory_sub_add(v->s, "alice", in, &out, &e))
		printf("Bail out! subscription: %s\n", e.msg), exit(1);
	uint64_t id = u64(out, "id");
	json_decref(in);
	json_decref(out);
	return id;
}

static bool sub_enabled(struct env *v, uint64_t id)
{
	struct directory_error e;
	json_t *doc = NULL;
	bool on = !directory_sub_get(v->s, "alice", id, &doc, &e) &&
		  json_is_true(json_object_get(doc, "enabled"));
	json_decref(doc);
	return on;
}

/* With the web app's links (ABI 1.2): every item carries its signed
 * unsubscribe link and its "why" link, the default template ends with the
 * Why line, a digest carries its first note's unsubscribe link and a Why
 * line per note; and the delivered unsubscribe link, POSTed, disables the
 * subscription. */
static void web_links(void)
{
	struct env v;
	struct links *l = NULL;
	char err[300] = "", buf[8192], ldir[300];
	env_init(&v, "links");
	snprintf(ldir, sizeof ldir, "%s/links-key", workdir);
	mkdir(ldir, 0700);
	if (links_open(ldir, "https://h.example", 3600, &l, err, sizeof err)) {
		ok(0, "links_open: %s", err);
		return;
	}
	user_add(&v, "{\"name\": \"alice\"}");
	uint64_t dest = dest_add(&v, "ok"), sub = sub_add(&v, dest);
	note_put_sub(&v, 1, dest, 0, sub);
	note_put_sub(&v, 2, dest, 2, sub);
	note_put_sub(&v, 3, dest, 2, sub);
	struct dispatch_deps extra = {.links = l};
	if (env_start(&v, &extra))
		return;
	ok(wait_for(&v, nothing_pending), "links: all delivered");
	received(&v, buf, sizeof buf);
	char unsub[400] = "", why[400] = "", dunsub[400] = "", dwhy[400] = "", text[2000] = "",
	     dtext[2000] = "";
	/* Two items, in either order: the digest is the one without a why link. */
	for (const char *p = buf; (p = strstr(p, "\nlinks ")); p++) {
		char u[400] = "", w[400] = "", t[2000] = "";
		sscanf(p + 1, "links %399s %399s\ntext %1999[^\n]", u, w, t);
		bool digest = !strcmp(w, "-");
		snprintf(digest ? dunsub : unsub, 400, "%s", u);
		snprintf(digest ? dwhy : why, 400, "%s", w);
		snprintf(digest ? dtext : text, 2000, "%s", t);
	}
	char line[420];
	/* The instant note is 1, the digest holds 2 and 3; the ids are the notes'. */
	ok(!strncmp(unsub, "https://h.example/unsubscribe/", 30) &&
		   !strncmp(why, "https://h.example/why.html?id=", 30) && strlen(why) == 30 + 32,
	   "an item carries its unsubscribe and why links (%s, %s)", unsub, why);
	snprintf(line, sizeof line, "|Why: %s", why);
	ok(strstr(text, line) != NULL, "the default template ends with the Why line (%s)", text);
	ok(!strcmp(dunsub, unsub) && !strcmp(dwhy, "-"),
	   "a digest: its first note's subscription's unsubscribe link, no single why link");
	int whys = 0;
	for (const char *w = dtext; (w = strstr(w, "Why: https://h.example/why.html?id=")); w++)
		whys++;
	ok(whys == 2, "a digest's text has a Why line per note (%d)", whys);

	struct buf page = BUF_INIT;
	unsigned status = 0;
	struct links_request r = {"POST", "unsubscribe", unsub + 30, v.s,
				  (int64_t)(clock_wall_ms() / 1000)};
	ok(sub_enabled(&v, sub) && !links_page(l, &r, &status, &page) && status == 200 &&
		   !sub_enabled(&v, sub),
	   "POSTing the delivered unsubscribe link disables the subscription");
	buf_release(&page);
	env_release(&v);
	links_close(l);
}

int main(void)
{
	const char *top = getenv("top_builddir");
	snprintf(plugins, sizeof plugins, "%s/tests/broken-sinks/.libs", top ? top : ".");
	snprintf(workdir, sizeof workdir, "/tmp/herald-test-dispatch-XXXXXX");
	if (!mkdtemp(workdir))
		return 1;
	deleted_dest();
	paused_dest();
	quiet_hours();
	rate_limited();
	batches(5, 2, "2,2,1");
	batches(2, 2, "2");
	delivered();
	retry("retry-after:100", 100000, 100000);
	retry("retry", 800, 1200);
	rejected();
	unreadable(false);
	unreadable(true);
	broken();
	gone();
	no_worker();
	web_links();
	char cmd[100];
	snprintf(cmd, sizeof cmd, "rm -rf %s", workdir);
	if (!getenv("KEEP_WORK") && system(cmd))
		return 1;
	return tap_done();
}
