/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store: heraldd's durable state in one LMDB environment, and the only file
 * that talks to LMDB for it.
 *
 * Today it holds per-source cursors (how far the sequence got) and the set of
 * recently accepted msg_ids, written together in one transaction per batch
 * (group commit): a message is accepted only once that transaction commits.
 * The same environment holds users, destinations and subscriptions (the
 * document tables below) and the outbox (outbox.h, through store_int.h).
 *
 * Layout: <state_dir>/herald.mdb (+ -lock). Named DBs: "meta" (schema
 * version, counters), "cursors" (source key -> [ver][u64 BE seq]), "seen"
 * (16-byte id -> [u64 BE order]), "seen_order" (u64 BE order -> id), so the
 * oldest ids beyond the dedup window are pruned in order; "sessions" and
 * "auth_states" for the web app (store_kv_*). Durable by default.
 *
 * Threads: write transactions may come from several threads (LMDB runs
 * them one at a time); store_mark_seen only from the committer. Reads may
 * run anywhere.
 * Errors: 0 or negative errno; MDB_MAP_FULL becomes -ENOSPC.
 */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/buf.h"

/* Schema versions: 2 the document tables, 3 the outbox, 4 the web app's
 * sessions, personal tokens and verification codes. */
#define STORE_SCHEMA_VERSION 4
#define STORE_ID_LEN 16

/*
 * Tables of JSON documents (schema version 2). Keys: users by name;
 * destinations and subscriptions by "user\0" + u64 BE id, so one user's
 * records are one prefix scan and ids stay in creation order.
 *
 * The tables after STORE_WATCHED_TABLES (schema version 4) hold what the
 * matcher never reads: writing them neither bumps store_doc_generation nor
 * lists the user in store_take_changed, so no match index is rebuilt.
 *   STORE_TOKENS      SHA-256 of a personal API token (32 bytes) -> its record
 *                     (usertoken.h)
 *   STORE_USER_TOKENS "user\0" + u64 BE id -> {"hash": HEX}: one user's tokens
 *   STORE_CODES       "user\0" + u64 BE destination id -> a pending
 *                     verification code's hash, expiry and tries (destcode.c)
 *   STORE_MUTES       u64 BE until (Unix s) + "user\0" + u64 BE subscription
 *                     id -> {}: when each muted subscription turns back on
 *                     (directory_mute.c), soonest first
 * The web app's sessions and sign-in states are key-value tables (store_kv_*
 * below), written in transactions of their own.
 */
enum store_table {
	STORE_USERS,
	STORE_DESTS,
	STORE_SUBS,
	STORE_TOKENS,
	STORE_USER_TOKENS,
	STORE_CODES,
	STORE_MUTES,
	STORE_TABLE_COUNT
};
#define STORE_WATCHED_TABLES 3 /* STORE_USERS, STORE_DESTS, STORE_SUBS */

struct store;
struct store_txn;

/* Open or create the store in `dir`. `dedup_window` bounds the seen set.
 * A store of an older schema is first copied to herald.mdb.vN.bak, then
 * migrated; a newer one is refused. */
int store_open(const char *dir, size_t map_size, size_t dedup_window, struct store **out,
	       char *err, size_t errlen);
void store_close(struct store *s); /* NULL is a no-op */

/* Read a source's cursor. 0, -ENOENT when none was stored, or an error. */
int store_cursor_get(struct store *s, const char *key, uint64_t *seq);

/* Begin the batch transaction (one at a time). On failure *out is NULL. */
int store_begin(struct store *s, struct store_txn **out);
/* Remember an id; 1 if it is new, 0 if already seen, negative on error. */
int store_mark_seen(struct store_txn *t, const unsigned char id[STORE_ID_LEN]);
int store_cursor_put(struct store_txn *t, const char *key, uint64_t seq);
/* Commit (durably) and end the transaction; on error nothing was written. */
int store_commit(struct store_txn *t);
void store_abort(struct store_txn *t);

/* ---- documents ---- */

/* Put/delete a document inside the batch transaction. */
int store_doc_put(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		  const char *json, size_t len);
/* 0, or -ENOENT when there was nothing to delete. */
int store_doc_del(struct store_txn *t, enum store_table tab, const void *key, size_t klen);
/* Read one document (in the write transaction, so it sees its own writes). */
int store_doc_get_txn(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		      struct buf *out);
/* Read one document in a read-only transaction. 0, -ENOENT or an error. */
int store_doc_get(struct store *s, enum store_table tab, const void *key, size_t klen,
		  struct buf *out);
/*
 * Call cb for every document whose key starts with `prefix` (plen 0: all),
 * in key order, inside one read-only transaction (a consistent snapshot).
 * The pointers are valid during the call only. A non-zero cb return stops
 * the walk and is returned.
 */
typedef int (*store_doc_cb)(void *arg, const void *key, size_t klen, const char *json, size_t len);
int store_doc_foreach(struct store *s, enum store_table tab, const void *prefix, size_t plen,
		      store_doc_cb cb, void *arg);
/* Like store_doc_foreach over the whole table, but starting with the first
 * key greater than `after` (alen 0: from the first), for paging. */
int store_doc_foreach_after(struct store *s, enum store_table tab, const void *after,
			    size_t alen, store_doc_cb cb, void *arg);
/* A new id, unique across the store (destinations and subscriptions). */
int store_next_id(struct store_txn *t, uint64_t *id);
/* Bumped by every commit that touched documents: readers poll it to know
 * when to rebuild what they derived (the match index). */
uint64_t store_doc_generation(struct store *s);

/*
 * The users whose documents (user, destinations, subscriptions) committed
 * transactions touched since the last call, as a malloc'd array of malloc'd
 * names the caller frees. *all is set instead when too many changed to list
 * (then: assume everything changed). 0 or -ENOMEM.
 */
int store_take_changed(struct store *s, char ***users, size_t *n, bool *all);

/* ---- small key-value tables (schema version 4) ----
 *
 * The web app's sign-in state: "sessions" (SHA-256 of the cookie -> the
 * session) and "auth_states" (OIDC state -> verifier, nonce, return path).
 * Values are opaque to the store (it adds and checks a format byte). Each
 * call is one short transaction of its own. Writes here are not document
 * writes: they bump no store_doc_generation and mark no user changed, so a
 * sign-in never makes the matcher rebuild its index. */
enum store_kv { STORE_KV_SESSIONS, STORE_KV_AUTH_STATES, STORE_KV_COUNT };

int store_kv_put(struct store *s, enum store_kv tab, const void *key, size_t klen,
		 const void *val, size_t vlen);
/* 0 (value appended to `out`), -ENOENT or an error. */
int store_kv_get(struct store *s, enum store_kv tab, const void *key, size_t klen,
		 struct buf *out);
/* Read and delete in one write transaction: of two concurrent takes of one
 * key, exactly one gets it (the other: -ENOENT). */
int store_kv_take(struct store *s, enum store_kv tab, const void *key, size_t klen,
		  struct buf *out);
/* 0, or -ENOENT when there was nothing to delete. */
int store_kv_del(struct store *s, enum store_kv tab, const void *key, size_t klen);
/* Delete the entries `drop` says yes to (and any with a bad format byte),
 * in one transaction, looking at no more than `max` entries (0: all of them):
 * from the first key >= `from` (NULL: the first key), wrapping round to the
 * start, so that callers pruning a few at a time from random keys reach every
 * entry over time. *n gets how many were deleted. */
typedef bool (*store_kv_drop_cb)(void *arg, const void *val, size_t vlen);
int store_kv_prune(struct store *s, enum store_kv tab, const void *from, size_t fromlen,
		   size_t max, store_kv_drop_cb drop, void *arg, size_t *n);
/* How many entries the table holds. */
int store_kv_count(struct store *s, enum store_kv tab, size_t *n);

/* How much of the map is in use, 0..1: pages used minus pages on LMDB's
 * freelist, over the map size. */
int store_usage(struct store *s, double *fraction);

/* Text of a store error code, for logs. */
const char *store_strerror(int rc);

#endif
