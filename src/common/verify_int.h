/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * verify_int: what the parts of verify share (verify.c, verify_cert.c,
 * verify_route.c, verify_sign.c): the verifier's layout, the certificate
 * cache's entries, and the helpers one part calls in another. Nobody else
 * includes this; everything else goes through verify.h.
 *
 * Locks (fields of struct verifier): reload_mu is taken before trust_mu
 * (a reload swaps the store under both); cache_mu guards the certificate
 * cache and the interned names and is never held with another lock, nor
 * across an OpenSSL chain check.
 */
#ifndef HERALD_VERIFY_INT_H
#define HERALD_VERIFY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"
#include "log.h"
#include "verify.h"

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
	uint64_t verify_text_hash;
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
	EVP_PKEY_CTX *ctx[MD_COUNT]; /* verify contexts on loan (verify_give_back) */
};

/* ---- verify.c ---- */

/*
 * The one place OpenSSL errors become ours: format `fmt` plus the oldest
 * queued OpenSSL error into `err`, empty the queue, return `code`.
 */
__attribute__((format(printf, 4, 5))) int verify_ossl_fail(char *err, size_t errlen, int code,
							    const char *fmt, ...);
/* Append the bytes base64 text `s` (at most `max` characters) encodes to
 * `out`; *off and *n say where. 0, -EINVAL or -ENOMEM. */
int verify_b64_decode(const char *s, size_t max, struct buf *out, size_t *off, size_t *n);

/* ---- verify_cert.c: trust store and certificate cache ---- */

void verify_file_id_get(const char *path, struct file_id *id);
/* Read CA bundle and CRL into a new store. 0 or negative with err filled. */
int verify_trust_load(const struct verifier *v, X509_STORE **out, char *err, size_t errlen);
/* A hash of a certificate's base64 text, to find it in the cache. */
uint64_t verify_text_hash(const char *s, size_t len);
/* The key and CN of the certificate `k` names (see verify_cert.c). */
enum verify_result verify_cert_lookup(struct verifier *v, struct cert_key *k,
				      struct buf *scratch, struct cert_view *out,
				      const char **detail);
/* Record the digest that matched and return the view's verify contexts. */
void verify_give_back(struct verifier *v, const struct cert_key *k, struct cert_view *cv,
		      int matched);
/* Free a cache entry (NULL is a no-op). */
void verify_entry_free(struct cert_entry *e);

/* ---- verify_route.c ---- */

/* The routing policy for a verified (or accepted unsigned) message. */
enum verify_result verify_check_policy(const struct verifier *v, const char *topic,
				       const char *signer, const char **detail);

#endif
