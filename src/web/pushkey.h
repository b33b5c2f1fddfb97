/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pushkey: the VAPID public keys of the webpush sinks, for the web app's
 * GET /v1/webpush: a browser subscribes with one as applicationServerKey.
 * For each [sink NAME] whose plugin is webpush, the P-256 private key its
 * `vapid_key` option names (PEM, PKCS#8 or SEC1; relative paths from the
 * config file's folder, as the sink resolves them) is read and only its
 * public point kept, in base64url. Read at start and again on SIGHUP.
 *
 * Not for signing anything (the sink does that with the same file) nor for
 * checking the other sink options: a sink whose key cannot be read is left
 * out of the list with a warning, and the sink itself reports why it fails.
 *
 * Ownership: the pushkey copies what it needs of the config; the config
 * may go after pushkey_new. Thread-safety: pushkey_json may be called from
 * any thread at the same time as pushkey_reload; pushkey_new and
 * pushkey_free from one thread. The one mutex guards the key list and is
 * taken after no other lock; no file is read while it is held.
 */
#ifndef HERALD_PUSHKEY_H
#define HERALD_PUSHKEY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct config;
struct pushkey;

/* Find the webpush sinks in cfg and read their keys. A key that cannot be
 * read is logged and left out. 0, or -ENOMEM. *out is never NULL on
 * success, even with no webpush sink. */
int pushkey_new(const struct config *cfg, struct pushkey **out);

/* Read every key file again (a rotated key). A file that cannot be read
 * now keeps the key read before, with a warning. Returns how many keys
 * changed, or -ENOMEM. */
int pushkey_reload(struct pushkey *pk);

/* {"sinks":[{"sink":NAME,"public_key":B64URL},...]} in config order, new
 * reference in *out: the sinks whose key was read and, when `usable` is
 * given, for which usable(arg, NAME) is true (called with the pushkey's
 * lock held: it must not call back into the pushkey). 0 or -ENOMEM. */
int pushkey_json(struct pushkey *pk, bool (*usable)(void *arg, const char *sink), void *arg,
		 json_t **out);

void pushkey_free(struct pushkey *pk); /* NULL no-op */

#endif
