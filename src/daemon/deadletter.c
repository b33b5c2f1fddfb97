/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * deadletter: notes that will not be delivered, kept with the reason:
 * putting them there, listing, showing, retrying (back into the outbox, due
 * now) and dropping them. Not for deciding that a note is dead (dispatch
 * decides; outbox.c removes it from the queue).
 */
#include "outbox.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_int.h"
#include "src/common/be64.h"
#include "store_int.h"

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
		    outbox_set_u64(copy, "dead_at", now))
			rc = -ENOMEM;
		json_object_del(copy, "digest");
		json_object_del(copy, "due");
		if (!rc && !(rc = outbox_note_id_of(note, id)))
			rc = outbox_doc_put(store_txn_mdb(t), outbox_db(t, STORE_DB_DEAD), id,
					    OUTBOX_ID_LEN, copy);
		json_decref(copy);
		if (rc)
			return rc;
	}
	return outbox_remove_entry(t, e, notes, false, now);
}

/* The dead letter of note `id` of entry `e`, whose document cannot be
 * parsed: what the entry knows about it. The note leaves the outbox; a
 * digest's count goes down (1: the digest is gone with it). */
static int dead_unreadable_note(struct store_txn *t, const struct outbox_entry *e,
				const unsigned char id[OUTBOX_ID_LEN], const char *reason,
				uint64_t now)
{
	char hex[OUTBOX_HEX_LEN + 1];
	outbox_hex(id, hex);
	json_t *doc = json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", hex, "user", e->user,
				"destination", (json_int_t)e->dest, "title", "(unreadable)",
				"reason", reason ? reason : "");
	int rc = doc ? outbox_set_u64(doc, "dead_at", now) : -ENOMEM;
	if (!rc)
		rc = outbox_doc_put(store_txn_mdb(t), outbox_db(t, STORE_DB_DEAD), id, OUTBOX_ID_LEN,
				    doc);
	json_decref(doc);
	if (!rc)
		rc = outbox_note_del(t, id, e->digest ? e->id : NULL);
	if (rc || !e->digest)
		return rc;
	return digest_count_down(t, e);
}

/* 1 when note `id` is there but cannot be parsed, 0 when it can (or is
 * gone), or an error. */
static int unreadable(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN])
{
	json_t *doc = NULL;
	int rc = outbox_note_get(store_txn_mdb(t), store_txn_store(t), id, &doc);
	json_decref(doc);
	if (rc == -EBADMSG)
		return 1;
	return rc == -ENOENT ? 0 : rc;
}

int outbox_dead_unreadable(struct store_txn *t, const struct outbox_entry *e, const char *reason,
			   uint64_t now)
{
	int rc;
	if (!e->digest) {
		if ((rc = unreadable(t, e->id)) <= 0)
			return rc;
		rc = dead_unreadable_note(t, e, e->id, reason, now);
		return rc ? rc : outbox_due_del(t, e->due, false, e->id);
	}
	struct digest_member *m = NULL;
	size_t n = 0;
	int gone = 0; /* the digest went with its last member */
	rc = digest_members(store_txn_mdb(t), outbox_db(t, STORE_DB_MEMBERS), e->id, &m, &n);
	for (size_t i = 0; !rc && !gone && i < n; i++)
		if ((rc = unreadable(t, m[i].id)) > 0)
			rc = gone = dead_unreadable_note(t, e, m[i].id, reason, now);
	free(m);
	return rc < 0 ? rc : 0; /* what is left is still due: the next pass sends it */
}

int outbox_dead_list(struct store *s, const char *user, const char *after, size_t limit,
		     json_t **out)
{
	return outbox_list_docs(s, STORE_DB_DEAD, user, after, false, limit, out);
}

int outbox_dead_show(struct store *s, const unsigned char id[OUTBOX_ID_LEN], json_t **out)
{
	return outbox_show_doc(s, STORE_DB_DEAD, id, out);
}

static int dead_retry_in(struct store_txn *t, void *arg)
{
	struct outbox_id_op *op = arg;
	MDB_txn *txn = store_txn_mdb(t);
	json_t *doc;
	int rc = outbox_doc_get(txn, outbox_db(t, STORE_DB_DEAD), op->id, OUTBOX_ID_LEN, &doc);
	if (rc)
		return rc;
	const char *user = json_string_value(json_object_get(doc, "user"));
	json_object_del(doc, "reason");
	json_object_del(doc, "dead_at");
	json_object_del(doc, "last_error");
	if (!user)
		rc = -EPROTO;
	char *text = NULL;
	if (!rc && !(rc = outbox_set_u64(doc, "attempts", 0)) &&
	    !(text = json_dumps(doc, JSON_COMPACT)))
		rc = -ENOMEM;
	if (!rc)
		rc = outbox_note_add(t, op->id, text, strlen(text), op->now);
	free(text);
	if (!rc)
		rc = outbox_due_put(t, op->now, false, op->id, user,
				    outbox_doc_u64(doc, "destination"));
	if (!rc)
		rc = outbox_del(txn, outbox_db(t, STORE_DB_DEAD), op->id, OUTBOX_ID_LEN);
	json_decref(doc);
	return rc;
}

int outbox_dead_retry(struct store *s, const unsigned char id[OUTBOX_ID_LEN], uint64_t now)
{
	struct outbox_id_op op = {id, now};
	return outbox_in_write(s, dead_retry_in, &op);
}

static int dead_drop_in(struct store_txn *t, void *arg)
{
	struct outbox_id_op *op = arg;
	MDB_val k = {OUTBOX_ID_LEN, (void *)op->id};
	return store_map_err(mdb_del(store_txn_mdb(t), outbox_db(t, STORE_DB_DEAD), &k, NULL));
}

int outbox_dead_drop(struct store *s, const unsigned char id[OUTBOX_ID_LEN])
{
	struct outbox_id_op op = {id, 0};
	return outbox_in_write(s, dead_drop_in, &op);
}
