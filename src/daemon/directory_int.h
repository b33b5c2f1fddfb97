/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * directory_int: what the directory's files share (directory.c,
 * directory_rec.c, directory_dest.c, directory_subs.c). Nobody else
 * includes this; everything else goes through directory.h.
 *
 * Conventions as in directory.h: functions taking a directory_error fill it
 * and return its negative errno on refusal; a store_txn is the caller's
 * write transaction, ended by directory_finish.
 */
#ifndef HERALD_DIRECTORY_INT_H
#define HERALD_DIRECTORY_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "store.h"

struct rec_key {
	unsigned char b[DIRECTORY_NAME_MAX + 1 + 8];
	size_t len;
};

/* A change to one record, for directory_rec_edit: 0 or a refusal. */
typedef int (*directory_edit_fn)(json_t *doc, const void *arg, struct directory_error *e);

/* ---- directory_rec.c ---- */

/* A store failure: the request was fine, the daemon is not. */
int directory_store_fail(struct directory_error *e, int rc);
/* Client text quoted back in an error: bounded, control characters hidden. */
const char *directory_shown(const char *s, char *out, size_t n);
void directory_rec_key(struct rec_key *k, const char *user, uint64_t id);
int directory_doc_parse(const char *json, size_t len, json_t **out);
/* Read a document inside the transaction: 0, -ENOENT, or another error. */
int directory_doc_load(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		       json_t **out);
int directory_doc_save(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		       const json_t *doc);
/* End a transaction: commit when everything went well, else write nothing. */
int directory_finish(struct store_txn *t, int rc, struct directory_error *e);
/* The user's document, or 404. Store trouble becomes 500. */
int directory_user_load(struct store_txn *t, const char *name, json_t **out,
			struct directory_error *e);
int directory_user_exists(struct store_txn *t, const char *name, struct directory_error *e);
int directory_rec_load(struct store_txn *t, enum store_table tab, const char *user, uint64_t id,
		       json_t **out, struct directory_error *e);
/*
 * Every document of a table (user NULL) or of one user, in key order. Inside
 * a write transaction this is the state that transaction started from (see
 * directory.h), so scan before writing.
 */
int directory_scan(struct store *s, enum store_table tab, const char *user, json_t **out,
		   struct directory_error *e);
uint64_t directory_doc_id(const json_t *doc);
/* Store a new record under a fresh id (written into the document). */
int directory_rec_add(struct store *s, struct store_txn *t, enum store_table tab, const char *user,
		      json_t *doc, size_t quota, struct directory_error *e);
/* All of a user's records in one table, 404 for an unknown user. */
int directory_rec_list(struct store *s, enum store_table tab, const char *user, json_t **out,
		       struct directory_error *e);
int directory_rec_del(struct store_txn *t, enum store_table tab, const char *user, uint64_t id,
		      struct directory_error *e);
int directory_deleted(uint64_t id, json_t **out, struct directory_error *e);
/* Load a record, let `edit` change it, store it back; *out is the result. */
int directory_rec_edit(struct store *s, enum store_table tab, const char *user, uint64_t id,
		       directory_edit_fn edit, const void *arg, json_t **out,
		       struct directory_error *e);

/* ---- directory.c ---- */

/* [a-z0-9_-]{1,max}: list and sink names. */
bool directory_valid_word(const char *s, size_t max);
/* A string of min..max bytes without control characters (but see
 * has_control for the filter's newlines). */
int directory_check_text(const json_t *v, const char *what, size_t min, size_t max,
			 struct directory_error *e);
int directory_check_user_name(const char *name, struct directory_error *e);

#endif
