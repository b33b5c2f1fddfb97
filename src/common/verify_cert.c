/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * verify_cert: the X.509 side of verify (see verify.h): the trust store
 * (CA bundle and CRL, reloaded when the files change, rate-limited) and the
 * cache of certificates already checked, found by their base64 text or by
 * the digest of their PEM, each with its subject CN and a pool of ready
 * RSA verify contexts.
 *
 * Not for checking signatures (verify.c takes a key and contexts from here
 * and gives the contexts back) nor for the routing policy (verify_route.c).
 */
#include "verify.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "clock.h"
#include "log.h"
#include "verify_int.h"

/* ---- trust store ---- */

void verify_file_id_get(const char *path, struct file_id *id)
{
	struct stat st;
	memset(id, 0, sizeof *id);
	if (!path || stat(path, &st))
		return;
	id->exists = true;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	id->ctime = st.st_ctim;
}

static bool file_id_same(const struct file_id *a, const struct file_id *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Read CA bundle and CRL into a new store. 0 or negative with err filled. */
int verify_trust_load(const struct verifier *v, X509_STORE **out, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	int rc = 0;
	if (!st)
		return verify_ossl_fail(err, errlen, -ENOMEM, "verify: out of memory");
	/* X509_LOOKUP_file reads everything now; verification never touches
	 * the disk (unlike a hashed directory lookup). */
	if (X509_STORE_load_file(st, v->ca_file) != 1) {
		rc = verify_ossl_fail(err, errlen, -EINVAL, "verify: cannot load ca_file '%s'",
			       v->ca_file);
		goto out;
	}
	if (v->crl_file) {
		X509_LOOKUP *lk = X509_STORE_add_lookup(st, X509_LOOKUP_file());
		if (!lk || X509_load_crl_file(lk, v->crl_file, X509_FILETYPE_PEM) <= 0) {
			rc = verify_ossl_fail(err, errlen, -EINVAL, "verify: cannot load crl_file '%s'",
				       v->crl_file);
			goto out;
		}
	}
out:
	if (rc)
		X509_STORE_free(st);
	else
		*out = st;
	return rc;
}

static X509_STORE *trust_get(struct verifier *v, unsigned *gen)
{
	pthread_mutex_lock(&v->trust_mu);
	X509_STORE *st = v->store;
	X509_STORE_up_ref(st);
	*gen = atomic_load(&v->gen);
	pthread_mutex_unlock(&v->trust_mu);
	return st;
}

/*
 * Reload CA/CRL if they changed on disk and the last reload is old enough.
 * Caller holds reload_mu. True if a new store is in place.
 */
static bool reload_locked(struct verifier *v, uint64_t now)
{
	struct file_id ca, crl;
	verify_file_id_get(v->ca_file, &ca);
	verify_file_id_get(v->crl_file, &crl);
	atomic_store(&v->last_check_ms, now);
	if (file_id_same(&ca, &v->ca_id) && file_id_same(&crl, &v->crl_id))
		return false;
	if (now - v->last_reload_ms < RELOAD_MIN_MS)
		return false;
	v->last_reload_ms = now;

	char err[512];
	X509_STORE *st = NULL;
	if (verify_trust_load(v, &st, err, sizeof err)) {
		/* Keep the old store: a half-written file must not lock
		 * everyone out. We try again once the files change again. */
		log_limited(&v->reload_log, L_WARN, "%s; keeping the previous CA/CRL", err);
		return false;
	}
	v->ca_id = ca;
	v->crl_id = crl;
	pthread_mutex_lock(&v->trust_mu);
	X509_STORE *old = v->store;
	v->store = st;
	atomic_fetch_add(&v->gen, 1);
	pthread_mutex_unlock(&v->trust_mu);
	X509_STORE_free(old);
	if (v->crl_file)
		log_info("verify: reloaded ca_file '%s' and crl_file '%s'", v->ca_file, v->crl_file);
	else
		log_info("verify: reloaded ca_file '%s'", v->ca_file);
	return true;
}

/* After a chain failure against generation `seen`: is there a newer store
 * to retry with (ours, or one another thread just loaded)? */
static bool reload_after_failure(struct verifier *v, unsigned seen)
{
	pthread_mutex_lock(&v->reload_mu);
	bool fresh = atomic_load(&v->gen) != seen || reload_locked(v, clock_mono_ms());
	pthread_mutex_unlock(&v->reload_mu);
	return fresh;
}

/* Now and then, even when all goes well, look at the files. Whoever finds
 * the lock taken leaves it to the holder. */
static void maybe_recheck(struct verifier *v)
{
	uint64_t now = clock_mono_ms();
	if (now - atomic_load_explicit(&v->last_check_ms, memory_order_relaxed) < RECHECK_MS)
		return;
	if (pthread_mutex_trylock(&v->reload_mu))
		return;
	if (now - atomic_load(&v->last_check_ms) >= RECHECK_MS)
		reload_locked(v, now);
	pthread_mutex_unlock(&v->reload_mu);
}

/* Earliest notAfter over the verified chain, so a cached entry expires with
 * its CA too. */
static time_t chain_not_after(X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	time_t now = time(NULL), min = (time_t)INT64_MAX;
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		int days, secs;
		if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(sk_X509_value(chain, i))))
			return now; /* unreadable: re-check on next use */
		time_t t = now + (time_t)days * 86400 + secs;
		if (t < min)
			min = t;
	}
	return min;
}

/*
 * Security levels (cfg.security_level, OpenSSL's auth level) govern the
 * chain only. OpenSSL 3 accepts SHA-1 when *verifying* an RSA signature at
 * any level, so fedmsg's SHA-1 message signatures pass at the default level
 * 1. A certificate signed with SHA-1 is another matter: OpenSSL 3 rates
 * SHA-1 certificate signatures below 80 bits, so level 1 and up refuse them
 * (X509_V_ERR_CA_MD_TOO_WEAK); RSA-1024 keys rate 80 bits, refused from
 * level 2 (X509_V_ERR_EE_KEY_TOO_SMALL). Deployed fedmsg certificates
 * (RSA-1024 signed with SHA-1) therefore need security_level = 0, as
 * test_verify asserts. Distributions that patch SHA-1 out of libcrypto
 * (RHEL crypto policies) refuse SHA-1 message signatures at any level.
 *
 * One chain check of `cert` against the current store. 0 on success with
 * *not_after set, -1 with *detail set. *gen receives the store generation.
 */
static int chain_once(struct verifier *v, X509 *cert, unsigned *gen, time_t *not_after,
		      const char **detail)
{
	X509_STORE *st = trust_get(v, gen);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = -1;
	*detail = "out of memory checking the certificate chain";
	if (!ctx || X509_STORE_CTX_init(ctx, st, cert, NULL) != 1)
		goto out;
	X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(ctx);
	unsigned long flags = 0;
	if (v->crl_file)
		flags |= X509_V_FLAG_CRL_CHECK;
	if (v->ignore_cert_time)
		flags |= X509_V_FLAG_NO_CHECK_TIME;
	if (flags && X509_VERIFY_PARAM_set_flags(p, flags) != 1)
		goto out;
	X509_VERIFY_PARAM_set_auth_level(p, v->security_level);
	if (X509_verify_cert(ctx) == 1) {
		*not_after = chain_not_after(ctx);
		rc = 0;
	} else {
		/* A static string in OpenSSL 3 for every code. */
		*detail = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
	}
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return rc;
}

/* A chain check that, like fedmsg, gives a rotated CA or CRL one chance. */
static int chain_check(struct verifier *v, X509 *cert, unsigned *gen, time_t *not_after,
		       const char **detail)
{
	if (!chain_once(v, cert, gen, not_after, detail))
		return 0;
	if (!reload_after_failure(v, *gen))
		return -1;
	return chain_once(v, cert, gen, not_after, detail);
}

/* ---- certificate cache ---- */

uint64_t verify_text_hash(const char *s, size_t len)
{
	/* FNV-1a style over the length and the last 256 characters, a word
	 * at a time (this runs per message): the tail encodes the
	 * certificate's own signature, so it differs between certificates,
	 * and the whole text is compared on a match anyway. */
	uint64_t h = 0xcbf29ce484222325ull ^ len, w;
	size_t i = len > 256 ? len - 256 : 0;
	for (; len - i >= 8; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static size_t bucket_of(const unsigned char id[32])
{
	size_t h;
	memcpy(&h, id, sizeof h); /* already a good hash */
	return h & (CACHE_BUCKETS - 1);
}

static struct cert_entry *find_locked(struct verifier *v, const struct cert_key *k)
{
	struct cert_entry *e;
	for (e = v->tbuckets[k->hash & (CACHE_BUCKETS - 1)]; e; e = e->tnext)
		if (e->verify_text_hash == k->hash && e->text_len == k->len &&
		    !memcmp(e->text, k->text, k->len))
			return e;
	if (k->have_id)
		for (e = v->buckets[bucket_of(k->id)]; e; e = e->next)
			if (!memcmp(e->id, k->id, 32))
				return e;
	return NULL;
}

void verify_entry_free(struct cert_entry *e)
{
	if (!e)
		return;
	for (int md = 0; md < MD_COUNT; md++)
		for (int i = 0; i < e->n_idle[md]; i++)
			EVP_PKEY_CTX_free(e->idle[md][i]);
	X509_free(e->cert);
	EVP_PKEY_free(e->pkey);
	free(e->text);
	free(e);
}

static void unlink_locked(struct verifier *v, struct cert_entry *victim)
{
	struct cert_entry **pp = &v->buckets[bucket_of(victim->id)];
	while (*pp != victim)
		pp = &(*pp)->next;
	*pp = victim->next;
	pp = &v->tbuckets[victim->verify_text_hash & (CACHE_BUCKETS - 1)];
	while (*pp != victim)
		pp = &(*pp)->tnext;
	*pp = victim->tnext;
}

/* Insert `e`, evicting the oldest entry when full. Returns the entry now in
 * the cache for this certificate: `e`, or one another thread inserted
 * first (then `e` is freed). */
static struct cert_entry *insert_locked(struct verifier *v, struct cert_entry *e)
{
	struct cert_key k = {e->text, e->text_len, e->verify_text_hash, {0}, true};
	memcpy(k.id, e->id, 32);
	struct cert_entry *had = find_locked(v, &k);
	if (had) {
		verify_entry_free(e);
		return had;
	}
	if (v->n_cached == CACHE_MAX) {
		struct cert_entry *old = v->fifo[v->fifo_head];
		unlink_locked(v, old);
		verify_entry_free(old); /* users hold their own key reference */
		v->fifo[v->fifo_head] = e;
		v->fifo_head = (v->fifo_head + 1) % CACHE_MAX;
	} else {
		v->fifo[(v->fifo_head + v->n_cached) % CACHE_MAX] = e;
		v->n_cached++;
	}
	size_t b = bucket_of(e->id);
	e->next = v->buckets[b];
	v->buckets[b] = e;
	b = e->verify_text_hash & (CACHE_BUCKETS - 1);
	e->tnext = v->tbuckets[b];
	v->tbuckets[b] = e;
	return e;
}

/* Copy what the caller needs out of the entry for `k`, if there is one. A
 * check made against an older trust store, or a chain that has expired
 * since, is stale and handed back for checking again. */
static bool take(struct verifier *v, const struct cert_key *k, unsigned gen, time_t now,
		 struct cert_view *out)
{
	pthread_mutex_lock(&v->cache_mu);
	struct cert_entry *e = find_locked(v, k);
	if (e) {
		out->pkey = e->pkey;
		EVP_PKEY_up_ref(out->pkey);
		out->cn = e->cn;
		out->hint = atomic_load_explicit(&e->md_hint, memory_order_relaxed);
		out->ok = e->ok;
		out->detail = e->detail;
		out->stale = NULL;
		if (e->gen != gen || (e->ok && now > e->not_after)) {
			out->stale = e->cert;
			X509_up_ref(out->stale);
		}
		/* A ready context for the digest that will be tried first. */
		int h = out->hint;
		if (e->ok && !out->stale && e->n_idle[h])
			out->ctx[h] = e->idle[h][--e->n_idle[h]];
	}
	pthread_mutex_unlock(&v->cache_mu);
	return e != NULL;
}

static const char *intern_locked(struct verifier *v, const char *s, size_t len)
{
	for (struct name *n = v->names; n; n = n->next)
		if (!strncmp(n->s, s, len) && !n->s[len])
			return n->s;
	struct name *n = malloc(sizeof *n + len + 1);
	if (!n)
		return NULL;
	memcpy(n->s, s, len);
	n->s[len] = '\0';
	n->next = v->names;
	v->names = n;
	return n->s;
}

/* The subject CN, interned. NULL with *detail set. */
static const char *subject_cn(struct verifier *v, X509 *cert, const char **detail)
{
	X509_NAME *nm = X509_get_subject_name(cert);
	/* The first CN, as fedmsg (pyOpenSSL's X509Name.CN) reads it. */
	int idx = nm ? X509_NAME_get_index_by_NID(nm, NID_commonName, -1) : -1;
	if (idx < 0) {
		*detail = "certificate subject has no CN";
		return NULL;
	}
	unsigned char *u8 = NULL;
	int n = ASN1_STRING_to_UTF8(&u8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)));
	const char *cn = NULL;
	if (n <= 0 || memchr(u8, 0, (size_t)n)) {
		*detail = "certificate CN is empty or unreadable";
	} else {
		pthread_mutex_lock(&v->cache_mu);
		cn = intern_locked(v, (const char *)u8, (size_t)n);
		pthread_mutex_unlock(&v->cache_mu);
		if (!cn)
			*detail = "out of memory";
	}
	OPENSSL_free(u8);
	ERR_clear_error();
	return cn;
}

static struct cert_entry *entry_new(const struct cert_key *k, X509 *cert, EVP_PKEY *key,
				    const char *cn, unsigned gen, time_t not_after)
{
	struct cert_entry *e = calloc(1, sizeof *e);
	if (!e || !(e->text = malloc(k->len + 1))) {
		free(e);
		return NULL;
	}
	memcpy(e->text, k->text, k->len);
	e->text[k->len] = '\0';
	e->text_len = k->len;
	e->verify_text_hash = k->hash;
	memcpy(e->id, k->id, 32);
	e->cert = cert;
	e->pkey = key;
	EVP_PKEY_up_ref(key);
	e->cn = cn;
	e->not_after = not_after;
	e->gen = gen;
	e->ok = true;
	return e;
}

/*
 * Parse, check and cache a certificate seen for the first time. On
 * VERIFY_OK, out->pkey (a reference), out->cn and out->hint are set.
 */
static enum verify_result cert_first_seen(struct verifier *v, const struct cert_key *k,
					  const char *pem, size_t pem_len, struct cert_view *out,
					  const char **detail)
{
	enum verify_result r = VERIFY_BAD_CERTIFICATE;
	BIO *bio = BIO_new_mem_buf(pem, (int)pem_len);
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!cert) {
		*detail = "certificate is not a PEM X.509 certificate";
		r = VERIFY_MALFORMED;
		goto out;
	}
	EVP_PKEY *key = X509_get0_pubkey(cert);
	if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		*detail = "certificate key is not RSA";
		goto out;
	}
	unsigned gen;
	time_t not_after;
	if (chain_check(v, cert, &gen, &not_after, detail))
		goto out;
	const char *name = subject_cn(v, cert, detail);
	if (!name)
		goto out;
	struct cert_entry *e = entry_new(k, cert, key, name, gen, not_after);
	if (!e) {
		*detail = "out of memory";
		goto out;
	}
	cert = NULL; /* the entry's now */
	pthread_mutex_lock(&v->cache_mu);
	e = insert_locked(v, e);
	out->pkey = e->pkey;
	EVP_PKEY_up_ref(out->pkey);
	out->cn = e->cn;
	out->hint = atomic_load_explicit(&e->md_hint, memory_order_relaxed);
	pthread_mutex_unlock(&v->cache_mu);
	r = VERIFY_OK;
out:
	X509_free(cert);
	ERR_clear_error();
	return r;
}

/*
 * A cached certificate whose check is stale: check again with the X509 we
 * kept, then record the outcome for everyone.
 */
static enum verify_result cert_recheck(struct verifier *v, const struct cert_key *k, X509 *cert,
				       const char **detail)
{
	unsigned gen;
	time_t not_after = 0;
	int rc = chain_check(v, cert, &gen, &not_after, detail);
	pthread_mutex_lock(&v->cache_mu);
	struct cert_entry *e = find_locked(v, k);
	if (e && (int)(gen - e->gen) >= 0) {
		e->gen = gen;
		e->ok = !rc;
		e->not_after = not_after;
		e->detail = rc ? *detail : NULL;
	}
	pthread_mutex_unlock(&v->cache_mu);
	return rc ? VERIFY_BAD_CERTIFICATE : VERIFY_OK;
}

/*
 * The key and CN of the certificate `k` names, from the cache or by
 * checking it. A certificate not found by its text is decoded into
 * `scratch` (which may move). On VERIFY_OK, out->pkey is a reference the
 * caller frees.
 */
enum verify_result verify_cert_lookup(struct verifier *v, struct cert_key *k,
				      struct buf *scratch, struct cert_view *out,
				      const char **detail)
{
	maybe_recheck(v);
	unsigned gen = atomic_load(&v->gen);
	time_t now = v->ignore_cert_time ? 0 : time(NULL);
	if (!take(v, k, gen, now, out)) {
		size_t pem_off, pem_len;
		int rc = verify_b64_decode(k->text, MAX_CERT_B64, scratch, &pem_off, &pem_len);
		if (rc) {
			*detail = rc == -ENOMEM ? "out of memory" : "certificate is not valid base64";
			return VERIFY_MALFORMED;
		}
		const char *pem = scratch->data + pem_off;
		if (EVP_Digest(pem, pem_len, k->id, NULL, v->sha256, NULL) != 1) {
			ERR_clear_error();
			*detail = "cannot hash the certificate";
			return VERIFY_MALFORMED;
		}
		k->have_id = true;
		if (!take(v, k, gen, now, out))
			return cert_first_seen(v, k, pem, pem_len, out, detail);
	}
	enum verify_result r = out->ok ? VERIFY_OK : VERIFY_BAD_CERTIFICATE;
	*detail = out->detail;
	if (out->stale) {
		r = cert_recheck(v, k, out->stale, detail);
		X509_free(out->stale);
	}
	if (r != VERIFY_OK) {
		EVP_PKEY_free(out->pkey);
		out->pkey = NULL;
		for (int md = 0; md < MD_COUNT; md++) {
			EVP_PKEY_CTX_free(out->ctx[md]);
			out->ctx[md] = NULL;
		}
	}
	return r;
}

/*
 * After a check: record the digest that matched (so the common scheme
 * costs one RSA operation per message) and return the verify contexts to
 * the entry's pool, or free them if it is full or was evicted meanwhile.
 */
void verify_give_back(struct verifier *v, const struct cert_key *k, struct cert_view *cv,
		      int matched)
{
	pthread_mutex_lock(&v->cache_mu);
	struct cert_entry *e = find_locked(v, k);
	if (e && matched >= 0 && matched != cv->hint)
		atomic_store_explicit(&e->md_hint, matched, memory_order_relaxed);
	for (int md = 0; md < MD_COUNT; md++) {
		if (!cv->ctx[md])
			continue;
		if (e && e->pkey == cv->pkey && e->n_idle[md] < CTX_POOL)
			e->idle[md][e->n_idle[md]++] = cv->ctx[md];
		else
			EVP_PKEY_CTX_free(cv->ctx[md]);
		cv->ctx[md] = NULL;
	}
	pthread_mutex_unlock(&v->cache_mu);
}
