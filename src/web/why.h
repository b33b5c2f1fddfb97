/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * why: "why did I get this", the answer to GET /v1/users/NAME/why/NOTE_ID.
 * Finds the note (still in the outbox, a dead letter, or in the delivery
 * log, which keeps each note without its body), names the subscriptions
 * that matched it and runs their filters again with explanations
 * (explain.c), on the original message while the recent store still holds
 * it ("source": "message"), else on what the note kept ("source":
 * "notification": its body while it waits in the outbox or the dead
 * letters; once delivered, what the delivery log kept: the meta, and the
 * body unless it was big, "body": false then, msg.* paths see nothing).
 *
 * Answer: {"note": {"id", "title", "topic", "time", "sink", "destination",
 * "address", "state": "pending" | "dead" | "delivered", "msg_id"},
 * "subscription": {"id", "name", "filter"}, "match": bool, "why": TEXT,
 * "meta": {...}, "source": ..., "body": bool, "subscriptions": [{"id", "name", "filter",
 * "match", "why"}...]}. "subscription" is the first that matches again (or
 * the first named); a deleted subscription has name and filter null and
 * does not match. A note of another user, or one no longer known: 404.
 *
 * Not for matching at scale, nor for changing anything: it only reads.
 * Errors like the directory's. Threads: any thread.
 */
#ifndef HERALD_WHY_H
#define HERALD_WHY_H

#include <jansson.h>

#include "src/daemon/directory.h"

struct recent;
struct schema;
struct store;

int why_note(struct recent *r, struct store *s, const struct schema *sc, const char *user,
	     const char *note_id, json_t **out, struct directory_error *e);

#endif
