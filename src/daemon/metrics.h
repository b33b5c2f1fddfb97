/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metrics: the daemon's counters, and their two renderings (Prometheus text
 * for /metrics, JSON for `herald stats`).
 *
 * Counters are relaxed atomics: any thread adds, the API thread reads. The
 * struct is owned by main and lent to every stage; it is not global.
 */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "src/common/buf.h"
#include "src/common/fmsg.h"

/* Why a message was dropped before acceptance. */
enum reject_reason {
	REJECT_TOO_LARGE,      /* over max_message_size */
	REJECT_BAD_FRAMES,     /* not [topic, envelope] or [topic, envelope, meta] */
	REJECT_TOPIC_MISMATCH, /* topic frame differs from the envelope's topic */
	REJECT_BAD_JSON,
	REJECT_BAD_FIELD,
	REJECT_NO_TOPIC,
	REJECT_NO_BODY,
	REJECT_UNSIGNED,
	REJECT_UNSUPPORTED_CRYPTO,
	REJECT_MALFORMED_SIGNATURE,
	REJECT_UNKNOWN_SIGNER,
	REJECT_BAD_CERTIFICATE,
	REJECT_BAD_SIGNATURE,
	REJECT_POLICY,
	REJECT_REASON_COUNT
};

/* A counter per sink instance: sink_crashes_total{sink="NAME"}. */
#define METRICS_SINKS 64
struct metrics_sink {
	char name[33];                /* written once, before n_sinks counts it */
	_Atomic uint64_t crashes;     /* its sink process died in a call */
};

struct metrics {
	_Atomic uint64_t received;         /* frames read from the bus, live and replayed */
	_Atomic uint64_t accepted;         /* verified, new, and committed */
	_Atomic uint64_t rejected[REJECT_REASON_COUNT];
	_Atomic uint64_t duplicates;       /* verified but already accepted (msg_id) */
	_Atomic uint64_t gaps;             /* sequence gaps seen */
	_Atomic uint64_t gap_missing;      /* messages missing in those gaps */
	_Atomic uint64_t replay_requests;
	_Atomic uint64_t replay_failures;  /* requests that timed out or were refused */
	_Atomic uint64_t replayed;         /* messages accepted from a replay */
	_Atomic uint64_t lost;             /* missing messages no replay could fill */
	_Atomic uint64_t publisher_restarts;
	_Atomic uint64_t sequence_resets;  /* jumps wider than a replay could fill */
	_Atomic uint64_t matched;          /* accepted messages that matched a subscription */
	_Atomic uint64_t notifications;    /* (user, destination) pairs to notify */
	_Atomic uint64_t subscription_matches; /* subscriptions that matched */
	_Atomic uint64_t understand_errors; /* accepted messages the rules could not describe */
	_Atomic uint64_t commits;          /* store transactions */
	_Atomic uint64_t store_errors;
	/* outbox and dispatch */
	_Atomic uint64_t stored;           /* notifications committed to the outbox */
	_Atomic uint64_t delivery_attempts; /* items handed to sinks */
	_Atomic uint64_t delivered;        /* notifications delivered */
	_Atomic uint64_t delivery_retries;
	_Atomic uint64_t dead_letters;
	_Atomic uint64_t digests_sent;
	_Atomic uint64_t rate_limited;     /* folded into a digest by a rate limit */
	_Atomic uint64_t sink_broken;
	_Atomic uint64_t dests_paused;
	_Atomic uint64_t intake_stops;     /* times intake stopped, store full */
	_Atomic uint64_t intake_stopped;   /* gauge: 1 while stopped */
	/* matching */
	_Atomic uint64_t subscriptions_quarantined; /* quarantines persisted (match.h) */
	_Atomic uint64_t subscriptions_invalid; /* gauge: enabled subscriptions in the store that
						 * the index could not load; they match nothing */
	/* [amqp NAME] sources (amqpsrc.h) */
	_Atomic uint64_t amqp_received;    /* deliveries read off the connections */
	_Atomic uint64_t amqp_acked;       /* deliveries acknowledged after their commit */
	_Atomic uint64_t amqp_rejected[FMSG_REASON_COUNT]; /* refused, not requeued, by reason */
	_Atomic uint64_t amqp_requeued;    /* given back after a failed commit */
	_Atomic uint64_t amqp_reconnects;  /* connections lost and made again */
	/* per sink instance, registered by the dispatcher at start */
	struct metrics_sink sinks[METRICS_SINKS];
	_Atomic size_t n_sinks;
};

static inline void metric_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* For gauges: the value now, replacing the last one. */
static inline void metric_set(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static inline uint64_t metric_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* The crash counter of sink instance `name`, registered on first use; NULL
 * when METRICS_SINKS are taken. Called by the dispatcher's start (one
 * thread); the renderings may run meanwhile. */
_Atomic uint64_t *metrics_sink_crashes(struct metrics *m, const char *name);

/* Label value of a reason: "too_large", "bad_signature", ... */
const char *metrics_reject_name(enum reject_reason r);
uint64_t metrics_rejected_total(const struct metrics *m);

/* Append the Prometheus exposition / a JSON object. 0 or -ENOMEM. */
int metrics_render_prometheus(const struct metrics *m, struct buf *out);
int metrics_render_json(const struct metrics *m, struct buf *out);

#endif
