/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ece: Web Push message encryption (RFC 8291), the "aes128gcm" content
 * coding of RFC 8188 with exactly one record: ECDH on P-256 between a fresh
 * sender key and the subscription's p256dh, HKDF-SHA-256 with the
 * subscription's auth secret, AES-128-GCM. The output is the whole request
 * body: salt, record size, the sender's public key as keyid, then the
 * record. OpenSSL 3 EVP only (no EC_KEY, no hand-written primitives).
 *
 * Not here: the HTTP request, VAPID (vapid.h), parsing subscriptions
 * (pushsub.h), decryption (only tests decrypt, with another
 * implementation).
 *
 * A struct ece holds what each message would otherwise look up again: the
 * algorithms (HKDF, AES-128-GCM), the curve and a key generation context;
 * with it a message costs its key generation, ECDH, HMACs and GCM only
 * (a sixth less time than looking them up per message). One per sink
 * instance; not thread-safe (the host serialises calls into an instance).
 */
#ifndef HERALD_WEBPUSH_ECE_H
#define HERALD_WEBPUSH_ECE_H

#include <openssl/evp.h>
#include <stddef.h>

#define ECE_PUBLIC_LEN 65 /* an uncompressed P-256 point: 0x04 || X || Y */
#define ECE_AUTH_LEN   16
#define ECE_HEADER_LEN 86			 /* salt 16 + rs 4 + idlen 1 + keyid 65 */
#define ECE_OVERHEAD   (ECE_HEADER_LEN + 1 + 16) /* + the 0x02 delimiter + the GCM tag */
#define ECE_MAX_BODY   4096			 /* what RFC 8030 push services must accept */

struct ece;

/* Fetch the algorithms, make the curve. 0, -ENOMEM or -EIO (libcrypto
 * lacks one).
 * ece_free(NULL) is a no-op. */
int ece_new(struct ece **out);
void ece_free(struct ece *e);

/*
 * Encrypt plain (plain_len bytes) padded with pad zero bytes for the
 * subscription (ua_public, auth).
 * as_key: the sender's P-256 key pair; NULL makes a fresh ephemeral one
 * (what the sink does). salt: NULL draws 16 random bytes. Both are
 * parameters only so the unit test can reproduce RFC 8291 Appendix A; a
 * sender must never reuse a salt with the same key.
 * *out is malloc'd (the caller frees it), *out_len = ECE_OVERHEAD +
 * plain_len + pad; the record size field is 4096, which always holds the
 * one record (it is at most ECE_MAX_BODY - ECE_HEADER_LEN bytes).
 * Returns 0; -EMSGSIZE when the body would exceed ECE_MAX_BODY; -EINVAL
 * when ua_public is not an uncompressed point on P-256 or as_key is not a
 * P-256 key; -ENOMEM; -EIO when libcrypto fails otherwise.
 */
int ece_encrypt(struct ece *e, const unsigned char ua_public[ECE_PUBLIC_LEN],
		const unsigned char auth[ECE_AUTH_LEN], const unsigned char *plain,
		size_t plain_len, size_t pad, EVP_PKEY *as_key, const unsigned char *salt,
		unsigned char **out, size_t *out_len);

/* Import an uncompressed P-256 public point (what p256dh carries) as a key,
 * checked: on the curve, not the point at infinity, coordinates in range.
 * 0 with *out the caller's (EVP_PKEY_free), -EINVAL for a bad point, or
 * -ENOMEM/-EIO. pushsub_parse uses it to validate an address. */
int ece_import_public(const unsigned char pub[ECE_PUBLIC_LEN], EVP_PKEY **out);

#endif
