/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for store: cursors, dedup window, durability across reopen,
 * schema version refusal, a full map reported as -ENOSPC, a failed
 * store_begin leaving no transaction behind, and write transactions begun
 * on one thread while another commits (run under ThreadSanitizer by
 * scripts/test --tsan). */
#include "src/daemon/store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/tap.h"

static void id_of(unsigned n, unsigned char id[STORE_ID_LEN])
{
	memset(id, 0, STORE_ID_LEN);
	memcpy(id, &n, sizeof n);
}

static void basics(const char *dir)
{
	struct store *s;
	struct store_txn *t;
	char err[300];
	unsigned char id[STORE_ID_LEN];
	uint64_t seq = 0;
	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0, "open a new store");
	ok(store_cursor_get(s, "relay tcp://x", &seq) == -ENOENT, "no cursor yet");
	ok(store_begin(s, &t) == 0, "begin");
	id_of(1, id);
	ok(store_mark_seen(t, id) == 1, "first id is new");
	ok(store_mark_seen(t, id) == 0, "same id in the same batch is a duplicate");
	ok(store_cursor_put(t, "relay tcp://x", 42) == 0, "put cursor");
	ok(store_commit(t) == 0, "commit");
	ok(store_cursor_get(s, "relay tcp://x", &seq) == 0 && seq == 42, "cursor reads back");
	store_begin(s, &t);
	store_cursor_put(t, "relay tcp://x", 99);
	store_abort(t);
	ok(store_cursor_get(s, "relay tcp://x", &seq) == 0 && seq == 42, "abort writes nothing");
	store_close(s);

	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0, "reopen");
	store_begin(s, &t);
	ok(store_mark_seen(t, id) == 0, "id seen before the reopen is still a duplicate");
	int fresh = 0;
	for (unsigned n = 2; n <= 150; n++) {
		id_of(n, id);
		fresh += store_mark_seen(t, id) == 1;
	}
	ok(store_commit(t) == 0 && fresh == 149, "149 more ids");
	store_begin(s, &t);
	id_of(1, id);
	ok(store_mark_seen(t, id) == 1, "the oldest id fell out of the 100-id window");
	id_of(150, id);
	ok(store_mark_seen(t, id) == 0, "a recent id is still remembered");
	store_commit(t);
	store_close(s);
}

static void newer_schema(const char *dir)
{
	char path[300], err[300];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	snprintf(path, sizeof path, "%s/herald.mdb", dir);
	mdb_env_create(&env);
	mdb_env_set_maxdbs(env, 16);
	int rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0600);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc) {
		unsigned char v[9] = {1, 0, 0, 0, 0, 0, 0, 0, 99};
		MDB_val k = {14, "schema_version"}, val = {9, v};
		mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi);
		mdb_put(txn, dbi, &k, &val, 0);
		rc = mdb_txn_commit(txn);
	}
	mdb_env_close(env);
	struct store *s = NULL;
	ok(!rc && store_open(dir, 1 << 24, 100, &s, err, sizeof err) == -EPROTO &&
		   strstr(err, "newer than this heraldd"),
	   "a store from a newer heraldd is refused: %s", err);
	store_close(s);
}

/* Write a raw version-1 store: meta + cursors only, as issue 2 shipped. */
static int write_v1(const char *dir)
{
	char path[300];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, cursors;
	snprintf(path, sizeof path, "%s/herald.mdb", dir);
	mdb_env_create(&env);
	mdb_env_set_maxdbs(env, 16);
	int rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0600);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc) {
		unsigned char v1[9] = {1, 0, 0, 0, 0, 0, 0, 0, 1}, c[9] = {1, 0, 0, 0, 0, 0, 0, 0, 77};
		MDB_val k = {14, "schema_version"}, val = {9, v1}, ck = {5, "relay"}, cv = {9, c};
		mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
		mdb_dbi_open(txn, "cursors", MDB_CREATE, &cursors);
		mdb_put(txn, meta, &k, &val, 0);
		mdb_put(txn, cursors, &ck, &cv, 0);
		rc = mdb_txn_commit(txn);
	}
	mdb_env_close(env);
	return rc;
}

static void migrate(const char *dir)
{
	char err[300] = "", bak[300];
	struct store *s = NULL;
	uint64_t seq = 0;
	ok(write_v1(dir) == 0, "wrote a version-1 store");
	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0, "version 1 opens (%s)", err);
	snprintf(bak, sizeof bak, "%s/herald.mdb.v1.bak", dir);
	ok(access(bak, R_OK) == 0, "a backup of the version-1 store was kept");
	ok(s && store_cursor_get(s, "relay", &seq) == 0 && seq == 77, "data survives the migration");
	struct buf b = BUF_INIT;
	ok(s && store_doc_get(s, STORE_USERS, "x", 1, &b) == -ENOENT, "the new tables exist");
	ok(s && store_kv_get(s, STORE_KV_SESSIONS, "x", 1, &b) == -ENOENT &&
		   store_kv_put(s, STORE_KV_AUTH_STATES, "x", 1, "v", 1) == 0,
	   "so do the web app's (schema version 4)");
	store_close(s);
	s = NULL;
	unlink(bak);
	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0 && access(bak, F_OK) != 0,
	   "a current store opens without another backup");
	store_close(s);
	buf_release(&b);
}

static int collect(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct buf *b = arg;
	buf_append(b, json, len);
	buf_putc(b, ';');
	return 0;
}

static void documents(const char *dir)
{
	char err[300];
	struct store *s;
	struct store_txn *t;
	struct buf b = BUF_INIT;
	uint64_t id1 = 0, id2 = 0;
	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0, "open for documents");
	uint64_t gen = store_doc_generation(s);
	store_begin(s, &t);
	ok(store_next_id(t, &id1) == 0 && store_next_id(t, &id2) == 0 && id2 == id1 + 1, "ids increase");
	ok(store_doc_put(t, STORE_SUBS, "alice\0\1", 7, "{\"a\":1}", 7) == 0 &&
		   store_doc_put(t, STORE_SUBS, "alice\0\2", 7, "{\"a\":2}", 7) == 0 &&
		   store_doc_put(t, STORE_SUBS, "bob\0\1", 5, "{\"b\":1}", 7) == 0,
	   "put three documents");
	ok(store_doc_get_txn(t, STORE_SUBS, "alice\0\2", 7, &b) == 0 && !strcmp(b.data, "{\"a\":2}"),
	   "the transaction sees its own write");
	ok(store_commit(t) == 0 && store_doc_generation(s) == gen + 1, "commit bumps the generation");
	buf_reset(&b);
	ok(store_doc_foreach(s, STORE_SUBS, "alice", 6, collect, &b) == 0 &&
		   !strcmp(b.data, "{\"a\":1};{\"a\":2};"),
	   "prefix scan returns one user's documents in order (%s)", b.data);
	buf_reset(&b);
	ok(store_doc_foreach(s, STORE_SUBS, NULL, 0, collect, &b) == 0 && strlen(b.data) == 24,
	   "a full scan returns all three");
	store_begin(s, &t);
	ok(store_doc_del(t, STORE_SUBS, "bob\0\1", 5) == 0 &&
		   store_doc_del(t, STORE_SUBS, "bob\0\1", 5) == -ENOENT,
	   "delete, then delete again is -ENOENT");
	store_commit(t);
	ok(store_doc_get(s, STORE_SUBS, "bob\0\1", 5, &b) == -ENOENT, "deleted document is gone");
	store_begin(s, &t);
	store_cursor_put(t, "k", 1);
	store_commit(t);
	ok(store_doc_generation(s) == gen + 2, "the delete bumped the generation, a cursor-only commit did not");
	char **names;
	size_t n;
	bool all;
	store_take_changed(s, &names, &n, &all);
	ok(n == 2 && !all && !strcmp(names[0], "alice") && !strcmp(names[1], "bob"),
	   "the changed users are alice (two subscriptions) and bob, once each");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	store_take_changed(s, &names, &n, &all);
	ok(n == 0 && !all, "taking them again gives nothing");
	free(names);
	buf_release(&b);
	store_close(s);
}

static bool drop_if_old(void *arg, const void *val, size_t vlen)
{
	return vlen == 3 && !memcmp(val, "old", 3);
}

/* The web app's tables: sign-ins must not look like document changes, or
 * the matcher would rebuild its index on every one. */
static void kv_tables(const char *dir)
{
	char err[300];
	struct store *s;
	struct buf b = BUF_INIT;
	size_t n = 0;
	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0, "open for kv tables");
	uint64_t gen = store_doc_generation(s);
	ok(store_kv_put(s, STORE_KV_SESSIONS, "alice-session", 13, "{\"user\":\"alice\"}", 16) == 0 &&
		   store_kv_put(s, STORE_KV_SESSIONS, "k2", 2, "old", 3) == 0 &&
		   store_kv_put(s, STORE_KV_SESSIONS, "k3", 2, "old", 3) == 0,
	   "kv put");
	ok(store_kv_get(s, STORE_KV_SESSIONS, "alice-session", 13, &b) == 0 && b.len == 16 &&
		   !memcmp(b.data, "{\"user\":\"alice\"}", 16),
	   "kv get returns the value");
	char **names;
	bool all;
	store_take_changed(s, &names, &n, &all);
	ok(store_doc_generation(s) == gen && n == 0 && !all,
	   "kv writes bump no generation and mark no user changed");
	free(names);
	ok(store_kv_count(s, STORE_KV_SESSIONS, &n) == 0 && n == 3, "count: 3 entries");
	ok(store_kv_prune(s, STORE_KV_SESSIONS, "k3", 2, 1, drop_if_old, NULL, &n) == 0 && n == 1,
	   "prune from a key stops at its bound");
	ok(store_kv_prune(s, STORE_KV_SESSIONS, "k3", 2, 0, drop_if_old, NULL, &n) == 0 && n == 1,
	   "from the same key, without a bound, it wraps round and finds the other one");
	ok(store_kv_count(s, STORE_KV_SESSIONS, &n) == 0 && n == 1, "count: 1 entry");
	ok(store_kv_put(s, STORE_KV_SESSIONS, "k4", 2, "old", 3) == 0 &&
		   store_kv_prune(s, STORE_KV_SESSIONS, "zz", 2, 0, drop_if_old, NULL, &n) == 0 &&
		   n == 1,
	   "from beyond the last key: wraps to the start");
	buf_reset(&b);
	ok(store_kv_get(s, STORE_KV_SESSIONS, "alice-session", 13, &b) == 0, "prune kept the live one");
	ok(store_kv_put(s, STORE_KV_AUTH_STATES, "st", 2, "x", 1) == 0, "put a state");
	buf_reset(&b);
	ok(store_kv_take(s, STORE_KV_AUTH_STATES, "st", 2, &b) == 0 && b.len == 1,
	   "take returns it once");
	ok(store_kv_take(s, STORE_KV_AUTH_STATES, "st", 2, &b) == -ENOENT, "and not a second time");
	ok(store_kv_del(s, STORE_KV_SESSIONS, "alice-session", 13) == 0 &&
		   store_kv_del(s, STORE_KV_SESSIONS, "alice-session", 13) == -ENOENT,
	   "kv delete, then -ENOENT");
	ok(store_doc_generation(s) == gen, "still no generation bump");
	buf_release(&b);
	store_close(s);
}

static void full(const char *dir)
{
	struct store *s;
	struct store_txn *t;
	char err[300];
	unsigned char id[STORE_ID_LEN];
	int rc = 0;
	ok(store_open(dir, 64 * 1024, 10000000, &s, err, sizeof err) == 0, "open a tiny store");
	for (unsigned n = 0; n < 100000 && !rc; n++) {
		if ((rc = store_begin(s, &t)))
			break;
		for (unsigned k = 0; k < 100 && rc >= 0; k++) {
			id_of(n * 100 + k, id);
			rc = store_mark_seen(t, id);
		}
		if (rc < 0) {
			store_abort(t);
			break;
		}
		rc = store_commit(t);
	}
	ok(rc == -ENOSPC, "a full map is -ENOSPC (%s)", store_strerror(rc));
	store_begin(s, &t);
	ok(store_cursor_put(t, "k", 7) == 0 && store_commit(t) == 0, "a small write still works after");
	store_close(s);
	ok(store_open(dir, 64 * 1024, 10000000, &s, err, sizeof err) == 0, "the full store reopens");
	store_close(s);
}

/* Another process grows the map past ours: our next write transaction
 * cannot begin (LMDB's MDB_MAP_RESIZED), and store_begin must say so with
 * *out NULL, so a caller's cleanup path never sees a stale pointer. */
static void failed_begin(const char *dir)
{
	struct store *s;
	struct store_txn *t;
	char err[300];
	ok(store_open(dir, 1 << 20, 100, &s, err, sizeof err) == 0, "open a 1 MiB store");
	pid_t pid = fork();
	if (pid == 0) {
		static char big[1 << 20];
		struct store *g;
		int rc = store_open(dir, 8 << 20, 100, &g, err, sizeof err);
		for (int i = 0; !rc && i < 2; i++) {
			if (!(rc = store_begin(g, &t)) &&
			    !(rc = store_doc_put(t, STORE_USERS, &i, sizeof i, big, sizeof big)))
				rc = store_commit(t);
		}
		store_close(g);
		_exit(rc ? 1 : 0);
	}
	int status = 1;
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0,
	   "another process grew the store to 2 MiB of data");
	t = (struct store_txn *)&t; /* anything but NULL */
	int rc = store_begin(s, &t);
	ok(rc < 0, "our write transaction cannot begin (%s)", store_strerror(rc));
	ok(t == NULL, "and store_begin set *out to NULL");
	if (!rc)
		store_abort(t);
	store_close(s);
}

/* Like dispatch's recorder: write transactions on a second thread while the
 * committer marks ids seen and commits. */
struct other_writer {
	struct store *s;
	atomic_bool stop;
	int begun;
};

static void *other_writer_main(void *arg)
{
	struct other_writer *w = arg;
	while (!atomic_load(&w->stop)) {
		struct store_txn *t;
		if (store_begin(w->s, &t) == 0) {
			store_abort(t);
			w->begun++;
		}
	}
	return NULL;
}

static void two_writers(const char *dir)
{
	struct store *s;
	char err[300] = "";
	unsigned char id[STORE_ID_LEN];
	pthread_t th;
	int fresh = 0;
	ok(store_open(dir, 1 << 24, 1000, &s, err, sizeof err) == 0, "open (%s)", err);
	struct other_writer w = {.s = s};
	ok(pthread_create(&th, NULL, other_writer_main, &w) == 0, "a second writer thread");
	for (unsigned n = 0; n < 200; n++) {
		struct store_txn *t;
		id_of(n, id);
		if (store_begin(s, &t) == 0) {
			fresh += store_mark_seen(t, id) == 1;
			fresh -= store_commit(t) != 0;
		}
	}
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
	ok(fresh == 200, "200 ids committed one per transaction meanwhile (%d)", fresh);
	struct store_txn *t;
	int dup = 0;
	store_begin(s, &t);
	for (unsigned n = 0; n < 200; n++) {
		id_of(n, id);
		dup += store_mark_seen(t, id) == 0;
	}
	store_abort(t);
	ok(dup == 200, "every one of them is remembered (%d)", dup);
	store_close(s);
}

int main(void)
{
	char d1[] = "/tmp/herald-test-store-XXXXXX", d2[] = "/tmp/herald-test-store-XXXXXX",
	     d3[] = "/tmp/herald-test-store-XXXXXX", d4[] = "/tmp/herald-test-store-XXXXXX",
	     d5[] = "/tmp/herald-test-store-XXXXXX", d6[] = "/tmp/herald-test-store-XXXXXX",
	     d7[] = "/tmp/herald-test-store-XXXXXX";
	if (!mkdtemp(d1) || !mkdtemp(d2) || !mkdtemp(d3) || !mkdtemp(d4) || !mkdtemp(d5) ||
	    !mkdtemp(d6) || !mkdtemp(d7))
		return 1;
	basics(d1);
	newer_schema(d2);
	full(d3);
	migrate(d4);
	documents(d5);
	kv_tables(d5);
	failed_begin(d6);
	two_writers(d7);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s %s %s %s %s %s %s", d1, d2, d3, d4, d5, d6, d7);
	if (system(cmd))
		diag("cleanup failed");
	return tap_done();
}
