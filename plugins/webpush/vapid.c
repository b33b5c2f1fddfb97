/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vapid: RFC 8292 ES256 JWTs and their per-origin cache (see vapid.h). */
#include "vapid.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"

/* More push services than a sink ever talks to (each browser vendor runs
 * one or a few); past it the token nearest its end makes room. */
#define VAPID_CACHE_MAX 32

/* base64url of {"typ":"JWT","alg":"ES256"}, the same for every token. */
static const char jwt_header[] = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9";

struct vapid_token {
	char *origin;
	char *subject;
	int64_t exp;
	char *value; /* "vapid t=..., k=..." */
};

struct vapid {
	EVP_PKEY *key;
	char public_b64[VAPID_PUBLIC_B64_LEN + 1];
	struct vapid_token cache[VAPID_CACHE_MAX];
	size_t n_cache;
};

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
							  ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* OpenSSL's reason for the last failure (never key material), cleared. */
static const char *crypto_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	snprintf(buf, len, "%s", e ? ERR_reason_error_string(e) : "unknown error");
	if (!buf[0] || !strcmp(buf, "(null)"))
		snprintf(buf, len, "libcrypto error %lu", e);
	ERR_clear_error();
	return buf;
}

/* An encrypted key would make OpenSSL ask on the terminal: refuse instead. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static int read_key(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
	char why[128];
	FILE *f = fopen(path, "re");

	*out = NULL;
	if (!f) {
		int rc = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	*out = PEM_read_PrivateKey(f, NULL, no_password, NULL);
	fclose(f);
	if (!*out) {
		set_err(err, errlen,
			"%s: not a PEM private key, or an encrypted one (%s); "
			"herald keygen --vapid makes one",
			path, crypto_reason(why, sizeof why));
		return -EINVAL;
	}
	return 0;
}

/* P-256 only: its public point in base64url into v->public_b64. */
static int take_public(struct vapid *v, const char *path, char *err, size_t errlen)
{
	unsigned char pub[65];
	char group[64] = "";
	size_t len = 0;

	if (!EVP_PKEY_is_a(v->key, "EC") ||
	    EVP_PKEY_get_group_name(v->key, group, sizeof group, &len) != 1 ||
	    strcmp(group, "prime256v1") != 0) {
		const char *type = EVP_PKEY_get0_type_name(v->key);
		ERR_clear_error();
		set_err(err, errlen, "%s: not a P-256 (prime256v1) EC key (it is %s%s%s)", path,
			type ? type : "of an unknown type", group[0] ? " " : "", group);
		return -EINVAL;
	}
	/* A SEC1 file may hold its point compressed; k= wants it whole.
	 * OpenSSL 3.0 encodes it uncompressed regardless; asking for that
	 * keeps it so should a later version follow the key's own form. */
	if (EVP_PKEY_set_utf8_string_param(v->key, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
					   "uncompressed") != 1 ||
	    EVP_PKEY_get_octet_string_param(v->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
					    sizeof pub, &len) != 1 ||
	    len != sizeof pub || pub[0] != 0x04) {
		ERR_clear_error();
		set_err(err, errlen, "%s: cannot read the key's public point", path);
		return -EINVAL;
	}
	b64url_encode(pub, sizeof pub, v->public_b64, sizeof v->public_b64);
	return 0;
}

int vapid_load(const char *pem_path, struct vapid **out, char *err, size_t errlen)
{
	struct vapid *v = calloc(1, sizeof *v);
	int rc;

	*out = NULL;
	if (!v) {
		set_err(err, errlen, "%s: out of memory", pem_path);
		return -ENOMEM;
	}
	if ((rc = read_key(pem_path, &v->key, err, errlen)) ||
	    (rc = take_public(v, pem_path, err, errlen))) {
		vapid_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

static void token_release(struct vapid_token *t)
{
	free(t->origin);
	free(t->subject);
	free(t->value);
	*t = (struct vapid_token){0};
}

void vapid_free(struct vapid *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_cache; i++)
		token_release(&v->cache[i]);
	EVP_PKEY_free(v->key);
	free(v);
}

const char *vapid_public_b64(const struct vapid *v)
{
	return v->public_b64;
}

/* s as the contents of a JSON string (quotes, backslashes and control
 * characters escaped), appended at *o; dst has room for 6 bytes per byte. */
static void json_escape(const char *s, char *dst, size_t *o)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dst[(*o)++] = '\\';
			dst[(*o)++] = (char)c;
		} else if (c < 0x20) {
			*o += (size_t)sprintf(dst + *o, "\\u%04x", c);
		} else {
			dst[(*o)++] = (char)c;
		}
	}
}

/* base64url of {"aud":origin,"exp":exp,"sub":subject}, malloc'd. */
static char *claims_b64(const char *origin, const char *subject, int64_t exp)
{
	size_t cap = 6 * (strlen(origin) + strlen(subject)) + 64, o = 0;
	char *json = malloc(cap), *b64 = NULL;

	if (!json)
		return NULL;
	o += (size_t)sprintf(json, "{\"aud\":\"");
	json_escape(origin, json, &o);
	o += (size_t)sprintf(json + o, "\",\"exp\":%" PRId64 ",\"sub\":\"", exp);
	json_escape(subject, json, &o);
	o += (size_t)sprintf(json + o, "\"}");
	if ((b64 = malloc(B64URL_BUFLEN(o))))
		b64url_encode((const unsigned char *)json, o, b64, B64URL_BUFLEN(o));
	free(json);
	return b64;
}

/* ES256 over input: the DER signature OpenSSL makes, as JWS's raw r||s. */
static int sign_es256(EVP_PKEY *key, const char *input, unsigned char raw[64])
{
	unsigned char der[80];
	const unsigned char *p = der;
	size_t der_len = sizeof der;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int rc = -EIO;

	if (!md || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) != 1 ||
	    EVP_DigestSign(md, der, &der_len, (const unsigned char *)input, strlen(input)) != 1 ||
	    !(sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)))
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return rc;
}

/* "vapid t=HEADER.CLAIMS.SIGNATURE, k=PUBLIC", malloc'd. */
static char *make_value(const struct vapid *v, const char *origin, const char *subject, int64_t exp,
			char *err, size_t errlen)
{
	char why[128], sig_b64[B64URL_BUFLEN(64)], *claims = claims_b64(origin, subject, exp);
	char *input = NULL, *value = NULL;
	unsigned char raw[64];
	size_t len;

	if (!claims)
		goto nomem;
	len = sizeof jwt_header + strlen(claims) + 1;
	if (!(input = malloc(len)))
		goto nomem;
	snprintf(input, len, "%s.%s", jwt_header, claims);
	if (sign_es256(v->key, input, raw)) {
		set_err(err, errlen, "vapid: signing the token failed (%s)",
			crypto_reason(why, sizeof why));
		goto out;
	}
	b64url_encode(raw, sizeof raw, sig_b64, sizeof sig_b64);
	len = strlen("vapid t=") + strlen(input) + 1 + strlen(sig_b64) + strlen(", k=") +
	      VAPID_PUBLIC_B64_LEN + 1;
	if (!(value = malloc(len)))
		goto nomem;
	snprintf(value, len, "vapid t=%s.%s, k=%s", input, sig_b64, v->public_b64);
	goto out;
nomem:
	set_err(err, errlen, "vapid: out of memory");
out:
	free(input);
	free(claims);
	return value;
}

/* The token for (origin, subject), or where a new one goes: a free slot,
 * else the one nearest its end. *hit tells which. */
static struct vapid_token *slot_for(struct vapid *v, const char *origin, const char *subject,
				    bool *hit)
{
	struct vapid_token *oldest = NULL;

	*hit = false;
	for (size_t i = 0; i < v->n_cache; i++) {
		struct vapid_token *t = &v->cache[i];
		if (!strcmp(t->origin, origin) && !strcmp(t->subject, subject)) {
			*hit = true;
			return t;
		}
		if (!oldest || t->exp < oldest->exp)
			oldest = t;
	}
	return v->n_cache < VAPID_CACHE_MAX ? &v->cache[v->n_cache] : oldest;
}

static bool still_good(const struct vapid_token *t, int64_t now_s)
{
	return t->exp - now_s >= VAPID_RENEW_BEFORE && t->exp - now_s <= VAPID_LIFETIME;
}

/* Make t, a free or evicted slot, the one of (o, s); takes o and s. */
static void claim_slot(struct vapid *v, struct vapid_token *t, char *o, char *s)
{
	if (t == &v->cache[v->n_cache])
		v->n_cache++;
	else
		token_release(t);
	t->origin = o;
	t->subject = s;
}

const char *vapid_authorization(struct vapid *v, const char *origin, const char *subject,
				int64_t now_s, char *err, size_t errlen)
{
	int64_t exp = now_s + VAPID_LIFETIME;
	char *value = NULL, *o = NULL, *s = NULL;
	struct vapid_token *t;
	bool hit;

	t = slot_for(v, origin, subject, &hit);
	if (hit && still_good(t, now_s))
		return t->value;
	if (!(value = make_value(v, origin, subject, exp, err, errlen)))
		goto fail;
	if (!hit && (!(o = strdup(origin)) || !(s = strdup(subject)))) {
		set_err(err, errlen, "vapid: out of memory");
		goto fail;
	}
	if (!hit)
		claim_slot(v, t, o, s);
	free(t->value);
	t->value = value;
	t->exp = exp;
	return t->value;
fail:
	free(s);
	free(o);
	free(value);
	return NULL;
}
