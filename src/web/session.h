/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session: the web app's sign-in sessions and their CSRF tokens, kept in the
 * store's "sessions" table (store_kv_*). Not for cookies' wire format or
 * routing (web.c) nor for how someone signs in (oidc.c).
 *
 * A session is created after a successful sign-in. The browser holds a
 * random 32-byte token (base64url, 43 characters); the store holds only its
 * SHA-256, so whoever reads the store cannot hijack a session. A record:
 * user, CSRF token (another random 32 bytes, given to the page by
 * GET /v1/session and sent back in X-CSRF-Token), created and expires (unix
 * seconds; absolute: use does not extend it). Expired records are deleted
 * when found, a few at each new sign-in, and all at start (session_prune).
 *
 * Times are passed in (now_s), so tests need no clock. Thread-safety: no
 * state of its own; every call is one short store transaction.
 * Errors: 0 or a negative errno (-ENOENT: no such live session).
 */
#ifndef HERALD_WEB_SESSION_H
#define HERALD_WEB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/daemon/directory.h"

#define SESSION_COOKIE "herald_session"
#define SESSION_TOKEN_LEN 43 /* B64URL_LEN(32): base64url of 32 random bytes */

struct store;

struct session {
	char user[DIRECTORY_NAME_MAX + 1];
	char csrf[SESSION_TOKEN_LEN + 1];
	int64_t created; /* unix seconds */
	int64_t expires;
};

/* A fresh random token (32 bytes from the CSPRNG, base64url). 0 or -EIO. */
int session_random_token(char out[SESSION_TOKEN_LEN + 1]);

/* A new session for `user` lasting ttl_s; its cookie value in `cookie`,
 * the record in *out. Prunes a few expired sessions on the way. */
int session_create(struct store *s, const char *user, int64_t now_s, long ttl_s,
		   char cookie[SESSION_TOKEN_LEN + 1], struct session *out);
/* The live session of a cookie value. -ENOENT when there is none, the value
 * is malformed, or it expired (then it is deleted). */
int session_find(struct store *s, const char *cookie, int64_t now_s, struct session *out);
/* End a session. 0, or -ENOENT when there was none. */
int session_delete(struct store *s, const char *cookie);
/* Delete every expired session; *n gets how many. */
int session_prune(struct store *s, int64_t now_s, size_t *n);

/* Is `presented` this session's CSRF token? Constant time in the token. */
bool session_csrf_ok(const struct session *ss, const char *presented);

#endif
