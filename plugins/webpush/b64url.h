/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * b64url: base64url (RFC 4648 section 5), the encoding of every key, salt
 * and token in Web Push: p256dh and auth in a PushSubscription, the VAPID
 * public key (applicationServerKey, k=) and the three parts of a JWT.
 * Not for standard base64 ('+', '/'): sign.c and the CLI use OpenSSL's.
 *
 * Pure functions over caller-owned buffers; no allocation, no state,
 * thread-safe.
 */
#ifndef HERALD_WEBPUSH_B64URL_H
#define HERALD_WEBPUSH_B64URL_H

#include <stddef.h>

/* The encoded length of n bytes without padding, and the buffer that always
 * suffices (with its NUL): 4 * ceil(n / 3) + 1. */
#define B64URL_ENCLEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
#define B64URL_BUFLEN(n) ((((n) + 2) / 3) * 4 + 1)

/* Encode in[0..n) without padding into out, NUL-terminated. Returns the
 * length written (B64URL_ENCLEN(n)), or 0 when outlen is too small for it
 * and its NUL (out is then left empty when outlen > 0). n == 0 writes "". */
size_t b64url_encode(const unsigned char *in, size_t n, char *out, size_t outlen);

/* Decode in[0..n) into out (outlen bytes), *got = the bytes written.
 * Accepts the unpadded form and the padded one ('=' up to a multiple of 4,
 * at the end only); refuses '+', '/', whitespace, any other byte, an
 * impossible length (1 mod 4) and output that would not fit outlen.
 * Unused trailing bits are ignored. 0 or -EINVAL (*got is then 0). */
int b64url_decode(const char *in, size_t n, unsigned char *out, size_t outlen, size_t *got);

#endif
