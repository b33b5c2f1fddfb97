/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * p256pub: a P-256 key's public point as Web Push writes it: the 65-byte
 * uncompressed point in base64url without padding (RFC 8292's k= and the
 * browser's applicationServerKey). For `herald keygen --vapid` and the web
 * app's GET /v1/webpush; the webpush sink derives the same itself, since
 * sinks link no daemon code.
 *
 * Pure: no state, thread-safe.
 */
#ifndef HERALD_P256PUB_H
#define HERALD_P256PUB_H

#include <openssl/evp.h>
#include <stddef.h>

#define P256PUB_B64_LEN 88 /* 87 characters and the NUL */

/* 0, or -EINVAL with err set: not an EC key, another curve, no point. */
int p256pub_b64url(EVP_PKEY *pk, char out[P256PUB_B64_LEN], char *err, size_t errlen);

/* The same for the private key in the PEM file `path` (PKCS#8 or SEC1; a
 * private key only, since the file is a sink's signing key). 0, or a
 * negative errno with err saying why (no file, not a key, not EC, not
 * P-256). Never logs key material. */
int p256pub_read_pem(const char *path, char out[P256PUB_B64_LEN], char *err, size_t errlen);

#endif
