/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ece: RFC 8291 message encryption, one aes128gcm record (see ece.h). */
#include "ece.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ECE_SALT_LEN 16
#define ECE_TAG_LEN  16
#define ECE_RS	     4096 /* the record size browsers' senders use */

/* What every message would otherwise look up or rebuild: the algorithms,
 * and P-256 itself (a parameters-only key to import points into, a key
 * generation context): together they take a sixth off each message. */
struct ece {
	EVP_KDF *hkdf;
	EVP_CIPHER *gcm;
	EVP_PKEY *p256;
	EVP_PKEY_CTX *keygen;
};

/* The one place OpenSSL's failures become errno codes: an allocation
 * failure is -ENOMEM, anything else -EIO. The queue is cleared so a later
 * caller does not read a stale error. */
static int crypto_err(void)
{
	unsigned long e = ERR_peek_last_error();
	int rc = e && ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? -ENOMEM : -EIO;

	ERR_clear_error();
	return rc;
}

static EVP_PKEY *p256_params(void)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
	    OSSL_PARAM_construct_end()};
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;

	if (c && EVP_PKEY_fromdata_init(c) == 1)
		EVP_PKEY_fromdata(c, &pk, EVP_PKEY_KEY_PARAMETERS, params);
	EVP_PKEY_CTX_free(c);
	return pk;
}

int ece_new(struct ece **out)
{
	struct ece *e = calloc(1, sizeof *e);

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	e->gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	e->p256 = p256_params();
	if (e->p256)
		e->keygen = EVP_PKEY_CTX_new_from_pkey(NULL, e->p256, NULL);
	if (!e->hkdf || !e->gcm || !e->keygen || EVP_PKEY_keygen_init(e->keygen) != 1) {
		ece_free(e);
		return crypto_err();
	}
	*out = e;
	return 0;
}

void ece_free(struct ece *e)
{
	if (!e)
		return;
	EVP_PKEY_CTX_free(e->keygen);
	EVP_PKEY_free(e->p256);
	EVP_KDF_free(e->hkdf);
	EVP_CIPHER_free(e->gcm);
	free(e);
}

/* The checks fromdata and set1_encoded_public_key leave out: the point at
 * infinity, coordinates in range (P-256's cofactor is 1: no order check
 * is needed). Takes pk. */
static int check_point(EVP_PKEY *pk, EVP_PKEY **out)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	int rc = 0;

	if (!c || EVP_PKEY_public_check_quick(c) != 1) {
		ERR_clear_error();
		EVP_PKEY_free(pk);
		pk = NULL;
		rc = -EINVAL;
	}
	EVP_PKEY_CTX_free(c);
	*out = pk;
	return rc;
}

/* Like ece_import_public, on the fast path: a copy of the curve from e. */
static int import_point(const struct ece *e, const unsigned char pub[ECE_PUBLIC_LEN],
			EVP_PKEY **out)
{
	EVP_PKEY *pk = NULL;

	*out = NULL;
	if (pub[0] != 0x04)
		return -EINVAL;
	if (!(pk = EVP_PKEY_new()) || EVP_PKEY_copy_parameters(pk, e->p256) != 1) {
		EVP_PKEY_free(pk);
		return crypto_err();
	}
	/* Refuses a point off the curve (EC_POINT_oct2point). */
	if (EVP_PKEY_set1_encoded_public_key(pk, pub, ECE_PUBLIC_LEN) != 1) {
		ERR_clear_error();
		EVP_PKEY_free(pk);
		return -EINVAL;
	}
	return check_point(pk, out);
}

int ece_import_public(const unsigned char pub[ECE_PUBLIC_LEN], EVP_PKEY **out)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, ECE_PUBLIC_LEN),
	    OSSL_PARAM_construct_end()};
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;
	int rc;

	*out = NULL;
	/* Only the uncompressed form: it is what browsers send and what the
	 * key_info of RFC 8291 section 3.4 is made of. */
	if (pub[0] != 0x04)
		return -EINVAL;
	if (!(c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)))
		return crypto_err();
	/* fromdata refuses a point off the curve. */
	if (EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		ERR_clear_error();
		rc = -EINVAL;
		goto out;
	}
	rc = check_point(pk, out);
out:
	EVP_PKEY_CTX_free(c);
	return rc;
}

/* The sender's public point, uncompressed, into pub. */
static int export_public(EVP_PKEY *pk, unsigned char pub[ECE_PUBLIC_LEN])
{
	size_t len = 0;

	if (EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
					    ECE_PUBLIC_LEN, &len) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	return len == ECE_PUBLIC_LEN && pub[0] == 0x04 ? 0 : -EINVAL;
}

static int ecdh(EVP_PKEY *as, EVP_PKEY *ua, unsigned char secret[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, as, NULL);
	size_t len = 32;
	int rc = 0;

	/* The peer was checked when it was imported: no second check. */
	if (!c || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer_ex(c, ua, 0) != 1 ||
	    EVP_PKEY_derive(c, secret, &len) != 1 || len != 32)
		rc = crypto_err();
	EVP_PKEY_CTX_free(c);
	return rc;
}

/* One HKDF-SHA-256 step: mode is EVP_KDF_HKDF_MODE_*; salt only for the
 * modes that extract, info only for those that expand. */
static int hkdf(EVP_KDF_CTX *k, int mode, const unsigned char *salt, size_t salt_len,
		const unsigned char *key, size_t key_len, const unsigned char *info,
		size_t info_len, unsigned char *out, size_t out_len)
{
	OSSL_PARAM p[6], *q = p;

	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
	if (salt)
		*q++ =
		    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info)
		*q++ =
		    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*q = OSSL_PARAM_construct_end();
	return EVP_KDF_derive(k, out, out_len, p) == 1 ? 0 : crypto_err();
}

/* The keys of RFC 8291 section 3.4 and RFC 8188 section 2.2. */
struct ece_keys {
	unsigned char ikm[32];
	unsigned char prk[32];
	unsigned char cek[16];
	unsigned char nonce[12];
};

static int derive_keys(const struct ece *e, const unsigned char secret[32],
		       const unsigned char auth[ECE_AUTH_LEN],
		       const unsigned char ua_public[ECE_PUBLIC_LEN],
		       const unsigned char as_public[ECE_PUBLIC_LEN], const unsigned char *salt,
		       struct ece_keys *k)
{
	static const char webpush_info[] = "WebPush: info"; /* and its NUL */
	static const char cek_info[] = "Content-Encoding: aes128gcm";
	static const char nonce_info[] = "Content-Encoding: nonce";
	unsigned char key_info[sizeof webpush_info + 2 * ECE_PUBLIC_LEN];
	EVP_KDF_CTX *kc = EVP_KDF_CTX_new(e->hkdf);
	int rc;

	if (!kc)
		return crypto_err();
	memcpy(key_info, webpush_info, sizeof webpush_info);
	memcpy(key_info + sizeof webpush_info, ua_public, ECE_PUBLIC_LEN);
	memcpy(key_info + sizeof webpush_info + ECE_PUBLIC_LEN, as_public, ECE_PUBLIC_LEN);
	rc = hkdf(kc, EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, auth, ECE_AUTH_LEN, secret, 32,
		  key_info, sizeof key_info, k->ikm, sizeof k->ikm);
	if (!rc)
		rc = hkdf(kc, EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, ECE_SALT_LEN, k->ikm,
			  sizeof k->ikm, NULL, 0, k->prk, sizeof k->prk);
	if (!rc)
		rc = hkdf(kc, EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, k->prk, sizeof k->prk,
			  (const unsigned char *)cek_info, sizeof cek_info, k->cek, sizeof k->cek);
	if (!rc)
		rc = hkdf(kc, EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, k->prk, sizeof k->prk,
			  (const unsigned char *)nonce_info, sizeof nonce_info, k->nonce,
			  sizeof k->nonce);
	EVP_KDF_CTX_free(kc);
	return rc;
}

/* Encrypt the record rec[0..len) in place and append its tag. */
static int seal(const struct ece *e, const struct ece_keys *k, unsigned char *rec, size_t len)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, rc = 0;

	if (!c || EVP_EncryptInit_ex2(c, e->gcm, k->cek, k->nonce, NULL) != 1 ||
	    EVP_EncryptUpdate(c, rec, &n, rec, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, rec + n, &fin) != 1 || (size_t)(n + fin) != len ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, ECE_TAG_LEN, rec + len) != 1)
		rc = crypto_err();
	EVP_CIPHER_CTX_free(c);
	return rc;
}

static void put_header(unsigned char *h, const unsigned char *salt,
		       const unsigned char as_public[ECE_PUBLIC_LEN])
{
	memcpy(h, salt, ECE_SALT_LEN);
	h[16] = (unsigned char)(ECE_RS >> 24);
	h[17] = (unsigned char)(ECE_RS >> 16);
	h[18] = (unsigned char)(ECE_RS >> 8);
	h[19] = (unsigned char)ECE_RS;
	h[20] = ECE_PUBLIC_LEN;
	memcpy(h + 21, as_public, ECE_PUBLIC_LEN);
}

int ece_encrypt(struct ece *e, const unsigned char ua_public[ECE_PUBLIC_LEN],
		const unsigned char auth[ECE_AUTH_LEN], const unsigned char *plain,
		size_t plain_len, size_t pad, EVP_PKEY *as_key, const unsigned char *salt,
		unsigned char **out, size_t *out_len)
{
	unsigned char as_public[ECE_PUBLIC_LEN], secret[32], fresh_salt[ECE_SALT_LEN];
	struct ece_keys k;
	EVP_PKEY *ua = NULL, *as = NULL;
	unsigned char *buf = NULL;
	size_t rec_len;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (plain_len > ECE_MAX_BODY || pad > ECE_MAX_BODY ||
	    ECE_OVERHEAD + plain_len + pad > ECE_MAX_BODY)
		return -EMSGSIZE;
	rec_len = plain_len + 1 + pad;
	if ((rc = import_point(e, ua_public, &ua)))
		goto out;
	if (!salt) {
		if (RAND_bytes(fresh_salt, sizeof fresh_salt) != 1) {
			rc = crypto_err();
			goto out;
		}
		salt = fresh_salt;
	}
	if (as_key) {
		as = as_key;
	} else if (EVP_PKEY_generate(e->keygen, &as) != 1) {
		rc = crypto_err();
		goto out;
	}
	if ((rc = export_public(as, as_public)) || (rc = ecdh(as, ua, secret)) ||
	    (rc = derive_keys(e, secret, auth, ua_public, as_public, salt, &k)))
		goto out;
	if (!(buf = malloc(ECE_HEADER_LEN + rec_len + ECE_TAG_LEN))) {
		rc = -ENOMEM;
		goto out;
	}
	put_header(buf, salt, as_public);
	/* RFC 8188 section 2: the last (here the only) record's padding
	 * starts with 0x02. */
	if (plain_len) /* plain may be NULL then */
		memcpy(buf + ECE_HEADER_LEN, plain, plain_len);
	buf[ECE_HEADER_LEN + plain_len] = 0x02;
	memset(buf + ECE_HEADER_LEN + plain_len + 1, 0, pad);
	if ((rc = seal(e, &k, buf + ECE_HEADER_LEN, rec_len)))
		goto out;
	*out = buf;
	*out_len = ECE_HEADER_LEN + rec_len + ECE_TAG_LEN;
	buf = NULL;
out:
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(&k, sizeof k);
	if (buf) {
		OPENSSL_cleanse(buf, ECE_HEADER_LEN + rec_len + ECE_TAG_LEN);
		free(buf);
	}
	if (as != as_key)
		EVP_PKEY_free(as);
	EVP_PKEY_free(ua);
	return rc;
}
