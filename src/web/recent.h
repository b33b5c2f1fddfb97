/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * recent: the last N accepted bus messages, in memory, for the web app's
 * preview ("this filter would have matched N of the last M messages"), its
 * "why did I get this" page (the original message while it is still here)
 * and the live dashboard. Not durable and not a history: a restart starts
 * it empty, and the oldest message goes when a new one comes.
 *
 * Fed by the committer (commit.c) once a batch has committed: recent_add
 * moves in the meta the schema derived and takes a reference on the body
 * jansson already parsed, so the pipeline pays an allocation and one short
 * lock per message, never a re-serialisation.
 *
 * Ownership: an entry (struct recent_msg) is immutable once added and
 * reference-counted; readers get referenced pointers and drop them with
 * recent_msg_unref, so a slow reader never holds the lock, and an entry it
 * holds outlives its place in the ring.
 *
 * Threads: every function is thread-safe. One mutex guards the ring (the
 * pointer slots and the sequence counter); it is held for a slot swap or a
 * copy of at most `capacity` pointers, never while calling out, freeing or
 * allocating. It is a leaf: nothing else is locked while it is held. The
 * wake callback is called without it.
 */
#ifndef HERALD_RECENT_H
#define HERALD_RECENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/meta.h"

#define RECENT_DEFAULT 2000     /* [web] recent_messages */
#define RECENT_MAX 100000

/* One accepted message. Read-only for everyone once added. */
struct recent_msg {
	uint64_t seq;        /* 1, 2, ... in acceptance order, for this process's life */
	int64_t time_ms;     /* when it was accepted (wall clock) */
	char *topic;
	char *msg_id;        /* NULL when the envelope had none */
	json_t *msg;         /* the body (shared with the parse; never modified) */
	struct meta meta;    /* what the schema understood; all NULL/empty when it did not */
	atomic_uint refs;
};

/* What the committer hands over for one accepted message. */
struct recent_in {
	const char *topic;   /* copied */
	const char *msg_id;  /* copied; may be NULL */
	json_t *msg;         /* a reference is taken; may be NULL */
	struct meta *meta;   /* moved: *meta is all zero afterwards; may be NULL */
	int64_t time_ms;
};

struct recent;

/* A store of the last `capacity` (1..RECENT_MAX) messages. 0, -EINVAL, -ENOMEM. */
int recent_new(size_t capacity, struct recent **out);
void recent_free(struct recent *r); /* NULL is a no-op; entries still held stay valid */

/* Add one message; the oldest goes when full. Out of memory: the message
 * is not recorded (the meta is released all the same); nothing else fails. */
void recent_add(struct recent *r, const struct recent_in *in);

/* Called (from the adding thread, without the lock) after each recent_add:
 * must be quick (set a flag, signal a condition). One listener; NULL fn
 * removes it. Set it before messages flow. */
void recent_on_add(struct recent *r, void (*fn)(void *arg), void *arg);

size_t recent_capacity(const struct recent *r);
/* The newest message's seq (0: none yet). */
uint64_t recent_last_seq(struct recent *r);

/* Up to `max` messages, newest first, referenced; returns how many. */
size_t recent_newest(struct recent *r, struct recent_msg **out, size_t max);
/* Up to `max` messages with seq > `after`, oldest first, referenced;
 * returns how many. *oldest (may be NULL) is the oldest seq still held
 * (last + 1 when empty): a reader whose `after` + 1 is below it missed some. */
size_t recent_after(struct recent *r, uint64_t after, struct recent_msg **out, size_t max,
		    uint64_t *oldest);
/* The newest message with this msg_id, referenced, or NULL. */
struct recent_msg *recent_find(struct recent *r, const char *msg_id);

void recent_msg_unref(struct recent_msg *m); /* NULL is a no-op */
/* unref each of out[0..n) */
void recent_release(struct recent_msg **out, size_t n);

#endif
