/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notify: one accepted message and one match, turned into the notification
 * document that the outbox stores and sinks receive (herald-sink(3) lists
 * its fields). The message part is built once per message and shared by
 * all of its notifications, because a message can notify thousands.
 *
 * Document: {"id", "user", "destination", "subscriptions": [ids],
 *   "created", "attempts", "topic", "title", "summary", "link",
 *   "agent", "severity", "usernames": [], "packages": [], "msg_id",
 *   "timestamp", "msg": {the original body}}
 *
 * Memory: results are appended to the caller's buf. Threads: no state.
 */
#ifndef HERALD_NOTIFY_H
#define HERALD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "src/common/buf.h"
#include "src/common/envelope.h"
#include "src/common/meta.h"

/* The message part: members without the braces ("topic":...,"msg":{...}).
 * The body is copied from the envelope's bytes as they came. 0 or -ENOMEM. */
int notify_common(const struct envelope *env, const struct meta *meta, struct buf *out);

/* A whole document for one (user, destination). 0 or -ENOMEM. */
int notify_doc(const char *hex_id, const char *user, uint64_t dest, const uint64_t *subs,
	       size_t n_subs, uint64_t now_ms, const char *common, size_t common_len,
	       struct buf *out);

#endif
