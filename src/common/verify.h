/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * verify: decide whether a bus message really comes from someone allowed to
 * publish its topic.
 *
 * Two schemes over the same canonical bytes (canon.h, envelope minus
 * "signature" and "certificate", archive fields undone):
 *  - fedmsg X.509 ("crypto": "x509", or absent with a "certificate"): RSA
 *    PKCS#1 v1.5 with SHA-1 or SHA-256; "signature" is base64 of the raw
 *    signature, "certificate" base64 of the PEM text (both may hold
 *    newlines). The certificate must chain to the CA (and pass the CRL when
 *    one is set; CA/CRL are reloaded once on a chain failure). Certificates
 *    already verified are cached by digest. The signer name is the subject CN.
 *  - Ed25519 ("crypto": "ed25519"): "signer" names a public key from the
 *    config; the signer name is that key name.
 * Then the routing policy: topic pattern -> signer names allowed to publish.
 *
 * Not for parsing envelopes (envelope.h) nor for sequence numbers.
 *
 * Thread-safety: a verifier is immutable once made, except for its internal
 * certificate cache, which is locked; verify_envelope() may run from many
 * threads at once. To change configuration make a new verifier and swap.
 */
#ifndef HERALD_VERIFY_H
#define HERALD_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "envelope.h"

/* One routing rule: messages whose topic matches `pattern` (exact, or a glob
 * with `*`) may be signed only by one of `names`. */
struct verify_route {
	char *pattern;  /* owned by the config */
	char **names;   /* owned; n_names entries */
	size_t n_names;
};

/* An Ed25519 public key the config trusts. */
struct verify_key {
	char *name;              /* owned by the config */
	unsigned char pub[32];   /* raw public key */
};

struct verify_config {
	bool require_signatures; /* default true: unsigned messages are rejected */
	char *ca_file;           /* PEM CA bundle for X.509; NULL = X.509 refused */
	char *crl_file;          /* optional PEM CRL */
	int security_level;      /* OpenSSL auth level for chains, 0..5; default 1 */
	bool ignore_cert_time;   /* accept expired/not-yet-valid certs (archives) */
	bool routing_strict;     /* topics no rule covers are rejected */
	struct verify_route *routes;
	size_t n_routes;
	struct verify_key *keys;
	size_t n_keys;
};

/* Outcome of a verification; also indexes the rejection metrics. */
enum verify_result {
	VERIFY_OK = 0,
	VERIFY_UNSIGNED,        /* no signature and signatures are required */
	VERIFY_UNSUPPORTED,     /* unknown "crypto" scheme */
	VERIFY_MALFORMED,       /* bad base64, bad PEM, non-canonicalizable JSON */
	VERIFY_UNKNOWN_SIGNER,  /* Ed25519 key name not in the config */
	VERIFY_BAD_CERTIFICATE, /* does not chain to the CA, revoked, expired */
	VERIFY_BAD_SIGNATURE,   /* signature does not match the bytes */
	VERIFY_POLICY,          /* signer not allowed to publish this topic */
	VERIFY_RESULT_COUNT
};

struct verifier;

/* Build a verifier from `cfg` (copied; cfg may be freed afterwards). Loads
 * the CA and CRL files. 0 on success, or negative with `err` filled. */
int verifier_new(const struct verify_config *cfg, struct verifier **out, char *err,
		 size_t errlen);
void verifier_free(struct verifier *v); /* NULL is a no-op */

/*
 * Verify one envelope. `raw`/`len` are the exact bytes it was parsed from
 * (the canonical bytes are printed from env's own parse of them, so they are
 * not scanned again). `scratch` is a caller-owned buffer reused between
 * calls (one per thread) to avoid allocation. On VERIFY_OK, `signer` (may be
 * NULL) receives the signer name, valid until the verifier is freed, or NULL
 * for an unsigned message accepted because signatures are not required. On
 * failure, `detail` (may be NULL) receives a short static reason for logs.
 */
enum verify_result verify_envelope(struct verifier *v, const struct envelope *env,
				   const char *raw, size_t len, struct buf *scratch,
				   const char **signer, const char **detail);

/* Name of a result for metrics labels: "ok", "unsigned", "bad_signature"... */
const char *verify_result_name(enum verify_result r);

/* Does `topic` match routing `pattern`? `*` matches any run of characters. */
bool verify_topic_match(const char *pattern, const char *topic);

/* Free a config's owned fields (routes, keys, file names). */
void verify_config_release(struct verify_config *cfg);

/*
 * Signing, for `herald publish` and tests. A signer holds one Ed25519 private
 * key loaded from a PEM file. verify_signer_sign() appends to `sig_b64` the
 * base64 signature of the canonical bytes of `envelope_json` (the same bytes
 * verify_envelope() checks). 0 or negative with `err` filled / -EINVAL.
 */
struct ed25519_signer;
int verify_signer_load(const char *pem_path, struct ed25519_signer **out, char *err,
		       size_t errlen);
int verify_signer_sign(struct ed25519_signer *s, const char *envelope_json, size_t len,
		       struct buf *sig_b64);
void verify_signer_free(struct ed25519_signer *s); /* NULL is a no-op */

#endif
