/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usertoken: personal API tokens. A user (or an admin for them) creates,
 * lists and revokes tokens of scope user:NAME; the TCP API accepts them as
 * `Authorization: Bearer` at once, and refuses a revoked one at once (every
 * request looks the token up in the store; nothing is cached).
 *
 * Format: "hrl_" + 43 base64url characters (32 random bytes). Only the
 * SHA-256 of a token is stored; the token itself is shown once, in the
 * answer to create. Listing shows a prefix ("hrl_" + 8 characters) to tell
 * tokens apart.
 *
 * Tables (store.h, unwatched: no match-index rebuild): STORE_TOKENS maps the
 * hash to the record {"user", "id", "name", "prefix", "created",
 * "last_used"} (Unix seconds; last_used absent until the first use, then
 * written at most once a minute); STORE_USER_TOKENS maps "user\0" + u64 BE
 * id to {"hash": HEX}, so a user's tokens are one prefix scan.
 *
 * Comparison: a presented token is hashed and the hash is the key looked
 * up; LMDB's search compares hashes, never tokens, and a caller cannot
 * choose the bytes of a hash, so its timing says nothing about a stored
 * token (the token file's are compared with CRYPTO_memcmp, api_auth.c).
 *
 * Not for the admin token file (api_auth.c) nor for HTTP (api_v1.c).
 * Errors and ownership as in directory.h. Threads: any (LMDB serialises
 * the writers); no state is kept between calls.
 */
#ifndef HERALD_USERTOKEN_H
#define HERALD_USERTOKEN_H

#include <jansson.h>
#include <stdint.h>

#include "directory.h"

#define USERTOKEN_PER_USER 20
#define USERTOKEN_NAME_MAX 64
#define USERTOKEN_PREFIX "hrl_"
#define USERTOKEN_LEN 47 /* "hrl_" + 43 */
#define USERTOKEN_SHOWN 12 /* the listed prefix: "hrl_" + 8 */
/* last_used is rewritten only when it is older than this (seconds). */
#define USERTOKEN_TOUCH_S 60

struct store;
struct store_txn;

/* `in`: {"name": TEXT} (1..64 characters). *out: {"id", "name", "prefix",
 * "created", "token": FULL}. 409 at USERTOKEN_PER_USER. */
int usertoken_create(struct store *s, const char *user, const json_t *in, int64_t now_s,
		     json_t **out, struct directory_error *e);
/* *out: an array of {"id", "name", "prefix", "created", "last_used"?}, in
 * creation order. 404 for an unknown user. */
int usertoken_list(struct store *s, const char *user, json_t **out, struct directory_error *e);
/* *out: {"deleted": ID}; 404 when the user has no such token. */
int usertoken_revoke(struct store *s, const char *user, uint64_t id, json_t **out,
		     struct directory_error *e);
/*
 * Whose is `token`? 0 with the user name in `user`, -ENOENT when it is no
 * live token (not one of ours, revoked, its user deleted), or a store
 * error. Updates last_used (at most once a minute; a failure to do so is
 * not the caller's problem and is ignored).
 */
int usertoken_find(struct store *s, const char *token, int64_t now_s,
		   char user[DIRECTORY_NAME_MAX + 1]);
/* Inside the caller's write transaction (deleting a user): drop every token
 * of `user`; *n counts them. 0 or a store error. */
int usertoken_drop_user_txn(struct store *s, struct store_txn *t, const char *user, size_t *n);

#endif
