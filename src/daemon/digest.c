/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * digest: notes collected per (user, destination) and delivered together:
 * the open digest each destination collects into, its members in arrival
 * order, and deleting a digest once it is empty. Not for the schedule or
 * the notes themselves (outbox_table.c) nor for delivering (outbox.c).
 */
#include "outbox.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_int.h"
#include "src/common/be64.h"
#include "store_int.h"

/* ---- digests ---- */

/* The open digest of a destination: 0 with its id, -ENOENT, or an error. */
static int open_digest_get(MDB_txn *txn, MDB_dbi dbi, const unsigned char *dk, size_t dkl,
			   unsigned char did[OUTBOX_ID_LEN])
{
	MDB_val k = {dkl, (void *)dk}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return store_map_err(rc);
	if (v.mv_size != 1 + OUTBOX_ID_LEN || ((unsigned char *)v.mv_data)[0] != OUTBOX_REC_VER)
		return -EPROTO;
	memcpy(did, (unsigned char *)v.mv_data + 1, OUTBOX_ID_LEN);
	return 0;
}

/* Add note `id` to the open digest of (user, dest), opening one if needed.
 * The digest is due at the earlier of its due time and `due`; reaching
 * `max` members closes it and makes it due now. */
int digest_add(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN], const char *user,
	       uint64_t dest, uint64_t due, uint32_t max, uint64_t now, json_t *note)
{
	MDB_txn *txn = store_txn_mdb(t);
	unsigned char dk[64 + 9], did[OUTBOX_ID_LEN];
	size_t dkl = outbox_dest_key(dk, user, dest);
	json_t *dig = NULL;
	int rc = open_digest_get(txn, outbox_db(t, STORE_DB_OPEN_DIGEST), dk, dkl, did);
	if (!rc) {
		if ((rc = outbox_doc_get(txn, outbox_db(t, STORE_DB_DIGESTS), did, sizeof did,
					 &dig)))
			return rc;
	} else if (rc == -ENOENT) {
		outbox_derive_id(id, OUTBOX_ID_LEN, "digest", 6, now, did);
		char hex[OUTBOX_HEX_LEN + 1];
		outbox_hex(did, hex);
		dig = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "id", hex, "user", user,
				"destination", (json_int_t)dest, "count", (json_int_t)0, "created",
				(json_int_t)now, "attempts", (json_int_t)0);
		if (!dig)
			return -ENOMEM;
		if ((rc = outbox_raw_put(txn, outbox_db(t, STORE_DB_OPEN_DIGEST), dk, dkl,
					 (const char *)did, OUTBOX_ID_LEN, 0)) ||
		    (rc = outbox_due_put(t, due, true, did, user, dest))) {
			json_decref(dig);
			return rc;
		}
	} else {
		return rc;
	}
	uint64_t count = outbox_doc_u64(dig, "count") + 1, old_due = due;
	if (!rc && (rc = outbox_when_get(txn, outbox_db(t, STORE_DB_WHEN), did, &old_due))) {
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
	rc = outbox_raw_put(txn, outbox_db(t, STORE_DB_MEMBERS), mk, sizeof mk, (const char *)order,
			    8, 0);
	if (!rc && json_object_set_new(note, "digest", json_string(hex)))
		rc = -ENOMEM;
	if (!rc && new_due != old_due &&
	    !(rc = outbox_due_del(t, old_due, true, did)))
		rc = outbox_due_put(t, new_due, true, did, user, dest);
	if (!rc && count >= max) /* closed: the next note opens a new one */
		rc = outbox_del(txn, outbox_db(t, STORE_DB_OPEN_DIGEST), dk, dkl);
	if (!rc && !(rc = outbox_set_u64(dig, "count", count)))
		rc = outbox_doc_put(txn, outbox_db(t, STORE_DB_DIGESTS), did, sizeof did, dig);
	json_decref(dig);
	return rc;
}

static int cmp_member(const void *a, const void *b)
{
	const struct digest_member *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The member ids of digest `did`, oldest first (malloc'd). */
int digest_members(MDB_txn *txn, MDB_dbi dbi, const unsigned char did[OUTBOX_ID_LEN],
		   struct digest_member **out, size_t *n)
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
			struct digest_member *m =
			    realloc(*out, (cap = cap ? cap * 2 : 16) * sizeof *m);
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

/* Delete a digest: its document, schedule entry and open marker. */
int digest_del(struct store_txn *t, const unsigned char did[OUTBOX_ID_LEN], uint64_t due,
	       const char *user, uint64_t dest)
{
	MDB_txn *txn = store_txn_mdb(t);
	unsigned char dk[64 + 9], open[OUTBOX_ID_LEN];
	size_t dkl = outbox_dest_key(dk, user, dest);
	int rc = outbox_del(txn, outbox_db(t, STORE_DB_DIGESTS), did, OUTBOX_ID_LEN);
	if (!rc)
		rc = outbox_due_del(t, due, true, did);
	if (!rc)
		rc = outbox_del(txn, outbox_db(t, STORE_DB_WHEN), did, OUTBOX_ID_LEN);
	if (!rc && !open_digest_get(txn, outbox_db(t, STORE_DB_OPEN_DIGEST), dk, dkl, open) &&
	    !memcmp(open, did, OUTBOX_ID_LEN))
		rc = outbox_del(txn, outbox_db(t, STORE_DB_OPEN_DIGEST), dk, dkl);
	return rc;
}

/* Does digest `did` still have members? 1, 0, or an error. */
int digest_has_members(MDB_txn *txn, MDB_dbi dbi, const unsigned char did[OUTBOX_ID_LEN])
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

int outbox_into_digest(struct store_txn *t, const struct outbox_entry *e, uint64_t due,
		       uint32_t digest_max, uint64_t now)
{
	MDB_txn *txn = store_txn_mdb(t);
	json_t *note;
	if (e->digest) /* already one: just wait */
		return outbox_reschedule(t, e, due, 0, NULL);
	int rc = outbox_note_get(txn, store_txn_store(t), e->id, &note);
	if (rc)
		return rc;
	rc = outbox_due_del(t, e->due, false, e->id);
	if (!rc)
		rc = digest_add(t, e->id, e->user, e->dest, due, digest_max, now, note);
	if (!rc)
		rc = outbox_note_update(t, e->id, note);
	json_decref(note);
	return rc;
}

int digest_count_down(struct store_txn *t, const struct outbox_entry *e)
{
	MDB_txn *txn = store_txn_mdb(t);
	json_t *dig = NULL;
	int rc = outbox_doc_get(txn, outbox_db(t, STORE_DB_DIGESTS), e->id, OUTBOX_ID_LEN, &dig);
	if (rc)
		return rc;
	uint64_t left = outbox_doc_u64(dig, "count");
	left = left ? left - 1 : 0;
	if (!left)
		rc = digest_del(t, e->id, e->due, e->user, e->dest);
	else if (!(rc = outbox_set_u64(dig, "count", left)))
		rc = outbox_doc_put(txn, outbox_db(t, STORE_DB_DIGESTS), e->id, OUTBOX_ID_LEN, dig);
	json_decref(dig);
	return rc ? rc : !left;
}
