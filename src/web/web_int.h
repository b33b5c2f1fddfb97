/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * web_int: what web.c shares with web_files.c (static files) and web_auth.c
 * (sign-in, sign-out, the session resource). Nobody else includes it.
 */
#ifndef HERALD_WEB_INT_H
#define HERALD_WEB_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdbool.h>

#include "session.h"
#include "src/common/buf.h"
#include "src/common/log.h"
#include "web.h"

struct oidc;
struct pushkey;
struct connguard;

struct web {
	struct web_deps deps;
	struct MHD_Daemon *d;
	struct connguard *guard;   /* owned; the header deadline */
	struct oidc *oidc;         /* owned; NULL: no [oidc], sign-in is off */
	struct pushkey *pushkey;   /* owned; the webpush sinks' VAPID public keys */
	char origin[512];          /* scheme://host[:port] of base_url, for Origin checks */
	char csp[1024];            /* the Content-Security-Policy header */
	char *tls_cert, *tls_key;  /* owned PEM text, or NULL */
	int assets_fd;             /* the assets folder, opened at start */
	struct log_limit rl_signin; /* refused sign-ins' log lines; the event thread only */
	struct log_limit rl_csrf;   /* refused CSRF checks' */
};

/* What one request carries between libmicrohttpd's calls. */
struct web_request {
	struct buf body;
	bool too_big;
	bool answered;
};

/* The answer being built. body (or fd for a file) plus the headers that vary. */
struct web_reply {
	unsigned status;
	const char *type;          /* static string */
	struct buf body;
	int fd;                    /* >= 0: send this file (fd_size bytes) instead of body */
	size_t fd_size;
	char *location;            /* owned; Location header */
	char cookie[256];          /* Set-Cookie, or "" */
	bool no_store;             /* Cache-Control: no-store (default: no-cache) */
	bool queued;               /* the handler queued a response of its own (the
				    * dashboard's stream): send_reply is skipped */
	enum MHD_Result queued_ret; /* ... and what queueing it returned */
};

/* Everything a handler needs of the request. */
struct web_call {
	struct MHD_Connection *c;
	const char *method;
	const char *url;           /* the path as sent, escapes kept, no query */
	const struct web_request *rq;
	int64_t now_s;
};

/* Percent-decode a query value ('+' is a space) or a path segment (then
 * plus_space false): malloc'd, NULL when it holds %00, a bad escape, or
 * (path) a decoded '/' or '\\'. */
char *web_decode(const char *s, bool plus_space);
/* A query parameter, decoded (malloc'd), or NULL. */
char *web_query(struct MHD_Connection *c, const char *name);

/* Answers. Each returns 0 or -ENOMEM. */
int web_json(struct web_reply *r, unsigned status, json_t *v); /* steals v */
int web_json_error(struct web_reply *r, unsigned status, const char *msg);
/* A small HTML page: title and message, both escaped. */
int web_page(struct web_reply *r, unsigned status, const char *title, const char *msg);
/* A redirect to base_url + path (path starts with '/'). */
int web_redirect(const struct web *w, struct web_reply *r, unsigned status, const char *path);

/* The caller's live session, if its cookie names one. */
bool web_session(const struct web *w, const struct web_call *call, struct session *out);
/* Is a state-changing request from our own pages? The CSRF token (header
 * X-CSRF-Token, or `form_token` when given) and the Origin header. */
bool web_csrf_ok(const struct web *w, const struct web_call *call, const struct session *ss,
		 const char *form_token);
bool web_is_admin(const struct web *w, const char *user);
/* The client's address for log lines: the peer's, or, when the peer is one
 * of [web] trusted_proxies, the last address of its X-Forwarded-For. */
void web_client(const struct web *w, struct MHD_Connection *c, char *out, size_t n);

/* web_files.c: GET/HEAD of a page, style, script or image. */
int web_files_serve(struct web *w, const struct web_call *call, struct web_reply *r);
/* web_auth.c */
int web_auth_login(struct web *w, const struct web_call *call, struct web_reply *r);
int web_auth_callback(struct web *w, const struct web_call *call, struct web_reply *r);
int web_auth_logout(struct web *w, const struct web_call *call, struct web_reply *r);
int web_auth_session(struct web *w, const struct web_call *call, struct web_reply *r);

#endif
