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
 * request but /healthz needs `Authorization: Bearer TOKEN` from the token
 * file (api_auth.h): missing or unknown token 401, scope too narrow 403.
 *
 * Requests are served on libmicrohttpd's threads (one per listener). The
 * management resources run short store transactions there; the matcher
 * learns about changes from store_doc_generation(), so nothing here calls
 * into the pipeline. Not for business logic.
 */
#ifndef HERALD_API_H
#define HERALD_API_H

#include <stdbool.h>

#include "src/daemon/metrics.h"

struct api;
struct config;
struct schema;
struct store;

/* What the API serves from. Everything is borrowed and must outlive the api. */
struct api_deps {
	const struct config *cfg;     /* api_socket, api_listen, api_tokens */
	struct metrics *metrics;
	struct store *store;
	const struct schema *schema;  /* for filter test and explain */
	struct dispatch *dispatch;    /* sinks, for destinations and the outbox */
};

/* Listen on cfg->api_socket (replaced if stale) and, if cfg->api_listen is
 * "HOST:PORT", on TCP too, with the tokens of cfg->api_tokens (a file that
 * group or others can read is refused). 0, or a negative errno with `err`. */
int api_start(const struct api_deps *deps, struct api **out, char *err, size_t errlen);
/* /healthz answers 503 until the daemon says it is ready. */
void api_set_ready(struct api *a, bool ready);
void api_stop(struct api *a); /* NULL is a no-op */

#endif
