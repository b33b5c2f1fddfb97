/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outbox_table: the records under the outbox (see outbox.h for the tables):
 * ids, the version byte every value starts with, the schedule (`due` and
 * `when`), notes stored by sequence number, and the few helpers the other
 * outbox files share through outbox_int.h. Not for what happens to a note
 * (outbox.c), digests (digest.c), dead letters (deadletter.c) or listing
 * and editing by hand (outbox_admin.c).
 */
#include "outbox.h"

#include <openssl/evp.h>
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_int.h"
#include "src/common/be64.h"
#include "src/common/hex.h"
#include "store_int.h"

void outbox_hex(const unsigned char id[OUTBOX_ID_LEN], char hex[OUTBOX_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < OUTBOX_ID_LEN; i++) {
		hex[2 * i] = digits[id[i] >> 4];
		hex[2 * i + 1] = digits[id[i] & 15];
	}
	hex[OUTBOX_HEX_LEN] = '\0';
}

int outbox_unhex(const char *hex, unsigned char id[OUTBOX_ID_LEN])
{
	if (!hex || strlen(hex) != OUTBOX_HEX_LEN)
		return -EINVAL;
	return hex_decode(hex, OUTBOX_ID_LEN, id);
}

void outbox_derive_id(const void *a, size_t alen, const void *b, size_t blen, uint64_t n,
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
	outbox_derive_id(msg_key, 16, user, strlen(user), dest, id);
}

/* ---- small LMDB helpers ---- */

MDB_dbi outbox_db(struct store_txn *t, enum store_db w)
{
	return store_db(store_txn_store(t), w);
}

int outbox_doc_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, json_t **out)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return store_map_err(rc);
	if (v.mv_size < 2 || ((unsigned char *)v.mv_data)[0] != OUTBOX_REC_VER)
		return -EBADMSG;
	*out = json_loadb((const char *)v.mv_data + 1, v.mv_size - 1, OUTBOX_JSON_FLAGS, NULL);
	return *out ? 0 : -EBADMSG;
}

int outbox_raw_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const char *s,
		   size_t len, unsigned flags)
{
	MDB_val k = {klen, (void *)key}, v = {len + 1, NULL};
	int rc = mdb_put(txn, dbi, &k, &v, flags | MDB_RESERVE);
	if (rc)
		return store_map_err(rc);
	((unsigned char *)v.mv_data)[0] = OUTBOX_REC_VER;
	memcpy((char *)v.mv_data + 1, s, len);
	return 0;
}

int outbox_doc_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	int rc = outbox_raw_put(txn, dbi, key, klen, s, strlen(s), 0);
	free(s);
	return rc;
}

int outbox_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key};
	int rc = mdb_del(txn, dbi, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : store_map_err(rc);
}

static void due_key(unsigned char k[OUTBOX_DUE_KEY_LEN], uint64_t due, bool digest,
		    const unsigned char id[OUTBOX_ID_LEN])
{
	put_be64(k, due);
	k[8] = digest ? OUTBOX_KIND_DIGEST : OUTBOX_KIND_NOTE;
	memcpy(k + 9, id, OUTBOX_ID_LEN);
}

int outbox_idx_get(MDB_txn *txn, MDB_dbi dbi, const unsigned char id[OUTBOX_ID_LEN],
		   struct outbox_idx *x)
{
	MDB_val k = {OUTBOX_ID_LEN, (void *)id}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return store_map_err(rc);
	if (v.mv_size != 17 || ((unsigned char *)v.mv_data)[0] != OUTBOX_REC_VER)
		return -EPROTO;
	x->due = get_be64((unsigned char *)v.mv_data + 1);
	x->seq = get_be64((unsigned char *)v.mv_data + 9);
	return 0;
}

static int idx_put(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		   const struct outbox_idx *x)
{
	unsigned char w[16];
	put_be64(w, x->due);
	put_be64(w + 8, x->seq);
	return outbox_raw_put(store_txn_mdb(t), outbox_db(t, STORE_DB_WHEN), id, OUTBOX_ID_LEN,
			      (const char *)w, sizeof w, 0);
}

int outbox_when_get(MDB_txn *txn, MDB_dbi dbi, const unsigned char id[OUTBOX_ID_LEN], uint64_t *due)
{
	struct outbox_idx x;
	int rc = outbox_idx_get(txn, dbi, id, &x);
	if (!rc)
		*due = x.due;
	return rc;
}

/* Schedule an entry at `due` (its `when` keeps the note's seq). */
int outbox_due_put(struct store_txn *t, uint64_t due, bool digest,
		   const unsigned char id[OUTBOX_ID_LEN], const char *user, uint64_t dest)
{
	unsigned char k[OUTBOX_DUE_KEY_LEN], v[8 + 65];
	size_t ul = strnlen(user, 64);
	struct outbox_idx x = {due, 0};
	due_key(k, due, digest, id);
	put_be64(v, dest);
	memcpy(v + 8, user, ul);
	int rc = outbox_raw_put(store_txn_mdb(t), outbox_db(t, STORE_DB_DUE), k, sizeof k,
				(const char *)v, 8 + ul, 0);
	if (rc)
		return rc;
	rc = outbox_idx_get(store_txn_mdb(t), outbox_db(t, STORE_DB_WHEN), id, &x);
	if (rc && rc != -ENOENT)
		return rc;
	x.due = due;
	return idx_put(t, id, &x);
}

/* Take an entry off the schedule (its `when` stays: outbox_note_remove or
 * digest_del removes it with the entry). */
int outbox_due_del(struct store_txn *t, uint64_t due, bool digest,
		   const unsigned char id[OUTBOX_ID_LEN])
{
	unsigned char k[OUTBOX_DUE_KEY_LEN];
	due_key(k, due, digest, id);
	return outbox_del(store_txn_mdb(t), outbox_db(t, STORE_DB_DUE), k, sizeof k);
}

/* ---- notes by id, stored by seq ---- */

int outbox_note_get(MDB_txn *txn, struct store *s, const unsigned char id[OUTBOX_ID_LEN],
		    json_t **doc)
{
	struct outbox_idx x;
	unsigned char k[8];
	int rc = outbox_idx_get(txn, store_db(s, STORE_DB_WHEN), id, &x);
	if (rc)
		return rc;
	if (!x.seq)
		return -ENOENT;
	put_be64(k, x.seq);
	return outbox_doc_get(txn, store_db(s, STORE_DB_NOTES), k, sizeof k, doc);
}

/* A new note under the next seq, due at `due` (0 for a digest member). */
int outbox_note_add(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN], const char *json,
		    size_t len, uint64_t due)
{
	struct outbox_idx x = {due, 0};
	unsigned char k[8];
	int rc = store_counter_next(t, "note_next", &x.seq);
	if (rc)
		return rc;
	x.seq++; /* 0 means "not a note" in `when` */
	put_be64(k, x.seq);
	rc = outbox_raw_put(store_txn_mdb(t), outbox_db(t, STORE_DB_NOTES), k, sizeof k, json, len,
			    MDB_APPEND);
	return rc ? rc : idx_put(t, id, &x);
}

int outbox_note_update(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		       const json_t *doc)
{
	struct outbox_idx x;
	unsigned char k[8];
	int rc = outbox_idx_get(store_txn_mdb(t), outbox_db(t, STORE_DB_WHEN), id, &x);
	if (rc)
		return rc;
	put_be64(k, x.seq);
	return outbox_doc_put(store_txn_mdb(t), outbox_db(t, STORE_DB_NOTES), k, sizeof k, doc);
}

int outbox_note_remove(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN])
{
	struct outbox_idx x;
	unsigned char k[8];
	int rc = outbox_idx_get(store_txn_mdb(t), outbox_db(t, STORE_DB_WHEN), id, &x);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	put_be64(k, x.seq);
	rc = outbox_del(store_txn_mdb(t), outbox_db(t, STORE_DB_NOTES), k, sizeof k);
	return rc ? rc
		  : outbox_del(store_txn_mdb(t), outbox_db(t, STORE_DB_WHEN), id, OUTBOX_ID_LEN);
}

/* Remove note `id` (and its membership in digest `did`, if any). */
int outbox_note_del(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		    const unsigned char *did)
{
	int rc = outbox_note_remove(t, id);
	if (!rc && did) {
		unsigned char mk[2 * OUTBOX_ID_LEN];
		memcpy(mk, did, OUTBOX_ID_LEN);
		memcpy(mk + OUTBOX_ID_LEN, id, OUTBOX_ID_LEN);
		rc = outbox_del(store_txn_mdb(t), outbox_db(t, STORE_DB_MEMBERS), mk, sizeof mk);
	}
	return rc;
}

int outbox_note_id_of(const json_t *note, unsigned char id[OUTBOX_ID_LEN])
{
	return outbox_unhex(json_string_value(json_object_get(note, "id")), id);
}

bool outbox_decode_due(const MDB_val *k, const MDB_val *v, struct outbox_entry *e)
{
	if (k->mv_size != OUTBOX_DUE_KEY_LEN || v->mv_size < 1 + 8 || v->mv_size > 1 + 8 + 64)
		return false;
	const unsigned char *kp = k->mv_data, *vp = (const unsigned char *)v->mv_data + 1;
	e->due = get_be64(kp);
	e->digest = kp[8] == OUTBOX_KIND_DIGEST;
	memcpy(e->id, kp + 9, OUTBOX_ID_LEN);
	e->dest = get_be64(vp);
	memcpy(e->user, vp + 8, v->mv_size - 9);
	e->user[v->mv_size - 9] = '\0';
	return true;
}

size_t outbox_dest_key(unsigned char *k, const char *user, uint64_t dest)
{
	size_t ul = strnlen(user, 64);
	memcpy(k, user, ul);
	k[ul] = 0;
	put_be64(k + ul + 1, dest);
	return ul + 9;
}

/* Unsigned fields of documents; OUTBOX_PARKED is kept as -1. */
uint64_t outbox_doc_u64(const json_t *doc, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(doc, key));
	return v == -1 ? OUTBOX_PARKED : v > 0 ? (uint64_t)v : 0;
}

int outbox_set_u64(json_t *doc, const char *key, uint64_t v)
{
	json_int_t j = v == OUTBOX_PARKED ? -1 : v > INT64_MAX ? INT64_MAX : (json_int_t)v;
	return json_object_set_new(doc, key, json_integer(j)) ? -ENOMEM : 0;
}

int outbox_rd_begin(struct store *s, MDB_txn **txn)
{
	return store_map_err(mdb_txn_begin(store_env(s), NULL, MDB_RDONLY, txn));
}

/* Run fn inside a write transaction of its own. */
int outbox_in_write(struct store *s, int (*fn)(struct store_txn *t, void *arg), void *arg)
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
