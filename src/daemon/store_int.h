/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store_int: the store's LMDB handles, for the one other module that keeps
 * tables in the same environment (outbox.c), so that notifications commit in
 * the same transaction as cursors and the seen set. Nobody else includes
 * this; everything else goes through store.h.
 */
#ifndef HERALD_STORE_INT_H
#define HERALD_STORE_INT_H

#include <lmdb.h>
#include <stdint.h>

#include "store.h"

/* The outbox's tables (see outbox.h for their layout). */
enum store_db {
	STORE_DB_NOTES,
	STORE_DB_DUE,
	STORE_DB_DIGESTS,
	STORE_DB_OPEN_DIGEST,
	STORE_DB_MEMBERS,
	STORE_DB_DEAD,
	STORE_DB_DELIVERED,
	STORE_DB_WHEN,
	STORE_DB_COUNT
};

MDB_env *store_env(struct store *s);
MDB_dbi store_db(const struct store *s, enum store_db which);
MDB_txn *store_txn_mdb(struct store_txn *t);
struct store *store_txn_store(struct store_txn *t);
/* An LMDB return code as 0 or a negative errno (MDB_MAP_FULL: -ENOSPC). */
int store_map_err(int mdb_rc);
/* A u64 counter in the meta table, read and bumped in the transaction. */
int store_counter_next(struct store_txn *t, const char *name, uint64_t *value);

#endif
