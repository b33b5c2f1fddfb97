/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * links: the signed links that work without signing in: one-click
 * unsubscribe (RFC 8058) and "mute this subscription", each naming one
 * subscription of one user, HMAC-signed with a per-deployment key, expiring
 * after [web] link_ttl. Also the "why did I get this" URL of a notification.
 *
 * A link is BASE/unsubscribe/TOKEN or BASE/mute/TOKEN. TOKEN is base64url
 * (no padding) of a payload and its HMAC-SHA-256 (32 bytes) under the key:
 *   [1] version (1)  [1] action (1 unsubscribe, 2 mute)
 *   [8] expiry, Unix seconds, big-endian  [8] subscription id, big-endian
 *   [1] length of the user name  [n] the user name
 * The action in the path must be the one signed. A link is good while
 * now < expiry; at the expiry second it has expired.
 *
 * The key: <state_dir>/link.key, 32 bytes from RAND_bytes, created mode
 * 0600 on first open (written to a temporary file, then linked into place,
 * so a crash leaves no half key and two openers agree on one); a key file
 * that group or others can read, or of another size, is refused.
 *
 * links_page: what /unsubscribe/TOKEN and /mute/TOKEN answer (the web
 * listener routes them here). GET and HEAD show a small confirmation page
 * and change nothing (mail scanners follow links); POST acts, whatever its
 * body: the RFC 8058 one-click body "List-Unsubscribe=One-Click"
 * (form-urlencoded or multipart) and the confirmation page's own form both
 * land here. Unsubscribe disables the subscription (the page links to the
 * web app, where it can be turned back on); mute disables it for
 * LINKS_MUTE_S, 7 days (directory_sub_mute: it is back on by itself after
 * that). A forged, tampered, malformed or wrong-action link is
 * a 400 page, an expired one or one whose subscription is gone a 410 page;
 * none changes anything. The pages are self-contained HTML: no script, no
 * inline style, no external resource, so the web app's CSP holds; the form
 * posts back to the page's own URL.
 *
 * Not for routing, headers or CSRF (the web listener), nor for the rules of
 * subscriptions (directory.c).
 *
 * Ownership: links_make's string is the caller's to free. Threads: an open
 * `struct links` is immutable; every function may run on any thread.
 */
#ifndef HERALD_LINKS_H
#define HERALD_LINKS_H

#include <stdint.h>

#include "src/common/buf.h"
#include "src/daemon/directory.h"

#define LINKS_KEY_LEN 32
#define LINKS_MUTE_S (7 * 86400)

struct links;
struct store;

/* Open (or create) <state_dir>/link.key. `base_url`: the web app's public
 * origin and optional path prefix ("https://h.example.org/herald"; a
 * trailing '/' is dropped). `ttl_s` > 0. 0, or a negative errno with err. */
int links_open(const char *state_dir, const char *base_url, long ttl_s, struct links **out,
	       char *err, size_t errlen);
void links_close(struct links *l); /* NULL is a no-op */
/* What links_open would refuse of an existing <state_dir>/link.key (its
 * mode, type or size), without creating one: 0 also when there is none
 * yet. For heraldd --check-config. */
int links_check(const char *state_dir, char *err, size_t errlen);

/* "BASE/unsubscribe/TOKEN" / "BASE/mute/TOKEN" for one subscription of one
 * user (action "unsubscribe" or "mute"), good until now_s + ttl; malloc'd.
 * NULL: no such action, a user name that is not valid, or out of memory. */
char *links_make(const struct links *l, const char *action, const char *user, uint64_t sub,
		 int64_t now_s);
/* "BASE/why.html?id=NOTE_ID" (note_id: 32 hex digits); malloc'd, or NULL. */
char *links_why(const struct links *l, const char *note_id);

/*
 * Check a TOKEN for `action` at now_s. 0 with the user and subscription;
 * -EBADMSG forged, tampered, malformed or signed for another action;
 * -ETIME expired. The MAC is compared in constant time.
 */
int links_verify(const struct links *l, const char *action, const char *token, int64_t now_s,
		 char user[DIRECTORY_NAME_MAX + 1], uint64_t *sub);

/* The page for GET/HEAD (confirmation, changes nothing) and POST (acts):
 * HTML into `out` (appended), the HTTP status into *status. 0, or -ENOMEM
 * when no page could be built. */
struct links_request {
	const char *method;
	const char *action; /* "unsubscribe" or "mute": the path's first segment */
	const char *token;
	struct store *store;
	int64_t now_s;
};
int links_page(const struct links *l, const struct links_request *r, unsigned *status,
	       struct buf *out);

#endif
