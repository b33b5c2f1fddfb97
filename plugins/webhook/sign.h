/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sign: request signatures for the webhook sink, pure functions over bytes
 * (libcrypto only, no libcurl, no I/O).
 *
 *  - Standard Webhooks (standardwebhooks.com): the header value
 *    "v1,<base64 HMAC-SHA256(key, id "." timestamp "." body)>", one per
 *    secret, separated by spaces; secrets are written "whsec_<base64 key>".
 *  - GitHub style: "sha256=<hex HMAC-SHA256(secret, body)>", the secret
 *    taken as raw bytes.
 *
 * Not here: reading secret files (webhook.c), choosing which headers go on
 * a request. Keys are the caller's; these functions copy nothing they keep
 * and wipe their own scratch copies. Thread-safe (no state).
 */
#ifndef HERALD_WEBHOOK_SIGN_H
#define HERALD_WEBHOOK_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* The longest key a whsec_ secret may carry (Standard Webhooks: 24..64 bytes;
 * we accept 1..128). */
#define SIGN_KEY_MAX 128

/* One HMAC key. */
struct sign_key {
	unsigned char k[SIGN_KEY_MAX];
	size_t len;
};

/* Parse "whsec_<base64>" (surrounding blanks not allowed) into key.
 * 0, or -1 with err set (the message never contains the secret). */
int sign_parse_whsec(const char *s, size_t len, struct sign_key *key, char *err, size_t errlen);

/* One Standard Webhooks signature "v1,<base64>" for id.timestamp.body into
 * out (at least SIGN_V1_LEN bytes). 0, or -1 when libcrypto fails. */
#define SIGN_V1_LEN 48 /* "v1," + 44 base64 characters + NUL */
int sign_v1(const struct sign_key *key, const char *id, int64_t timestamp, const char *body,
	    size_t body_len, char out[SIGN_V1_LEN]);

/* The GitHub-style value "sha256=<64 hex>" for body into out. 0, or -1. */
#define SIGN_GITHUB_LEN 72 /* "sha256=" + 64 hex + NUL */
int sign_github(const struct sign_key *key, const char *body, size_t body_len,
		char out[SIGN_GITHUB_LEN]);

/* Overwrite a key (before it is freed or goes out of scope). */
void sign_key_wipe(struct sign_key *key);

#endif
