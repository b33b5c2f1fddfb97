/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * web_auth: the sign-in routes (GET /auth/login, GET /auth/callback),
 * sign-out (POST /auth/logout) and GET /v1/session: turning oidc.c's result
 * into a herald user and a session cookie. Not for the OpenID Connect
 * protocol itself (oidc.c) nor for session storage (session.c).
 */
#include "web_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oidc.h"
#include "src/common/config.h"
#include "src/daemon/directory.h"

#define COOKIE_ATTRS "; Path=/; HttpOnly; Secure; SameSite=Lax"

static int sign_in_off(struct web_reply *r)
{
	return web_page(r, 404, "Sign-in is not configured",
			"This herald has no identity provider configured ([oidc] in heraldd.conf).");
}

int web_auth_login(struct web *w, const struct web_call *call, struct web_reply *r)
{
	char err[512] = "", *url = NULL;
	if (!w->oidc)
		return sign_in_off(r);
	char *given = web_query(call->c, "return");
	int rc = oidc_begin(w->oidc, w->deps.store, web_return_path(given), call->now_s, &url, err,
			    sizeof err);
	free(given);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		log_limited(&w->rl_signin, L_WARN, "web: sign-in could not start (%s)", err);
		return web_page(r, rc == -EBUSY ? 503 : 502, "Sign-in is not available", err);
	}
	r->status = 302;
	r->type = "text/plain";
	r->no_store = true;
	r->location = url;
	return 0;
}

/* The signed-in person's herald user: there already, or created when the
 * config allows. 0; -ENOENT when unknown here (and not created). */
static int ensure_user(struct web *w, const char *name, char *err, size_t errlen)
{
	struct directory_error e = {0};
	json_t *doc = NULL, *in;
	int rc = directory_user_get(w->deps.store, name, &doc, &e);
	json_decref(doc);
	if (rc != -ENOENT || !w->deps.cfg->oidc.create_users) {
		if (rc && rc != -ENOENT)
			snprintf(err, errlen, "%s", e.msg);
		return rc;
	}
	if (!(in = json_pack("{s:s}", "name", name)))
		return -ENOMEM;
	doc = NULL;
	rc = directory_user_add(w->deps.store, in, &doc, &e);
	json_decref(in);
	json_decref(doc);
	if (rc == -EEXIST) /* created meanwhile by another sign-in */
		rc = 0;
	if (rc)
		snprintf(err, errlen, "%s", e.msg);
	else
		log_info("web: created user '%s' at their first sign-in", name);
	return rc;
}

static int callback_error(struct web *w, const struct web_call *call, struct web_reply *r,
			  const char *err)
{
	char addr[64];
	web_client(w, call->c, addr, sizeof addr);
	log_limited(&w->rl_signin, L_WARN, "web: sign-in from %s refused (%s)", addr, err);
	return web_page(r, 400, "Sign-in failed", err);
}

int web_auth_callback(struct web *w, const struct web_call *call, struct web_reply *r)
{
	char err[512] = "", cookie[SESSION_TOKEN_LEN + 1];
	struct oidc_result res;
	struct session ss;
	if (!w->oidc)
		return sign_in_off(r);
	char *code = web_query(call->c, "code"), *state = web_query(call->c, "state");
	char *perr = web_query(call->c, "error"), *iss = web_query(call->c, "iss");
	int rc;
	if (iss && strcmp(iss, w->deps.cfg->oidc.issuer)) {
		/* RFC 9207: the answer names the provider that sent it (mix-up attacks). */
		rc = callback_error(w, call, r, "the answer came from another identity provider");
	} else if (perr) {
		snprintf(err, sizeof err, "the identity provider refused the sign-in (%.200s)", perr);
		rc = callback_error(w, call, r, err);
	} else if (!state) {
		rc = callback_error(w, call, r, "the identity provider's answer has no state");
	} else if ((rc = oidc_finish(w->oidc, w->deps.store, code, state, call->now_s, &res, err,
				     sizeof err))) {
		rc = rc == -ENOMEM ? rc : callback_error(w, call, r, err);
	} else if ((rc = ensure_user(w, res.user, err, sizeof err)) == -ENOENT) {
		log_info("web: '%s' signed in but is not a user here", res.user);
		snprintf(err, sizeof err, "You signed in as '%s', but herald does not know this "
					  "account. Ask an administrator to add you.", res.user);
		rc = web_page(r, 403, "Account not known here", err);
	} else if (rc) {
		rc = web_page(r, 500, "Sign-in failed", err);
	} else if ((rc = session_create(w->deps.store, res.user, call->now_s,
					w->deps.cfg->web.session_ttl_s, cookie, &ss))) {
		rc = web_page(r, 500, "Sign-in failed", "the session could not be stored");
	} else {
		log_info("web: '%s' signed in", res.user);
		snprintf(r->cookie, sizeof r->cookie, SESSION_COOKIE "=%s" COOKIE_ATTRS "; Max-Age=%ld",
			 cookie, w->deps.cfg->web.session_ttl_s);
		rc = web_redirect(w, r, 303, res.return_path);
	}
	free(code);
	free(state);
	free(perr);
	free(iss);
	return rc;
}

/* The form field csrf=TOKEN of an application/x-www-form-urlencoded body,
 * for a plain HTML sign-out form (malloc'd), or NULL. */
static char *form_csrf(const struct web_request *rq)
{
	const char *b = rq->body.data;
	for (size_t i = 0; b && i < rq->body.len; i++) {
		if ((i == 0 || b[i - 1] == '&') && !strncmp(b + i, "csrf=", 5)) {
			size_t n = strcspn(b + i + 5, "&");
			char *v = strndup(b + i + 5, n), *d = v ? web_decode(v, true) : NULL;
			free(v);
			return d;
		}
	}
	return NULL;
}

int web_auth_logout(struct web *w, const struct web_call *call, struct web_reply *r)
{
	struct session ss;
	const char *cookie = MHD_lookup_connection_value(call->c, MHD_COOKIE_KIND, SESSION_COOKIE);
	if (web_session(w, call, &ss)) {
		char *token = form_csrf(call->rq);
		bool ok = web_csrf_ok(w, call, &ss, token);
		free(token);
		if (!ok) {
			log_limited(&w->rl_csrf, L_WARN, "web: refused sign-out of %s: csrf", ss.user);
			return web_json_error(r, 403, "csrf");
		}
		session_delete(w->deps.store, cookie);
		log_info("web: '%s' signed out", ss.user);
	}
	/* Without a live session there is nothing to protect: just forget it. */
	snprintf(r->cookie, sizeof r->cookie, SESSION_COOKIE "=" COOKIE_ATTRS "; Max-Age=0");
	return web_redirect(w, r, 303, "/");
}

int web_auth_session(struct web *w, const struct web_call *call, struct web_reply *r)
{
	static const char *dash[] = {[CONFIG_DASHBOARD_SIGNED_IN] = "signed-in",
				     [CONFIG_DASHBOARD_PUBLIC] = "public",
				     [CONFIG_DASHBOARD_OFF] = "off"};
	const char *d = dash[w->deps.cfg->web.dashboard];
	struct session ss;
	if (!web_session(w, call, &ss))
		return web_json(r, 200, json_pack("{s:n, s:b, s:n, s:s, s:n, s:b}", "user", "admin", 0,
						  "csrf", "dashboard", d, "expires", "signin",
						  w->oidc != NULL));
	return web_json(r, 200,
			json_pack("{s:s, s:b, s:s, s:s, s:I, s:b}", "user", ss.user, "admin",
				  web_is_admin(w, ss.user), "csrf", ss.csrf, "dashboard", d,
				  "expires", (json_int_t)ss.expires, "signin", w->oidc != NULL));
}
