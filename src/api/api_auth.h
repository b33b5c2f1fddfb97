/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * api_auth: who may do what on the control API over TCP. Loads the token
 * file named by [daemon] api_tokens, finds the scope of a presented bearer
 * token, and decides whether a scope allows a request. The unix socket
 * (mode 0600 in the state directory) is admin and never asks.
 *
 * Token file: one `TOKEN SCOPE` per line, '#' comments and blank lines
 * allowed. TOKEN is 16 to 256 printable ASCII characters without spaces;
 * SCOPE is `admin` (everything), `read` (GET and HEAD only) or `user:NAME`
 * (only /v1/users/NAME and below, and /v1/filter/test). The file must not
 * be readable or writable by group or others.
 *
 * Secrets: only SHA-256 digests of the tokens are kept, a lookup compares
 * every digest in constant time, and no message here ever contains a token.
 * Not for transport or routing (api.c, api_v1.c).
 *
 * Threads: a loaded token set is immutable; lookups may run anywhere.
 */
#ifndef HERALD_API_AUTH_H
#define HERALD_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "src/daemon/directory.h"

#define API_TOKEN_MIN 16
#define API_TOKEN_MAX 256

enum api_scope_kind { API_SCOPE_NONE, API_SCOPE_READ, API_SCOPE_USER, API_SCOPE_ADMIN };

struct api_scope {
	enum api_scope_kind kind;
	char user[DIRECTORY_NAME_MAX + 1]; /* API_SCOPE_USER only */
};

struct api_tokens;

/* Load and check `path`. 0, or a negative errno with `err` saying
 * "api_tokens FILE[:LINE]: what is wrong". */
int api_tokens_load(const char *path, struct api_tokens **out, char *err, size_t errlen);
void api_tokens_free(struct api_tokens *t); /* NULL is a no-op */
size_t api_tokens_count(const struct api_tokens *t);

/* The scope of `token` (NULL or unknown: API_SCOPE_NONE, and false). */
bool api_tokens_find(const struct api_tokens *t, const char *token, struct api_scope *out);

/*
 * May `sc` run `method` on the request path, given as its percent-decoded
 * segments ("/v1/users/alice" is {"v1", "users", "alice"})? Paths that need
 * no token (/healthz) are the caller's business.
 */
bool api_scope_allows(const struct api_scope *sc, const char *method, char *const *seg,
		      size_t nseg);

#endif
