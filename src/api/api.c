/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * api: the HTTP control API's transport (see api.h): listeners, bodies,
 * paths, tokens, and the counter resources. Each request is looked at twice:
 * when its headers are in (path, token and scope are settled then, so a
 * refused client never gets to upload a body) and when its body is complete
 * (then it is served). Both looks are plain functions of what the headers
 * said (admit, serve): the libmicrohttpd callback only gathers them, and
 * api_route() runs the same two for one request without a socket (the fuzz
 * target). The management resources are api_v1.c's.
 */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api_auth.h"
#include "api_v1.h"
#include "connguard.h"
#include "src/common/buf.h"
#include "src/common/config.h"
#include "src/common/hex.h"
#include "src/common/clock.h"
#include "src/common/log.h"
#include "src/daemon/usertoken.h"

#define MAX_SEGS 8
/* Connections: the admin socket is for one operator and the CLI; TCP is
 * sized for the web app's browsers (and their event streams), with a share
 * per client address so that one host cannot take them all. */
#define UNIX_CONNECTIONS 64
#define TCP_CONNECTIONS 1024
#define TCP_PER_IP 32
/* Seconds a connection has to deliver a whole request header (connguard.h),
 * and seconds of silence libmicrohttpd allows in a body or a keep-alive. */
#define HEADER_DEADLINE_S 10
#define IDLE_TIMEOUT_S 10

#ifndef MHD_HTTP_CONTENT_TOO_LARGE /* named so from libmicrohttpd 0.9.74 */
#define MHD_HTTP_CONTENT_TOO_LARGE 413
#endif

struct api;

/* One per listening socket: the handler's closure. */
struct listener {
	struct api *a;
	bool tcp;
	struct connguard *guard; /* owned; the header deadline */
};

struct api {
	struct api_deps deps;
	atomic_bool ready;
	struct MHD_Daemon *unix_d, *tcp_d;
	struct listener unix_l, tcp_l;
	char *socket_path;          /* owned; unlinked at stop */
	struct api_tokens *tokens;  /* NULL: only personal tokens (usertoken.h) on TCP */
	struct log_limit rl_auth;   /* touched by the TCP thread only */
};

/* What one request carries between the calls libmicrohttpd makes. */
struct request {
	char *path;                 /* owned copy of the URL, split in place */
	char *seg[MAX_SEGS];
	size_t nseg;
	struct api_scope scope;
	struct buf body;
	bool too_big;               /* body beyond API_MAX_BODY: discarded */
	bool answered;              /* a refusal was queued with the headers */
	const char *q_after, *q_limit; /* query parameters, owned by libmicrohttpd */
};

struct response {
	unsigned status;
	const char *type;
	struct buf body;
	bool challenge;             /* 401: add WWW-Authenticate */
};

/* ---- responses ---- */

static enum MHD_Result send_response(struct MHD_Connection *c, struct response *res)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		res->body.len, res->body.data ? res->body.data : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->type);
	if (res->challenge)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"herald\"");
	enum MHD_Result ret = MHD_queue_response(c, res->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A JSON body: the value, compact, and a newline for people using curl. */
static int put_json(struct response *res, unsigned status, const json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
	int rc = s ? buf_puts(&res->body, s) : -ENOMEM;
	free(s);
	res->status = status;
	res->type = "application/json";
	return rc ? rc : buf_putc(&res->body, '\n');
}

static int put_error(struct response *res, unsigned status, const char *msg)
{
	json_t *v = json_pack("{s:s}", "error", msg);
	buf_reset(&res->body);
	int rc = put_json(res, status, v);
	json_decref(v);
	return rc;
}

/* ---- paths ---- */

/* Percent-decode in place; no NUL may come out of it. */
static int decode(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		int hi = hex_value(r[1]), lo = hi < 0 ? -1 : hex_value(r[2]);
		if (lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		*w++ = (char)(hi * 16 + lo);
		r += 2;
	}
	*w = '\0';
	return 0;
}

/* A decoded segment must be UTF-8: names are, and an error that quotes the
 * segment must still be JSON (jansson refuses other bytes, which used to
 * leave the client with an empty reply). jansson is the validator. */
static bool valid_utf8(const char *s)
{
	json_t *v = json_string(s);
	json_decref(v);
	return v != NULL;
}

/*
 * Split "/v1/users/alice" into decoded segments. Decoding comes after
 * splitting, so "%2F" stays inside its segment (and fails name checks)
 * instead of changing the route. The server's own URL decoding is off.
 */
static int split_path(const char *url, struct request *rq)
{
	if (url[0] != '/' || !(rq->path = strdup(url + 1)))
		return url[0] != '/' ? -EINVAL : -ENOMEM;
	rq->nseg = 0;
	if (!rq->path[0])
		return 0;
	for (char *p = rq->path;; p++) {
		char *slash = strchr(p, '/');
		if (rq->nseg == MAX_SEGS)
			return -E2BIG;
		rq->seg[rq->nseg++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash;
	}
	for (size_t i = 0; i < rq->nseg; i++)
		if (decode(rq->seg[i]) || !valid_utf8(rq->seg[i]))
			return -EINVAL;
	return 0;
}

static bool path_is(const struct request *rq, const char *a, const char *b)
{
	if (rq->nseg != (b ? 2u : 1u) || strcmp(rq->seg[0], a))
		return false;
	return !b || !strcmp(rq->seg[1], b);
}

/* ---- authentication ---- */

/* The Authorization header's "Bearer TOKEN" -> TOKEN, or NULL. */
static const char *bearer(const char *h)
{
	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static void client_addr(const struct sockaddr *sa, char *out, size_t n)
{
	snprintf(out, n, "?");
	if (sa)
		getnameinfo(sa,
			    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						      : sizeof(struct sockaddr_in),
			    out, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
}

/* A user's personal token (usertoken.h), looked up in the store on every
 * request so that a revoked one is refused at once. */
static bool personal_token(struct api *a, const char *token, struct api_scope *out)
{
	char user[DIRECTORY_NAME_MAX + 1];
	if (!token || !a->deps.store ||
	    usertoken_find(a->deps.store, token, (int64_t)(clock_wall_ms() / 1000), user))
		return false;
	out->kind = API_SCOPE_USER;
	memcpy(out->user, user, sizeof out->user);
	return true;
}

/*
 * Settle who is asking: the unix socket is admin; on TCP the bearer token's
 * scope must allow the method and path. 0, or a refusal in *res. The token
 * is never logged.
 */
static int authorize(struct api *a, const struct api_call *call, struct request *rq,
		     struct response *res)
{
	char addr[64];
	if (!call->tcp) {
		rq->scope.kind = API_SCOPE_ADMIN;
		return 0;
	}
	if (path_is(rq, "healthz", NULL))
		return 0;
	const char *token = bearer(call->authorization);
	if (!api_tokens_find(a->tokens, token, &rq->scope) && !personal_token(a, token, &rq->scope)) {
		client_addr(call->client, addr, sizeof addr);
		log_limited(&a->rl_auth, L_WARN, "api: refused %s from %s: %s", call->method, addr,
			    token ? "unknown token" : "no bearer token");
		res->challenge = true;
		return put_error(res, MHD_HTTP_UNAUTHORIZED,
				 token ? "unknown token" : "this needs Authorization: Bearer TOKEN");
	}
	if (!api_scope_allows(&rq->scope, call->method, rq->seg, rq->nseg))
		return put_error(res, MHD_HTTP_FORBIDDEN, "this token's scope does not allow that");
	return 0;
}

/* Headers are in: check size, path and token before any body is read. */
static int admit(struct api *a, const struct api_call *call, struct request *rq,
		 struct response *res)
{
	int rc = split_path(call->path, rq);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		return put_error(res, MHD_HTTP_BAD_REQUEST, "bad request path");
	if ((rc = authorize(a, call, rq, res)) || res->status)
		return rc;
	if (call->content_length && strtoull(call->content_length, NULL, 10) > API_MAX_BODY)
		return put_error(res, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than 1 MiB");
	return 0;
}

/* ---- resources ---- */

static int serve_counters(struct api *a, const char *method, const struct request *rq,
			  struct response *res)
{
	int rc;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return put_error(res, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed (use GET)");
	res->status = MHD_HTTP_OK;
	if (path_is(rq, "metrics", NULL)) {
		res->type = "text/plain; version=0.0.4";
		return metrics_render_prometheus(a->deps.metrics, &res->body);
	}
	res->type = "application/json";
	if (!(rc = metrics_render_json(a->deps.metrics, &res->body)))
		rc = buf_putc(&res->body, '\n');
	return rc;
}

static int serve_v1(struct api *a, const char *method, const struct request *rq,
		    struct response *res)
{
	struct api_v1_request r = {
		.method = method, .seg = rq->seg, .nseg = rq->nseg,
		.body = rq->body.data, .body_len = rq->body.len, .scope = &rq->scope,
		.store = a->deps.store, .schema = a->deps.schema, .dispatch = a->deps.dispatch,
		.recent = a->deps.recent, .q_after = rq->q_after, .q_limit = rq->q_limit,
	};
	unsigned status;
	json_t *out = NULL;
	int rc = api_v1_handle(&r, &status, &out);
	if (!rc)
		rc = put_json(res, status, out);
	json_decref(out);
	return rc;
}

static int serve(struct api *a, const char *method, const struct request *rq,
		 struct response *res)
{
	if (rq->too_big)
		return put_error(res, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than 1 MiB");
	if (path_is(rq, "healthz", NULL)) {
		bool ok = atomic_load(&a->ready);
		res->status = ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
		res->type = "text/plain";
		return buf_puts(&res->body, ok ? "ok\n" : "starting\n");
	}
	if (path_is(rq, "metrics", NULL) || path_is(rq, "v1", "stats"))
		return serve_counters(a, method, rq, res);
	if (rq->nseg && !strcmp(rq->seg[0], "v1"))
		return serve_v1(a, method, rq, res);
	return put_error(res, MHD_HTTP_NOT_FOUND, "no such resource");
}

/* Keep the body, up to the limit; past it, note that and drop the rest. */
static int take_body(struct request *rq, const char *data, size_t n)
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

/* What the headers said, gathered for admit(). */
static void call_of(const struct listener *l, struct MHD_Connection *c, const char *url,
		    const char *method, struct api_call *call)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	*call = (struct api_call){
		.method = method, .path = url, .tcp = l->tcp,
		.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_AUTHORIZATION),
		.content_length = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_CONTENT_LENGTH),
		.client = ci ? ci->client_addr : NULL,
	};
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	const struct listener *l = cls;
	struct request *rq = *state;
	struct response res = {.type = "application/json"};
	struct api_call call;
	enum MHD_Result ret = MHD_NO;
	int rc;
	if (!rq) { /* headers only */
		connguard_headers_in(c);
		if (!(rq = calloc(1, sizeof *rq)))
			return MHD_NO;
		*state = rq;
		call_of(l, c, url, method, &call);
		if ((rc = admit(l->a, &call, rq, &res)) || !res.status)
			ret = rc ? MHD_NO : MHD_YES;
		else if ((ret = send_response(c, &res)) == MHD_YES)
			rq->answered = true;
		buf_release(&res.body);
		return ret;
	}
	if (*upload_size) {
		rc = take_body(rq, upload, *upload_size);
		*upload_size = 0;
		return rc ? MHD_NO : MHD_YES;
	}
	if (rq->answered)
		return MHD_YES;
	rq->q_after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
	rq->q_limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	if (!(rc = serve(l->a, method, rq, &res)))
		ret = send_response(c, &res);
	buf_release(&res.body);
	return ret;
}

static void request_free(struct request *rq)
{
	if (!rq)
		return;
	free(rq->path);
	buf_release(&rq->body);
	free(rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
		      enum MHD_RequestTerminationCode toe)
{
	connguard_request_done(c);
	request_free(*state);
	*state = NULL;
}

/* handle()'s three calls in one: admit, the body, serve. */
int api_route(struct api *a, const struct api_call *call, unsigned *status, struct buf *out)
{
	struct request *rq = calloc(1, sizeof *rq);
	struct response res = {.type = "application/json"};
	int rc = rq ? admit(a, call, rq, &res) : -ENOMEM;
	if (!rc && !res.status && call->body_len)
		rc = take_body(rq, call->body, call->body_len);
	if (!rc && !res.status) {
		rq->q_after = call->q_after;
		rq->q_limit = call->q_limit;
		rc = serve(a, call->method, rq, &res);
	}
	if (!rc) {
		*status = res.status;
		rc = buf_append(out, res.body.data ? res.body.data : "", res.body.len);
	}
	buf_release(&res.body);
	request_free(rq);
	return rc;
}

/* The path reaches handle() as sent: split_path decodes per segment. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

/* ---- listeners ---- */

static int unix_listener(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "api: socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* A stale socket from a crash: heraldd holds its state_dir's statelock
	 * before it gets here, so this is never a running daemon's socket. */
	unlink(path);
	mode_t old = umask(0077);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	/* Anyone who can connect is admin: owner only. */
	if (rc || chmod(path, 0600) || listen(fd, 64))
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "api: cannot listen on %s (%s)", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -errno;
}

/* A daemon on fd (owned by it once started). MHD_USE_AUTO picks epoll:
 * select() could not watch more than 1,024 descriptors. */
static struct MHD_Daemon *serve_on(struct listener *l, int fd)
{
	if (connguard_new(HEADER_DEADLINE_S, l->tcp ? "tcp" : "unix", &l->guard))
		return NULL;
	return MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		handle, l, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, completed,
		NULL, MHD_OPTION_NOTIFY_CONNECTION, connguard_notify, l->guard,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(l->tcp ? TCP_CONNECTIONS : UNIX_CONNECTIONS),
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(l->tcp ? TCP_PER_IP : 0),
		MHD_OPTION_END);
}

/* TCP_CONNECTIONS sockets need more descriptors than a shell's default soft
 * limit of 1,024: raise it towards the hard limit (best effort). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = TCP_CONNECTIONS + UNIX_CONNECTIONS + 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		log_warn("api: cannot raise the open-file limit to %llu (%s)",
			 (unsigned long long)want, strerror(errno));
}

static int start_tcp(struct api *a, const char *hostport, char *err, size_t errlen)
{
	int fd;
	raise_fd_limit();
	if ((fd = connguard_listen("api", hostport, 64, err, errlen)) < 0)
		return fd;
	if (!(a->tcp_d = serve_on(&a->tcp_l, fd))) {
		close(fd);
		snprintf(err, errlen, "api: cannot start the HTTP server on %s", hostport);
		return -EIO;
	}
	return 0;
}

int api_new(const struct api_deps *deps, struct api **out, char *err, size_t errlen)
{
	const struct config *cfg = deps->cfg;
	struct api *a = calloc(1, sizeof *a);
	int rc = 0;
	if (!a || !(a->socket_path = strdup(cfg->api_socket ? cfg->api_socket : ""))) {
		free(a);
		return -ENOMEM;
	}
	a->deps = *deps;
	a->unix_l = (struct listener){.a = a, .tcp = false};
	a->tcp_l = (struct listener){.a = a, .tcp = true};
	a->rl_auth.interval_ms = 10000;
	if (cfg->api_tokens && (rc = api_tokens_load(cfg->api_tokens, &a->tokens, err, errlen))) {
		api_stop(a);
		return rc;
	}
	if (cfg->api_tokens)
		log_info("api: %zu tokens from %s", api_tokens_count(a->tokens), cfg->api_tokens);
	*out = a;
	return 0;
}

int api_start(const struct api_deps *deps, struct api **out, char *err, size_t errlen)
{
	const struct config *cfg = deps->cfg;
	struct api *a;
	int fd;
	/* Tokens first: a bad token file stops the daemon before it listens. */
	int rc = api_new(deps, &a, err, errlen);
	if (rc)
		return rc;
	if ((fd = unix_listener(cfg->api_socket, err, errlen)) < 0) {
		rc = fd;
		goto fail;
	}
	if (!(a->unix_d = serve_on(&a->unix_l, fd))) {
		close(fd);
		snprintf(err, errlen, "api: cannot start the HTTP server on %s", cfg->api_socket);
		rc = -EIO;
		goto fail;
	}
	if (cfg->api_listen && (rc = start_tcp(a, cfg->api_listen, err, errlen)))
		goto fail;
	*out = a;
	return 0;
fail:
	api_stop(a);
	return rc;
}

void api_set_ready(struct api *a, bool ready)
{
	atomic_store(&a->ready, ready);
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	if (a->tcp_d)
		MHD_stop_daemon(a->tcp_d);
	if (a->unix_d) {
		MHD_stop_daemon(a->unix_d);
		unlink(a->socket_path);
	}
	connguard_free(a->tcp_l.guard);
	connguard_free(a->unix_l.guard);
	api_tokens_free(a->tokens);
	free(a->socket_path);
	free(a);
}
