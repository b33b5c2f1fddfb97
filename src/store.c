/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store: all of heraldd's LMDB access (see store.h). Keys are big-endian
 * fixed-width where order matters; values start with a format-version byte.
 */
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VALUE_VERSION 1

struct store {
	MDB_env *env;
	MDB_dbi meta, cursors, seen, seen_order;
	size_t window;
	uint64_t next_order; /* order number of the next new id */
};

struct store_txn {
	struct store *s;
	MDB_txn *txn;
	uint64_t next_order;
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
	return strerror(-rc);
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
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

/* Create the named DBs; stamp or check the schema version. */
static int init_dbs(struct store *s, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		goto out;
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) ||
	    (rc = mdb_dbi_open(txn, "cursors", MDB_CREATE, &s->cursors)) ||
	    (rc = mdb_dbi_open(txn, "seen", MDB_CREATE, &s->seen)) ||
	    (rc = mdb_dbi_open(txn, "seen_order", MDB_CREATE, &s->seen_order)))
		goto abort;
	uint64_t version;
	int r = meta_get_u64(txn, s->meta, "schema_version", &version);
	if (r == -ENOENT) {
		if ((r = meta_put_u64(txn, s->meta, "schema_version", STORE_SCHEMA_VERSION)))
			goto abort_r;
	} else if (r) {
		goto abort_r;
	} else if (version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "store schema version %llu is newer than this heraldd (%d): "
				      "upgrade herald or restore a backup",
			 (unsigned long long)version, STORE_SCHEMA_VERSION);
		mdb_txn_abort(txn);
		return -EPROTO;
	}
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
	if (snprintf(path, sizeof path, "%s/herald.mdb", dir) >= (int)sizeof path) {
		snprintf(err, errlen, "store: state_dir path too long");
		rc = -ENAMETOOLONG;
		goto fail;
	}
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 16)) ||
	    (rc = mdb_env_set_mapsize(s->env, map_size)) ||
	    (rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600))) {
		snprintf(err, errlen, "store '%s': %s", path, mdb_strerror(rc));
		rc = map_err(rc);
		goto fail;
	}
	if ((rc = init_dbs(s, err, errlen)))
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
	return 1;
}

int store_cursor_put(struct store_txn *t, const char *key, uint64_t seq)
{
	unsigned char val[9] = {VALUE_VERSION};
	put_be64(val + 1, seq);
	MDB_val k = {strlen(key), (void *)key}, v = {sizeof val, val};
	return map_err(mdb_put(t->txn, t->s->cursors, &k, &v, 0));
}

int store_commit(struct store_txn *t)
{
	int rc = 0;
	if (t->next_order != t->s->next_order)
		rc = meta_put_u64(t->txn, t->s->meta, "seen_next", t->next_order);
	if (rc) {
		mdb_txn_abort(t->txn);
	} else {
		rc = map_err(mdb_txn_commit(t->txn));
		if (!rc)
			t->s->next_order = t->next_order;
	}
	free(t);
	return rc;
}

void store_abort(struct store_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}
