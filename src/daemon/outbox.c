/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outbox: the durable queue of notifications (see outbox.h for the tables).
 * Every function is one read or write transaction, or runs inside the
 * caller's; a failure leaves the tables as they were.
 */
#include "outbox.h"
#include "src/common/be64.h"

#include <errno.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define VER 1
#define DUE_KEY_LEN (8 + 1 + OUTBOX_ID_LEN)
#define KIND_NOTE 'n'
#define KIND_DIGEST 'd'

void outbox_hex(const unsigned char id[OUTBOX_ID_LEN], char hex[OUTBOX_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < OUTBOX_ID_LEN; i++) {
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 15];
	}
	hex[OUTBOX_HEX_LEN] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int outbox_unhex(const char *hex, unsigned char id[OUTBOX_ID_LEN])
{
	if (!hex || strlen(hex) != OUTBOX_HEX_LEN)
		return -EINVAL;
	for (int i = 0; i < OUTBOX_ID_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		id[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static void derive_id(const void *a, size_t alen, const void *b, size_t blen, uint64_t n,
		      unsigned char id[OUTBOX_ID_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE], nb[8];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	put_be64(nb, n);
	/* Only allocation can fail here; then the id falls back to the inputs'
	 * bytes, still deterministic. */
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, a, alen) &&
	    EVP_DigestUpdate(c, "", 1) && EVP_DigestUpdate(c, b, blen) &&
	    EVP_DigestUpdate(c, nb, 8) && EVP_DigestFinal_ex(c, md, &mdlen)) {
		memcpy(id, md, OUTBOX_ID_LEN);
	} else {
		memset(id, 0, OUTBOX_ID_LEN);
		memcpy(id, a, alen < OUTBOX_ID_LEN ? alen : OUTBOX_ID_LEN);
		memcpy(id + 8, nb, 8);
	}
	EVP_MD_CTX_free(c);
}

void outbox_note_id(const unsigned char msg_key[16], const char *user, uint64_t dest,
		    unsigned char id[OUTBOX_ID_LEN])
{
	derive_id(msg_key, 16, user, strlen(user), dest, id);
}

/* ---- small LMDB helpers ---- */

static MDB_dbi db(struct store_txn *t, enum store_db w)
{
	return store_db(store_txn_store(t), w);
}

static int get_doc(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, json_t **out)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return store_map_err(rc);
	if (v.mv_size < 2 || ((unsigned char *)v.mv_data)[0] != VER)
		return -EPROTO;
	*out = json_loadb((const char *)v.mv_data + 1, v.mv_size - 1, 0, NULL);
	return *out ? 0 : -EPROTO;
}

static int put_raw(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const char *s,
		   size_t len, unsigned flags)
{
	MDB_val k = {klen, (void *)key}, v = {len + 1, NULL};
	int rc = mdb_put(txn, dbi, &k, &v, flags | MDB_RESERVE);
	if (rc)
		return store_map_err(rc);
	((unsigned char *)v.mv_data)[0] = VER;
	memcpy((char *)v.mv_data + 1, s, len);
	return 0;
}

static int put_doc(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	int rc = put_raw(txn, dbi, key, klen, s, strlen(s), 0);
	free(s);
	return rc;
}

static int del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key};
	int rc = mdb_del(txn, dbi, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : store_map_err(rc);
}

static void due_key(unsigned char k[DUE_KEY_LEN], uint64_t due, bool digest,
		    const unsigned char id[OUTBOX_ID_LEN])
{
	put_be64(k, due);
	k[8] = digest ? KIND_DIGEST : KIND_NOTE;
	memcpy(k + 9, id, OUTBOX_ID_LEN);
}

/* `when`: id -> [due][seq]. Notes are stored by sequence number, in
 * arrival order, so a batch of new notes appends to the table instead of
 * touching a random page per note (their ids are hashes); `when` finds a
 * note (seq, 0 for a digest) and its schedule key (due) from its id, so an
 * entry can move in the schedule without rewriting its document. */
struct idx {
	uint64_t due, seq;
};

static int idx_get(MDB_txn *txn, MDB_dbi dbi, const unsigned char id[OUTBOX_ID_LEN],
		   struct idx *x)
{
	MDB_val k = {OUTBOX_ID_LEN, (void *)id}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return store_map_err(rc);
	if (v.mv_size != 17 || ((unsigned char *)v.mv_data)[0] != VER)
		return -EPROTO;
	x->due = get_be64((unsigned char *)v.mv_data + 1);
	x->seq = get_be64((unsigned char *)v.mv_data + 9);
	return 0;
}

static int idx_put(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		   const struct idx *x)
{
	unsigned char w[16];
	put_be64(w, x->due);
	put_be64(w + 8, x->seq);
	return put_raw(store_txn_mdb(t), db(t, STORE_DB_WHEN), id, OUTBOX_ID_LEN, (const char *)w,
		       sizeof w, 0);
}

static int when_get(MDB_txn *txn, MDB_dbi dbi, const unsigned char id[OUTBOX_ID_LEN],
		    uint64_t *due)
{
	struct idx x;
	int rc = idx_get(txn, dbi, id, &x);
	if (!rc)
		*due = x.due;
	return rc;
}

/* Schedule an entry at `due` (its `when` keeps the note's seq). */
static int due_put(struct store_txn *t, uint64_t due, bool digest,
		   const unsigned char id[OUTBOX_ID_LEN], const char *user, uint64_t dest)
{
	unsigned char k[DUE_KEY_LEN], v[8 + 65];
	size_t ul = strnlen(user, 64);
	struct idx x = {due, 0};
	due_key(k, due, digest, id);
	put_be64(v, dest);
	memcpy(v + 8, user, ul);
	int rc = put_raw(store_txn_mdb(t), db(t, STORE_DB_DUE), k, sizeof k, (const char *)v,
			 8 + ul, 0);
	if (rc)
		return rc;
	rc = idx_get(store_txn_mdb(t), db(t, STORE_DB_WHEN), id, &x);
	if (rc && rc != -ENOENT)
		return rc;
	x.due = due;
	return idx_put(t, id, &x);
}

/* Take an entry off the schedule (its `when` stays: note_remove or
 * digest_del removes it with the entry). */
static int due_del(struct store_txn *t, uint64_t due, bool digest,
		   const unsigned char id[OUTBOX_ID_LEN])
{
	unsigned char k[DUE_KEY_LEN];
	due_key(k, due, digest, id);
	return del(store_txn_mdb(t), db(t, STORE_DB_DUE), k, sizeof k);
}

/* ---- notes by id, stored by seq ---- */

static int note_get(MDB_txn *txn, struct store *s, const unsigned char id[OUTBOX_ID_LEN],
		    json_t **doc)
{
	struct idx x;
	unsigned char k[8];
	int rc = idx_get(txn, store_db(s, STORE_DB_WHEN), id, &x);
	if (rc)
		return rc;
	if (!x.seq)
		return -ENOENT;
	put_be64(k, x.seq);
	return get_doc(txn, store_db(s, STORE_DB_NOTES), k, sizeof k, doc);
}

/* A new note under the next seq, due at `due` (0 for a digest member). */
static int note_add(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN], const char *json,
		    size_t len, uint64_t due)
{
	struct idx x = {due, 0};
	unsigned char k[8];
	int rc = store_counter_next(t, "note_next", &x.seq);
	if (rc)
		return rc;
	x.seq++; /* 0 means "not a note" in `when` */
	put_be64(k, x.seq);
	rc = put_raw(store_txn_mdb(t), db(t, STORE_DB_NOTES), k, sizeof k, json, len,
		     MDB_APPEND);
	return rc ? rc : idx_put(t, id, &x);
}

static int note_update(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		       const json_t *doc)
{
	struct idx x;
	unsigned char k[8];
	int rc = idx_get(store_txn_mdb(t), db(t, STORE_DB_WHEN), id, &x);
	if (rc)
		return rc;
	put_be64(k, x.seq);
	return put_doc(store_txn_mdb(t), db(t, STORE_DB_NOTES), k, sizeof k, doc);
}

static int note_remove(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN])
{
	struct idx x;
	unsigned char k[8];
	int rc = idx_get(store_txn_mdb(t), db(t, STORE_DB_WHEN), id, &x);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	put_be64(k, x.seq);
	rc = del(store_txn_mdb(t), db(t, STORE_DB_NOTES), k, sizeof k);
	return rc ? rc : del(store_txn_mdb(t), db(t, STORE_DB_WHEN), id, OUTBOX_ID_LEN);
}

static bool decode_due(const MDB_val *k, const MDB_val *v, struct outbox_entry *e)
{
	if (k->mv_size != DUE_KEY_LEN || v->mv_size < 1 + 8 || v->mv_size > 1 + 8 + 64)
		return false;
	const unsigned char *kp = k->mv_data, *vp = (const unsigned char *)v->mv_data + 1;
	e->due = get_be64(kp);
	e->digest = kp[8] == KIND_DIGEST;
	memcpy(e->id, kp + 9, OUTBOX_ID_LEN);
	e->dest = get_be64(vp);
	memcpy(e->user, vp + 8, v->mv_size - 9);
	e->user[v->mv_size - 9] = '\0';
	return true;
}

static size_t dest_key(unsigned char *k, const char *user, uint64_t dest)
{
	size_t ul = strnlen(user, 64);
	memcpy(k, user, ul);
	k[ul] = 0;
	put_be64(k + ul + 1, dest);
	return ul + 9;
}

/* Unsigned fields of documents; OUTBOX_PARKED is kept as -1. */
static uint64_t doc_u64(const json_t *doc, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(doc, key));
	return v == -1 ? OUTBOX_PARKED : v > 0 ? (uint64_t)v : 0;
}

static int set_u64(json_t *doc, const char *key, uint64_t v)
{
	json_int_t j = v == OUTBOX_PARKED ? -1 : v > INT64_MAX ? INT64_MAX : (json_int_t)v;
	return json_object_set_new(doc, key, json_integer(j)) ? -ENOMEM : 0;
}

static int rd_begin(struct store *s, MDB_txn **txn)
{
	return store_map_err(mdb_txn_begin(store_env(s), NULL, MDB_RDONLY, txn));
}

/* Run fn inside a write transaction of its own. */
static int in_write(struct store *s, int (*fn)(struct store_txn *t, void *arg), void *arg)
{
	struct store_txn *t;
	int rc = store_begin(s, &t);
	if (rc)
		return rc;
	if ((rc = fn(t, arg)) < 0) {
		store_abort(t);
		return rc;
	}
	int c = store_commit(t);
	return c ? c : rc;
}

/* ---- digests ---- */

/* Add note `id` to the open digest of (user, dest), opening one if needed.
 * The digest is due at the earlier of its due time and `due`; reaching
 * `max` members closes it and makes it due now. */
/* The open digest of a destination: 0 with its id, -ENOENT, or an error. */
static int open_digest_get(MDB_txn *txn, MDB_dbi dbi, const unsigned char *dk, size_t dkl,
			   unsigned char did[OUTBOX_ID_LEN])
{
	MDB_val k = {dkl, (void *)dk}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return store_map_err(rc);
	if (v.mv_size != 1 + OUTBOX_ID_LEN || ((unsigned char *)v.mv_data)[0] != VER)
		return -EPROTO;
	memcpy(did, (unsigned char *)v.mv_data + 1, OUTBOX_ID_LEN);
	return 0;
}

static int digest_add(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		      const char *user, uint64_t dest, uint64_t due, uint32_t max, uint64_t now,
		      json_t *note)
{
	MDB_txn *txn = store_txn_mdb(t);
	unsigned char dk[64 + 9], did[OUTBOX_ID_LEN];
	size_t dkl = dest_key(dk, user, dest);
	json_t *dig = NULL;
	int rc = open_digest_get(txn, db(t, STORE_DB_OPEN_DIGEST), dk, dkl, did);
	if (!rc) {
		if ((rc = get_doc(txn, db(t, STORE_DB_DIGESTS), did, sizeof did, &dig)))
			return rc;
	} else if (rc == -ENOENT) {
		derive_id(id, OUTBOX_ID_LEN, "digest", 6, now, did);
		char hex[OUTBOX_HEX_LEN + 1];
		outbox_hex(did, hex);
		dig = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "id", hex, "user", user,
				"destination", (json_int_t)dest, "count", (json_int_t)0, "created",
				(json_int_t)now, "attempts", (json_int_t)0);
		if (!dig)
			return -ENOMEM;
		if ((rc = put_raw(txn, db(t, STORE_DB_OPEN_DIGEST), dk, dkl, (const char *)did,
				  OUTBOX_ID_LEN, 0)) ||
		    (rc = due_put(t, due, true, did, user, dest))) {
			json_decref(dig);
			return rc;
		}
	} else {
		return rc;
	}
	uint64_t count = doc_u64(dig, "count") + 1, old_due = due;
	if (!rc && (rc = when_get(txn, db(t, STORE_DB_WHEN), did, &old_due))) {
		json_decref(dig);
		return rc;
	}
	uint64_t new_due = count >= max ? now : (due < old_due ? due : old_due);
	unsigned char mk[2 * OUTBOX_ID_LEN], order[8];
	char hex[OUTBOX_HEX_LEN + 1];
	memcpy(mk, did, OUTBOX_ID_LEN);
	memcpy(mk + OUTBOX_ID_LEN, id, OUTBOX_ID_LEN);
	put_be64(order, count);
	outbox_hex(did, hex);
	rc = put_raw(txn, db(t, STORE_DB_MEMBERS), mk, sizeof mk, (const char *)order, 8, 0);
	if (!rc && json_object_set_new(note, "digest", json_string(hex)))
		rc = -ENOMEM;
	if (!rc && new_due != old_due &&
	    !(rc = due_del(t, old_due, true, did)))
		rc = due_put(t, new_due, true, did, user, dest);
	if (!rc && count >= max) /* closed: the next note opens a new one */
		rc = del(txn, db(t, STORE_DB_OPEN_DIGEST), dk, dkl);
	if (!rc && !(rc = set_u64(dig, "count", count)))
		rc = put_doc(txn, db(t, STORE_DB_DIGESTS), did, sizeof did, dig);
	json_decref(dig);
	return rc;
}

int outbox_put(struct store_txn *t, const struct outbox_add *a)
{
	struct idx x;
	int rc = idx_get(store_txn_mdb(t), db(t, STORE_DB_WHEN), a->id, &x);
	if (rc == 0)
		return 0; /* this match is pending already */
	if (rc != -ENOENT)
		return rc;
	if (!a->digest_interval) {
		if ((rc = note_add(t, a->id, a->json, a->len, a->now)))
			return rc;
		rc = due_put(t, a->now, false, a->id, a->user, a->dest);
		return rc ? rc : 1;
	}
	json_t *note = json_loadb(a->json, a->len, 0, NULL);
	if (!note)
		return -EINVAL;
	uint64_t due = a->now + (uint64_t)a->digest_interval * 1000;
	char *s = NULL;
	rc = digest_add(t, a->id, a->user, a->dest, due, a->digest_max, a->now, note);
	if (!rc && !(s = json_dumps(note, JSON_COMPACT)))
		rc = -ENOMEM;
	if (!rc)
		rc = note_add(t, a->id, s, strlen(s), 0);
	free(s);
	json_decref(note);
	return rc ? rc : 1;
}

/* ---- dispatching ---- */

int outbox_due(struct store *s, uint64_t now, struct outbox_entry *out, size_t max, size_t *n,
	       bool (*skip)(void *arg, const struct outbox_entry *e), void *arg, uint64_t *next)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	*n = 0;
	*next = UINT64_MAX;
	int rc = rd_begin(s, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, store_db(s, STORE_DB_DUE), &c))) {
		mdb_txn_abort(txn);
		return store_map_err(rc);
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct outbox_entry e;
		if (!decode_due(&k, &v, &e))
			continue;
		if (e.due > now) {
			*next = e.due;
			break;
		}
		if (skip && skip(arg, &e))
			continue;
		if (*n == max) {
			*next = now;
			break;
		}
		out[(*n)++] = e;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : store_map_err(rc);
}

struct member {
	uint64_t order;
	unsigned char id[OUTBOX_ID_LEN];
};

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The member ids of digest `did`, oldest first (malloc'd). */
static int members_of(MDB_txn *txn, MDB_dbi dbi, const unsigned char did[OUTBOX_ID_LEN],
		      struct member **out, size_t *n)
{
	MDB_cursor *c;
	MDB_val k = {OUTBOX_ID_LEN, (void *)did}, v;
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	int rc = mdb_cursor_open(txn, dbi, &c);
	if (rc)
		return store_map_err(rc);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 2 * OUTBOX_ID_LEN || memcmp(k.mv_data, did, OUTBOX_ID_LEN))
			break;
		if (*n == cap) {
			struct member *m = realloc(*out, (cap = cap ? cap * 2 : 16) * sizeof *m);
			if (!m) {
				rc = ENOMEM;
				break;
			}
			*out = m;
		}
		(*out)[*n].order = v.mv_size == 9 ? get_be64((unsigned char *)v.mv_data + 1) : 0;
		memcpy((*out)[(*n)++].id, (unsigned char *)k.mv_data + OUTBOX_ID_LEN, OUTBOX_ID_LEN);
	}
	mdb_cursor_close(c);
	if (rc == ENOMEM)
		return -ENOMEM;
	if (*n > 1)
		qsort(*out, *n, sizeof **out, cmp_member);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : store_map_err(rc);
}

static int load_in(MDB_txn *txn, struct store *s, const struct outbox_entry *e, size_t max,
		   json_t *arr, bool *more)
{
	json_t *doc;
	int rc;
	*more = false;
	if (!e->digest) {
		if ((rc = note_get(txn, s, e->id, &doc)))
			return rc;
		return json_array_append_new(arr, doc) ? -ENOMEM : 0;
	}
	struct member *m;
	size_t n;
	if ((rc = members_of(txn, store_db(s, STORE_DB_MEMBERS), e->id, &m, &n)))
		return rc;
	for (size_t i = 0; !rc && i < n && i < max; i++)
		if (!(rc = note_get(txn, s, m[i].id, &doc)))
			rc = json_array_append_new(arr, doc) ? -ENOMEM : 0;
	*more = n > max;
	free(m);
	if (!rc && !json_array_size(arr))
		rc = -ENOENT;
	return rc;
}

/* load_in into a new array: *notes, or an error and nothing. */
static int load_new(MDB_txn *txn, struct store *s, const struct outbox_entry *e, size_t max,
		    json_t **notes, bool *more)
{
	json_t *arr = json_array();
	int rc = arr ? load_in(txn, s, e, max, arr, more) : -ENOMEM;
	if (rc)
		json_decref(arr);
	else
		*notes = arr;
	return rc;
}

int outbox_load(struct store *s, const struct outbox_entry *e, size_t max, json_t **notes,
		bool *more)
{
	MDB_txn *txn;
	int rc = rd_begin(s, &txn);
	if (rc)
		return rc;
	rc = load_new(txn, s, e, max, notes, more);
	mdb_txn_abort(txn);
	return rc;
}

int outbox_load_txn(struct store_txn *t, const struct outbox_entry *e, size_t max, json_t **notes,
		    bool *more)
{
	return load_new(store_txn_mdb(t), store_txn_store(t), e, max, notes, more);
}

/* Remove note `id` (and its membership in digest `did`, if any). */
static int note_del(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		    const unsigned char *did)
{
	int rc = note_remove(t, id);
	if (!rc && did) {
		unsigned char mk[2 * OUTBOX_ID_LEN];
		memcpy(mk, did, OUTBOX_ID_LEN);
		memcpy(mk + OUTBOX_ID_LEN, id, OUTBOX_ID_LEN);
		rc = del(store_txn_mdb(t), db(t, STORE_DB_MEMBERS), mk, sizeof mk);
	}
	return rc;
}

/* Delete a digest: its document, schedule entry and open marker. */
static int digest_del(struct store_txn *t, const unsigned char did[OUTBOX_ID_LEN], uint64_t due,
		      const char *user, uint64_t dest)
{
	MDB_txn *txn = store_txn_mdb(t);
	unsigned char dk[64 + 9], open[OUTBOX_ID_LEN];
	size_t dkl = dest_key(dk, user, dest);
	int rc = del(txn, db(t, STORE_DB_DIGESTS), did, OUTBOX_ID_LEN);
	if (!rc)
		rc = due_del(t, due, true, did);
	if (!rc)
		rc = del(txn, db(t, STORE_DB_WHEN), did, OUTBOX_ID_LEN);
	if (!rc && !open_digest_get(txn, db(t, STORE_DB_OPEN_DIGEST), dk, dkl, open) &&
	    !memcmp(open, did, OUTBOX_ID_LEN))
		rc = del(txn, db(t, STORE_DB_OPEN_DIGEST), dk, dkl);
	return rc;
}

static int note_id_of(const json_t *note, unsigned char id[OUTBOX_ID_LEN])
{
	return outbox_unhex(json_string_value(json_object_get(note, "id")), id);
}

/* Does digest `did` still have members? 1, 0, or an error. */
static int has_members(MDB_txn *txn, MDB_dbi dbi, const unsigned char did[OUTBOX_ID_LEN])
{
	MDB_cursor *c;
	MDB_val k = {OUTBOX_ID_LEN, (void *)did}, v;
	int rc = mdb_cursor_open(txn, dbi, &c);
	if (rc)
		return store_map_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	int found = !rc && k.mv_size == 2 * OUTBOX_ID_LEN && !memcmp(k.mv_data, did, OUTBOX_ID_LEN);
	mdb_cursor_close(c);
	return rc && rc != MDB_NOTFOUND ? store_map_err(rc) : found;
}

/* Remove every note in `notes` and then the entry itself. A digest goes
 * only when nothing is left in it: beyond what was loaded (`more`), notes
 * may have joined it while it was out for delivery, and they must not be
 * left behind in a digest that no longer exists; else it is due again now. */
static int remove_entry(struct store_txn *t, const struct outbox_entry *e, const json_t *notes,
			bool more, uint64_t now)
{
	size_t i;
	json_t *note;
	unsigned char id[OUTBOX_ID_LEN];
	int rc = 0;
	json_array_foreach(notes, i, note) {
		if (!rc && !(rc = note_id_of(note, id)))
			rc = note_del(t, id, e->digest ? e->id : NULL);
	}
	if (rc)
		return rc;
	if (!e->digest)
		return due_del(t, e->due, false, e->id);
	int left = more ? 1 : has_members(store_txn_mdb(t), db(t, STORE_DB_MEMBERS), e->id);
	if (left < 0)
		return left;
	if (left)
		return outbox_reschedule(t, e, now, 0, NULL);
	return digest_del(t, e->id, e->due, e->user, e->dest);
}

static int log_delivery(struct store_txn *t, const struct outbox_entry *e, size_t count,
			uint64_t attempts, const char *sink, uint64_t now, size_t log_max)
{
	uint64_t order;
	unsigned char k[8];
	char hex[OUTBOX_HEX_LEN + 1];
	if (!log_max)
		return 0;
	int rc = store_counter_next(t, "delivered_next", &order);
	if (rc)
		return rc;
	outbox_hex(e->id, hex);
	json_t *rec = json_pack("{s:s, s:s, s:I, s:s, s:b, s:I, s:I, s:I}", "id", hex, "user",
				e->user, "destination", (json_int_t)e->dest, "sink", sink, "digest",
				e->digest, "count", (json_int_t)count, "attempts",
				(json_int_t)attempts, "at", (json_int_t)now);
	if (!rec)
		return -ENOMEM;
	put_be64(k, order);
	rc = put_doc(store_txn_mdb(t), db(t, STORE_DB_DELIVERED), k, 8, rec);
	json_decref(rec);
	if (!rc && order >= log_max) {
		put_be64(k, order - log_max);
		rc = del(store_txn_mdb(t), db(t, STORE_DB_DELIVERED), k, 8);
	}
	return rc;
}

/* The document of an entry: its note, or its digest. */
static int entry_doc(struct store_txn *t, const struct outbox_entry *e, json_t **doc)
{
	if (e->digest)
		return get_doc(store_txn_mdb(t), db(t, STORE_DB_DIGESTS), e->id, OUTBOX_ID_LEN, doc);
	return note_get(store_txn_mdb(t), store_txn_store(t), e->id, doc);
}

static int entry_doc_put(struct store_txn *t, const struct outbox_entry *e, const json_t *doc)
{
	if (e->digest)
		return put_doc(store_txn_mdb(t), db(t, STORE_DB_DIGESTS), e->id, OUTBOX_ID_LEN, doc);
	return note_update(t, e->id, doc);
}

int outbox_attempts(struct store_txn *t, const struct outbox_entry *e, uint32_t *attempts)
{
	json_t *doc;
	int rc = entry_doc(t, e, &doc);
	if (rc)
		return rc;
	uint64_t a = doc_u64(doc, "attempts");
	*attempts = a > UINT32_MAX ? UINT32_MAX : (uint32_t)a;
	json_decref(doc);
	return 0;
}

static uint64_t entry_attempts(struct store_txn *t, const struct outbox_entry *e)
{
	uint32_t a = 0;
	return outbox_attempts(t, e, &a) ? 1 : (uint64_t)a + 1;
}

int outbox_delivered(struct store_txn *t, const struct outbox_entry *e, const json_t *notes,
		     bool more, const char *sink, uint64_t now, size_t log_max)
{
	/* A single note's attempts are in the document the caller loaded for
	 * the delivery (only an outcome changes them, and outcomes of one
	 * entry are recorded one at a time): no need to parse it again. */
	const json_t *only = !e->digest && json_array_size(notes) == 1 ? json_array_get(notes, 0)
								       : NULL;
	uint64_t attempts = only ? doc_u64(only, "attempts") + 1 : entry_attempts(t, e);
	int rc = remove_entry(t, e, notes, more, now);
	return rc ? rc : log_delivery(t, e, json_array_size(notes), attempts, sink, now, log_max);
}

int outbox_reschedule(struct store_txn *t, const struct outbox_entry *e, uint64_t due,
		      uint32_t charge, const char *reason)
{
	json_t *doc;
	int rc = 0;
	if (charge || reason) { /* only then does the document change */
		if ((rc = entry_doc(t, e, &doc)))
			return rc;
		rc = set_u64(doc, "attempts", doc_u64(doc, "attempts") + charge);
		if (!rc && reason && json_object_set_new(doc, "last_error", json_string(reason)))
			rc = -ENOMEM;
		if (!rc)
			rc = entry_doc_put(t, e, doc);
		json_decref(doc);
	}
	if (!rc && due != e->due && !(rc = due_del(t, e->due, e->digest, e->id)))
		rc = due_put(t, due, e->digest, e->id, e->user, e->dest);
	return rc;
}

int outbox_dead(struct store_txn *t, const struct outbox_entry *e, const json_t *notes,
		const char *reason, uint64_t now)
{
	size_t i;
	json_t *note;
	unsigned char id[OUTBOX_ID_LEN];
	int rc = 0;
	json_array_foreach(notes, i, note) {
		json_t *copy = json_copy((json_t *)note);
		if (!copy || json_object_set_new(copy, "reason", json_string(reason ? reason : "")) ||
		    set_u64(copy, "dead_at", now))
			rc = -ENOMEM;
		json_object_del(copy, "digest");
		json_object_del(copy, "due");
		if (!rc && !(rc = note_id_of(note, id)))
			rc = put_doc(store_txn_mdb(t), db(t, STORE_DB_DEAD), id, OUTBOX_ID_LEN, copy);
		json_decref(copy);
		if (rc)
			return rc;
	}
	return remove_entry(t, e, notes, false, now);
}

int outbox_into_digest(struct store_txn *t, const struct outbox_entry *e, uint64_t due,
		       uint32_t digest_max, uint64_t now)
{
	MDB_txn *txn = store_txn_mdb(t);
	json_t *note;
	if (e->digest) /* already one: just wait */
		return outbox_reschedule(t, e, due, 0, NULL);
	int rc = note_get(txn, store_txn_store(t), e->id, &note);
	if (rc)
		return rc;
	rc = due_del(t, e->due, false, e->id);
	if (!rc)
		rc = digest_add(t, e->id, e->user, e->dest, due, digest_max, now, note);
	if (!rc)
		rc = note_update(t, e->id, note);
	json_decref(note);
	return rc;
}

#define UNPARK_CHUNK 256 /* entries per transaction: small writes even near a full map */

struct unpark_ctx {
	const char *user;
	uint64_t dest, now;
	int moved;       /* in this transaction */
};

static int unpark_in(struct store_txn *t, void *arg)
{
	struct unpark_ctx *u = arg;
	MDB_cursor *c;
	unsigned char start[8];
	put_be64(start, OUTBOX_PARKED);
	MDB_val k = {8, start}, v;
	struct outbox_entry *found = malloc(UNPARK_CHUNK * sizeof *found);
	size_t n = 0;
	if (!found)
		return -ENOMEM;
	int rc = mdb_cursor_open(store_txn_mdb(t), db(t, STORE_DB_DUE), &c);
	if (rc) {
		free(found);
		return store_map_err(rc);
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc && n < UNPARK_CHUNK;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (decode_due(&k, &v, &found[n]) && found[n].dest == u->dest &&
		    !strcmp(found[n].user, u->user))
			n++;
	mdb_cursor_close(c);
	rc = rc == MDB_NOTFOUND || !rc ? 0 : store_map_err(rc);
	for (size_t i = 0; !rc && i < n; i++)
		rc = outbox_reschedule(t, &found[i], u->now, 0, NULL);
	free(found);
	u->moved = (int)n;
	return rc;
}

int outbox_unpark(struct store *s, const char *user, uint64_t dest, uint64_t now)
{
	int total = 0;
	for (;;) {
		struct unpark_ctx u = {user, dest, now, 0};
		int rc = in_write(s, unpark_in, &u);
		if (rc)
			return rc;
		total += u.moved;
		if (u.moved < UNPARK_CHUNK)
			return total;
	}
}

/* ---- management ---- */

/* Collect the documents under the cursor (from *k, *v, positioned with
 * status rc), stepping with `step`, optionally of one user, up to `limit`. */
static int collect(MDB_cursor *c, int rc, MDB_val *k, MDB_val *v, MDB_cursor_op step,
		   const char *user, size_t limit, json_t *arr)
{
	for (; !rc && json_array_size(arr) < limit; rc = mdb_cursor_get(c, k, v, step)) {
		if (v->mv_size < 2)
			continue;
		json_t *doc = json_loadb((const char *)v->mv_data + 1, v->mv_size - 1, 0, NULL);
		const char *u = json_string_value(json_object_get(doc, "user"));
		if (doc && (!user || (u && !strcmp(u, user))) && json_array_append(arr, doc))
			rc = ENOMEM;
		json_decref(doc);
	}
	return rc == MDB_NOTFOUND ? 0 : rc == ENOMEM ? -ENOMEM : store_map_err(rc);
}

/* A page of a table of documents: keyed by id after `after` (forward), or
 * the newest first (after == NULL and newest). */
static int list_docs(struct store *s, enum store_db which, const char *user, const char *after,
		     bool newest, size_t limit, json_t **out)
{
	unsigned char from[OUTBOX_ID_LEN];
	if (after && outbox_unhex(after, from))
		return -EINVAL;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k = {OUTBOX_ID_LEN, from}, v;
	int rc = rd_begin(s, &txn);
	if (rc)
		return rc;
	struct idx x;
	if (after && which == STORE_DB_NOTES) { /* notes are stored by seq */
		if ((rc = idx_get(txn, store_db(s, STORE_DB_WHEN), from, &x))) {
			mdb_txn_abort(txn);
			return rc;
		}
		put_be64(from, x.seq);
		k.mv_size = 8;
	}
	json_t *arr = json_array();
	if (!arr || (rc = mdb_cursor_open(txn, store_db(s, which), &c))) {
		mdb_txn_abort(txn);
		json_decref(arr);
		return arr ? store_map_err(rc) : -ENOMEM;
	}
	rc = mdb_cursor_get(c, &k, &v, newest ? MDB_LAST : after ? MDB_SET_RANGE : MDB_FIRST);
	size_t flen = which == STORE_DB_NOTES ? 8 : OUTBOX_ID_LEN;
	if (!rc && after && k.mv_size == flen && !memcmp(k.mv_data, from, flen))
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	rc = collect(c, rc, &k, &v, newest ? MDB_PREV : MDB_NEXT, user, limit, arr);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* Each note's due time from `when`: its own, or its digest's. */
static int digest_dues(struct store *s, json_t *notes)
{
	MDB_txn *txn;
	size_t i;
	json_t *note;
	unsigned char id[OUTBOX_ID_LEN];
	uint64_t due;
	int rc = rd_begin(s, &txn);
	if (rc)
		return rc;
	json_array_foreach(notes, i, note) {
		const char *hex = json_string_value(json_object_get(note, "digest"));
		if (!hex)
			hex = json_string_value(json_object_get(note, "id"));
		if (outbox_unhex(hex, id) || when_get(txn, store_db(s, STORE_DB_WHEN), id, &due))
			continue;
		if ((rc = set_u64(note, "due", due)))
			break;
	}
	mdb_txn_abort(txn);
	return rc;
}

int outbox_list(struct store *s, const char *user, const char *after, size_t limit, json_t **out)
{
	int rc = list_docs(s, STORE_DB_NOTES, user, after, false, limit, out);
	if (!rc && (rc = digest_dues(s, *out))) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int outbox_dead_list(struct store *s, const char *user, const char *after, size_t limit,
		     json_t **out)
{
	return list_docs(s, STORE_DB_DEAD, user, after, false, limit, out);
}

static int show(struct store *s, enum store_db which, const unsigned char id[OUTBOX_ID_LEN],
		json_t **out)
{
	MDB_txn *txn;
	int rc = rd_begin(s, &txn);
	if (rc)
		return rc;
	rc = get_doc(txn, store_db(s, which), id, OUTBOX_ID_LEN, out);
	mdb_txn_abort(txn);
	return rc;
}

int outbox_show(struct store *s, const unsigned char id[OUTBOX_ID_LEN], json_t **out)
{
	MDB_txn *txn;
	int rc = rd_begin(s, &txn);
	if (!rc) {
		rc = note_get(txn, s, id, out);
		mdb_txn_abort(txn);
	}
	if (rc)
		return rc;
	json_t *one = json_array();
	if (!one || json_array_append(one, *out) || (rc = digest_dues(s, one)))
		rc = rc ? rc : -ENOMEM;
	json_decref(one);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int outbox_dead_show(struct store *s, const unsigned char id[OUTBOX_ID_LEN], json_t **out)
{
	return show(s, STORE_DB_DEAD, id, out);
}

struct id_op {
	const unsigned char *id;
	uint64_t now;
};

/* The schedule entry that carries note `note` (itself, or its digest). */
static int entry_of(struct store_txn *t, const json_t *note, const unsigned char id[OUTBOX_ID_LEN],
		    struct outbox_entry *e)
{
	const char *dig = json_string_value(json_object_get(note, "digest"));
	const char *user = json_string_value(json_object_get(note, "user"));
	*e = (struct outbox_entry){.dest = doc_u64(note, "destination"), .digest = dig != NULL};
	snprintf(e->user, sizeof e->user, "%s", user ? user : "");
	int rc = 0;
	if (dig)
		rc = outbox_unhex(dig, e->id);
	else
		memcpy(e->id, id, OUTBOX_ID_LEN);
	return rc ? rc : when_get(store_txn_mdb(t), db(t, STORE_DB_WHEN), e->id, &e->due);
}

static int retry_in(struct store_txn *t, void *arg)
{
	struct id_op *op = arg;
	json_t *note;
	struct outbox_entry e;
	int rc = note_get(store_txn_mdb(t), store_txn_store(t), op->id, &note);
	if (rc)
		return rc;
	rc = entry_of(t, note, op->id, &e);
	json_decref(note);
	return rc ? rc : outbox_reschedule(t, &e, op->now, 0, NULL);
}

int outbox_retry(struct store *s, const unsigned char id[OUTBOX_ID_LEN], uint64_t now)
{
	struct id_op op = {id, now};
	return in_write(s, retry_in, &op);
}

static int drop_in(struct store_txn *t, void *arg)
{
	struct id_op *op = arg;
	json_t *note, *dig = NULL;
	struct outbox_entry e;
	MDB_txn *txn = store_txn_mdb(t);
	int rc = note_get(txn, store_txn_store(t), op->id, &note);
	if (rc)
		return rc;
	rc = entry_of(t, note, op->id, &e);
	json_decref(note);
	if (rc)
		return rc;
	if (!e.digest) {
		rc = note_del(t, op->id, NULL);
		return rc ? rc : due_del(t, e.due, false, e.id);
	}
	if ((rc = note_del(t, op->id, e.id)) ||
	    (rc = get_doc(txn, db(t, STORE_DB_DIGESTS), e.id, OUTBOX_ID_LEN, &dig)))
		return rc;
	uint64_t left = doc_u64(dig, "count");
	left = left ? left - 1 : 0;
	if (!left)
		rc = digest_del(t, e.id, e.due, e.user, e.dest);
	else if (!(rc = set_u64(dig, "count", left)))
		rc = put_doc(txn, db(t, STORE_DB_DIGESTS), e.id, OUTBOX_ID_LEN, dig);
	json_decref(dig);
	return rc;
}

int outbox_drop(struct store *s, const unsigned char id[OUTBOX_ID_LEN])
{
	struct id_op op = {id, 0};
	return in_write(s, drop_in, &op);
}

static int dead_retry_in(struct store_txn *t, void *arg)
{
	struct id_op *op = arg;
	MDB_txn *txn = store_txn_mdb(t);
	json_t *doc;
	int rc = get_doc(txn, db(t, STORE_DB_DEAD), op->id, OUTBOX_ID_LEN, &doc);
	if (rc)
		return rc;
	const char *user = json_string_value(json_object_get(doc, "user"));
	json_object_del(doc, "reason");
	json_object_del(doc, "dead_at");
	json_object_del(doc, "last_error");
	if (!user)
		rc = -EPROTO;
	char *text = NULL;
	if (!rc && !(rc = set_u64(doc, "attempts", 0)) && !(text = json_dumps(doc, JSON_COMPACT)))
		rc = -ENOMEM;
	if (!rc)
		rc = note_add(t, op->id, text, strlen(text), op->now);
	free(text);
	if (!rc)
		rc = due_put(t, op->now, false, op->id, user,
			     doc_u64(doc, "destination"));
	if (!rc)
		rc = del(txn, db(t, STORE_DB_DEAD), op->id, OUTBOX_ID_LEN);
	json_decref(doc);
	return rc;
}

int outbox_dead_retry(struct store *s, const unsigned char id[OUTBOX_ID_LEN], uint64_t now)
{
	struct id_op op = {id, now};
	return in_write(s, dead_retry_in, &op);
}

static int dead_drop_in(struct store_txn *t, void *arg)
{
	struct id_op *op = arg;
	MDB_val k = {OUTBOX_ID_LEN, (void *)op->id};
	return store_map_err(mdb_del(store_txn_mdb(t), db(t, STORE_DB_DEAD), &k, NULL));
}

int outbox_dead_drop(struct store *s, const unsigned char id[OUTBOX_ID_LEN])
{
	struct id_op op = {id, 0};
	return in_write(s, dead_drop_in, &op);
}

int outbox_delivered_list(struct store *s, const char *user, size_t limit, json_t **out)
{
	return list_docs(s, STORE_DB_DELIVERED, user, NULL, true, limit, out);
}

static size_t entries(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_stat st;
	return mdb_stat(txn, dbi, &st) ? 0 : st.ms_entries;
}

int outbox_count(struct store *s, uint64_t now, struct outbox_counts *out)
{
	MDB_txn *txn;
	MDB_cursor *c;
	unsigned char parked[8];
	MDB_val k, v;
	int rc = rd_begin(s, &txn);
	if (rc)
		return rc;
	*out = (struct outbox_counts){
		.pending = entries(txn, store_db(s, STORE_DB_NOTES)),
		.digests = entries(txn, store_db(s, STORE_DB_DIGESTS)),
		.dead = entries(txn, store_db(s, STORE_DB_DEAD)),
	};
	if ((rc = mdb_cursor_open(txn, store_db(s, STORE_DB_DUE), &c))) {
		mdb_txn_abort(txn);
		return store_map_err(rc);
	}
	/* what is due now: from the start; what is parked: from 2^64-1 */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != DUE_KEY_LEN || get_be64(k.mv_data) > now)
			break;
		out->due_now++;
	}
	put_be64(parked, OUTBOX_PARKED);
	k = (MDB_val){8, parked};
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		out->parked++;
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : store_map_err(rc);
}
