/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pushsub: the Web Push sink's destination address, which is the browser's
 * PushSubscription.toJSON():
 *   {"endpoint":"https://...","expirationTime":null,
 *    "keys":{"p256dh":"<base64url>","auth":"<base64url>"}}
 * parsed and checked the way the sink needs it: the endpoint an https URL
 * (printable ASCII, no userinfo, no fragment, at most PUSHSUB_ENDPOINT_MAX
 * bytes) and its origin (the VAPID "aud"); p256dh an uncompressed P-256
 * point on the curve; auth 16 bytes. Other members are ignored;
 * expirationTime, when present, is null or a number (the push service
 * enforces it; the sink does not). Keys may carry base64 padding.
 *
 * Not here: whether the endpoint's host may be reached (the sink's SSRF
 * guard decides at connect time), encryption (ece.h).
 * Pure: jansson and libcrypto, no state, thread-safe.
 */
#ifndef HERALD_WEBPUSH_PUSHSUB_H
#define HERALD_WEBPUSH_PUSHSUB_H

#include <stddef.h>

#define PUSHSUB_ENDPOINT_MAX 1024

struct pushsub {
	/* https URL, printable ASCII, no userinfo, no fragment */
	char endpoint[PUSHSUB_ENDPOINT_MAX + 1];
	/* "https://host[:port]", host lowercased; the port only if not 443 */
	char origin[PUSHSUB_ENDPOINT_MAX + 1];
	/* an uncompressed P-256 point, checked on the curve */
	unsigned char p256dh[65];
	unsigned char auth[16];
};

/* Parse address (a NUL-terminated JSON text) into *out. 0, or -EINVAL with
 * err naming the member and what is wrong with it (never the key bytes);
 * *out is zeroed on failure. */
int pushsub_parse(const char *address, struct pushsub *out, char *err, size_t errlen);

#endif
