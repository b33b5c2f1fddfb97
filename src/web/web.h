/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * web: the web app's HTTP listener ([web] listen): security headers on every
 * answer, the static pages from [web] assets, sign-in and sign-out
 * (/auth/..., with oidc.c), GET /v1/session, GET /v1/webpush (the webpush
 * sinks' VAPID public keys, pushkey.c), and the /v1 API for a signed-in
 * browser (a session cookie instead of a bearer token, and a CSRF check).
 * Routes are listed in doc/herald-api.7 ("WEB APP"). Not for the pages
 * themselves (web/), the signed links (links.c), or the dashboard stream
 * (dashboard.c): those it only routes to.
 *
 * One libmicrohttpd daemon with an internal epoll thread and suspend/resume
 * (the dashboard's streams share the thread): handlers run short store
 * transactions; the sign-in's calls to the identity provider block it for a
 * few seconds at worst (oidc.h).
 *
 * Every response carries X-Content-Type-Options: nosniff, Referrer-Policy:
 * same-origin, X-Frame-Options: DENY and a Content-Security-Policy without
 * inline scripts or styles; HSTS when base_url is https.
 *
 * Ownership: web_deps are borrowed and must outlive the web. Thread-safety:
 * web_start, web_reload and web_stop from one thread (heraldd's main).
 */
#ifndef HERALD_WEB_H
#define HERALD_WEB_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct store;
struct schema;
struct dispatch;
struct metrics;
struct recent;
struct dashboard;
struct links;
struct web;

struct web_deps {              /* all borrowed, outlive the web */
	const struct config *cfg;  /* cfg->web.*, cfg->oidc.* */
	struct store *store;
	const struct schema *schema;
	struct dispatch *dispatch;
	struct metrics *metrics;
	struct recent *recent;     /* NULL: no preview, no dashboard */
	struct dashboard *dashboard; /* NULL: /events answers 404 */
	const struct links *links; /* NULL: /unsubscribe and /mute answer 404 */
};

/* What web_start would refuse, without listening: the client secret file
 * (readable, no access for group or others), the assets folder, the TLS
 * files, the admins' names. For heraldd --check-config. 0 or -errno + err. */
int web_check_config(const struct config *cfg, char *err, size_t errlen);

/* Listen on cfg->web.listen (nothing to do, *out NULL, when it is unset).
 * Expired sessions are pruned first. 0, or a negative errno with `err`. */
int web_start(const struct web_deps *deps, struct web **out, char *err, size_t errlen);
void web_stop(struct web *w); /* NULL no-op */

/* SIGHUP: read again what the web app read from files at start that may
 * change under it: the webpush sinks' VAPID keys. NULL no-op. */
void web_reload(struct web *w);

/* The sign-in's return path as given, when it stays on this site (starts
 * with one '/', no backslash, no control characters or spaces, at most 512
 * bytes); else "/". Pure; exposed for tests. */
const char *web_return_path(const char *given);

#endif
