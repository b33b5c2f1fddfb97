/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * api: heraldd's control API over HTTP (libmicrohttpd), on a unix socket in
 * the state directory and optionally on TCP.
 *
 * Here: the transport. Listening, reading request bodies (at most 1 MiB),
 * splitting and percent-decoding the path, authentication, and the small
 * resources that only read counters: GET /healthz, GET /metrics (Prometheus
 * text), GET /v1/stats (JSON). Everything else under /v1 is api_v1.c's.
 *
 * Auth: the unix socket (0600 in the state directory) is admin. On TCP every
 * request but /healthz needs `Authorization: Bearer TOKEN`: a token of the
 * token file (api_auth.h), else a user's personal token from the store
 * (usertoken.h, scope user:NAME, looked up on every request so revoking
 * takes effect at once): missing or unknown token 401, scope too narrow 403.
 *
 * Requests are served on libmicrohttpd's threads (one per listener). The
 * management resources run short store transactions there; the matcher
 * learns about changes from store_doc_generation(), so nothing here calls
 * into the pipeline. Not for business logic.
 */
#ifndef HERALD_API_H
#define HERALD_API_H

#include <stdbool.h>
#include <stddef.h>

#include "src/daemon/metrics.h"

struct api;
struct buf;
struct config;
struct schema;
struct sockaddr;
struct store;

/* What the API serves from. Everything is borrowed and must outlive the api. */
struct api_deps {
	const struct config *cfg;     /* api_socket, api_listen, api_tokens */
	struct metrics *metrics;
	struct store *store;
	const struct schema *schema;  /* for filter test and explain */
	struct dispatch *dispatch;    /* sinks, for destinations and the outbox; NULL (api_new
				       * only): addresses unchecked, no codes */
	struct recent *recent;        /* recent messages, for preview and why (src/web/recent.h);
				       * NULL: preview answers 503, why uses what notes kept */
};

/* Listen on cfg->api_socket (replaced if stale) and, if cfg->api_listen is
 * "HOST:PORT", on TCP too, with the tokens of cfg->api_tokens (a file that
 * group or others can read is refused). 0, or a negative errno with `err`. */
int api_start(const struct api_deps *deps, struct api **out, char *err, size_t errlen);
/* /healthz answers 503 until the daemon says it is ready. */
void api_set_ready(struct api *a, bool ready);
void api_stop(struct api *a); /* NULL is a no-op */

/*
 * Without sockets: api_new makes an api that listens nowhere (tokens loaded
 * as api_start does; cfg->api_socket may be NULL), and api_route serves one
 * complete request through it exactly as the HTTP callback does: path, token
 * and scope, body limit, then the resource. For the fuzz target
 * (tests/fuzz/fuzz_api.c) and tests; api_stop frees it. Everything in the
 * call is borrowed for the call. api_route appends the body of the answer to
 * `out` and sets *status: 0, or -ENOMEM when no answer could be built. Calls
 * on one api must not overlap (as on one listener's thread).
 */
struct api_call {
	const char *method;
	const char *path;            /* as sent, before any '?': escapes kept */
	bool tcp;                    /* false: the admin socket (no token asked) */
	const char *authorization;   /* the Authorization header, or NULL */
	const char *content_length;  /* the Content-Length header, or NULL */
	const struct sockaddr *client; /* for log lines; NULL: "?" */
	const char *q_after, *q_limit; /* query parameters, or NULL */
	const char *body;
	size_t body_len;
};

int api_new(const struct api_deps *deps, struct api **out, char *err, size_t errlen);
int api_route(struct api *a, const struct api_call *call, unsigned *status, struct buf *out);

#endif
