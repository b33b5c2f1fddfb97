/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sealer: builds and encrypts a batch's push messages (notice.c, then
 * ece.c) on a helper thread while the sink's own thread sends the first
 * ones, because sealing (a fresh P-256 key and an ECDH per message, which
 * RFC 8291 3.1 asks for) costs more CPU than sending. The sink's thread
 * takes the messages in order and seals those the helper has not started
 * itself; the helper works from the batch's end, so the two meet in the
 * middle, neither waits while there is work, and a batch is never slower
 * than sealing it all on the caller's thread.
 *
 * Ownership: the sealer owns its thread and one struct ece per thread; a
 * job's body is malloc'd for the caller, who frees it. Jobs belong to the
 * caller and must stay put from sealer_submit until sealer_finish returns.
 * Threads: sealer_* are called from one thread (the host serialises an
 * instance's calls); the helper touches only the jobs of the batch.
 */
#ifndef HERALD_WEBPUSH_SEALER_H
#define HERALD_WEBPUSH_SEALER_H

#include <herald/sink.h>
#include <stdbool.h>
#include <stddef.h>

#include "ece.h"
#include "notice.h"

/* One message to seal; zeroed before its fields are filled in. */
struct seal_job {
	/* in */
	const struct herald_sink_item *it;
	const unsigned char *p256dh; /* ECE_PUBLIC_LEN bytes */
	const unsigned char *auth;   /* ECE_AUTH_LEN bytes */
	size_t budget;               /* the notice's byte budget */
	/* out, once sealer_take returned */
	unsigned char *body; /* malloc'd; the caller frees it */
	size_t body_len;
	int rc;        /* 0, or a negative errno with err set */
	char err[160];
	/* private */
	int state;
};

struct sealer;

/* o is copied (its strings are borrowed for the sealer's life). 0, or a
 * negative errno with err set. */
int sealer_start(const struct notice_opts *o, struct sealer **out, char *err, size_t errlen);
void sealer_stop(struct sealer *s);

/* The helper starts sealing jobs[0..n) from the end, leaving out those
 * whose `it` is NULL (items that will not be sent). */
void sealer_submit(struct sealer *s, struct seal_job *jobs, size_t n);

/* Job j sealed: by the helper (waited for if it is at it) or now, on this
 * thread. Works for a job never submitted too. Returns j->rc. */
int sealer_take(struct sealer *s, struct seal_job *j);

/* The helper has left the batch (what it had not started stays unsealed):
 * the jobs may be freed. */
void sealer_finish(struct sealer *s);

#endif
