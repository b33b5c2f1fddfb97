/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vapid: Voluntary Application Server Identification (RFC 8292), what a
 * push service checks on every request: the header value
 *   vapid t=<JWT>, k=<the public key, base64url>
 * where the JWT is ES256-signed (P-256, SHA-256, the raw 64-byte r||s),
 * header {"typ":"JWT","alg":"ES256"}, claims {"aud":ORIGIN,"exp":now+12h,
 * "sub":SUBJECT}. A token is made per push-service origin (and subject) and
 * reused until less than an hour of it is left, so a busy sink signs about
 * twice a day per push service instead of once per message.
 *
 * Not here: reading the sink's options, the HTTP request. The key file is
 * read once by vapid_load; nothing here logs or copies it out.
 *
 * One struct vapid per sink instance; not thread-safe (the host serialises
 * calls into an instance). OpenSSL 3 EVP only.
 */
#ifndef HERALD_WEBPUSH_VAPID_H
#define HERALD_WEBPUSH_VAPID_H

#include <stddef.h>
#include <stdint.h>

#define VAPID_PUBLIC_B64_LEN 87		 /* a 65-byte point in base64url */
#define VAPID_LIFETIME	     (12 * 3600) /* exp = now + this; RFC 8292 allows 24 h */
#define VAPID_RENEW_BEFORE   3600	 /* a cached token is replaced with less than this left */

struct vapid;

/* Load the P-256 private key in pem_path (PKCS#8 "PRIVATE KEY" or SEC1 "EC
 * PRIVATE KEY" PEM). Refuses other key types and curves and encrypted keys
 * (nothing may prompt for a password). 0 with *out the caller's, or -errno
 * with err saying why (the message names the file, never its contents):
 * -ENOENT/-EACCES/... from open, -EINVAL for a file that is not such a
 * key, -ENOMEM. */
int vapid_load(const char *pem_path, struct vapid **out, char *err, size_t errlen);

/* Free v and its cache; vapid_free(NULL) is a no-op. */
void vapid_free(struct vapid *v);

/* The public key, uncompressed point in base64url (VAPID_PUBLIC_B64_LEN
 * characters): what a page passes to pushManager.subscribe as
 * applicationServerKey and what k= carries. Valid as long as v. */
const char *vapid_public_b64(const struct vapid *v);

/*
 * The Authorization header value (without "Authorization: ") for a request
 * to a push service of origin ("https://host[:port]", pushsub's origin),
 * identifying the sender as subject ("mailto:..." or "https://..."), at
 * now_s (Unix seconds). Reuses the cached token for (origin, subject) while
 * at least VAPID_RENEW_BEFORE seconds of it are left (and it does not
 * reach further than VAPID_LIFETIME ahead, in case the clock went back).
 * Returns a pointer into the cache, valid until the next call on v; NULL
 * on error (err set: out of memory, libcrypto failed).
 */
const char *vapid_authorization(struct vapid *v, const char *origin, const char *subject,
				int64_t now_s, char *err, size_t errlen);

#endif
