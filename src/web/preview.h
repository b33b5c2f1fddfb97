/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * preview: "this filter would have matched N of the last M bus messages",
 * the answer to POST /v1/users/NAME/preview before a subscription is saved.
 * Runs one filter, compiled as a subscription's is (the regex shape rule
 * and the language's limits), for that user (`me` and their lists), over
 * the recent store (recent.h), newest first. Not for matching at scale
 * (match.c) nor for saving anything: it only reads the store.
 *
 * Request {"filter": SRC}; answer {"matched": N, "of": M, "complete": bool,
 * "messages": [{"id", "topic", "time", "title", "app", "link"}...]}: at most
 * PREVIEW_MAX_LIST messages, newest first; "id" is the msg_id (null when the
 * envelope had none), "time" Unix seconds. A filter that does not compile
 * is a 400 with "filter LINE:COL: ..." as filter test gives it.
 *
 * Cost: each message's regexes run within the subscription budget
 * (MATCH_SUB_BUDGET_NS), and all of them within PREVIEW_BUDGET_NS; once
 * that is spent the preview stops and says "complete": false, "of" being
 * how many it looked at. The rest of a filter is bounded by its size.
 *
 * Errors like the directory's (directory.h). Threads: any thread; the
 * recent store is thread-safe, scratch memory is per call.
 */
#ifndef HERALD_PREVIEW_H
#define HERALD_PREVIEW_H

#include <jansson.h>

#include "src/daemon/directory.h"

#define PREVIEW_MAX_LIST 100
#define PREVIEW_BUDGET_NS (20 * 1000 * 1000ull) /* 20 ms of regex time per preview */

struct recent;
struct store;

int preview_run(struct recent *r, struct store *s, const char *user, const json_t *in,
		json_t **out, struct directory_error *e);

/* A recent message as the preview and the dashboard list it:
 * {"id", "topic", "time", "title", "app", "link"}. NULL on out of memory. */
struct recent_msg;
json_t *preview_msg_json(const struct recent_msg *m);

#endif
