/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dispatch: take due notifications from the outbox and deliver them through
 * the configured sink instances, then record each outcome.
 *
 * One scheduler thread reads the schedule and decides, per due entry: park
 * it (destination paused), hold it (the user's quiet hours), fold it into a
 * digest (destination over its rate limit: token bucket per destination),
 * dead-letter it (destination deleted), or hand it to its instance. Each
 * instance has a worker thread that delivers one batch at a time (so calls
 * into an instance are serialised), and a recorder thread that commits the
 * outcomes of the batches delivered meanwhile in one transaction (entries
 * being recorded are not scheduled again):
 *   delivered  removed, recorded in the delivery log
 *   retry      rescheduled: retry_base_ms * 2^(attempts-1), capped at
 *              retry_max_ms, +-20% jitter, never sooner than retry-after;
 *              dead letter once max_attempts is reached
 *   rejected   dead letter with the sink's reason
 *   broken     nothing charged; the instance is paused and probed again
 *              after probe_interval_ms (doubling, at most 10 minutes)
 *   gone       nothing charged; the destination is paused with the
 *              sink's reason and the item parked
 *   crash      the sink process died in the call (sinkhost.h): every item
 *              of the batch is a retry with the reason, "sink process
 *              crashed (signal 11)", charged an attempt like any retry (so
 *              a poison item ends as a dead letter after max_attempts);
 *              after a crash the instance gets one item per batch for a
 *              minute, so batch-mates are not charged for it again. A new
 *              process starts after 1 s, doubling up to 60 s; 5 crashes in
 *              10 minutes pause the instance (its items wait in the outbox)
 *              until dispatch_resume (`herald sinks resume NAME`).
 * A destination whose deliveries have failed for pause_after_ms is paused
 * with the reason; `herald dest resume` releases its parked notifications.
 *
 * Delivery is at least once: a crash after a sink accepted an item but
 * before its outcome committed sends it again, with the same id.
 *
 * A sink that cannot load, or whose worker or recorder thread cannot start,
 * is logged with its error and shown as not loaded (dispatch_status); the
 * daemon runs with the others, and that sink's notifications wait (visible
 * with last_error).
 *
 * Threads: dispatch_wake, dispatch_validate and dispatch_status may be called
 * from any thread; start, reopen and stop from main only.
 * Locks: nothing reads or writes the store while the dispatcher's lock is
 * held. The lock order is: a store write transaction first, then the
 * dispatcher's lock (taken briefly inside one, never held while one
 * begins). So a caller may hold a write transaction while calling
 * dispatch_wake, dispatch_validate, dispatch_status or the code functions
 * (directory_dest_add validates inside its own).
 * dispatch_validate and dispatch_send_code call the sink, serialised with
 * its deliveries by sinkhost. dispatch_int.h has the details.
 */
#ifndef HERALD_DISPATCH_H
#define HERALD_DISPATCH_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct metrics;
struct dispatch;
struct links;

struct dispatch_deps {
	const struct config *cfg; /* [dispatch] and [sink NAME]; must outlive the dispatcher */
	struct store *store;
	struct metrics *metrics;
	/* The web app's signed links (src/web/links.h), borrowed, outliving
	 * the dispatcher; NULL when there is no web app. With it, every item
	 * carries unsubscribe_url and why_url (sink ABI 1.2) and the default
	 * templates their footer lines (render.h), made at delivery time. */
	const struct links *links;
	/* Starts each of the dispatcher's threads (`what`: "scheduler",
	 * "worker" or "recorder"); 0 or a positive errno, like pthread_create.
	 * NULL: pthread_create. Tests make it fail. */
	int (*thread_start)(pthread_t *thread, void *(*fn)(void *), void *arg, const char *what);
};

/* Load every sink (a failing one is logged and skipped) and start the
 * threads. 0, or a negative errno with err set when nothing can run. */
int dispatch_start(const struct dispatch_deps *deps, struct dispatch **out, char *err,
		   size_t errlen);
/* Deliver sooner: new notifications were committed, or one was retried. */
void dispatch_wake(struct dispatch *d);
/* Is `sink` a configured instance that accepts `address`? 0; -ENOENT (no
 * such sink); -EINVAL with the sink's message. */
int dispatch_validate(struct dispatch *d, const char *sink, const char *address, char *err,
		      size_t errlen);
/*
 * Destination verification, for sinks with `verify = yes`: nothing is sent
 * to a destination of such a sink until its owner confirms a code that was
 * sent to it. dispatch_needs_code: does `sink` want that? dispatch_send_code:
 * make a new code (8 characters, 24 hours), remember only its hash, and
 * deliver it through the sink now; 0, or -EIO with the sink's reason.
 * dispatch_check_code: 0 (the code matched and is spent), -EACCES (wrong),
 * -ENOENT (none pending: ask for a new one), -EBUSY (five wrong tries: the
 * code is void). Codes are kept hashed in the store with their expiry and
 * wrong tries, so they survive a restart and the tries count across it.
 */
bool dispatch_needs_code(struct dispatch *d, const char *sink);
int dispatch_send_code(struct dispatch *d, const char *sink, const char *user, uint64_t dest,
		       const char *address, char *err, size_t errlen);
int dispatch_check_code(struct dispatch *d, const char *user, uint64_t dest, const char *code);

/* An instance paused after its sink process crashed CRASH_LIMIT times gets
 * work again, its crash count and backoff forgotten. 0 (also when it was
 * not paused), or -ENOENT: no such sink. */
int dispatch_resume(struct dispatch *d, const char *sink);

/* Per instance: {"name", "plugin", "loaded", "error", "broken_until", "busy",
 * "isolation" ("process" or "inline"), "paused", "paused_reason", "crashes"
 * (since start or resume), "restart_at" (wall ms; after a crash), "pid" (of
 * its sink process; 0 when inline or none runs)}. */
int dispatch_status(struct dispatch *d, json_t **out);
/* Reopen files / reconnect every instance (SIGHUP). */
void dispatch_reopen(struct dispatch *d);
/* Finish the batches in flight, flush (5 s at most), shut every sink down. */
void dispatch_stop(struct dispatch *d); /* NULL is a no-op */

#endif
