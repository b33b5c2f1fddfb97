/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * api_v1: the management resources of the control API (doc/herald-api.7):
 * users, their lists, destinations and subscriptions, filter test and
 * explain, preview and "why" (src/web/preview.h, why.h), the outbox, dead
 * letters, the delivery log and the sinks. Maps a method and path to the directory and explain modules and
 * their results to HTTP statuses. Not for sockets, bodies or tokens
 * (api.c, api_auth.c) nor for the rules themselves (directory.c).
 *
 * Threads: called from the HTTP server's threads; keeps no state.
 */
#ifndef HERALD_API_V1_H
#define HERALD_API_V1_H

#include <jansson.h>
#include <stddef.h>

#include "api_auth.h"

struct store;
struct schema;
struct dispatch;
struct recent;

#define API_MAX_BODY (1u << 20) /* 1 MiB, enforced by api.c */

struct api_v1_request {
	const char *method;
	char *const *seg; /* percent-decoded path segments; seg[0] is "v1" */
	size_t nseg;
	const char *body; /* raw request body; body_len 0 when there was none */
	size_t body_len;
	const struct api_scope *scope; /* already allowed the path (api_scope_allows) */
	struct store *store;
	const struct schema *schema;
	struct dispatch *dispatch;     /* sinks: validate addresses, wake after a retry */
	struct recent *recent;         /* recent messages (preview, why); NULL: none kept */
	const char *q_after, *q_limit; /* query parameters "after" and "limit", or NULL */
};

/*
 * Serve one request under /v1 (except /v1/stats). Sets *status and *out: the
 * resource, or {"error": MESSAGE}. 0, or -ENOMEM when no answer could be
 * built at all.
 */
int api_v1_handle(const struct api_v1_request *r, unsigned *status, json_t **out);

#endif
