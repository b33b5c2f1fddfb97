/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outbox: the durable queue of notifications (see outbox.h for the tables):
 * committing a note, finding what is due, loading an entry for delivery and
 * recording the outcome. Every function is one read or write transaction,
 * or runs inside the caller's; a failure leaves the tables as they were.
 * Not for the records' layout (outbox_table.c), digests (digest.c), dead
 * letters (deadletter.c) or management (outbox_admin.c).
 */
#include "outbox.h"

#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

#include "outbox_int.h"
#include "src/common/be64.h"
#include "store_int.h"

int outbox_put(struct store_txn *t, const struct outbox_add *a)
{
	struct outbox_idx x;
	int rc = outbox_idx_get(store_txn_mdb(t), outbox_db(t, STORE_DB_WHEN), a->id, &x);
	if (rc == 0)
		return 0; /* this match is pending already */
	if (rc != -ENOENT)
		return rc;
	if (!a->digest_interval) {
		if ((rc = outbox_note_add(t, a->id, a->json, a->len, a->now)))
			return rc;
		rc = outbox_due_put(t, a->now, false, a->id, a->user, a->dest);
		return rc ? rc : 1;
	}
	json_t *note = json_loadb(a->json, a->len, OUTBOX_JSON_FLAGS, NULL);
	if (!note)
		return -EINVAL;
	uint64_t due = a->now + (uint64_t)a->digest_interval * 1000;
	char *s = NULL;
	rc = digest_add(t, a->id, a->user, a->dest, due, a->digest_max, a->now, note);
	if (!rc && !(s = json_dumps(note, JSON_COMPACT)))
		rc = -ENOMEM;
	if (!rc)
		rc = outbox_note_add(t, a->id, s, strlen(s), 0);
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
	int rc = outbox_rd_begin(s, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, store_db(s, STORE_DB_DUE), &c))) {
		mdb_txn_abort(txn);
		return store_map_err(rc);
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct outbox_entry e;
		if (!outbox_decode_due(&k, &v, &e))
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

static int load_in(MDB_txn *txn, struct store *s, const struct outbox_entry *e, size_t max,
		   json_t *arr, bool *more)
{
	json_t *doc;
	int rc;
	*more = false;
	if (!e->digest) {
		if ((rc = outbox_note_get(txn, s, e->id, &doc)))
			return rc;
		return json_array_append_new(arr, doc) ? -ENOMEM : 0;
	}
	struct digest_member *m;
	size_t n;
	if ((rc = digest_members(txn, store_db(s, STORE_DB_MEMBERS), e->id, &m, &n)))
		return rc;
	for (size_t i = 0; !rc && i < n && i < max; i++)
		if (!(rc = outbox_note_get(txn, s, m[i].id, &doc)))
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
	int rc = outbox_rd_begin(s, &txn);
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

/* Remove every note in `notes` and then the entry itself. A digest goes
 * only when nothing is left in it: beyond what was loaded (`more`), notes
 * may have joined it while it was out for delivery, and they must not be
 * left behind in a digest that no longer exists; else it is due again now. */
int outbox_remove_entry(struct store_txn *t, const struct outbox_entry *e, const json_t *notes,
			bool more, uint64_t now)
{
	size_t i;
	json_t *note;
	unsigned char id[OUTBOX_ID_LEN];
	int rc = 0;
	json_array_foreach(notes, i, note) {
		if (!rc && !(rc = outbox_note_id_of(note, id)))
			rc = outbox_note_del(t, id, e->digest ? e->id : NULL);
	}
	if (rc)
		return rc;
	if (!e->digest)
		return outbox_due_del(t, e->due, false, e->id);
	int left =
	    more ? 1 : digest_has_members(store_txn_mdb(t), outbox_db(t, STORE_DB_MEMBERS), e->id);
	if (left < 0)
		return left;
	if (left)
		return outbox_reschedule(t, e, now, 0, NULL);
	return digest_del(t, e->id, e->due, e->user, e->dest);
}

/* Bodies the delivery log keeps, per record: a body that does not fit in
 * what is left is not kept ("why" then works from the meta alone). */
#define KEPT_BODY_BYTES 4096

/* The body of `note`, if it fits in *left bytes (taken from it). */
static json_t *kept_body(const json_t *note, size_t *left)
{
	json_t *msg = json_object_get(note, "msg");
	size_t len = msg ? json_dumpb(msg, NULL, 0, JSON_COMPACT) : 0;
	if (!len || len > *left)
		return NULL;
	*left -= len;
	return msg;
}

/* What the delivery log keeps of each note for "why did I get this" once
 * the note itself is gone: everything but the attempts and what the record
 * says already; the body only while the record's bodies stay small. */
static json_t *kept_notes(const json_t *notes)
{
	size_t left = KEPT_BODY_BYTES;
	static const char *const keep[] = {"id", "subscriptions", "created", "topic", "title",
					   "summary", "link", "agent", "severity", "usernames",
					   "packages", "msg_id", "timestamp", NULL};
	json_t *arr = json_array(), *note;
	size_t i;
	json_array_foreach(notes, i, note) {
		json_t *one = json_object();
		for (size_t k = 0; one && keep[k]; k++) {
			json_t *v = json_object_get(note, keep[k]);
			if (v && json_object_set(one, keep[k], v)) {
				json_decref(one);
				one = NULL;
			}
		}
		json_t *body = one ? kept_body(note, &left) : NULL;
		if (body && json_object_set(one, "msg", body)) {
			json_decref(one);
			one = NULL;
		}
		if (json_array_append_new(arr, one))
			break;
	}
	if (arr && i < json_array_size(notes)) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static int log_delivery(struct store_txn *t, const struct outbox_entry *e, const json_t *notes,
			uint64_t attempts, const char *sink, uint64_t now, size_t log_max)
{
	size_t count = json_array_size(notes);
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
	if (!rec || json_object_set_new(rec, "notes", kept_notes(notes))) {
		json_decref(rec);
		return -ENOMEM;
	}
	put_be64(k, order);
	rc = outbox_doc_put(store_txn_mdb(t), outbox_db(t, STORE_DB_DELIVERED), k, 8, rec);
	json_decref(rec);
	if (!rc && order >= log_max) {
		put_be64(k, order - log_max);
		rc = outbox_del(store_txn_mdb(t), outbox_db(t, STORE_DB_DELIVERED), k, 8);
	}
	return rc;
}

/* The document of an entry: its note, or its digest. */
static int entry_doc(struct store_txn *t, const struct outbox_entry *e, json_t **doc)
{
	if (e->digest)
		return outbox_doc_get(store_txn_mdb(t), outbox_db(t, STORE_DB_DIGESTS), e->id,
				      OUTBOX_ID_LEN, doc);
	return outbox_note_get(store_txn_mdb(t), store_txn_store(t), e->id, doc);
}

static int entry_doc_put(struct store_txn *t, const struct outbox_entry *e, const json_t *doc)
{
	if (e->digest)
		return outbox_doc_put(store_txn_mdb(t), outbox_db(t, STORE_DB_DIGESTS), e->id,
				      OUTBOX_ID_LEN, doc);
	return outbox_note_update(t, e->id, doc);
}

int outbox_attempts(struct store_txn *t, const struct outbox_entry *e, uint32_t *attempts)
{
	json_t *doc;
	int rc = entry_doc(t, e, &doc);
	if (rc)
		return rc;
	uint64_t a = outbox_doc_u64(doc, "attempts");
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
	uint64_t attempts = only ? outbox_doc_u64(only, "attempts") + 1 : entry_attempts(t, e);
	int rc = outbox_remove_entry(t, e, notes, more, now);
	return rc ? rc : log_delivery(t, e, notes, attempts, sink, now, log_max);
}

int outbox_reschedule(struct store_txn *t, const struct outbox_entry *e, uint64_t due,
		      uint32_t charge, const char *reason)
{
	json_t *doc;
	int rc = 0;
	if (charge || reason) { /* only then does the document change */
		if ((rc = entry_doc(t, e, &doc)))
			return rc;
		rc = outbox_set_u64(doc, "attempts", outbox_doc_u64(doc, "attempts") + charge);
		if (!rc && reason && json_object_set_new(doc, "last_error", json_string(reason)))
			rc = -ENOMEM;
		if (!rc)
			rc = entry_doc_put(t, e, doc);
		json_decref(doc);
	}
	if (!rc && due != e->due && !(rc = outbox_due_del(t, e->due, e->digest, e->id)))
		rc = outbox_due_put(t, due, e->digest, e->id, e->user, e->dest);
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
	int rc = mdb_cursor_open(store_txn_mdb(t), outbox_db(t, STORE_DB_DUE), &c);
	if (rc) {
		free(found);
		return store_map_err(rc);
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); !rc && n < UNPARK_CHUNK;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		if (outbox_decode_due(&k, &v, &found[n]) && found[n].dest == u->dest &&
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
		int rc = outbox_in_write(s, unpark_in, &u);
		if (rc)
			return rc;
		total += u.moved;
		if (u.moved < UNPARK_CHUNK)
			return total;
	}
}
