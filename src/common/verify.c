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
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "canon.h"
#include "log.h"
#include "clock.h"

/* Bounds on what we are willing to decode: RSA-16384 signatures are 2 KiB,
 * and fedmsg certificates are about 4 KiB of PEM. */
#define MAX_SIG_B64 8192
#define MAX_CERT_B64 (64 * 1024)

#define CACHE_MAX 1024      /* cached certificates; oldest evicted beyond */
#define CACHE_BUCKETS 2048  /* power of two */
/* Idle verify contexts kept per certificate and digest: one per thread
 * verifying with it at the same moment is all that is ever needed. */
#define CTX_POOL 8

/* A chain failure re-reads CA/CRL only if the files changed on disk, and at
 * most this often, so a flood of bad certificates cannot make us re-parse. */
#define RELOAD_MIN_MS 2000
/* Even when every chain verifies from the cache, look at the files this
 * often, so a new CRL revokes cached certificates without a restart. */
#define RECHECK_MS 60000

enum { MD_SHA1, MD_SHA256, MD_COUNT };

struct vkey {
	char *name;
	EVP_PKEY *pkey;
};

/* Interned signer names: append-only, freed with the verifier, so a name
 * handed out stays valid even after its cache entry is evicted. */
struct name {
	struct name *next;
	char s[];
};

struct cert_entry {
	unsigned char id[32];         /* SHA-256 of the decoded PEM text */
	char *text;                   /* the base64 as first received */
	size_t text_len;
	uint64_t text_hash;
	X509 *cert;                   /* kept to re-check the chain without parsing */
	EVP_PKEY *pkey;               /* its RSA key; callers take a reference */
	const char *cn;               /* interned */
	time_t not_after;             /* earliest notAfter of the verified chain */
	unsigned gen;                 /* trust generation of the last chain check */
	bool ok;                      /* result of that check */
	const char *detail;           /* static reason when !ok */
	_Atomic int md_hint;          /* digest that matched last: try it first */
	/* Idle EVP_PKEY_verify contexts for pkey, set up (padding, digest),
	 * reusable: a user takes one under cache_mu and gives it back. */
	EVP_PKEY_CTX *idle[MD_COUNT][CTX_POOL];
	int n_idle[MD_COUNT];
	struct cert_entry *next;      /* chain in buckets (by id) */
	struct cert_entry *tnext;     /* chain in tbuckets (by text) */
};

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool exists;
};

struct verifier {
	bool require_signatures;
	bool routing_strict;
	bool ignore_cert_time;
	int security_level;
	char *ca_file, *crl_file;
	struct verify_route *routes;
	size_t n_routes;
	struct vkey *keys;
	size_t n_keys;
	EVP_MD *md[MD_COUNT];
	EVP_MD *sha256;

	/* Trust store: the pointer is swapped on reload under trust_mu; users
	 * take a reference. gen counts reloads so cache entries know when
	 * their chain check is stale. */
	pthread_mutex_t trust_mu;
	X509_STORE *store;
	_Atomic unsigned gen;

	/* Reloading: one at a time, rate-limited. */
	pthread_mutex_t reload_mu;
	uint64_t last_reload_ms;
	_Atomic uint64_t last_check_ms;
	struct file_id ca_id, crl_id;
	struct log_limit reload_log;

	/* Certificates are found by their base64 text first (no decoding, no
	 * hashing of 4 KiB on the hot path), then by the digest of the PEM they
	 * decode to, which is the real identity: the same PEM may arrive
	 * wrapped differently. */
	pthread_mutex_t cache_mu;
	struct cert_entry *buckets[CACHE_BUCKETS];
	struct cert_entry *tbuckets[CACHE_BUCKETS];
	struct cert_entry *fifo[CACHE_MAX];
	size_t fifo_head, n_cached;
	struct name *names;
};

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
__attribute__((format(printf, 4, 5))) static int ossl_fail(char *err, size_t errlen, int code,
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

/* ---- routing ---- */

bool verify_topic_match(const char *pattern, const char *topic)
{
	const char *p = pattern, *t = topic, *star = NULL, *resume = NULL;
	/* Greedy glob with one backtrack point: linear for the patterns we
	 * see, never exponential. */
	while (*t) {
		if (*p == '*') {
			star = p++;
			resume = t;
		} else if (*p == *t) {
			p++;
			t++;
		} else if (star) {
			p = star + 1;
			t = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

/*
 * The first route whose pattern matches decides. An unsigned message
 * (accepted because signatures are not required) meets the policy as a
 * message without signer: it passes only on topics no route covers, and
 * never in strict mode. Skipping the policy for it would let anyone bypass a
 * route by dropping the signature; this way routes keep protecting their
 * topics in a partly signed deployment.
 */
static enum verify_result check_policy(const struct verifier *v, const char *topic,
				       const char *signer, const char **detail)
{
	for (size_t i = 0; i < v->n_routes; i++) {
		const struct verify_route *r = &v->routes[i];
		if (!verify_topic_match(r->pattern, topic))
			continue;
		for (size_t j = 0; signer && j < r->n_names; j++)
			if (!strcmp(r->names[j], signer))
				return VERIFY_OK;
		*detail = signer ? "signer not allowed for this topic"
				 : "unsigned message on a routed topic";
		return VERIFY_POLICY;
	}
	if (v->routing_strict) {
		*detail = "no routing rule covers this topic";
		return VERIFY_POLICY;
	}
	return VERIFY_OK;
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
static int b64_decode(const char *s, size_t max, struct buf *out, size_t *off, size_t *n)
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

/* ---- trust store ---- */

static void file_id_get(const char *path, struct file_id *id)
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
static int trust_load(const struct verifier *v, X509_STORE **out, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	int rc = 0;
	if (!st)
		return ossl_fail(err, errlen, -ENOMEM, "verify: out of memory");
	/* X509_LOOKUP_file reads everything now; verification never touches
	 * the disk (unlike a hashed directory lookup). */
	if (X509_STORE_load_file(st, v->ca_file) != 1) {
		rc = ossl_fail(err, errlen, -EINVAL, "verify: cannot load ca_file '%s'",
			       v->ca_file);
		goto out;
	}
	if (v->crl_file) {
		X509_LOOKUP *lk = X509_STORE_add_lookup(st, X509_LOOKUP_file());
		if (!lk || X509_load_crl_file(lk, v->crl_file, X509_FILETYPE_PEM) <= 0) {
			rc = ossl_fail(err, errlen, -EINVAL, "verify: cannot load crl_file '%s'",
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
	file_id_get(v->ca_file, &ca);
	file_id_get(v->crl_file, &crl);
	atomic_store(&v->last_check_ms, now);
	if (file_id_same(&ca, &v->ca_id) && file_id_same(&crl, &v->crl_id))
		return false;
	if (now - v->last_reload_ms < RELOAD_MIN_MS)
		return false;
	v->last_reload_ms = now;

	char err[512];
	X509_STORE *st = NULL;
	if (trust_load(v, &st, err, sizeof err)) {
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

/* How a message names its certificate: the base64 text as sent and, once
 * computed, the SHA-256 of the PEM it decodes to. */
struct cert_key {
	const char *text;
	size_t len;
	uint64_t hash;
	unsigned char id[32];
	bool have_id;
};

/* What a caller needs from an entry, copied under the lock. */
struct cert_view {
	EVP_PKEY *pkey;   /* a reference for the caller */
	const char *cn;
	int hint;
	bool ok;
	const char *detail;
	X509 *stale;      /* a reference, when the chain must be checked again */
	EVP_PKEY_CTX *ctx[MD_COUNT]; /* verify contexts on loan (give_back) */
};

static uint64_t text_hash(const char *s, size_t len)
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
		if (e->text_hash == k->hash && e->text_len == k->len &&
		    !memcmp(e->text, k->text, k->len))
			return e;
	if (k->have_id)
		for (e = v->buckets[bucket_of(k->id)]; e; e = e->next)
			if (!memcmp(e->id, k->id, 32))
				return e;
	return NULL;
}

static void entry_free(struct cert_entry *e)
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
	pp = &v->tbuckets[victim->text_hash & (CACHE_BUCKETS - 1)];
	while (*pp != victim)
		pp = &(*pp)->tnext;
	*pp = victim->tnext;
}

/* Insert `e`, evicting the oldest entry when full. Returns the entry now in
 * the cache for this certificate: `e`, or one another thread inserted
 * first (then `e` is freed). */
static struct cert_entry *insert_locked(struct verifier *v, struct cert_entry *e)
{
	struct cert_key k = {e->text, e->text_len, e->text_hash, {0}, true};
	memcpy(k.id, e->id, 32);
	struct cert_entry *had = find_locked(v, &k);
	if (had) {
		entry_free(e);
		return had;
	}
	if (v->n_cached == CACHE_MAX) {
		struct cert_entry *old = v->fifo[v->fifo_head];
		unlink_locked(v, old);
		entry_free(old); /* users hold their own key reference */
		v->fifo[v->fifo_head] = e;
		v->fifo_head = (v->fifo_head + 1) % CACHE_MAX;
	} else {
		v->fifo[(v->fifo_head + v->n_cached) % CACHE_MAX] = e;
		v->n_cached++;
	}
	size_t b = bucket_of(e->id);
	e->next = v->buckets[b];
	v->buckets[b] = e;
	b = e->text_hash & (CACHE_BUCKETS - 1);
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
	e->text_hash = k->hash;
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
static enum verify_result cert_lookup(struct verifier *v, struct cert_key *k,
				      struct buf *scratch, struct cert_view *out,
				      const char **detail)
{
	maybe_recheck(v);
	unsigned gen = atomic_load(&v->gen);
	time_t now = v->ignore_cert_time ? 0 : time(NULL);
	if (!take(v, k, gen, now, out)) {
		size_t pem_off, pem_len;
		int rc = b64_decode(k->text, MAX_CERT_B64, scratch, &pem_off, &pem_len);
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
static void give_back(struct verifier *v, const struct cert_key *k, struct cert_view *cv,
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
 * certificate's pool by take(), or made here and pooled by give_back().
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
	k.hash = text_hash(k.text, k.len);
	size_t sig_off, sig_len;
	struct canon_error cerr = {0, NULL};
	int rc = canon_emit(&env->doc, CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE, scratch, &cerr);
	if (rc) {
		*detail = rc == -ENOMEM ? "out of memory" : cerr.what ? cerr.what : "not canonicalizable";
		return VERIFY_MALFORMED;
	}
	size_t tbs_len = scratch->len;
	if ((rc = b64_decode(env->signature, MAX_SIG_B64, scratch, &sig_off, &sig_len))) {
		*detail = rc == -ENOMEM ? "out of memory" : "signature is not valid base64";
		return VERIFY_MALFORMED;
	}
	struct cert_view cv = {NULL, NULL, MD_SHA1, false, NULL, NULL, {NULL}};
	enum verify_result r = cert_lookup(v, &k, scratch, &cv, detail);
	if (r != VERIFY_OK)
		return r;
	/* Pointers only now: cert_lookup may have moved the buffer. */
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
	give_back(v, &k, &cv, matched);
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
	int rc = b64_decode(env->signature, MAX_SIG_B64, scratch, &sig_off, &sig_len);
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
		r = check_policy(v, env->topic, who, &why);
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
			return ossl_fail(err, errlen, -EINVAL, "verify: key %zu has no name", i);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->keys[j].name, k->name))
				return ossl_fail(err, errlen, -EINVAL,
						 "verify: key '%s' defined twice", k->name);
		if (dup_str(&v->keys[i].name, k->name))
			return -ENOMEM;
		v->n_keys = i + 1;
		v->keys[i].pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->pub, 32);
		if (!v->keys[i].pkey)
			return ossl_fail(err, errlen, -EINVAL, "verify: key '%s' is not usable",
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
		return ossl_fail(err, errlen, -EINVAL, "verify: SHA-1/SHA-256 unavailable");
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
		return ossl_fail(err, errlen, -ENOMEM, "verify: out of memory");
	pthread_mutex_init(&v->trust_mu, NULL);
	pthread_mutex_init(&v->reload_mu, NULL);
	pthread_mutex_init(&v->cache_mu, NULL);
	v->reload_log.interval_ms = 60000;
	v->require_signatures = cfg->require_signatures;
	v->routing_strict = cfg->routing_strict;
	v->ignore_cert_time = cfg->ignore_cert_time;
	v->security_level = cfg->security_level;
	if (cfg->security_level < 0 || cfg->security_level > 5) {
		rc = ossl_fail(err, errlen, -EINVAL, "verify: security_level %d is not 0..5",
			       cfg->security_level);
		goto out;
	}
	if (cfg->crl_file && !cfg->ca_file) {
		rc = ossl_fail(err, errlen, -EINVAL, "verify: crl_file needs a ca_file");
		goto out;
	}
	if (dup_str(&v->ca_file, cfg->ca_file) || dup_str(&v->crl_file, cfg->crl_file)) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = copy_routes(v, cfg))) {
		ossl_fail(err, errlen, rc, rc == -ENOMEM ? "verify: out of memory"
							 : "verify: a route has no pattern or name");
		goto out;
	}
	if ((rc = make_keys(v, cfg, err, errlen)) || (rc = fetch_digests(v, err, errlen)))
		goto out;
	if (v->ca_file) {
		/* Stat before reading, so a change made while we read is seen
		 * as a change on the next check. */
		file_id_get(v->ca_file, &v->ca_id);
		file_id_get(v->crl_file, &v->crl_id);
		if ((rc = trust_load(v, &v->store, err, errlen)))
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
		entry_free(v->fifo[(v->fifo_head + i) % CACHE_MAX]);
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

/* ---- signing ---- */

struct ed25519_signer {
	EVP_PKEY *pkey;
};

/* Never prompt on a terminal from a daemon: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int verify_signer_load(const char *pem_path, struct ed25519_signer **out, char *err,
		       size_t errlen)
{
	int rc = 0;
	*out = NULL;
	BIO *bio = BIO_new_file(pem_path, "r");
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (!pkey)
		return ossl_fail(err, errlen, -EINVAL, "verify: cannot read private key '%s'",
				 pem_path);
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		rc = ossl_fail(err, errlen, -EINVAL, "verify: '%s' is not an Ed25519 private key",
			       pem_path);
		goto out;
	}
	struct ed25519_signer *s = malloc(sizeof *s);
	if (!s) {
		rc = ossl_fail(err, errlen, -ENOMEM, "verify: out of memory");
		goto out;
	}
	s->pkey = pkey;
	pkey = NULL;
	*out = s;
out:
	EVP_PKEY_free(pkey);
	return rc;
}

/* -EINVAL: not canonicalizable JSON; -ENOMEM; -EIO: OpenSSL refused. */
int verify_signer_sign(struct ed25519_signer *s, const char *envelope_json, size_t len,
		       struct buf *sig_b64)
{
	struct buf tbs = BUF_INIT;
	unsigned char sig[64];
	unsigned char text[4 * (sizeof sig + 2) / 3 + 1];
	size_t siglen = sizeof sig;
	EVP_MD_CTX *ctx = NULL;
	/* The same transformation verify_envelope() applies, so what we sign
	 * is what will be checked. */
	int rc = canon_json(envelope_json, len, CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE, &tbs,
			    NULL);
	if (rc)
		goto out;
	if (!(ctx = EVP_MD_CTX_new())) {
		rc = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)tbs.data, tbs.len) != 1 ||
	    siglen != sizeof sig) {
		ERR_clear_error();
		rc = -EIO;
		goto out;
	}
	int n = EVP_EncodeBlock(text, sig, (int)siglen); /* no newlines */
	rc = buf_append(sig_b64, text, (size_t)n);
out:
	EVP_MD_CTX_free(ctx);
	buf_release(&tbs);
	return rc;
}

void verify_signer_free(struct ed25519_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->pkey);
	free(s);
}
