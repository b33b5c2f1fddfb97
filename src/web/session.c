/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session: sessions and CSRF tokens in the store (see session.h). The
 * record is JSON {"user", "csrf", "created", "expires"} under SHA-256 of the
 * cookie value. Not for HTTP.
 */
#include "session.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/b64url.h"
#include "src/common/buf.h"
#include "src/daemon/store.h"

/* Sessions looked at per sign-in, from a random place: bounded, so one
 * sign-in never pays for all the others (start-up prunes them all). */
#define PRUNE_PER_CREATE 32

_Static_assert(B64URL_LEN(32) == SESSION_TOKEN_LEN, "a token is 32 bytes in base64url");

int session_random_token(char out[SESSION_TOKEN_LEN + 1])
{
	unsigned char raw[32];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -EIO;
	b64url_encode(raw, sizeof raw, out);
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

static bool token_shaped(const char *t)
{
	if (!t || strlen(t) != SESSION_TOKEN_LEN)
		return false;
	return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
	       SESSION_TOKEN_LEN;
}

static void key_of(const char *cookie, unsigned char key[SHA256_DIGEST_LENGTH])
{
	SHA256((const unsigned char *)cookie, strlen(cookie), key);
}

static bool expired(void *arg, const void *val, size_t vlen)
{
	int64_t now = *(const int64_t *)arg;
	json_t *v = json_loadb(val, vlen, 0, NULL);
	json_int_t exp = json_integer_value(json_object_get(v, "expires"));
	json_decref(v);
	return exp <= now;
}

int session_prune(struct store *s, int64_t now_s, size_t *n)
{
	return store_kv_prune(s, STORE_KV_SESSIONS, NULL, 0, 0, expired, &now_s, n);
}

int session_create(struct store *s, const char *user, int64_t now_s, long ttl_s,
		   char cookie[SESSION_TOKEN_LEN + 1], struct session *out)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	size_t pruned;
	char *text = NULL;
	int rc;
	if (strlen(user) > DIRECTORY_NAME_MAX)
		return -EINVAL;
	*out = (struct session){.created = now_s, .expires = now_s + ttl_s};
	strcpy(out->user, user);
	if ((rc = session_random_token(cookie)) || (rc = session_random_token(out->csrf)))
		return rc;
	json_t *v = json_pack("{s:s, s:s, s:I, s:I}", "user", user, "csrf", out->csrf, "created",
			      (json_int_t)now_s, "expires", (json_int_t)out->expires);
	if (!v || !(text = json_dumps(v, JSON_COMPACT))) {
		rc = -ENOMEM;
		goto out;
	}
	key_of(cookie, key);
	rc = store_kv_put(s, STORE_KV_SESSIONS, key, sizeof key, text, strlen(text));
	/* Lazy pruning from a random key; a failure here costs nothing but disk. */
	unsigned char from[SHA256_DIGEST_LENGTH];
	if (!rc && RAND_bytes(from, sizeof from) == 1)
		store_kv_prune(s, STORE_KV_SESSIONS, from, sizeof from, PRUNE_PER_CREATE, expired,
			       &now_s, &pruned);
out:
	free(text);
	json_decref(v);
	return rc;
}

static int parse(const struct buf *b, struct session *out)
{
	json_t *v = json_loadb(b->data, b->len, 0, NULL);
	const char *user = NULL, *csrf = NULL;
	json_int_t created = 0, expires = 0;
	int rc = -EPROTO;
	if (v && !json_unpack(v, "{s:s, s:s, s:I, s:I}", "user", &user, "csrf", &csrf, "created",
			      &created, "expires", &expires) &&
	    strlen(user) <= DIRECTORY_NAME_MAX && strlen(csrf) == SESSION_TOKEN_LEN) {
		strcpy(out->user, user);
		strcpy(out->csrf, csrf);
		out->created = created;
		out->expires = expires;
		rc = 0;
	}
	json_decref(v);
	return rc;
}

int session_find(struct store *s, const char *cookie, int64_t now_s, struct session *out)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	struct buf b = BUF_INIT;
	if (!token_shaped(cookie))
		return -ENOENT;
	key_of(cookie, key);
	int rc = store_kv_get(s, STORE_KV_SESSIONS, key, sizeof key, &b);
	if (!rc)
		rc = parse(&b, out);
	if (!rc && out->expires <= now_s)
		rc = -ETIMEDOUT;
	if (rc == -ETIMEDOUT || rc == -EPROTO) {
		store_kv_del(s, STORE_KV_SESSIONS, key, sizeof key);
		rc = -ENOENT;
	}
	buf_release(&b);
	return rc;
}

int session_delete(struct store *s, const char *cookie)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	if (!token_shaped(cookie))
		return -ENOENT;
	key_of(cookie, key);
	return store_kv_del(s, STORE_KV_SESSIONS, key, sizeof key);
}

bool session_csrf_ok(const struct session *ss, const char *presented)
{
	if (!presented || strlen(presented) != SESSION_TOKEN_LEN)
		return false;
	return CRYPTO_memcmp(ss->csrf, presented, SESSION_TOKEN_LEN) == 0;
}
