/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * verify: signature, certificate and routing checks for bus messages (see
 * verify.h), on OpenSSL 3 libcrypto through the EVP and X509 APIs only.
 * Everything is prepared in verifier_new() (trust store, Ed25519 keys,
 * digests), so the hot path does no file I/O (but a stat of the CA/CRL files
 * once a minute) and no PEM parsing once a certificate is cached. The
 * canonical bytes come from the envelope's own parse (canon_emit), not from
 * a second scan. An RSA check is one EVP_Digest with a pre-fetched digest
 * and one EVP_PKEY_verify on a context kept, ready, with the cached
 * certificate: setting a verify context up in OpenSSL 3 (provider fetches,
 * locks, allocations) costs a fifth of the RSA-2048 operation itself.
 * Its memory is the caller's scratch buffer plus what OpenSSL allocates.
 *
 * This file: verify_envelope() and the signature checks (RSA, Ed25519),
 * base64, and the verifier's life (verifier_new/free, the config). The
 * trust store and the certificate cache are in verify_cert.c, the routing
 * policy in verify_route.c, signing (for `herald publish`) in
 * verify_sign.c; verify_int.h is what they share.
 *
 * Not for parsing envelopes (envelope.c), canonical JSON (canon.c) nor for
 * sequence numbers and replay (ingest).
 */
#include "verify.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "canon.h"
#include "clock.h"
#include "verify_int.h"

static const char *const result_names[VERIFY_RESULT_COUNT] = {
	[VERIFY_OK] = "ok",
	[VERIFY_UNSIGNED] = "unsigned",
	[VERIFY_UNSUPPORTED] = "unsupported_crypto",
	[VERIFY_MALFORMED] = "malformed_signature",
	[VERIFY_UNKNOWN_SIGNER] = "unknown_signer",
	[VERIFY_BAD_CERTIFICATE] = "bad_certificate",
	[VERIFY_BAD_SIGNATURE] = "bad_signature",
	[VERIFY_POLICY] = "routing_policy",
};

const char *verify_result_name(enum verify_result r)
{
	if ((unsigned)r >= VERIFY_RESULT_COUNT)
		return "unknown";
	return result_names[r];
}

/*
 * The one place OpenSSL errors become ours: format `fmt` plus the oldest
 * queued OpenSSL error into `err`, empty the queue, return `code`.
 */
__attribute__((format(printf, 4, 5))) int verify_ossl_fail(char *err, size_t errlen, int code,
							   const char *fmt, ...)
{
	char ossl[256] = "";
	unsigned long e = ERR_peek_error();
	if (e)
		ERR_error_string_n(e, ossl, sizeof ossl);
	ERR_clear_error();
	if (!err || !errlen)
		return code;
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (*ossl)
		snprintf(err, errlen, "%s (%s)", what, ossl);
	else
		snprintf(err, errlen, "%s", what);
	return code;
}

/* ---- base64 ---- */

/*
 * Each byte's meaning in base64 text: its 6-bit value, or B64_PAD ('='),
 * B64_SKIP (CR, LF) or B64_BAD.
 */
enum { B64_BAD = -1, B64_PAD = -2, B64_SKIP = -3 };
static const signed char b64_table[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -3, -1, -1, -3, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -2, -1, -1,
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/*
 * Append the bytes encoded by base64 text `s` to `out`; *off and *n say
 * where. fedmsg wraps its base64 (Python's encodestring, 76 columns), so CR
 * and LF are skipped. Anything else outside the alphabet, padding before the
 * end, a truncated quantum, or set bits after the last byte (so each byte
 * string has one spelling) is refused: EVP_DecodeUpdate would stop quietly
 * at a '-' and EVP_DecodeBlock reads '=' as zero bits, so we decode here,
 * checking as we go, in one pass over the text (a signature per message).
 * 0, -EINVAL or -ENOMEM.
 */
int verify_b64_decode(const char *s, size_t max, struct buf *out, size_t *off, size_t *n)
{
	size_t len = strnlen(s, max + 1), tlen = 0, pad = 0;
	uint32_t acc = 0;
	if (len > max)
		return -EINVAL;
	int rc = buf_reserve(out, len / 4 * 3 + 3);
	if (rc)
		return rc;
	unsigned char *start = (unsigned char *)out->data + out->len, *o = start;
	for (size_t i = 0; i < len; i++) {
		int v = b64_table[(unsigned char)s[i]];
		if (v == B64_SKIP)
			continue;
		if (v == B64_BAD || (v >= 0 && pad))
			return -EINVAL;
		pad += v == B64_PAD;
		acc = acc << 6 | (uint32_t)(v >= 0 ? v : 0);
		if (++tlen % 4 == 0) {
			*o++ = (unsigned char)(acc >> 16);
			*o++ = (unsigned char)(acc >> 8);
			*o++ = (unsigned char)acc;
			acc = 0;
		}
	}
	if (!tlen || tlen % 4 || pad > 2)
		return -EINVAL;
	/* The padded bytes, and so the unused bits before them, must be 0. */
	if ((pad >= 1 && o[-1]) || (pad == 2 && o[-2]))
		return -EINVAL;
	*n = (size_t)(o - start) - pad;
	*off = out->len;
	out->len += *n;
	out->data[out->len] = '\0';
	return 0;
}

/* ---- signatures ---- */

/* 1 if `sig` is a valid Ed25519 signature of `tbs` by `pkey`, 0 if not. */
static int digest_verify(EVP_MD_CTX *ctx, EVP_PKEY *pkey, const unsigned char *sig,
			 size_t siglen, const unsigned char *tbs, size_t tbslen)
{
	int ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		 EVP_DigestVerify(ctx, sig, siglen, tbs, tbslen) == 1;
	EVP_MD_CTX_reset(ctx);
	ERR_clear_error();
	return ok;
}

/* A context ready for EVP_PKEY_verify(): PKCS#1 v1.5 over an `md` digest. */
static EVP_PKEY_CTX *rsa_ctx_new(EVP_PKEY *pkey, const EVP_MD *md)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!c || EVP_PKEY_verify_init(c) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c, md) != 1) {
		EVP_PKEY_CTX_free(c);
		ERR_clear_error();
		return NULL;
	}
	return c;
}

/*
 * 1 if `sig` is a valid RSA PKCS#1 v1.5 signature of `tbs` with digest `md`
 * by the view's key, 0 if not. The same check EVP_DigestVerify() makes, in
 * its two halves, on a context that outlives the call: borrowed from the
 * certificate's pool by take() (verify_cert.c), or made here and pooled
 * by verify_give_back().
 */
static int rsa_verify(const struct verifier *v, struct cert_view *cv, int md,
		      const unsigned char *sig, size_t siglen, const unsigned char *tbs,
		      size_t tbslen)
{
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	if (!cv->ctx[md] && !(cv->ctx[md] = rsa_ctx_new(cv->pkey, v->md[md])))
		return 0;
	int ok = EVP_Digest(tbs, tbslen, dgst, &dlen, v->md[md], NULL) == 1 &&
		 EVP_PKEY_verify(cv->ctx[md], sig, siglen, dgst, dlen) == 1;
	if (!ok)
		ERR_clear_error();
	return ok;
}

static enum verify_result verify_x509(struct verifier *v, const struct envelope *env,
				      struct buf *scratch, const char **signer, const char **detail)
{
	if (!v->ca_file) {
		*detail = "x509 signatures need a ca_file";
		return VERIFY_UNSUPPORTED;
	}
	if (!env->certificate) {
		*detail = "x509 signature without a certificate";
		return VERIFY_MALFORMED;
	}
	struct cert_key k = {env->certificate, strnlen(env->certificate, MAX_CERT_B64 + 1), 0, {0},
			     false};
	if (k.len > MAX_CERT_B64) {
		*detail = "certificate too large";
		return VERIFY_MALFORMED;
	}
	k.hash = verify_text_hash(k.text, k.len);
	size_t sig_off, sig_len;
	struct canon_error cerr = {0, NULL};
	int rc = canon_emit(&env->doc, CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE, scratch, &cerr);
	if (rc) {
		*detail = rc == -ENOMEM ? "out of memory" : cerr.what ? cerr.what : "not canonicalizable";
		return VERIFY_MALFORMED;
	}
	size_t tbs_len = scratch->len;
	if ((rc = verify_b64_decode(env->signature, MAX_SIG_B64, scratch, &sig_off, &sig_len))) {
		*detail = rc == -ENOMEM ? "out of memory" : "signature is not valid base64";
		return VERIFY_MALFORMED;
	}
	struct cert_view cv = {NULL, NULL, MD_SHA1, false, NULL, NULL, {NULL}};
	enum verify_result r = verify_cert_lookup(v, &k, scratch, &cv, detail);
	if (r != VERIFY_OK)
		return r;
	/* Pointers only now: verify_cert_lookup may have moved the buffer. */
	const unsigned char *tbs = (const unsigned char *)scratch->data;
	const unsigned char *sig = tbs + sig_off;

	/* fedmsg signs with SHA-1, newer signers with SHA-256: try the one
	 * this certificate used last, then the other. */
	int first = cv.hint == MD_SHA256 ? MD_SHA256 : MD_SHA1, matched = -1;
	for (int i = 0; i < MD_COUNT && matched < 0; i++) {
		int md = i ? !first : first;
		if (rsa_verify(v, &cv, md, sig, sig_len, tbs, tbs_len))
			matched = md;
	}
	verify_give_back(v, &k, &cv, matched);
	EVP_PKEY_free(cv.pkey);
	if (matched < 0) {
		*detail = "rsa signature does not match";
		return VERIFY_BAD_SIGNATURE;
	}
	*signer = cv.cn;
	return VERIFY_OK;
}

static enum verify_result verify_ed25519(struct verifier *v, const struct envelope *env,
					 struct buf *scratch, const char **signer,
					 const char **detail)
{
	const struct vkey *key = NULL;
	if (!env->signer) {
		*detail = "ed25519 signature without a signer";
		return VERIFY_MALFORMED;
	}
	/* A handful of keys: a linear scan beats hashing. */
	for (size_t i = 0; i < v->n_keys && !key; i++)
		if (!strcmp(v->keys[i].name, env->signer))
			key = &v->keys[i];
	if (!key) {
		*detail = "no key with this signer name";
		return VERIFY_UNKNOWN_SIGNER;
	}
	size_t sig_off, sig_len;
	int rc = verify_b64_decode(env->signature, MAX_SIG_B64, scratch, &sig_off, &sig_len);
	if (rc) {
		*detail = rc == -ENOMEM ? "out of memory" : "signature is not valid base64";
		return VERIFY_MALFORMED;
	}
	if (sig_len != 64) {
		*detail = "ed25519 signature is not 64 bytes";
		return VERIFY_MALFORMED;
	}
	size_t tbs_off = scratch->len;
	struct canon_error cerr = {0, NULL};
	rc = canon_emit(&env->doc, CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE, scratch, &cerr);
	if (rc) {
		*detail = rc == -ENOMEM ? "out of memory" : cerr.what ? cerr.what : "not canonicalizable";
		return VERIFY_MALFORMED;
	}
	const unsigned char *sig = (const unsigned char *)scratch->data + sig_off;
	const unsigned char *tbs = (const unsigned char *)scratch->data + tbs_off;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx) {
		*detail = "out of memory";
		return VERIFY_MALFORMED;
	}
	int ok = digest_verify(ctx, key->pkey, sig, 64, tbs, scratch->len - tbs_off);
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		*detail = "ed25519 signature does not match";
		return VERIFY_BAD_SIGNATURE;
	}
	*signer = key->name;
	return VERIFY_OK;
}

enum verify_result verify_envelope(struct verifier *v, const struct envelope *env,
				   const char *raw, size_t len, struct buf *scratch,
				   const char **signer, const char **detail)
{
	const char *who = NULL, *why = NULL;
	enum verify_result r;
	/* The canonical bytes come from env's parse of these same bytes. */
	assert(raw == env->raw && len == env->raw_len);
	(void)raw;
	(void)len;
	buf_reset(scratch);
	if (!env->signature) {
		/* Whatever "crypto" says: nothing to check. */
		r = v->require_signatures ? VERIFY_UNSIGNED : VERIFY_OK;
		why = "message is not signed";
	} else if (env->crypto ? !strcmp(env->crypto, "x509") : env->certificate != NULL) {
		r = verify_x509(v, env, scratch, &who, &why);
	} else if (env->crypto && !strcmp(env->crypto, "ed25519")) {
		r = verify_ed25519(v, env, scratch, &who, &why);
	} else if (env->crypto) {
		r = VERIFY_UNSUPPORTED;
		why = "unknown crypto scheme";
	} else {
		r = VERIFY_MALFORMED;
		why = "signature without crypto or certificate";
	}
	if (r == VERIFY_OK)
		r = verify_check_policy(v, env->topic, who, &why);
	if (signer)
		*signer = r == VERIFY_OK ? who : NULL;
	if (detail)
		*detail = r == VERIFY_OK ? NULL : why;
	return r;
}

/* ---- lifecycle ---- */

static void routes_free(struct verify_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(routes[i].pattern);
		for (size_t j = 0; j < routes[i].n_names; j++)
			free(routes[i].names[j]);
		free(routes[i].names);
	}
	free(routes);
}

void verify_config_release(struct verify_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->ca_file);
	free(cfg->crl_file);
	routes_free(cfg->routes, cfg->n_routes);
	for (size_t i = 0; i < cfg->n_keys; i++)
		free(cfg->keys[i].name);
	free(cfg->keys);
	cfg->ca_file = cfg->crl_file = NULL;
	cfg->routes = NULL;
	cfg->n_routes = 0;
	cfg->keys = NULL;
	cfg->n_keys = 0;
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

static int copy_routes(struct verifier *v, const struct verify_config *cfg)
{
	if (!cfg->n_routes)
		return 0;
	if (!(v->routes = calloc(cfg->n_routes, sizeof *v->routes)))
		return -ENOMEM;
	v->n_routes = cfg->n_routes;
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct verify_route *src = &cfg->routes[i];
		struct verify_route *dst = &v->routes[i];
		if (!src->pattern)
			return -EINVAL;
		if (dup_str(&dst->pattern, src->pattern))
			return -ENOMEM;
		if (src->n_names && !(dst->names = calloc(src->n_names, sizeof *dst->names)))
			return -ENOMEM;
		for (size_t j = 0; j < src->n_names; j++, dst->n_names++)
			if (!src->names[j] || dup_str(&dst->names[j], src->names[j]))
				return src->names[j] ? -ENOMEM : -EINVAL;
	}
	return 0;
}

static int make_keys(struct verifier *v, const struct verify_config *cfg, char *err,
		     size_t errlen)
{
	if (!cfg->n_keys)
		return 0;
	if (!(v->keys = calloc(cfg->n_keys, sizeof *v->keys)))
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_keys; i++) {
		const struct verify_key *k = &cfg->keys[i];
		if (!k->name)
			return verify_ossl_fail(err, errlen, -EINVAL, "verify: key %zu has no name", i);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->keys[j].name, k->name))
				return verify_ossl_fail(err, errlen, -EINVAL,
						 "verify: key '%s' defined twice", k->name);
		if (dup_str(&v->keys[i].name, k->name))
			return -ENOMEM;
		v->n_keys = i + 1;
		v->keys[i].pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->pub, 32);
		if (!v->keys[i].pkey)
			return verify_ossl_fail(err, errlen, -EINVAL, "verify: key '%s' is not usable",
					 k->name);
	}
	return 0;
}

static int fetch_digests(struct verifier *v, char *err, size_t errlen)
{
	/* Fetched once: implicit fetches by name cost a lookup per call. */
	v->md[MD_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
	v->md[MD_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!v->md[MD_SHA1] || !v->md[MD_SHA256])
		return verify_ossl_fail(err, errlen, -EINVAL, "verify: SHA-1/SHA-256 unavailable");
	v->sha256 = v->md[MD_SHA256];
	return 0;
}

int verifier_new(const struct verify_config *cfg, struct verifier **out, char *err,
		 size_t errlen)
{
	int rc;
	struct verifier *v = calloc(1, sizeof *v);
	if (err && errlen)
		*err = '\0';
	*out = NULL;
	if (!v)
		return verify_ossl_fail(err, errlen, -ENOMEM, "verify: out of memory");
	pthread_mutex_init(&v->trust_mu, NULL);
	pthread_mutex_init(&v->reload_mu, NULL);
	pthread_mutex_init(&v->cache_mu, NULL);
	v->reload_log.interval_ms = 60000;
	v->require_signatures = cfg->require_signatures;
	v->routing_strict = cfg->routing_strict;
	v->ignore_cert_time = cfg->ignore_cert_time;
	v->security_level = cfg->security_level;
	if (cfg->security_level < 0 || cfg->security_level > 5) {
		rc = verify_ossl_fail(err, errlen, -EINVAL, "verify: security_level %d is not 0..5",
			       cfg->security_level);
		goto out;
	}
	if (cfg->crl_file && !cfg->ca_file) {
		rc = verify_ossl_fail(err, errlen, -EINVAL, "verify: crl_file needs a ca_file");
		goto out;
	}
	if (dup_str(&v->ca_file, cfg->ca_file) || dup_str(&v->crl_file, cfg->crl_file)) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = copy_routes(v, cfg))) {
		verify_ossl_fail(err, errlen, rc, rc == -ENOMEM ? "verify: out of memory"
							 : "verify: a route has no pattern or name");
		goto out;
	}
	if ((rc = make_keys(v, cfg, err, errlen)) || (rc = fetch_digests(v, err, errlen)))
		goto out;
	if (v->ca_file) {
		/* Stat before reading, so a change made while we read is seen
		 * as a change on the next check. */
		verify_file_id_get(v->ca_file, &v->ca_id);
		verify_file_id_get(v->crl_file, &v->crl_id);
		if ((rc = verify_trust_load(v, &v->store, err, errlen)))
			goto out;
	}
	v->last_reload_ms = clock_mono_ms();
	atomic_store(&v->last_check_ms, v->last_reload_ms);
	*out = v;
out:
	if (rc == -ENOMEM && err && errlen && !*err)
		snprintf(err, errlen, "verify: out of memory");
	if (rc)
		verifier_free(v);
	return rc;
}

void verifier_free(struct verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_cached; i++)
		verify_entry_free(v->fifo[(v->fifo_head + i) % CACHE_MAX]);
	for (struct name *n = v->names, *next; n; n = next) {
		next = n->next;
		free(n);
	}
	X509_STORE_free(v->store);
	for (int i = 0; i < MD_COUNT; i++)
		EVP_MD_free(v->md[i]);
	for (size_t i = 0; i < v->n_keys; i++) {
		free(v->keys[i].name);
		EVP_PKEY_free(v->keys[i].pkey);
	}
	free(v->keys);
	routes_free(v->routes, v->n_routes);
	free(v->ca_file);
	free(v->crl_file);
	pthread_mutex_destroy(&v->trust_mu);
	pthread_mutex_destroy(&v->reload_mu);
	pthread_mutex_destroy(&v->cache_mu);
	free(v);
}
