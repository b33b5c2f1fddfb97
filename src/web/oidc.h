/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * oidc: the web app's OpenID Connect relying party. Not for HTTP serving,
 * cookies or sessions (web.c, session.c).
 *
 * Flow (authorization code, PKCE S256, confidential client with
 * client_secret_basic): oidc_begin makes a state, a nonce and a PKCE
 * verifier, keeps them server-side in the store ("auth_states", keyed by
 * the state; single use, 10 minutes; at most OIDC_PENDING_MAX at once) with
 * the page to return to, and gives
 * the provider's authorization URL. oidc_finish takes the state back (a
 * second use finds nothing), exchanges the code at the token endpoint and
 * verifies the ID token: signature against the provider's JWKS (RS*, PS*,
 * ES* only; "none" and HS* are refused), iss == the configured issuer, aud
 * holds client_id (azp == client_id when there are several audiences or azp
 * is present), exp in the future and iat not in the future (60 s skew),
 * nonce == the one stored. The user name is the configured claim, and must be
 * a herald user name (directory.h).
 *
 * The discovery document (ISSUER/.well-known/openid-configuration) and the
 * JWKS are fetched on first use and cached; the JWKS is fetched again when a
 * token names a kid it lacks (at most every 10 s). Back-channel calls use
 * libcurl: TLS verified, no redirects, 3 s to connect, 5 s in all, 256 KiB
 * at most; http:// only when the issuer itself is a loopback http URL. They
 * block the caller for that long at worst.
 *
 * Thread-safety: an oidc may be used from several threads; the caches are
 * swapped under a mutex, never held across a network call.
 * Errors: 0 or a negative errno; `err` says what went wrong in words fit
 * for the person signing in (no secrets, no tokens).
 */
#ifndef HERALD_WEB_OIDC_H
#define HERALD_WEB_OIDC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "src/daemon/directory.h"

#define OIDC_STATE_TTL_S 600
#define OIDC_SKEW_S 60
#define OIDC_RETURN_MAX 512
/* Sign-ins begun and not finished, at most: each costs a store write, and
 * /auth/login needs no account, so it is bounded (beyond: -EBUSY, 503). */
#define OIDC_PENDING_MAX 10000

struct config_oidc;
struct store;
struct oidc;

/* Is the client secret file usable: a regular file, readable, and no
 * permission for group or others? 0, or a negative errno with `err`. */
int oidc_check_secret_file(const char *path, char *err, size_t errlen);

/* A relying party for cfg (secret read from its file now) whose redirect
 * URI is `redirect_uri`. Nothing is fetched yet. */
int oidc_new(const struct config_oidc *cfg, const char *redirect_uri, struct oidc **out,
	     char *err, size_t errlen);
void oidc_free(struct oidc *o); /* NULL is a no-op */

/* Start a sign-in that will return to `return_path` (already checked by the
 * caller). *url: the provider's authorization URL, malloc'd. */
int oidc_begin(struct oidc *o, struct store *s, const char *return_path, int64_t now_s,
	       char **url, char *err, size_t errlen);

struct oidc_result {
	char user[DIRECTORY_NAME_MAX + 1];
	char return_path[OIDC_RETURN_MAX + 1];
};
/* Finish it: the callback's code and state. -EPERM for anything refused. */
int oidc_finish(struct oidc *o, struct store *s, const char *code, const char *state,
		int64_t now_s, struct oidc_result *out, char *err, size_t errlen);

/* ---- the pieces, for tests ---- */

/* The pending sign-in of a state, taken from the store (single use).
 * -ENOENT: unknown or already used; -ETIMEDOUT: older than 10 minutes. */
struct oidc_pending {
	char verifier[64];
	char nonce[64];
	char return_path[OIDC_RETURN_MAX + 1];
	int64_t expires;
};
int oidc_pending_put(struct store *s, const char *state, const struct oidc_pending *p);
int oidc_pending_take(struct store *s, const char *state, int64_t now_s, struct oidc_pending *out);

/* What an ID token must say. */
struct oidc_expect {
	const char *issuer;
	const char *client_id;
	const char *nonce;
	const char *username_claim;
	int64_t now_s;
};
/*
 * Verify a compact-serialised ID token against a JWKS ({"keys": [...]}) and
 * put the user name in `user`. 0; -ENOKEY when no key in the set has the
 * token's kid (the caller may refetch the set); -EPERM for everything else
 * refused, with `err`.
 */
int oidc_verify_id_token(const char *jwt, const json_t *jwks, const struct oidc_expect *e,
			 char user[DIRECTORY_NAME_MAX + 1], char *err, size_t errlen);

#endif
