/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dashboard: the live bus dashboard's event stream, GET /events
 * (text/event-stream), fanned out to many browsers at little cost to the
 * pipeline. Not for access control (the web listener decides who may
 * connect, [web] dashboard) nor for the page itself (web/, H4).
 *
 * Events:
 *   id: SEQ / data: {"id", "topic", "app", "title", "link", "time"}   one
 *     per accepted message (SEQ is recent.h's seq; "id" the msg_id or null;
 *     "time" Unix seconds), in acceptance order; no "event:" line, so
 *     EventSource delivers it as a "message" event (the SSE default);
 *   event: rate / data: {"window_s": 300, "per_min": {APP: N, ...},
 *     "total_per_min": N}   every rate_ms: messages per minute per app over
 *     the last five minutes;
 *   ": keepalive" comment lines every keepalive_ms on an idle stream.
 * A new client first gets the last few messages (backfill); one that sends
 * Last-Event-ID resumes after it while the ring still holds what follows
 * (else from the oldest it holds: the ids show the gap).
 *
 * How: one thread of the dashboard's own takes new messages from the
 * recent store (woken once per burst, never per message), formats each
 * message once into a bounded ring of events, and resumes the clients
 * that wait. Each client is a cursor into that ring and is served by
 * libmicrohttpd's event thread through a content reader: it copies what is
 * due into the connection's buffer, or suspends the connection when there
 * is nothing (no thread per client, no blocking, no polling). A client
 * that falls behind the ring's oldest event is sent nothing more and
 * closed; one that stops reading is closed when its socket stays full (its
 * send buffer is capped, so nothing is buffered without limit), and by
 * libmicrohttpd's timeout at the latest.
 *
 * The daemon must run with MHD_ALLOW_SUSPEND_RESUME and an internal
 * polling thread (epoll). Call dashboard_shutdown before MHD_stop_daemon:
 * libmicrohttpd must not be stopped with suspended connections, and the
 * dashboard thread must not resume any once it stops.
 *
 * Threads: dashboard_serve and the readers run on the daemon's thread;
 * everything else from any thread. One mutex guards the event ring, the
 * clients and the counters; it is never held while calling into the
 * recent store (whose lock is a leaf) and never while resuming a
 * connection; a connection is suspended under it (libmicrohttpd's own
 * lock nests inside), so a resume always follows its suspend.
 */
#ifndef HERALD_DASHBOARD_H
#define HERALD_DASHBOARD_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct recent;
struct dashboard;

struct dashboard_limits {
	size_t events;          /* formatted events kept: a client's backlog bound (4096) */
	size_t max_clients;     /* more get 503 (4096) */
	unsigned keepalive_ms;  /* 15000 */
	unsigned rate_ms;       /* 5000 */
	unsigned wake_ms;       /* clients are resumed at most this often (100) */
	unsigned timeout_s;     /* libmicrohttpd's idle timeout per stream (60) */
	int sndbuf;             /* a stream's socket send buffer, bytes (65536) */
	unsigned backfill;      /* messages a new client starts with (20) */
};
#define DASHBOARD_LIMITS_DEFAULT {4096, 4096, 15000, 5000, 100, 60, 65536, 20}

struct dashboard_stats {
	size_t clients;         /* connected now */
	uint64_t served;        /* streams opened */
	uint64_t dropped;       /* closed because they fell behind */
	uint64_t refused;       /* 503: too many clients */
	uint64_t last_seq;      /* newest event formatted */
};

/* A dashboard over `r` (borrowed, must outlive it), with its thread
 * started. `limits` NULL: DASHBOARD_LIMITS_DEFAULT. 0, -EINVAL, -ENOMEM,
 * or the error of pthread_create (negative). */
int dashboard_new(struct recent *r, struct dashboard **out);
int dashboard_new_limits(struct recent *r, const struct dashboard_limits *limits,
			 struct dashboard **out);
/* Stop the thread, end every stream and resume the suspended ones, so the
 * daemon can be stopped; streams opened afterwards end at once. Idempotent. */
void dashboard_shutdown(struct dashboard *d);
/* dashboard_shutdown, then free. The daemon must be stopped before (its
 * connections point here). NULL is a no-op. */
void dashboard_free(struct dashboard *d);

/* Serve GET /events on `c` from the access handler (the request's first
 * call is fine: there is no body): queues the stream, or 503 when full. */
enum MHD_Result dashboard_serve(struct dashboard *d, struct MHD_Connection *c);

void dashboard_get_stats(struct dashboard *d, struct dashboard_stats *out);

#endif
