/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store: all of heraldd's LMDB access (see store.h). Keys are big-endian
 * fixed-width where order matters; values start with a format-version byte.
 */
#include "store.h"
#include "src/common/be64.h"
#include "store_int.h"

#include "src/common/buf.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#define VALUE_VERSION 1

static const char *const table_names[STORE_TABLE_COUNT] = {"users",	   "dests",
							   "subs",	   "tokens",
							   "user_tokens", "codes",
							   "mutes"};
static const char *const kv_names[STORE_KV_COUNT] = {"sessions", "auth_states"};
static const char *const db_names[STORE_DB_COUNT] = {
	"notes", "due", "digests", "open_digest", "members", "dead", "delivered", "when"};

struct store {
	MDB_env *env;
	MDB_dbi meta, cursors, seen, seen_order;
	MDB_dbi tables[STORE_TABLE_COUNT];
	MDB_dbi dbs[STORE_DB_COUNT];
	MDB_dbi kv[STORE_KV_COUNT];
	size_t window;
	uint64_t next_order; /* order number of the next new id; guarded by LMDB's writer lock */
	_Atomic uint64_t doc_generation;
	pthread_mutex_t changed_lock; /* guards the changed-users list */
	char **changed;
	size_t n_changed;
	bool changed_all;
};

#define CHANGED_MAX 4096 /* beyond this, readers rebuild everything */

struct store_txn {
	struct store *s;
	MDB_txn *txn;
	uint64_t next_order;
	bool docs_touched;
	char **touched;    /* users whose documents this transaction wrote */
	size_t n_touched;
	bool touched_all;
	bool seen_touched; /* only the committer marks ids; API writers must not write seen_next */
};

static int map_err(int rc)
{
	switch (rc) {
	case 0: return 0;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL: return -ENOSPC;
	case MDB_NOTFOUND: return -ENOENT;
	case MDB_KEYEXIST: return -EEXIST;
	case MDB_VERSION_MISMATCH:
	case MDB_INVALID: return -EPROTO;
	default: return rc > 0 ? -rc : -EIO;
	}
}

const char *store_strerror(int rc)
{
	if (rc == -ENOSPC)
		return "store is full (map_size_mb too small or disk full)";
	if (rc == -EPROTO)
		return "store file is not a compatible LMDB database";
	if (rc == -EBADMSG)
		return "a stored document cannot be read (not JSON, or an unknown record version)";
	return strerror(-rc);
}

static int meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t *out)
{
	MDB_val k = {strlen(key), (void *)key}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return map_err(rc);
	if (v.mv_size != 9 || ((unsigned char *)v.mv_data)[0] != VALUE_VERSION)
		return -EPROTO;
	*out = get_be64((unsigned char *)v.mv_data + 1);
	return 0;
}

static int meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t val)
{
	unsigned char buf[9] = {VALUE_VERSION};
	put_be64(buf + 1, val);
	MDB_val k = {strlen(key), (void *)key}, v = {sizeof buf, buf};
	return map_err(mdb_put(txn, dbi, &k, &v, 0));
}

/* The schema version on disk, 0 for a new (empty) store. */
static int read_version(struct store *s, uint64_t *version)
{
	MDB_txn *txn;
	MDB_dbi meta;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return map_err(rc);
	rc = mdb_dbi_open(txn, "meta", 0, &meta);
	int r = rc == MDB_NOTFOUND ? -ENOENT : map_err(rc);
	if (!r)
		r = meta_get_u64(txn, meta, "schema_version", version);
	mdb_txn_abort(txn);
	if (r == -ENOENT) {
		*version = 0;
		return 0;
	}
	return r;
}

/* Keep a copy of the old store before a migration touches it. */
static int backup(struct store *s, const char *dir, uint64_t version, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/herald.mdb.v%llu.bak", dir, (unsigned long long)version);
	unlink(path);
	int rc = mdb_env_copy2(s->env, path, MDB_CP_COMPACT);
	if (rc)
		snprintf(err, errlen, "store: cannot back up before migrating to %s (%s)", path,
			 mdb_strerror(rc));
	return map_err(rc);
}

/* Create the named DBs; stamp or migrate the schema version. Migrations so
 * far only add databases: v1 -> v2 adds users, dests and subs; v2 -> v3 the
 * outbox (notes, due, digests, open_digest, members, dead, delivered, when);
 * v3 -> v4 the web app's sessions and auth_states, personal tokens
 * (tokens, user_tokens), verification codes (codes) and timed mutes
 * (mutes). Every named DB is opened with MDB_CREATE whatever the version,
 * so a v4 store made before mutes existed gains it on open. */
static int init_dbs(struct store *s, const char *dir, char *err, size_t errlen)
{
	uint64_t version;
	int r = read_version(s, &version);
	if (r) {
		snprintf(err, errlen, "store: %s", store_strerror(r));
		return r;
	}
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "store schema version %llu is newer than this heraldd (%d): "
				      "upgrade herald or restore a backup",
			 (unsigned long long)version, STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	if (version && version < STORE_SCHEMA_VERSION && (r = backup(s, dir, version, err, errlen)))
		return r;
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		goto out;
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) ||
	    (rc = mdb_dbi_open(txn, "cursors", MDB_CREATE, &s->cursors)) ||
	    (rc = mdb_dbi_open(txn, "seen", MDB_CREATE, &s->seen)) ||
	    (rc = mdb_dbi_open(txn, "seen_order", MDB_CREATE, &s->seen_order)))
		goto abort;
	for (int i = 0; i < STORE_TABLE_COUNT; i++)
		if ((rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &s->tables[i])))
			goto abort;
	for (int i = 0; i < STORE_DB_COUNT; i++)
		if ((rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbs[i])))
			goto abort;
	for (int i = 0; i < STORE_KV_COUNT; i++)
		if ((rc = mdb_dbi_open(txn, kv_names[i], MDB_CREATE, &s->kv[i])))
			goto abort;
	if (version != STORE_SCHEMA_VERSION &&
	    (r = meta_put_u64(txn, s->meta, "schema_version", STORE_SCHEMA_VERSION)))
		goto abort_r;
	r = meta_get_u64(txn, s->meta, "seen_next", &s->next_order);
	if (r == -ENOENT)
		s->next_order = 0;
	else if (r)
		goto abort_r;
	rc = mdb_txn_commit(txn);
	goto out;
abort_r:
	mdb_txn_abort(txn);
	snprintf(err, errlen, "store: %s", store_strerror(r));
	return r;
abort:
	mdb_txn_abort(txn);
out:
	if (rc)
		snprintf(err, errlen, "store: %s", mdb_strerror(rc));
	return map_err(rc);
}

int store_open(const char *dir, size_t map_size, size_t dedup_window, struct store **out,
	       char *err, size_t errlen)
{
	char path[4096];
	struct store *s = calloc(1, sizeof *s);
	int rc;
	if (!s)
		return -ENOMEM;
	s->window = dedup_window;
	pthread_mutex_init(&s->changed_lock, NULL);
	if (snprintf(path, sizeof path, "%s/herald.mdb", dir) >= (int)sizeof path) {
		snprintf(err, errlen, "store: state_dir path too long");
		rc = -ENAMETOOLONG;
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 32)) ||
	    (rc = mdb_env_set_mapsize(s->env, map_size)) ||
	    (rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600))) {
		snprintf(err, errlen, "store '%s': %s", path, mdb_strerror(rc));
		rc = map_err(rc);
		goto fail;
	}
	if ((rc = init_dbs(s, dir, err, errlen)))
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	for (size_t i = 0; i < s->n_changed; i++)
		free(s->changed[i]);
	free(s->changed);
	pthread_mutex_destroy(&s->changed_lock);
	free(s);
}

int store_cursor_get(struct store *s, const char *key, uint64_t *seq)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return map_err(rc);
	MDB_val k = {strlen(key), (void *)key}, v;
	rc = mdb_get(txn, s->cursors, &k, &v);
	if (!rc) {
		if (v.mv_size == 9 && ((unsigned char *)v.mv_data)[0] == VALUE_VERSION)
			*seq = get_be64((unsigned char *)v.mv_data + 1);
		else
			rc = MDB_INVALID;
	}
	mdb_txn_abort(txn);
	return map_err(rc);
}

int store_begin(struct store *s, struct store_txn **out)
{
	*out = NULL;
	struct store_txn *t = malloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	int rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
	if (rc) {
		free(t);
		return map_err(rc);
	}
	t->s = s;
	t->next_order = s->next_order;
	t->docs_touched = false;
	t->touched = NULL;
	t->n_touched = 0;
	t->touched_all = false;
	t->seen_touched = false;
	*out = t;
	return 0;
}

/* Forget the id that fell out of the window when `order` was added. */
static int prune_seen(struct store_txn *t, uint64_t order)
{
	if (order < t->s->window)
		return 0;
	unsigned char okey[8];
	put_be64(okey, order - t->s->window);
	MDB_val k = {8, okey}, v;
	int rc = mdb_get(t->txn, t->s->seen_order, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (!rc && v.mv_size == STORE_ID_LEN) {
		unsigned char id[STORE_ID_LEN];
		memcpy(id, v.mv_data, sizeof id);
		MDB_val ik = {sizeof id, id};
		rc = mdb_del(t->txn, t->s->seen, &ik, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	if (!rc)
		rc = mdb_del(t->txn, t->s->seen_order, &k, NULL);
	return map_err(rc);
}

int store_mark_seen(struct store_txn *t, const unsigned char id[STORE_ID_LEN])
{
	unsigned char val[9] = {VALUE_VERSION}, okey[8];
	put_be64(val + 1, t->next_order);
	put_be64(okey, t->next_order);
	MDB_val k = {STORE_ID_LEN, (void *)id}, v = {sizeof val, val};
	int rc = mdb_put(t->txn, t->s->seen, &k, &v, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return 0;
	if (rc)
		return map_err(rc);
	MDB_val ok = {8, okey}, ov = {STORE_ID_LEN, (void *)id};
	if ((rc = mdb_put(t->txn, t->s->seen_order, &ok, &ov, MDB_APPEND)))
		return map_err(rc);
	int r = prune_seen(t, t->next_order);
	if (r)
		return r;
	t->next_order++;
	t->seen_touched = true;
	return 1;
}

int store_cursor_put(struct store_txn *t, const char *key, uint64_t seq)
{
	unsigned char val[9] = {VALUE_VERSION};
	put_be64(val + 1, seq);
	MDB_val k = {strlen(key), (void *)key}, v = {sizeof val, val};
	return map_err(mdb_put(t->txn, t->s->cursors, &k, &v, 0));
}

static void touched_free(struct store_txn *t)
{
	for (size_t i = 0; i < t->n_touched; i++)
		free(t->touched[i]);
	free(t->touched);
}

/* Hand this transaction's touched users to readers, then bump the
 * generation they poll (in that order, so a reader that sees the new
 * generation finds the names). */
static void publish_changes(struct store_txn *t)
{
	struct store *s = t->s;
	pthread_mutex_lock(&s->changed_lock);
	if (t->touched_all || s->n_changed + t->n_touched > CHANGED_MAX) {
		s->changed_all = true;
	} else {
		char **v = realloc(s->changed, (s->n_changed + t->n_touched + 1) * sizeof *v);
		if (!v) {
			s->changed_all = true;
		} else {
			s->changed = v;
			for (size_t i = 0; i < t->n_touched; i++) {
				bool dup = false;
				for (size_t j = 0; j < s->n_changed && !dup; j++)
					dup = !strcmp(v[j], t->touched[i]);
				if (dup)
					continue;
				v[s->n_changed++] = t->touched[i];
				t->touched[i] = NULL;
			}
		}
	}
	pthread_mutex_unlock(&s->changed_lock);
	atomic_fetch_add(&s->doc_generation, 1);
}

int store_take_changed(struct store *s, char ***users, size_t *n, bool *all)
{
	pthread_mutex_lock(&s->changed_lock);
	*users = s->changed;
	*n = s->n_changed;
	*all = s->changed_all;
	s->changed = NULL;
	s->n_changed = 0;
	s->changed_all = false;
	pthread_mutex_unlock(&s->changed_lock);
	return 0;
}

/* Remember which user a document key belongs to: users are keyed by name,
 * destinations and subscriptions by "name\0id". */
static void touch(struct store_txn *t, enum store_table tab, const void *key, size_t klen)
{
	if (tab >= STORE_WATCHED_TABLES)
		return; /* nothing derived from it: no index rebuild */
	t->docs_touched = true;
	if (t->touched_all)
		return;
	size_t len = strnlen(key, klen);
	for (size_t i = 0; i < t->n_touched; i++)
		if (strlen(t->touched[i]) == len && !memcmp(t->touched[i], key, len))
			return;
	char **v = realloc(t->touched, (t->n_touched + 1) * sizeof *v);
	char *name = v ? strndup(key, len) : NULL;
	if (v)
		t->touched = v;
	if (!name || t->n_touched >= CHANGED_MAX) {
		free(name);
		t->touched_all = true;
		return;
	}
	t->touched[t->n_touched++] = name;
}

int store_commit(struct store_txn *t)
{
	int rc = 0;
	if (t->seen_touched)
		rc = meta_put_u64(t->txn, t->s->meta, "seen_next", t->next_order);
	if (rc) {
		mdb_txn_abort(t->txn);
	} else {
		/* Moved on while LMDB's writer lock is still held: the next
		 * store_begin, on any thread, reads it under that lock. If the
		 * commit fails the numbers skip ahead, which is harmless (pruning
		 * a number never used finds nothing); going back would race. */
		if (t->seen_touched)
			t->s->next_order = t->next_order;
		rc = map_err(mdb_txn_commit(t->txn));
		if (!rc && t->docs_touched)
			publish_changes(t);
	}
	touched_free(t);
	free(t);
	return rc;
}

void store_abort(struct store_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	touched_free(t);
	free(t);
}

/* ---- documents ---- */

int store_doc_put(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		  const char *json, size_t len)
{
	MDB_val k = {klen, (void *)key}, v = {len + 1, NULL};
	int rc = mdb_put(t->txn, t->s->tables[tab], &k, &v, MDB_RESERVE);
	if (rc)
		return map_err(rc);
	((unsigned char *)v.mv_data)[0] = VALUE_VERSION;
	memcpy((char *)v.mv_data + 1, json, len);
	touch(t, tab, key, klen);
	return 0;
}

int store_doc_del(struct store_txn *t, enum store_table tab, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key};
	int rc = mdb_del(t->txn, t->s->tables[tab], &k, NULL);
	if (!rc)
		touch(t, tab, key, klen);
	return map_err(rc);
}

static int doc_value(const MDB_val *v, const char **json, size_t *len)
{
	if (v->mv_size < 1 || ((unsigned char *)v->mv_data)[0] != VALUE_VERSION)
		return -EPROTO;
	*json = (const char *)v->mv_data + 1;
	*len = v->mv_size - 1;
	return 0;
}

static int get_in(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, struct buf *out)
{
	MDB_val k = {klen, (void *)key}, v;
	const char *json;
	size_t len;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return map_err(rc);
	if ((rc = doc_value(&v, &json, &len)))
		return rc;
	buf_reset(out);
	return buf_append(out, json, len);
}

int store_doc_get_txn(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		      struct buf *out)
{
	return get_in(t->txn, t->s->tables[tab], key, klen, out);
}

int store_doc_get(struct store *s, enum store_table tab, const void *key, size_t klen,
		  struct buf *out)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return map_err(rc);
	rc = get_in(txn, s->tables[tab], key, klen, out);
	mdb_txn_abort(txn);
	return rc;
}

/* The walk behind store_doc_foreach(_after): from the first key >= start
 * (or > start when `skip_equal`), while keys carry `prefix`. */
static int doc_walk(struct store *s, enum store_table tab, const void *start, size_t slen,
		    bool skip_equal, const void *prefix, size_t plen, store_doc_cb cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return map_err(rc);
	if ((rc = mdb_cursor_open(txn, s->tables[tab], &cur))) {
		mdb_txn_abort(txn);
		return map_err(rc);
	}
	MDB_val k = {slen, (void *)start}, v;
	int r = 0;
	rc = mdb_cursor_get(cur, &k, &v, slen ? MDB_SET_RANGE : MDB_FIRST);
	if (!rc && skip_equal && k.mv_size == slen && !memcmp(k.mv_data, start, slen))
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	while (!rc && !r) {
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen)))
			break;
		const char *json;
		size_t len;
		r = doc_value(&v, &json, &len);
		if (!r)
			r = cb(arg, k.mv_data, k.mv_size, json, len);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (r)
		return r;
	return rc == MDB_NOTFOUND ? 0 : map_err(rc);
}

int store_doc_foreach(struct store *s, enum store_table tab, const void *prefix, size_t plen,
		      store_doc_cb cb, void *arg)
{
	return doc_walk(s, tab, prefix, plen, false, prefix, plen, cb, arg);
}

int store_doc_foreach_after(struct store *s, enum store_table tab, const void *after,
			    size_t alen, store_doc_cb cb, void *arg)
{
	return doc_walk(s, tab, after, alen, true, NULL, 0, cb, arg);
}

int store_next_id(struct store_txn *t, uint64_t *id)
{
	uint64_t next = 1;
	int rc = meta_get_u64(t->txn, t->s->meta, "next_id", &next);
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == -ENOENT)
		next = 1;
	if ((rc = meta_put_u64(t->txn, t->s->meta, "next_id", next + 1)))
		return rc;
	*id = next;
	return 0;
}

/* ---- small key-value tables: their own transactions, never docs_touched ---- */

int store_kv_put(struct store *s, enum store_kv tab, const void *key, size_t klen,
		 const void *val, size_t vlen)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return map_err(rc);
	MDB_val k = {klen, (void *)key}, v = {vlen + 1, NULL};
	if ((rc = mdb_put(txn, s->kv[tab], &k, &v, MDB_RESERVE))) {
		mdb_txn_abort(txn);
		return map_err(rc);
	}
	((unsigned char *)v.mv_data)[0] = VALUE_VERSION;
	memcpy((char *)v.mv_data + 1, val, vlen);
	return map_err(mdb_txn_commit(txn));
}

/* The value without its format byte, appended to out. */
static int kv_value(const MDB_val *v, struct buf *out)
{
	if (v->mv_size < 1 || ((unsigned char *)v->mv_data)[0] != VALUE_VERSION)
		return -EPROTO;
	return buf_append(out, (char *)v->mv_data + 1, v->mv_size - 1);
}

int store_kv_get(struct store *s, enum store_kv tab, const void *key, size_t klen,
		 struct buf *out)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return map_err(rc);
	MDB_val k = {klen, (void *)key}, v;
	int r = map_err(mdb_get(txn, s->kv[tab], &k, &v));
	if (!r)
		r = kv_value(&v, out);
	mdb_txn_abort(txn);
	return r;
}

int store_kv_take(struct store *s, enum store_kv tab, const void *key, size_t klen,
		  struct buf *out)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return map_err(rc);
	MDB_val k = {klen, (void *)key}, v;
	int r = map_err(mdb_get(txn, s->kv[tab], &k, &v));
	if (!r)
		r = kv_value(&v, out);
	if (r != -ENOENT && (rc = mdb_del(txn, s->kv[tab], &k, NULL))) {
		mdb_txn_abort(txn);
		return map_err(rc);
	}
	if (r == -ENOENT) {
		mdb_txn_abort(txn);
		return r;
	}
	rc = map_err(mdb_txn_commit(txn));
	return rc ? rc : r;
}

int store_kv_del(struct store *s, enum store_kv tab, const void *key, size_t klen)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return map_err(rc);
	MDB_val k = {klen, (void *)key};
	if ((rc = mdb_del(txn, s->kv[tab], &k, NULL))) {
		mdb_txn_abort(txn);
		return map_err(rc);
	}
	return map_err(mdb_txn_commit(txn));
}

/* LMDB's default key order: bytes, then length. */
static int key_cmp(const MDB_val *k, const void *b, size_t blen)
{
	size_t n = k->mv_size < blen ? k->mv_size : blen;
	int c = memcmp(k->mv_data, b, n);
	return c ? c : (k->mv_size > blen) - (k->mv_size < blen);
}

/* One entry under the cursor: delete it when `drop` says so. */
static int prune_one(MDB_cursor *cur, const MDB_val *v, store_kv_drop_cb drop, void *arg,
		     size_t *n)
{
	bool bad = v->mv_size < 1 || ((unsigned char *)v->mv_data)[0] != VALUE_VERSION;
	if (!bad && !drop(arg, (char *)v->mv_data + 1, v->mv_size - 1))
		return 0;
	int rc = mdb_cursor_del(cur, 0);
	if (!rc)
		(*n)++;
	return rc;
}

int store_kv_prune(struct store *s, enum store_kv tab, const void *from, size_t fromlen,
		   size_t max, store_kv_drop_cb drop, void *arg, size_t *n)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k = {fromlen, (void *)from}, v;
	size_t seen = 0;
	bool wrapped = !from;
	*n = 0;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		return map_err(rc);
	if ((rc = mdb_cursor_open(txn, s->kv[tab], &cur)))
		goto fail;
	rc = mdb_cursor_get(cur, &k, &v, from ? MDB_SET_RANGE : MDB_FIRST);
	while (!max || seen < max) {
		if (rc == MDB_NOTFOUND && !wrapped) {
			wrapped = true;
			rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
			continue;
		}
		/* Back where it started: every entry was looked at. */
		if (rc || (wrapped && from && key_cmp(&k, from, fromlen) >= 0))
			break;
		seen++;
		if ((rc = prune_one(cur, &v, drop, arg, n)))
			goto fail;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(cur);
	return map_err(mdb_txn_commit(txn));
fail:
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*n = 0;
	return map_err(rc);
}

int store_kv_count(struct store *s, enum store_kv tab, size_t *n)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return map_err(rc);
	if (!(rc = mdb_stat(txn, s->kv[tab], &st)))
		*n = st.ms_entries;
	mdb_txn_abort(txn);
	return map_err(rc);
}

uint64_t store_doc_generation(struct store *s)
{
	return atomic_load(&s->doc_generation);
}

/* ---- for outbox.c (store_int.h) ---- */

MDB_env *store_env(struct store *s)
{
	return s->env;
}

MDB_dbi store_db(const struct store *s, enum store_db which)
{
	return s->dbs[which];
}

MDB_txn *store_txn_mdb(struct store_txn *t)
{
	return t->txn;
}

struct store *store_txn_store(struct store_txn *t)
{
	return t->s;
}

int store_map_err(int mdb_rc)
{
	return map_err(mdb_rc);
}

int store_counter_next(struct store_txn *t, const char *name, uint64_t *value)
{
	int rc = meta_get_u64(t->txn, t->s->meta, name, value);
	if (rc == -ENOENT) {
		*value = 0;
		rc = 0;
	}
	return rc ? rc : meta_put_u64(t->txn, t->s->meta, name, *value + 1);
}

/* Pages on LMDB's freelist (as mdb_stat -f counts them): each record of
 * the free DB is an array of page numbers whose first word is its length. */
static int free_pages(MDB_txn *txn, size_t *n)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, 0, &c);
	*n = 0;
	if (rc)
		return rc;
	while (!(rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)))
		if (v.mv_size >= sizeof(size_t))
			*n += *(const size_t *)v.mv_data;
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_usage(struct store *s, double *fraction)
{
	MDB_envinfo info;
	MDB_stat st;
	MDB_txn *txn;
	size_t nfree = 0;
	int rc = mdb_env_info(s->env, &info);
	if (!rc)
		rc = mdb_env_stat(s->env, &st);
	if (!rc && !(rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))) {
		rc = free_pages(txn, &nfree);
		mdb_txn_abort(txn);
	}
	if (rc)
		return map_err(rc);
	size_t used = info.me_last_pgno + 1 > nfree ? info.me_last_pgno + 1 - nfree : 0;
	*fraction = (double)used * st.ms_psize / (double)info.me_mapsize;
	return 0;
}
