/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for store: cursors, dedup window, durability across reopen,
 * schema version refusal, and a full map reported as -ENOSPC. */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

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

int main(void)
{
	char d1[] = "/tmp/herald-test-store-XXXXXX", d2[] = "/tmp/herald-test-store-XXXXXX",
	     d3[] = "/tmp/herald-test-store-XXXXXX";
	if (!mkdtemp(d1) || !mkdtemp(d2) || !mkdtemp(d3))
		return 1;
	basics(d1);
	newer_schema(d2);
	full(d3);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf %s %s %s", d1, d2, d3);
	if (system(cmd))
		diag("cleanup failed");
	return tap_done();
}
