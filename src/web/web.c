/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * web: the listener, the request's life, security headers, routing, and the
 * /v1 API for a signed-in browser (see web.h). Static files are
 * web_files.c's, sign-in web_auth.c's. Not for business logic: /v1 goes to
 * api_v1_handle exactly as the TCP API does.
 */
#include "web_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oidc.h"
#include "pushkey.h"
#include "src/api/api_auth.h"
#include "src/api/api_v1.h"
#include "src/api/connguard.h"
#include "src/common/clock.h"
#include "src/common/config.h"
#include "src/common/hex.h"
#include "src/daemon/dispatch.h"
#include "src/daemon/metrics.h"
#include "src/daemon/store.h"
#include "dashboard.h"
#include "links.h"

/* The dashboard alone may hold 1,000 streams. */
#define CONNECTIONS 2048
#define HEADER_DEADLINE_S 10
#define IDLE_TIMEOUT_S 60
#define MAX_SEGS 8
#define TLS_FILE_MAX (1u << 20)

#ifndef MHD_HTTP_CONTENT_TOO_LARGE
#define MHD_HTTP_CONTENT_TOO_LARGE 413
#endif

/* Pages may post forms to us and be sent to the identity provider; the
 * service worker (/sw.js) comes from us only. */
#define CSP_FMT "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
		"worker-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; " \
		"form-action 'self'%s%s"

/* ---- small helpers shared with web_files.c and web_auth.c ---- */

char *web_decode(const char *s, bool plus_space)
{
	char *out = malloc(strlen(s) + 1), *w = out;
	if (!out)
		return NULL;
	for (const char *r = s; *r; r++) {
		if (*r == '+' && plus_space) {
			*w++ = ' ';
			continue;
		}
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		int hi = hex_value(r[1]), lo = hi < 0 ? -1 : hex_value(r[2]);
		char ch = (char)(hi * 16 + lo);
		if (lo < 0 || !ch || (!plus_space && (ch == '/' || ch == '\\'))) {
			free(out);
			return NULL;
		}
		*w++ = ch;
		r += 2;
	}
	*w = '\0';
	return out;
}

char *web_query(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	return v ? web_decode(v, true) : NULL;
}

int web_json(struct web_reply *r, unsigned status, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	buf_reset(&r->body);
	int rc = s ? buf_puts(&r->body, s) : -ENOMEM;
	free(s);
	r->status = status;
	r->type = "application/json";
	r->no_store = true;
	return rc ? rc : buf_putc(&r->body, '\n');
}

int web_json_error(struct web_reply *r, unsigned status, const char *msg)
{
	return web_json(r, status, json_pack("{s:s}", "error", msg));
}

static int put_escaped(struct buf *b, const char *s)
{
	int rc = 0;
	for (; *s && !rc; s++) {
		switch (*s) {
		case '<': rc = buf_puts(b, "&lt;"); break;
		case '>': rc = buf_puts(b, "&gt;"); break;
		case '&': rc = buf_puts(b, "&amp;"); break;
		case '"': rc = buf_puts(b, "&quot;"); break;
		case '\'': rc = buf_puts(b, "&#39;"); break;
		default: rc = buf_putc(b, *s);
		}
	}
	return rc;
}

int web_page(struct web_reply *r, unsigned status, const char *title, const char *msg)
{
	struct buf *b = &r->body;
	buf_reset(b);
	r->status = status;
	r->type = "text/html; charset=utf-8";
	r->no_store = true;
	int rc = buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			     "<meta name=\"viewport\" content=\"width=device-width\">"
			     "<link rel=\"stylesheet\" href=\"/css/herald.css\"><title>");
	if (!rc)
		rc = put_escaped(b, title);
	if (!rc)
		rc = buf_puts(b, " - herald</title></head>\n<body><main class=\"message\"><h1>");
	if (!rc)
		rc = put_escaped(b, title);
	if (!rc)
		rc = buf_puts(b, "</h1>\n<p>");
	if (!rc)
		rc = put_escaped(b, msg);
	if (!rc)
		rc = buf_puts(b, "</p>\n<p><a href=\"/\">Back to herald</a></p></main></body></html>\n");
	return rc;
}

int web_redirect(const struct web *w, struct web_reply *r, unsigned status, const char *path)
{
	const char *base = w->deps.cfg->web.base_url;
	size_t n = strlen(base) + strlen(path) + 1;
	free(r->location);
	if (!(r->location = malloc(n)))
		return -ENOMEM;
	snprintf(r->location, n, "%s%s", base, path);
	r->status = status;
	r->type = "text/plain";
	r->no_store = true;
	buf_reset(&r->body);
	return 0;
}

bool web_session(const struct web *w, const struct web_call *call, struct session *out)
{
	const char *cookie = MHD_lookup_connection_value(call->c, MHD_COOKIE_KIND, SESSION_COOKIE);
	struct buf doc = BUF_INIT;
	if (!cookie || session_find(w->deps.store, cookie, call->now_s, out))
		return false;
	/* A user deleted since: the session ends with them (a new user of the
	 * same name later must not inherit it). */
	int rc = store_doc_get(w->deps.store, STORE_USERS, out->user, strlen(out->user), &doc);
	buf_release(&doc);
	if (rc == -ENOENT)
		session_delete(w->deps.store, cookie);
	return rc == 0;
}

bool web_csrf_ok(const struct web *w, const struct web_call *call, const struct session *ss,
		 const char *form_token)
{
	const char *origin = MHD_lookup_connection_value(call->c, MHD_HEADER_KIND, "Origin");
	const char *site = MHD_lookup_connection_value(call->c, MHD_HEADER_KIND, "Sec-Fetch-Site");
	const char *token = MHD_lookup_connection_value(call->c, MHD_HEADER_KIND, "X-CSRF-Token");
	if (origin && strcmp(origin, w->origin))
		return false;
	/* A browser that says so: the request comes from another site. */
	if (site && !strcmp(site, "cross-site"))
		return false;
	return session_csrf_ok(ss, token ? token : form_token);
}

void web_client(const struct web *w, struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	const struct config_web *cw = &w->deps.cfg->web;
	snprintf(out, n, "?");
	if (sa)
		getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							  : sizeof(struct sockaddr_in),
			    out, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	bool trusted = false;
	for (size_t i = 0; xff && i < cw->n_trusted_proxies && !trusted; i++)
		trusted = !strcmp(cw->trusted_proxies[i], out);
	if (!trusted)
		return;
	/* The proxy appends the address it saw: the last entry is the one it vouches for. */
	const char *last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	last += strspn(last, " \t");
	char addr[64];
	unsigned char bin[16];
	snprintf(addr, sizeof addr, "%.*s", (int)strcspn(last, " \t"), last);
	if (inet_pton(AF_INET, addr, bin) == 1 || inet_pton(AF_INET6, addr, bin) == 1)
		snprintf(out, n, "%s", addr);
}

bool web_is_admin(const struct web *w, const char *user)
{
	const struct config_web *cw = &w->deps.cfg->web;
	for (size_t i = 0; i < cw->n_admins; i++)
		if (!strcmp(cw->admins[i], user))
			return true;
	return false;
}

const char *web_return_path(const char *given)
{
	if (!given || given[0] != '/' || given[1] == '/' || given[1] == '\\' ||
	    strlen(given) > OIDC_RETURN_MAX)
		return "/";
	for (const unsigned char *p = (const unsigned char *)given; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '\\')
			return "/";
	return given;
}

/* ---- the /v1 API for a signed-in browser ---- */

/* Split the path after the leading '/' into decoded segments, in `copy`. */
static int split(const char *url, char *copy, size_t n, char **seg, size_t *nseg)
{
	*nseg = 0;
	if (url[0] != '/' || strlen(url) >= n)
		return -EINVAL;
	strcpy(copy, url + 1);
	for (char *p = copy;; p++) {
		char *slash = strchr(p, '/');
		if (*nseg == MAX_SEGS)
			return -E2BIG;
		seg[(*nseg)++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash;
	}
	for (size_t i = 0; i < *nseg; i++) {
		char *d = web_decode(seg[i], false);
		json_t *utf8 = d ? json_string(d) : NULL; /* jansson refuses bad UTF-8 */
		if (!utf8) {
			free(d);
			return -EINVAL;
		}
		json_decref(utf8);
		strcpy(seg[i], d); /* never longer than the escaped form */
		free(d);
	}
	return 0;
}

static int serve_v1(struct web *w, const struct web_call *call, struct web_reply *r)
{
	char copy[2048], *seg[MAX_SEGS];
	size_t nseg;
	struct session ss;
	struct api_scope scope = {.kind = API_SCOPE_USER};
	if (split(call->url, copy, sizeof copy, seg, &nseg))
		return web_json_error(r, MHD_HTTP_BAD_REQUEST, "bad request path");
	if (!web_session(w, call, &ss))
		return web_json_error(r, MHD_HTTP_UNAUTHORIZED, "not signed in");
	bool reading = !strcmp(call->method, "GET") || !strcmp(call->method, "HEAD");
	if (!reading && !web_csrf_ok(w, call, &ss, NULL)) {
		char addr[64];
		web_client(w, call->c, addr, sizeof addr);
		log_limited(&w->rl_csrf, L_WARN, "web: refused %s %s for %s from %s: csrf", call->method,
			    call->url, ss.user, addr);
		return web_json_error(r, MHD_HTTP_FORBIDDEN, "csrf");
	}
	if (web_is_admin(w, ss.user))
		scope.kind = API_SCOPE_ADMIN;
	else
		snprintf(scope.user, sizeof scope.user, "%s", ss.user);
	if (!api_scope_allows(&scope, call->method, seg, nseg))
		return web_json_error(r, MHD_HTTP_FORBIDDEN, "you may not do that");
	if (nseg == 2 && !strcmp(seg[1], "stats")) {
		r->status = MHD_HTTP_OK;
		r->type = "application/json";
		r->no_store = true;
		return metrics_render_json(w->deps.metrics, &r->body);
	}
	struct api_v1_request req = {
		.method = call->method, .seg = seg, .nseg = nseg,
		.body = call->rq->body.data, .body_len = call->rq->body.len, .scope = &scope,
		.store = w->deps.store, .schema = w->deps.schema, .dispatch = w->deps.dispatch,
		.recent = w->deps.recent,
		.q_after = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "after"),
		.q_limit = MHD_lookup_connection_value(call->c, MHD_GET_ARGUMENT_KIND, "limit"),
	};
	unsigned status;
	json_t *out = NULL;
	int rc = api_v1_handle(&req, &status, &out);
	return rc ? rc : web_json(r, status, out);
}

/* ---- routes owned by others: here only their access checks ---- */

static bool prefix_is(const char *url, const char *p)
{
	size_t n = strlen(p);
	return !strncmp(url, p, n) && (url[n] == '/' || !url[n]);
}

/* /events: [web] dashboard decides who may watch (H3's stream; 404 until
 * the dashboard is connected). */
static int serve_events(struct web *w, const struct web_call *call, struct web_reply *r)
{
	struct session ss;
	enum config_dashboard who = w->deps.cfg->web.dashboard;
	if (who == CONFIG_DASHBOARD_OFF)
		return web_json_error(r, MHD_HTTP_NOT_FOUND, "no dashboard here");
	if (who == CONFIG_DASHBOARD_SIGNED_IN && !web_session(w, call, &ss))
		return web_json_error(r, MHD_HTTP_UNAUTHORIZED, "not signed in");
	if (!w->deps.dashboard)
		return web_json_error(r, MHD_HTTP_NOT_FOUND, "no dashboard here");
	if (strcmp(call->method, "GET"))
		return web_json_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only");
	r->queued_ret = dashboard_serve(w->deps.dashboard, call->c);
	r->queued = true;
	return 0;
}

/* /unsubscribe/TOKEN and /mute/TOKEN: the signed links' pages (links.c).
 * No CSRF check: the link itself is the credential, and RFC 8058's
 * one-click POST comes from a mail client, not from our pages. */
static int serve_links(struct web *w, const struct web_call *call, struct web_reply *r)
{
	const char *action = call->url[1] == 'u' ? "unsubscribe" : "mute";
	const char *token = call->url + 1 + strlen(action);
	if (!w->deps.links || *token != '/' || !token[1] || strchr(token + 1, '/'))
		return web_page(r, MHD_HTTP_NOT_FOUND, "Link not known",
				"This herald does not know that link.");
	struct links_request lr = {.method = call->method, .action = action, .token = token + 1,
				   .store = w->deps.store, .now_s = call->now_s};
	int rc = links_page(w->deps.links, &lr, &r->status, &r->body);
	r->type = "text/html; charset=utf-8";
	r->no_store = true;
	return rc;
}

/* Is this sink among the instances dispatch_status says are loaded? */
static bool sink_loaded(void *arg, const char *sink)
{
	json_t *status = arg, *one;
	size_t i;
	json_array_foreach(status, i, one)
	{
		if (!strcmp(json_string_value(json_object_get(one, "name")), sink))
			return json_is_true(json_object_get(one, "loaded"));
	}
	return false;
}

/* GET /v1/webpush: what the subscribe button needs before anyone signs in
 * (a public key is public). Only sinks whose instance loaded: a browser
 * subscribed to one that failed init would get nothing. */
static int serve_webpush(struct web *w, struct web_reply *r)
{
	json_t *v = NULL, *status = NULL;
	int rc = w->deps.dispatch ? dispatch_status(w->deps.dispatch, &status) : 0;
	if (!rc)
		rc = pushkey_json(w->pushkey, status ? sink_loaded : NULL, status, &v);
	json_decref(status);
	return rc ? rc : web_json(r, MHD_HTTP_OK, v);
}

static int route(struct web *w, const struct web_call *call, struct web_reply *r)
{
	const char *u = call->url, *m = call->method;
	bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
	if (call->rq->too_big)
		return web_json_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than 1 MiB");
	if (!strcmp(u, "/v1/session") && get)
		return web_auth_session(w, call, r);
	if (!strcmp(u, "/v1/webpush") && get)
		return serve_webpush(w, r);
	if (prefix_is(u, "/v1"))
		return serve_v1(w, call, r);
	if (!strcmp(u, "/auth/login") && get)
		return web_auth_login(w, call, r);
	if (!strcmp(u, "/auth/callback") && get)
		return web_auth_callback(w, call, r);
	if (!strcmp(u, "/auth/logout") && !strcmp(m, "POST"))
		return web_auth_logout(w, call, r);
	if (prefix_is(u, "/auth"))
		return web_page(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Not allowed",
				"That method is not allowed here.");
	if (!strcmp(u, "/events") && get)
		return serve_events(w, call, r);
	if (prefix_is(u, "/unsubscribe") || prefix_is(u, "/mute"))
		return serve_links(w, call, r);
	if (!get)
		return web_page(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Not allowed",
				"That method is not allowed here.");
	return web_files_serve(w, call, r);
}

/* ---- the wire ---- */

static void add_headers(const struct web *w, struct MHD_Response *resp, const struct web_reply *r)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type ? r->type : "text/plain");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Content-Security-Policy", w->csp);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				r->no_store ? "no-store" : "no-cache");
	if (!strncmp(w->deps.cfg->web.base_url, "https://", 8))
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	if (r->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	if (r->cookie[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->cookie);
}

static enum MHD_Result send_reply(const struct web *w, struct MHD_Connection *c,
				  struct web_reply *r)
{
	struct MHD_Response *resp;
	if (r->fd >= 0) {
		resp = MHD_create_response_from_fd(r->fd_size, r->fd);
		if (resp)
			r->fd = -1; /* libmicrohttpd closes it */
	} else {
		resp = MHD_create_response_from_buffer(r->body.len,
						       r->body.data ? r->body.data : (char *)"",
						       MHD_RESPMEM_MUST_COPY);
	}
	if (!resp)
		return MHD_NO;
	add_headers(w, resp, r);
	enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void reply_release(struct web_reply *r)
{
	if (r->fd >= 0)
		close(r->fd);
	buf_release(&r->body);
	free(r->location);
}

static int take_body(struct web_request *rq, const char *data, size_t n)
{
	if (rq->too_big || rq->answered)
		return 0;
	if (rq->body.len + n > API_MAX_BODY) {
		rq->too_big = true;
		buf_release(&rq->body);
		return 0;
	}
	return buf_append(&rq->body, data, n);
}

/* Headers are in: refuse an announced body over the limit before it comes. */
static enum MHD_Result first_call(struct web *w, struct MHD_Connection *c, void **state)
{
	struct web_request *rq = calloc(1, sizeof *rq);
	if (!rq)
		return MHD_NO;
	*state = rq;
	connguard_headers_in(c);
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!cl || strtoull(cl, NULL, 10) <= API_MAX_BODY)
		return MHD_YES;
	struct web_reply r = {.fd = -1};
	enum MHD_Result ret = MHD_NO;
	if (!web_json_error(&r, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than 1 MiB") &&
	    (ret = send_reply(w, c, &r)) == MHD_YES)
		rq->answered = true;
	reply_release(&r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct web *w = cls;
	struct web_request *rq = *state;
	if (!rq)
		return first_call(w, c, state);
	if (*upload_size) {
		int rc = take_body(rq, upload, *upload_size);
		*upload_size = 0;
		return rc ? MHD_NO : MHD_YES;
	}
	if (rq->answered)
		return MHD_YES;
	struct web_call call = {.c = c, .method = method, .url = url, .rq = rq,
				.now_s = (int64_t)(clock_wall_ms() / 1000)};
	struct web_reply r = {.fd = -1};
	enum MHD_Result ret = MHD_NO;
	if (!route(w, &call, &r))
		ret = r.queued ? r.queued_ret : send_reply(w, c, &r);
	reply_release(&r);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
		      enum MHD_RequestTerminationCode toe)
{
	struct web_request *rq = *state;
	connguard_request_done(c);
	if (rq) {
		buf_release(&rq->body);
		free(rq);
	}
	*state = NULL;
}

/* The path reaches handle() as sent: segments are decoded one by one. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

/* ---- start and stop ---- */

static int read_small_file(const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	int rc = f ? 0 : -errno;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rc = b.len + n > TLS_FILE_MAX ? -EFBIG : buf_append(&b, chunk, n);
	if (f)
		fclose(f);
	if (!rc && !b.len)
		rc = -EINVAL;
	if (rc) {
		snprintf(err, errlen, "[web] %s: %s", path, rc == -EINVAL ? "empty" : strerror(-rc));
		buf_release(&b);
		return rc;
	}
	*out = b.data;
	return 0;
}

int web_check_config(const struct config *cfg, char *err, size_t errlen)
{
	const struct config_web *cw = &cfg->web;
	struct stat st;
	char *pem = NULL;
	int rc = 0;
	if (!cw->listen)
		return 0;
	if (stat(cw->assets, &st)) {
		snprintf(err, errlen, "[web] assets %s: %s", cw->assets, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "[web] assets %s: not a folder", cw->assets);
		return -ENOTDIR;
	}
	for (size_t i = 0; i < cw->n_admins; i++)
		if (!directory_valid_user_name(cw->admins[i])) {
			snprintf(err, errlen, "[web] admins: '%s' is not a herald user name",
				 cw->admins[i]);
			return -EINVAL;
		}
	if (cw->tls_cert && !(rc = read_small_file(cw->tls_cert, &pem, err, errlen))) {
		free(pem);
		rc = read_small_file(cw->tls_key, &pem, err, errlen);
		if (pem)
			OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
	if (!rc && cfg->oidc.issuer)
		rc = oidc_check_secret_file(cfg->oidc.client_secret_file, err, errlen);
	return rc;
}

/* http://localhost, 127.x or [::1]: a secure context for browsers. */
static bool loopback_url(const char *url)
{
	const char *h = url + 7;
	return !strncmp(h, "localhost", 9) || !strncmp(h, "127.", 4) || !strncmp(h, "[::1]", 5);
}

/* scheme://host[:port] of base_url: the origin browsers send. */
static void origin_of(const char *base, char *out, size_t n)
{
	const char *host = strstr(base, "://") + 3;
	size_t len = (size_t)(host - base) + strcspn(host, "/");
	snprintf(out, n, "%.*s", (int)len, base);
}

/* CONNECTIONS sockets need more descriptors than a shell's default soft
 * limit: raise it towards the hard limit (best effort). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = CONNECTIONS + 2048;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		log_warn("web: cannot raise the open-file limit to %llu (%s)",
			 (unsigned long long)want, strerror(errno));
}

static int start_daemon(struct web *w, int fd, char *err, size_t errlen)
{
	const struct config_web *cw = &w->deps.cfg->web;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (cw->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "web: this libmicrohttpd has no TLS; use a reverse proxy");
			return -ENOTSUP;
		}
		flags |= MHD_USE_TLS;
	}
	int rc = connguard_new(HEADER_DEADLINE_S, "web", &w->guard);
	if (rc)
		return rc;
	struct MHD_OptionItem tls[] = {
		{cw->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, w->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, w->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	w->d = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, w, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
		connguard_notify, w->guard, MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cw->max_per_ip,
		MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (!w->d) {
		snprintf(err, errlen, "web: cannot start the HTTP server on %s", cw->listen);
		return -EIO;
	}
	return 0;
}

static int open_parts(struct web *w, char *err, size_t errlen)
{
	const struct config *cfg = w->deps.cfg;
	char redirect[1024];
	int rc = web_check_config(cfg, err, errlen);
	if (rc)
		return rc;
	if ((w->assets_fd = open(cfg->web.assets, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "[web] assets %s: %s", cfg->web.assets, strerror(errno));
		return -errno;
	}
	if (cfg->web.tls_cert &&
	    ((rc = read_small_file(cfg->web.tls_cert, &w->tls_cert, err, errlen)) ||
	     (rc = read_small_file(cfg->web.tls_key, &w->tls_key, err, errlen))))
		return rc;
	if ((rc = pushkey_new(cfg, &w->pushkey))) {
		snprintf(err, errlen, "web: the webpush keys: %s", strerror(-rc));
		return rc;
	}
	snprintf(redirect, sizeof redirect, "%s/auth/callback", cfg->web.base_url);
	if (cfg->oidc.issuer && (rc = oidc_new(&cfg->oidc, redirect, &w->oidc, err, errlen)))
		return rc;
	return 0;
}

int web_start(const struct web_deps *deps, struct web **out, char *err, size_t errlen)
{
	const struct config *cfg = deps->cfg;
	size_t pruned = 0;
	*out = NULL;
	if (!cfg->web.listen)
		return 0;
	struct web *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->deps = *deps;
	w->assets_fd = -1;
	w->rl_signin.interval_ms = 10000;
	w->rl_csrf.interval_ms = 10000;
	origin_of(cfg->web.base_url, w->origin, sizeof w->origin);
	snprintf(w->csp, sizeof w->csp, CSP_FMT, cfg->oidc.issuer ? " " : "",
		 cfg->oidc.issuer ? cfg->oidc.issuer : "");
	int fd = -1, rc = open_parts(w, err, errlen);
	if (!rc)
		rc = session_prune(deps->store, (int64_t)(clock_wall_ms() / 1000), &pruned);
	if (!rc && (fd = connguard_listen("web", cfg->web.listen, 128, err, errlen)) < 0)
		rc = fd;
	if (!rc) {
		raise_fd_limit();
		if ((rc = start_daemon(w, fd, err, errlen)))
			close(fd);
	}
	if (rc) {
		if (!*err)
			snprintf(err, errlen, "web: %s", strerror(-rc));
		web_stop(w);
		return rc;
	}
	if (!strncmp(cfg->web.base_url, "http://", 7) && !loopback_url(cfg->web.base_url))
		log_warn("web: base_url %s is plain http: browsers keep the Secure session cookie "
			 "only over https (or on localhost), so sign-in will not stick",
			 cfg->web.base_url);
	log_info("web: listening on %s for %s (%zu expired sessions pruned, sign-in %s)",
		 cfg->web.listen, cfg->web.base_url, pruned, w->oidc ? "on" : "off");
	*out = w;
	return 0;
}

void web_stop(struct web *w)
{
	if (!w)
		return;
	/* libmicrohttpd must not be stopped with suspended streams */
	dashboard_shutdown(w->deps.dashboard);
	if (w->d)
		MHD_stop_daemon(w->d);
	connguard_free(w->guard);
	oidc_free(w->oidc);
	pushkey_free(w->pushkey);
	if (w->assets_fd >= 0)
		close(w->assets_fd);
	if (w->tls_key)
		OPENSSL_cleanse(w->tls_key, strlen(w->tls_key));
	free(w->tls_key);
	free(w->tls_cert);
	free(w);
}

void web_reload(struct web *w)
{
	if (!w)
		return;
	int n = pushkey_reload(w->pushkey);
	if (n > 0)
		log_info("web: %d webpush key(s) changed: GET /v1/webpush serves the new one(s)", n);
	else if (n < 0)
		log_warn("web: re-reading the webpush keys: %s", strerror(-n));
}
