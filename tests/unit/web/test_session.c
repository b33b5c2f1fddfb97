/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the web app's state in the store: sessions (expiry,
 * sign-out, pruning, CSRF compare, only a hash stored), pending sign-ins
 * (single use, 10 minutes), and the return path check. */
#include "src/web/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/buf.h"
#include "src/daemon/store.h"
#include "src/web/oidc.h"
#include "src/web/web.h"
#include "tests/unit/tap.h"

#define NOW 1800000000LL

static void sessions(struct store *s)
{
	char cookie[SESSION_TOKEN_LEN + 1], cookie2[SESSION_TOKEN_LEN + 1];
	struct session a, b, found;
	ok(session_create(s, "alice", NOW, 3600, cookie, &a) == 0 && strlen(cookie) == 43 &&
		   strlen(a.csrf) == 43 && a.expires == NOW + 3600,
	   "create a session: a 43-character cookie and CSRF token");
	ok(session_create(s, "bob", NOW, 60, cookie2, &b) == 0 && strcmp(cookie, cookie2) &&
		   strcmp(a.csrf, b.csrf),
	   "a second session: another cookie, another token");
	ok(session_find(s, cookie, NOW + 10, &found) == 0 && !strcmp(found.user, "alice") &&
		   !strcmp(found.csrf, a.csrf),
	   "find it by its cookie");
	struct buf raw = BUF_INIT;
	ok(store_kv_get(s, STORE_KV_SESSIONS, cookie, strlen(cookie), &raw) == -ENOENT,
	   "the store does not hold the cookie value itself (only its hash)");
	buf_release(&raw);
	ok(session_find(s, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NOW, &found) == -ENOENT &&
		   session_find(s, "short", NOW, &found) == -ENOENT &&
		   session_find(s, "", NOW, &found) == -ENOENT,
	   "unknown and malformed cookies find nothing");
	ok(session_csrf_ok(&a, a.csrf) && !session_csrf_ok(&a, b.csrf) && !session_csrf_ok(&a, NULL) &&
		   !session_csrf_ok(&a, "") && !session_csrf_ok(&a, "x"),
	   "CSRF: only the session's own token");
	ok(session_find(s, cookie2, NOW + 60, &found) == -ENOENT, "bob's session is over at its expiry");
	ok(session_find(s, cookie2, NOW, &found) == -ENOENT, "and was deleted when found expired");
	ok(session_delete(s, cookie) == 0 && session_find(s, cookie, NOW, &found) == -ENOENT,
	   "sign-out deletes the session");
	ok(session_delete(s, cookie) == -ENOENT, "a second sign-out finds nothing");
	for (int i = 0; i < 5; i++)
		session_create(s, "old", NOW, 60, cookie, &a);
	session_create(s, "carol", NOW, 3600, cookie2, &b);
	size_t n = 0;
	ok(session_prune(s, NOW + 120, &n) == 0 && n == 5, "prune drops the 5 expired (%zu)", n);
	ok(session_find(s, cookie2, NOW + 120, &found) == 0, "and keeps the live one");
	ok(session_create(s, "this-name-is-far-too-long-for-herald-0123456789-0123456789-0123456789",
			  NOW, 60, cookie, &a) == -EINVAL,
	   "a name beyond the limit gets no session");
}

static void pending(struct store *s)
{
	struct oidc_pending p = {.verifier = "v", .nonce = "n", .return_path = "/x.html",
				 .expires = NOW + OIDC_STATE_TTL_S}, out;
	ok(oidc_pending_put(s, "state-1", &p) == 0, "a pending sign-in stored");
	ok(oidc_pending_take(s, "state-1", NOW + 1, &out) == 0 && !strcmp(out.nonce, "n") &&
		   !strcmp(out.return_path, "/x.html"),
	   "taken back with its nonce and return path");
	ok(oidc_pending_take(s, "state-1", NOW + 2, &out) == -ENOENT, "a second take (replay) finds nothing");
	ok(oidc_pending_put(s, "state-2", &p) == 0 &&
		   oidc_pending_take(s, "state-2", NOW + OIDC_STATE_TTL_S, &out) == -ETIMEDOUT,
	   "after 10 minutes: expired");
	ok(oidc_pending_take(s, "state-2", NOW, &out) == -ENOENT, "and gone even so");
	ok(oidc_pending_take(s, "", NOW, &out) == -ENOENT && oidc_pending_take(s, NULL, NOW, &out) == -ENOENT,
	   "no state: nothing");
}

static void return_paths(void)
{
	static const char *bad[] = {"//evil.example", "https://evil", "/\\evil", "\\\\evil",
				    "javascript:alert(1)", "", "evil", "/a b", "/a\r\nX: y",
				    "/\x7f", "/caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(!strcmp(web_return_path(bad[i]), "/"), "return path '%s' -> /", bad[i]);
	ok(!strcmp(web_return_path(NULL), "/"), "no return path -> /");
	char longp[600];
	memset(longp, 'a', sizeof longp);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	ok(!strcmp(web_return_path(longp), "/"), "a return path over 512 bytes -> /");
	static const char *good[] = {"/", "/subscriptions.html", "/why.html?id=42&x=https://a",
				     "/a/b#frag"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ok(web_return_path(good[i]) == good[i], "return path '%s' kept", good[i]);
}

int main(void)
{
	char dir[] = "/tmp/herald-test-session-XXXXXX", err[300], cmd[400];
	struct store *s = NULL;
	if (!mkdtemp(dir))
		return 1;
	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0, "store opened (%s)", err);
	if (s) {
		sessions(s);
		pending(s);
		store_close(s);
	}
	return_paths();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("cleanup failed");
	return tap_done();
}
