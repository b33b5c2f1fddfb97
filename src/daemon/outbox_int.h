/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outbox_int: what the outbox's files share (outbox.c, outbox_table.c,
 * digest.c, deadletter.c, outbox_admin.c): the records' framing and keys,
 * the schedule, notes by sequence number and a few transaction helpers.
 * Nobody else includes this; everything else goes through outbox.h.
 *
 * Errors as in outbox.h. Functions taking a store_txn run inside the
 * caller's write transaction; an MDB_txn may be a read-only one.
 */
#ifndef HERALD_OUTBOX_INT_H
#define HERALD_OUTBOX_INT_H

#include <jansson.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbox.h"
#include "store_int.h"

#define OUTBOX_REC_VER 1
/* How stored documents are read back: a note splices the message body as
 * ingest accepted it, and a body may hold "\u0000" in a string (valid JSON,
 * accepted by ingest), so NUL is allowed here, or such a note could never be
 * loaded, delivered or dead-lettered. */
#define OUTBOX_JSON_FLAGS JSON_ALLOW_NUL
#define OUTBOX_DUE_KEY_LEN (8 + 1 + OUTBOX_ID_LEN)
#define OUTBOX_KIND_NOTE 'n'
#define OUTBOX_KIND_DIGEST 'd'

/* `when`: id -> [due][seq]. Notes are stored by sequence number, in
 * arrival order, so a batch of new notes appends to the table instead of
 * touching a random page per note (their ids are hashes); `when` finds a
 * note (seq, 0 for a digest) and its schedule key (due) from its id, so an
 * entry can move in the schedule without rewriting its document. */
struct outbox_idx {
	uint64_t due, seq;
};

struct outbox_id_op {
	const unsigned char *id;
	uint64_t now;
};

/* A member of a digest: its order of arrival and the note. */
struct digest_member {
	uint64_t order;
	unsigned char id[OUTBOX_ID_LEN];
};

/* ---- outbox_table.c ---- */

void outbox_derive_id(const void *a, size_t alen, const void *b, size_t blen, uint64_t n,
		      unsigned char id[OUTBOX_ID_LEN]);
MDB_dbi outbox_db(struct store_txn *t, enum store_db w);
int outbox_doc_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, json_t **out);
int outbox_raw_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const char *s,
		   size_t len, unsigned flags);
int outbox_doc_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const json_t *doc);
int outbox_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);
int outbox_idx_get(MDB_txn *txn, MDB_dbi dbi, const unsigned char id[OUTBOX_ID_LEN],
		   struct outbox_idx *x);
int outbox_when_get(MDB_txn *txn, MDB_dbi dbi, const unsigned char id[OUTBOX_ID_LEN],
		    uint64_t *due);
/* Schedule an entry at `due` (its `when` keeps the note's seq). */
int outbox_due_put(struct store_txn *t, uint64_t due, bool digest,
		   const unsigned char id[OUTBOX_ID_LEN], const char *user, uint64_t dest);
/* Take an entry off the schedule (its `when` stays: outbox_note_remove or
 * digest_del removes it with the entry). */
int outbox_due_del(struct store_txn *t, uint64_t due, bool digest,
		   const unsigned char id[OUTBOX_ID_LEN]);
int outbox_note_get(MDB_txn *txn, struct store *s, const unsigned char id[OUTBOX_ID_LEN],
		    json_t **doc);
/* A new note under the next seq, due at `due` (0 for a digest member). */
int outbox_note_add(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN], const char *json,
		    size_t len, uint64_t due);
int outbox_note_update(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		       const json_t *doc);
int outbox_note_remove(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN]);
/* Remove note `id` (and its membership in digest `did`, if any). */
int outbox_note_del(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN],
		    const unsigned char *did);
int outbox_note_id_of(const json_t *note, unsigned char id[OUTBOX_ID_LEN]);
bool outbox_decode_due(const MDB_val *k, const MDB_val *v, struct outbox_entry *e);
size_t outbox_dest_key(unsigned char *k, const char *user, uint64_t dest);
/* Unsigned fields of documents; OUTBOX_PARKED is kept as -1. */
uint64_t outbox_doc_u64(const json_t *doc, const char *key);
int outbox_set_u64(json_t *doc, const char *key, uint64_t v);
int outbox_rd_begin(struct store *s, MDB_txn **txn);
/* Run fn inside a write transaction of its own. */
int outbox_in_write(struct store *s, int (*fn)(struct store_txn *t, void *arg), void *arg);

/* ---- digest.c ---- */

/* Add note `id` to the open digest of (user, dest), opening one if needed.
 * The digest is due at the earlier of its due time and `due`; reaching
 * `max` members closes it and makes it due now. */
int digest_add(struct store_txn *t, const unsigned char id[OUTBOX_ID_LEN], const char *user,
	       uint64_t dest, uint64_t due, uint32_t max, uint64_t now, json_t *note);
/* The member ids of digest `did`, oldest first (malloc'd). */
int digest_members(MDB_txn *txn, MDB_dbi dbi, const unsigned char did[OUTBOX_ID_LEN],
		   struct digest_member **out, size_t *n);
/* Delete a digest: its document, schedule entry and open marker. */
int digest_del(struct store_txn *t, const unsigned char did[OUTBOX_ID_LEN], uint64_t due,
	       const char *user, uint64_t dest);
/* Digest `e` lost a member (its membership already deleted): its count
 * goes down, and the digest is deleted once none is left. 1 when it was
 * deleted, 0 when members remain, or an error. */
int digest_count_down(struct store_txn *t, const struct outbox_entry *e);
/* Does digest `did` still have members? 1, 0, or an error. */
int digest_has_members(MDB_txn *txn, MDB_dbi dbi, const unsigned char did[OUTBOX_ID_LEN]);

/* ---- outbox.c ---- */

/* Remove every note in `notes` and then the entry itself. A digest goes
 * only when nothing is left in it: beyond what was loaded (`more`), notes
 * may have joined it while it was out for delivery, and they must not be
 * left behind in a digest that no longer exists; else it is due again now. */
int outbox_remove_entry(struct store_txn *t, const struct outbox_entry *e, const json_t *notes,
			bool more, uint64_t now);

/* ---- outbox_admin.c ---- */

/* A page of a table of documents: keyed by id after `after` (forward), or
 * the newest first (after == NULL and newest). */
int outbox_list_docs(struct store *s, enum store_db which, const char *user, const char *after,
		     bool newest, size_t limit, json_t **out);
int outbox_show_doc(struct store *s, enum store_db which, const unsigned char id[OUTBOX_ID_LEN],
		    json_t **out);

#endif
