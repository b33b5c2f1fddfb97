/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * usertoken: personal API tokens in the store (see usertoken.h). Not for
 * deciding what a scope allows (api_auth.c).
 */
#include "usertoken.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "directory_int.h"
#include "src/common/b64url.h"
#include "src/common/buf.h"
#include "src/common/hex.h"
#include "store.h"

#define HASH_LEN 32
#define RAW_LEN 32

static int token_hash(const char *token, unsigned char out[HASH_LEN])
{
	unsigned int n = 0;
	if (EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL) != 1 || n != HASH_LEN)
		return -EIO;
	return 0;
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The hash an index entry {"hash": HEX} points at. 0 or -EPROTO. */
static int index_hash(const json_t *ix, unsigned char out[HASH_LEN])
{
	const char *h = json_string_value(json_object_get(ix, "hash"));
	if (!h || strlen(h) != 2 * HASH_LEN || hex_decode(h, HASH_LEN, out))
		return -EPROTO;
	return 0;
}

/* A new token and its hash; the caller cleanses `token`. */
static int make_token(char token[USERTOKEN_LEN + 1], unsigned char hash[HASH_LEN])
{
	unsigned char raw[RAW_LEN];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -EIO;
	memcpy(token, USERTOKEN_PREFIX, 4);
	b64url_encode(raw, sizeof raw, token + 4);
	OPENSSL_cleanse(raw, sizeof raw);
	return token_hash(token, hash);
}

static int check_name(const json_t *in, struct directory_error *e)
{
	static const char *const known[] = {"name", NULL};
	int rc;
	if (!json_is_object(in))
		return directory_fail(e, 400, "expected {\"name\": TEXT}");
	if ((rc = directory_check_keys(in, "token", known, NULL, e)))
		return rc;
	if (!json_is_string(json_object_get(in, "name")))
		return directory_fail(e, 400, "token: \"name\" is required (a string)");
	return directory_check_text(json_object_get(in, "name"), "token name", 1,
				    USERTOKEN_NAME_MAX, e);
}

static int count_cb(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	(*(size_t *)arg)++;
	return 0;
}

static int check_quota(struct store *s, const char *user, struct directory_error *e)
{
	struct rec_key k;
	size_t n = 0;
	directory_rec_key(&k, user, 0);
	int rc = store_doc_foreach(s, STORE_USER_TOKENS, k.b, k.len - 8, count_cb, &n);
	if (rc)
		return directory_store_fail(e, rc);
	if (n >= USERTOKEN_PER_USER)
		return directory_fail(e, 409, "user '%s' already has %d tokens, the most allowed; "
					      "revoke one first", user, USERTOKEN_PER_USER);
	return 0;
}

/* Write the record and its index entry in t. */
static int save(struct store_txn *t, const char *user, uint64_t id, const json_t *rec,
		const unsigned char hash[HASH_LEN], struct directory_error *e)
{
	char hex[2 * HASH_LEN + 1];
	struct rec_key k;
	json_t *ix;
	to_hex(hash, HASH_LEN, hex);
	directory_rec_key(&k, user, id);
	if (!(ix = json_pack("{s:s}", "hash", hex)))
		return directory_fail(e, 500, "out of memory");
	int rc = directory_doc_save(t, STORE_TOKENS, hash, HASH_LEN, rec);
	if (!rc)
		rc = directory_doc_save(t, STORE_USER_TOKENS, k.b, k.len, ix);
	json_decref(ix);
	return rc ? directory_store_fail(e, rc) : 0;
}

int usertoken_create(struct store *s, const char *user, const json_t *in, int64_t now_s,
		     json_t **out, struct directory_error *e)
{
	char token[USERTOKEN_LEN + 1], prefix[USERTOKEN_SHOWN + 1];
	unsigned char hash[HASH_LEN];
	struct store_txn *t = NULL;
	json_t *rec = NULL;
	uint64_t id;
	int rc;
	if ((rc = directory_check_user_name(user, e)) || (rc = check_name(in, e)))
		return rc;
	if ((rc = make_token(token, hash)))
		return directory_fail(e, 500, "no randomness for a token");
	snprintf(prefix, sizeof prefix, "%.*s", USERTOKEN_SHOWN, token);
	if ((rc = store_begin(s, &t))) {
		rc = directory_store_fail(e, rc);
		goto out;
	}
	if ((rc = directory_user_exists(t, user, e)) || (rc = check_quota(s, user, e)))
		goto finish;
	if ((rc = store_next_id(t, &id))) {
		rc = directory_store_fail(e, rc);
		goto finish;
	}
	rec = json_pack("{s:s, s:I, s:O, s:s, s:I}", "user", user, "id", (json_int_t)id, "name",
			json_object_get(in, "name"), "prefix", prefix, "created",
			(json_int_t)now_s);
	rc = rec ? save(t, user, id, rec, hash, e) : directory_fail(e, 500, "out of memory");
finish:
	rc = directory_finish(t, rc, e);
	if (!rc) {
		json_object_del(rec, "user");
		if (json_object_set_new(rec, "token", json_string(token)))
			rc = directory_fail(e, 500, "out of memory");
	}
	if (!rc) {
		*out = rec;
		rec = NULL;
	}
out:
	json_decref(rec);
	OPENSSL_cleanse(token, sizeof token);
	return rc;
}

struct list_ctx {
	struct store *s;
	json_t *arr;
};

static int list_cb(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct list_ctx *c = arg;
	unsigned char hash[HASH_LEN];
	struct buf b = BUF_INIT;
	json_t *ix = NULL, *rec = NULL;
	int rc = directory_doc_parse(json, len, &ix);
	if (!rc)
		rc = index_hash(ix, hash);
	if (!rc)
		rc = store_doc_get(c->s, STORE_TOKENS, hash, HASH_LEN, &b);
	if (!rc)
		rc = directory_doc_parse(b.data, b.len, &rec);
	if (rc == -ENOENT)
		rc = 0; /* revoked between the two reads */
	else if (!rc) {
		json_object_del(rec, "user");
		rc = json_array_append_new(c->arr, rec) ? -ENOMEM : 0;
	}
	json_decref(ix);
	buf_release(&b);
	return rc;
}

int usertoken_list(struct store *s, const char *user, json_t **out, struct directory_error *e)
{
	struct list_ctx c = {s, NULL};
	struct rec_key k;
	json_t *doc;
	int rc = directory_user_get(s, user, &doc, e);
	if (rc)
		return rc;
	json_decref(doc);
	if (!(c.arr = json_array()))
		return directory_fail(e, 500, "out of memory");
	directory_rec_key(&k, user, 0);
	if ((rc = store_doc_foreach(s, STORE_USER_TOKENS, k.b, k.len - 8, list_cb, &c))) {
		json_decref(c.arr);
		return directory_store_fail(e, rc);
	}
	*out = c.arr;
	return 0;
}

/* Delete one token (its index entry at key k) inside t. */
static int drop_one(struct store_txn *t, const struct rec_key *k)
{
	unsigned char hash[HASH_LEN];
	json_t *ix = NULL;
	int rc = directory_doc_load(t, STORE_USER_TOKENS, k->b, k->len, &ix);
	if (!rc)
		rc = index_hash(ix, hash);
	if (!rc)
		rc = store_doc_del(t, STORE_TOKENS, hash, HASH_LEN);
	if (rc == -ENOENT)
		rc = 0;
	if (!rc)
		rc = store_doc_del(t, STORE_USER_TOKENS, k->b, k->len);
	json_decref(ix);
	return rc;
}

int usertoken_revoke(struct store *s, const char *user, uint64_t id, json_t **out,
		     struct directory_error *e)
{
	struct store_txn *t;
	struct rec_key k;
	int rc = directory_check_user_name(user, e);
	if (rc)
		return rc;
	directory_rec_key(&k, user, id);
	if ((rc = store_begin(s, &t)))
		return directory_store_fail(e, rc);
	if (!(rc = directory_user_exists(t, user, e)) && (rc = drop_one(t, &k)))
		rc = rc == -ENOENT ? directory_fail(e, 404, "user '%s' has no token %llu", user,
						    (unsigned long long)id)
				   : directory_store_fail(e, rc);
	if ((rc = directory_finish(t, rc, e)))
		return rc;
	return directory_deleted(id, out, e);
}

struct keys_ctx {
	struct rec_key *v;
	size_t n;
};

static int keys_cb(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct keys_ctx *c = arg;
	if (klen > sizeof c->v->b)
		return -EPROTO;
	struct rec_key *v = realloc(c->v, (c->n + 1) * sizeof *v);
	if (!v)
		return -ENOMEM;
	c->v = v;
	memcpy(v[c->n].b, key, klen);
	v[c->n++].len = klen;
	return 0;
}

int usertoken_drop_user_txn(struct store *s, struct store_txn *t, const char *user, size_t *n)
{
	struct keys_ctx c = {NULL, 0};
	struct rec_key k;
	directory_rec_key(&k, user, 0);
	/* A read snapshot of the state t started from (directory.h). */
	int rc = store_doc_foreach(s, STORE_USER_TOKENS, k.b, k.len - 8, keys_cb, &c);
	for (size_t i = 0; !rc && i < c.n; i++)
		rc = drop_one(t, &c.v[i]);
	*n = c.n;
	free(c.v);
	return rc;
}

/* Write last_used when it is missing or older than USERTOKEN_TOUCH_S. */
static void touch(struct store *s, const unsigned char hash[HASH_LEN], int64_t now_s)
{
	struct store_txn *t;
	json_t *rec = NULL;
	if (store_begin(s, &t))
		return;
	int rc = directory_doc_load(t, STORE_TOKENS, hash, HASH_LEN, &rec);
	if (!rc && !json_object_set_new(rec, "last_used", json_integer((json_int_t)now_s)))
		rc = directory_doc_save(t, STORE_TOKENS, hash, HASH_LEN, rec);
	if (rc)
		store_abort(t);
	else
		store_commit(t); /* best effort: a lost update only dates last_used */
	json_decref(rec);
}

static bool looks_like_token(const char *token)
{
	return token && strlen(token) == USERTOKEN_LEN &&
	       !strncmp(token, USERTOKEN_PREFIX, strlen(USERTOKEN_PREFIX));
}

int usertoken_find(struct store *s, const char *token, int64_t now_s,
		   char user[DIRECTORY_NAME_MAX + 1])
{
	unsigned char hash[HASH_LEN];
	struct buf b = BUF_INIT;
	json_t *rec = NULL;
	if (!looks_like_token(token))
		return -ENOENT;
	int rc = token_hash(token, hash);
	if (!rc)
		rc = store_doc_get(s, STORE_TOKENS, hash, HASH_LEN, &b);
	if (!rc)
		rc = directory_doc_parse(b.data, b.len, &rec);
	buf_release(&b);
	if (rc)
		return rc;
	const char *u = json_string_value(json_object_get(rec, "user"));
	json_int_t last = json_integer_value(json_object_get(rec, "last_used"));
	if (!u || !directory_valid_user_name(u)) {
		rc = -EPROTO;
	} else {
		snprintf(user, DIRECTORY_NAME_MAX + 1, "%s", u);
		if (!json_object_get(rec, "last_used") || now_s - last >= USERTOKEN_TOUCH_S)
			touch(s, hash, now_s);
	}
	json_decref(rec);
	OPENSSL_cleanse(hash, sizeof hash);
	return rc;
}
