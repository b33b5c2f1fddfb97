/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * b64url: base64url without padding (RFC 4648 section 5), for secrets and
 * signed values that travel in URLs, cookies and headers (personal API
 * tokens, signed links).
 *
 * Not for the standard alphabet with padding (verify.c reads keys and
 * signatures in that), nor for streaming: whole buffers only.
 *
 * Pure functions: no state, thread-safe; nothing is allocated.
 */
#ifndef HERALD_B64URL_H
#define HERALD_B64URL_H

#include <stddef.h>

/* Characters b64url_encode writes for n bytes (without the NUL). */
#define B64URL_LEN(n) (((n) * 4 + 2) / 3)

/* Encode n bytes into out, which has room for B64URL_LEN(n) + 1. */
void b64url_encode(const unsigned char *in, size_t n, char *out);

/*
 * Decode `len` characters of unpadded base64url into at most `cap` bytes.
 * The number of bytes, or -EINVAL (a character outside the alphabet, an
 * impossible length, non-zero leftover bits: each value has exactly one
 * encoding) or -ENOSPC (does not fit).
 */
long b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif
