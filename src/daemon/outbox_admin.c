/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outbox_admin: what the management API does to the outbox by hand:
 * listing and showing pending notes, retrying and dropping one, reading the
 * log of deliveries and the counts the sinks status shows. Not for
 * dispatching (outbox.c) nor for dead letters (deadletter.c).
 */
#define _GNU_SOURCE /* memmem */
#include "outbox.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_int.h"
#include "src/common/be64.h"
#include "store_int.h"

/* ---- management ---- */

/* Collect the documents under the cursor (from *k, *v, positioned with
 * status rc), stepping with `step`, optionally of one user, up to `limit`. */
static int collect(MDB_cursor *c, int rc, MDB_val *k, MDB_val *v, MDB_cursor_op step,
		   const char *user, size_t limit, json_t *arr)
{
	for (; !rc && json_array_size(arr) < limit; rc = mdb_cursor_get(c, k, v, step)) {
		if (v->mv_size < 2)
			continue;
		json_t *doc = json_loadb((const char *)v->mv_data + 1, v->mv_size - 1, OUTBOX_JSON_FLAGS,
					 NULL);
		const char *u = json_string_value(json_object_get(doc, "user"));
		if (doc && (!user || (u && !strcmp(u, user))) && json_array_append(arr, doc))
			rc = ENOMEM;
		json_decref(doc);
	}
	return rc == MDB_NOTFOUND ? 0 : rc == ENOMEM ? -ENOMEM : store_map_err(rc);
}

/* A page of a table of documents: keyed by id after `after` (forward), or
 * the newest first (after == NULL and newest). */
int outbox_list_docs(struct store *s, enum store_db which, const char *user, const char *after,
		     bool newest, size_t limit, json_t **out)
{
	unsigned char from[OUTBOX_ID_LEN];
	if (after && outbox_unhex(after, from))
		return -EINVAL;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k = {OUTBOX_ID_LEN, from}, v;
	int rc = outbox_rd_begin(s, &txn);
	if (rc)
		return rc;
	struct outbox_idx x;
	if (after && which == STORE_DB_NOTES) { /* notes are stored by seq */
		if ((rc = outbox_idx_get(txn, store_db(s, STORE_DB_WHEN), from, &x))) {
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
	int rc = outbox_rd_begin(s, &txn);
	if (rc)
		return rc;
	json_array_foreach(notes, i, note) {
		const char *hex = json_string_value(json_object_get(note, "digest"));
		if (!hex)
			hex = json_string_value(json_object_get(note, "id"));
		if (outbox_unhex(hex, id) ||
		    outbox_when_get(txn, store_db(s, STORE_DB_WHEN), id, &due))
			continue;
		if ((rc = outbox_set_u64(note, "due", due)))
			break;
	}
	mdb_txn_abort(txn);
	return rc;
}

int outbox_list(struct store *s, const char *user, const char *after, size_t limit, json_t **out)
{
	int rc = outbox_list_docs(s, STORE_DB_NOTES, user, after, false, limit, out);
	if (!rc && (rc = digest_dues(s, *out))) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

int outbox_show_doc(struct store *s, enum store_db which, const unsigned char id[OUTBOX_ID_LEN],
		    json_t **out)
{
	MDB_txn *txn;
	int rc = outbox_rd_begin(s, &txn);
	if (rc)
		return rc;
	rc = outbox_doc_get(txn, store_db(s, which), id, OUTBOX_ID_LEN, out);
	mdb_txn_abort(txn);
	return rc;
}

int outbox_show(struct store *s, const unsigned char id[OUTBOX_ID_LEN], json_t **out)
{
	MDB_txn *txn;
	int rc = outbox_rd_begin(s, &txn);
	if (!rc) {
		rc = outbox_note_get(txn, s, id, out);
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

/* The schedule entry that carries note `note` (itself, or its digest). */
static int entry_of(struct store_txn *t, const json_t *note, const unsigned char id[OUTBOX_ID_LEN],
		    struct outbox_entry *e)
{
	const char *dig = json_string_value(json_object_get(note, "digest"));
	const char *user = json_string_value(json_object_get(note, "user"));
	*e = (struct outbox_entry){.dest = outbox_doc_u64(note, "destination"),
				   .digest = dig != NULL};
	snprintf(e->user, sizeof e->user, "%s", user ? user : "");
	int rc = 0;
	if (dig)
		rc = outbox_unhex(dig, e->id);
	else
		memcpy(e->id, id, OUTBOX_ID_LEN);
	return rc ? rc
		  : outbox_when_get(store_txn_mdb(t), outbox_db(t, STORE_DB_WHEN), e->id, &e->due);
}

static int retry_in(struct store_txn *t, void *arg)
{
	struct outbox_id_op *op = arg;
	json_t *note;
	struct outbox_entry e;
	int rc = outbox_note_get(store_txn_mdb(t), store_txn_store(t), op->id, &note);
	if (rc)
		return rc;
	rc = entry_of(t, note, op->id, &e);
	json_decref(note);
	return rc ? rc : outbox_reschedule(t, &e, op->now, 0, NULL);
}

int outbox_retry(struct store *s, const unsigned char id[OUTBOX_ID_LEN], uint64_t now)
{
	struct outbox_id_op op = {id, now};
	return outbox_in_write(s, retry_in, &op);
}

static int drop_in(struct store_txn *t, void *arg)
{
	struct outbox_id_op *op = arg;
	json_t *note;
	struct outbox_entry e;
	int rc = outbox_note_get(store_txn_mdb(t), store_txn_store(t), op->id, &note);
	if (rc)
		return rc;
	rc = entry_of(t, note, op->id, &e);
	json_decref(note);
	if (rc)
		return rc;
	if (!e.digest) {
		rc = outbox_note_del(t, op->id, NULL);
		return rc ? rc : outbox_due_del(t, e.due, false, e.id);
	}
	if ((rc = outbox_note_del(t, op->id, e.id)))
		return rc;
	rc = digest_count_down(t, &e);
	return rc < 0 ? rc : 0;
}

int outbox_drop(struct store *s, const unsigned char id[OUTBOX_ID_LEN])
{
	struct outbox_id_op op = {id, 0};
	return outbox_in_write(s, drop_in, &op);
}

int outbox_delivered_list(struct store *s, const char *user, size_t limit, json_t **out)
{
	return outbox_list_docs(s, STORE_DB_DELIVERED, user, NULL, true, limit, out);
}

/* The note `hex` among a record's kept notes, if the record is the user's. */
static json_t *note_in(const json_t *rec, const char *user, const char *hex)
{
	json_t *note;
	size_t i;
	const char *u = json_string_value(json_object_get(rec, "user"));
	if (!u || strcmp(u, user))
		return NULL;
	json_array_foreach(json_object_get(rec, "notes"), i, note) {
		const char *id = json_string_value(json_object_get(note, "id"));
		if (id && !strcmp(id, hex))
			return note;
	}
	return NULL;
}

int outbox_delivered_find(struct store *s, const char *user, const unsigned char id[OUTBOX_ID_LEN],
			  json_t **rec, json_t **note)
{
	char hex[OUTBOX_HEX_LEN + 1];
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	outbox_hex(id, hex);
	*rec = *note = NULL;
	int rc = outbox_rd_begin(s, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, store_db(s, STORE_DB_DELIVERED), &c))) {
		mdb_txn_abort(txn);
		return store_map_err(rc);
	}
	/* newest first; only a record that holds the id's text is parsed */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); !rc && !*note;
	     rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		if (v.mv_size < 2 || !memmem(v.mv_data, v.mv_size, hex, OUTBOX_HEX_LEN))
			continue;
		json_decref(*rec);
		*rec = json_loadb((const char *)v.mv_data + 1, v.mv_size - 1, OUTBOX_JSON_FLAGS, NULL);
		*note = note_in(*rec, user, hex);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (*note)
		return 0;
	json_decref(*rec);
	*rec = NULL;
	return rc == MDB_NOTFOUND ? -ENOENT : store_map_err(rc);
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
	int rc = outbox_rd_begin(s, &txn);
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
		if (k.mv_size != OUTBOX_DUE_KEY_LEN || get_be64(k.mv_data) > now)
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
