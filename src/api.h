/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * api: heraldd's control API over HTTP (libmicrohttpd), on a unix socket in
 * the state directory and optionally on TCP.
 *
 * Today: GET /healthz, GET /metrics (Prometheus text), GET /v1/stats (JSON).
 * Requests are served on libmicrohttpd's own thread; handlers only read
 * atomics, so they never block ingest. Not for business logic: later
 * resources call into the modules that own them.
 */
#ifndef HERALD_API_H
#define HERALD_API_H

#include <stdbool.h>

#include "metrics.h"

struct api;

/* Listen on `socket_path` (replaced if stale) and, if `tcp` is "HOST:PORT",
 * on TCP too. `m` is borrowed and must outlive the api. */
int api_start(const char *socket_path, const char *tcp, struct metrics *m, struct api **out,
	      char *err, size_t errlen);
/* /healthz answers 503 until the daemon says it is ready. */
void api_set_ready(struct api *a, bool ready);
void api_stop(struct api *a); /* NULL is a no-op */

#endif
