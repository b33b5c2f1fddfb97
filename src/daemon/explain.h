/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * explain: "does this message match, and why?" for people. Runs the schema
 * rules on one message, then one filter (filter test) or every subscription
 * of one user (sub explain), and reports each verdict with the filter's own
 * explanation. Not for matching at scale (match.c) nor for storing anything:
 * it only reads the store.
 *
 * Request bodies (JSON objects, unknown keys refused):
 *   explain_filter  {"filter": SRC, "message": ENVELOPE, "user": NAME (optional)}
 *                -> {"match": bool, "why": TEXT, "meta": {...}}
 *   explain_user    {"message": ENVELOPE}
 *                -> {"meta": {...}, "subscriptions": [{"id", "name", "enabled",
 *                    "match", "why"}, ...]}
 * ENVELOPE is a fedmsg envelope, or at least {"topic": ..., "msg": ...}.
 *
 * Errors are reported like the directory's (directory.h). Threads: any
 * thread; the schema is shared read-only, scratch memory is per call.
 */
#ifndef HERALD_EXPLAIN_H
#define HERALD_EXPLAIN_H

#include <jansson.h>

#include "directory.h"

struct schema;
struct store;

int explain_filter(const struct schema *sc, struct store *s, const json_t *in, json_t **out,
		   struct directory_error *e);
int explain_user(const struct schema *sc, struct store *s, const char *user, const json_t *in,
		 json_t **out, struct directory_error *e);

/* One subscription document's verdict on a message already described
 * (`v`): {"id", "name", "enabled", "match", "why"}; a stored filter that no
 * longer compiles is a verdict too (no match, "does not compile: ..."). For
 * the web app's "why did I get this". */
int explain_sub_view(const json_t *sub, const struct msg_view *v, const struct filter_user *user,
		     json_t **out, struct directory_error *e);

/* The meta as JSON: app, title, summary, link, agent, severity, usernames,
 * packages (absent strings are null). NULL on out of memory. */
json_t *explain_meta_json(const struct meta *m);

#endif
