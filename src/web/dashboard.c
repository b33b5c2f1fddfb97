/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dashboard: the /events stream (see dashboard.h). Three parts: the ring
 * of formatted events and the rate table, filled by the dashboard's
 * thread; the clients, each a cursor read by libmicrohttpd's content
 * reader on the daemon's thread; and the thread's round, which formats
 * what is new, drops the clients left behind and resumes the ones that
 * wait. Not for access control nor for the page.
 */
#define _GNU_SOURCE /* asprintf */
#include "dashboard.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "src/common/clock.h"
#include "src/common/log.h"
#include "preview.h"
#include "recent.h"

#define FETCH 256          /* messages taken from the recent store at a time */
#define RATE_SLOT_MS 5000u /* the rate window is RATE_SLOTS slots of this */
#define RATE_SLOTS 60u     /* five minutes */
#define RATE_APPS 128      /* apps counted apart; the rest are "other" */
#define APP_LEN 48
#define KEEPALIVE ": keepalive\n\n"
/* What a content reader call may fill: one send of up to this much. With
 * 64 KiB a 100 ms round at a few thousand messages/s is one or two sends
 * per client instead of three or more (each a syscall and an epoll turn). */
#define BLOCK (64 * 1024)

struct event {
	uint64_t seq; /* 0: empty */
	char *text;
	size_t len;
};

struct app_rate {
	char app[APP_LEN];
	uint32_t count[RATE_SLOTS];
	uint64_t slot_of[RATE_SLOTS]; /* which 5 s slot count[i] belongs to */
};

struct client {
	struct dashboard *d;
	struct MHD_Connection *conn;
	int fd;
	uint64_t next;       /* seq of the next message event to send */
	size_t off;          /* bytes of that event already sent */
	uint64_t rate_gen, ka_gen;
	bool suspended;      /* by the reader, until the thread resumes it */
	bool dropped;        /* fell behind: send nothing more */
	struct client *prev, *link;
};

struct dashboard {
	struct recent *r;
	struct dashboard_limits lim;
	pthread_t thread;
	bool thread_started;
	atomic_bool pending;   /* the recent store has news (set per message, cleared per round) */
	pthread_mutex_t lock;  /* guards everything below */
	pthread_cond_t wake;
	bool stop;             /* the thread must end */
	bool closing;          /* streams end */
	struct event *ring;    /* [lim.events], seq s at (s - 1) % lim.events */
	uint64_t last;         /* newest seq in the ring */
	char *rate_text;       /* the latest rate event */
	size_t rate_len;
	uint64_t rate_gen, ka_gen;
	struct client *clients;
	struct dashboard_stats st;
	/* the thread's own, unlocked */
	uint64_t fetched;      /* newest seq taken from the recent store */
	struct app_rate *apps;
	size_t n_apps;
};

/* ---- the ring and the rate table (the thread fills them) ---- */

static uint64_t oldest_locked(const struct dashboard *d)
{
	return d->last >= d->lim.events ? d->last - d->lim.events + 1 : 1;
}

/* "id: SEQ\ndata: {...}\n\n"; NULL on out of memory. No "event:" line: an
 * event without one is a "message" event to EventSource (the SSE spec's
 * default), so the line would be 15 bytes per event per client for nothing. */
static char *format_message(const struct recent_msg *m, size_t *len)
{
	json_t *o = preview_msg_json(m);
	char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
	char *text = NULL;
	json_decref(o);
	if (data) {
		int n = asprintf(&text, "id: %" PRIu64 "\ndata: %s\n\n", m->seq, data);
		*len = n < 0 ? 0 : (size_t)n;
		if (n < 0)
			text = NULL;
	}
	free(data);
	return text;
}

static struct app_rate *app_of(struct dashboard *d, const char *app)
{
	const char *name = app ? app : "unknown";
	for (size_t i = 0; i < d->n_apps; i++)
		if (!strncmp(d->apps[i].app, name, APP_LEN - 1))
			return &d->apps[i];
	if (d->n_apps == RATE_APPS - 1 && strcmp(name, "other"))
		return app_of(d, "other");
	struct app_rate *a = &d->apps[d->n_apps++];
	memset(a, 0, sizeof *a);
	snprintf(a->app, sizeof a->app, "%s", name);
	return a;
}

static void count_rate(struct dashboard *d, const struct recent_msg *m)
{
	struct app_rate *a = app_of(d, m->meta.app);
	uint64_t slot = (uint64_t)m->time_ms / RATE_SLOT_MS;
	size_t i = slot % RATE_SLOTS;
	if (a->slot_of[i] != slot) {
		a->slot_of[i] = slot;
		a->count[i] = 0;
	}
	a->count[i]++;
}

/* "event: rate\ndata: {"window_s", "per_min": {APP: N}, "total_per_min"}\n\n" */
static char *format_rate(struct dashboard *d, uint64_t now_ms, size_t *len)
{
	uint64_t slot = now_ms / RATE_SLOT_MS;
	double minutes = RATE_SLOTS * RATE_SLOT_MS / 60000.0, total = 0;
	json_t *per = json_object();
	char *data = NULL, *text = NULL;
	for (size_t i = 0; per && i < d->n_apps; i++) {
		uint64_t n = 0;
		for (size_t s = 0; s < RATE_SLOTS; s++)
			if (d->apps[i].slot_of[s] + RATE_SLOTS > slot && d->apps[i].slot_of[s] <= slot)
				n += d->apps[i].count[s];
		total += (double)n;
		if (n && json_object_set_new(per, d->apps[i].app, json_real((double)n / minutes)))
			break;
	}
	json_t *o = per ? json_pack("{s:i, s:o, s:f}", "window_s", RATE_SLOTS * RATE_SLOT_MS / 1000,
				    "per_min", per, "total_per_min", total / minutes)
			: NULL;
	if (o && (data = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(4)))) {
		int n = asprintf(&text, "event: rate\ndata: %s\n\n", data);
		*len = n < 0 ? 0 : (size_t)n;
		if (n < 0)
			text = NULL;
	}
	json_decref(o);
	free(data);
	return text;
}

/* Take what is new in the recent store into the ring; true if anything. */
static bool take_new(struct dashboard *d)
{
	struct recent_msg *m[FETCH];
	struct event ev[FETCH], old[FETCH];
	bool any = false;
	size_t n;
	while ((n = recent_after(d->r, d->fetched, m, FETCH, NULL))) {
		for (size_t i = 0; i < n; i++) {
			ev[i] = (struct event){m[i]->seq, NULL, 0};
			ev[i].text = format_message(m[i], &ev[i].len); /* NULL: an empty slot */
			count_rate(d, m[i]);
		}
		d->fetched = m[n - 1]->seq;
		recent_release(m, n);
		pthread_mutex_lock(&d->lock);
		for (size_t i = 0; i < n; i++) {
			struct event *slot = &d->ring[(ev[i].seq - 1) % d->lim.events];
			old[i] = *slot;
			*slot = ev[i];
			d->last = ev[i].seq;
		}
		d->st.last_seq = d->last;
		pthread_mutex_unlock(&d->lock);
		for (size_t i = 0; i < n; i++) /* outside the lock */
			free(old[i].text);
		any = true;
	}
	return any;
}

/* ---- the clients (libmicrohttpd's thread) ---- */

static size_t copy_out(char *buf, size_t n, size_t max, const char *text, size_t len)
{
	size_t k = len < max - n ? len : max - n;
	memcpy(buf + n, text, k);
	return k;
}

/* Fill buf with what is due for c: the rate if new, then message events
 * (an event may be cut between calls), else a keepalive if one is due. */
static size_t fill_locked(struct dashboard *d, struct client *c, char *buf, size_t max)
{
	size_t n = 0;
	if (!c->off && d->rate_gen > c->rate_gen && d->rate_len <= max) {
		n = copy_out(buf, n, max, d->rate_text, d->rate_len);
		c->rate_gen = d->rate_gen;
	}
	while (c->next <= d->last && n < max) {
		const struct event *e = &d->ring[(c->next - 1) % d->lim.events];
		if (e->seq == c->next && e->text) {
			size_t k = copy_out(buf, n, max, e->text + c->off, e->len - c->off);
			n += k;
			c->off += k;
			if (c->off < e->len)
				break;
		}
		c->next++;
		c->off = 0;
	}
	if (!n && d->ka_gen > c->ka_gen && sizeof KEEPALIVE - 1 <= max)
		n = copy_out(buf, 0, max, KEEPALIVE, sizeof KEEPALIVE - 1);
	if (n)
		c->ka_gen = d->ka_gen; /* any data keeps the stream alive */
	return n;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct client *c = cls;
	struct dashboard *d = c->d;
	ssize_t n;
	(void)pos;
	pthread_mutex_lock(&d->lock);
	if (d->closing) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else if (c->dropped || c->next < oldest_locked(d)) {
		if (!c->dropped)
			d->st.dropped++;
		c->dropped = true;
		n = MHD_CONTENT_READER_END_WITH_ERROR;
	} else if (!(n = (ssize_t)fill_locked(d, c, buf, max))) {
		/* under the lock: the thread resumes only after this */
		c->suspended = true;
		MHD_suspend_connection(c->conn);
	}
	pthread_mutex_unlock(&d->lock);
	return n;
}

static void client_free(void *cls)
{
	struct client *c = cls;
	struct dashboard *d = c->d;
	pthread_mutex_lock(&d->lock);
	if (c->prev)
		c->prev->link = c->link;
	else
		d->clients = c->link;
	if (c->link)
		c->link->prev = c->prev;
	d->st.clients--;
	pthread_mutex_unlock(&d->lock);
	free(c);
}

/* Where a new client starts: after Last-Event-ID while the ring holds
 * what follows it, else the last `backfill` messages. */
static uint64_t start_locked(const struct dashboard *d, const char *last_id)
{
	uint64_t lo = oldest_locked(d), from;
	char *end;
	if (last_id && *last_id >= '0' && *last_id <= '9') {
		errno = 0;
		unsigned long long v = strtoull(last_id, &end, 10);
		if (!errno && !*end && v <= d->last)
			return v + 1 >= lo ? v + 1 : lo;
	}
	from = d->last + 1 > d->lim.backfill ? d->last + 1 - d->lim.backfill : 1;
	return from >= lo ? from : lo;
}

static struct client *client_new_locked(struct dashboard *d, struct MHD_Connection *conn)
{
	struct client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	*c = (struct client){.d = d, .conn = conn, .fd = ci ? ci->connect_fd : -1,
			     .rate_gen = 0, .ka_gen = d->ka_gen};
	c->next = start_locked(d, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							       "Last-Event-ID"));
	c->link = d->clients;
	if (c->link)
		c->link->prev = c;
	d->clients = c;
	d->st.clients++;
	d->st.served++;
	return c;
}

static enum MHD_Result refuse(struct MHD_Connection *conn)
{
	static const char body[] = "{\"error\": \"too many dashboard clients\"}\n";
	struct MHD_Response *res = MHD_create_response_from_buffer(
	    sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!res)
		return MHD_NO;
	MHD_add_response_header(res, "Content-Type", "application/json");
	MHD_add_response_header(res, "Retry-After", "30");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, res);
	MHD_destroy_response(res);
	return rc;
}

static void stream_headers(struct MHD_Response *res)
{
	MHD_add_response_header(res, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(res, "Cache-Control", "no-cache");
	MHD_add_response_header(res, "X-Accel-Buffering", "no"); /* nginx: pass events on */
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(res, "Referrer-Policy", "same-origin");
	MHD_add_response_header(res, "X-Frame-Options", "DENY");
}

enum MHD_Result dashboard_serve(struct dashboard *d, struct MHD_Connection *conn)
{
	struct client *c = NULL;
	pthread_mutex_lock(&d->lock);
	if (d->st.clients < d->lim.max_clients)
		c = client_new_locked(d, conn);
	else
		d->st.refused++;
	pthread_mutex_unlock(&d->lock);
	if (!c)
		return refuse(conn);
	/* A capped send buffer: a client that stops reading fills it soon,
	 * stops the stream and is dropped, instead of queueing megabytes. */
	if (c->fd >= 0 && setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &d->lim.sndbuf,
				     sizeof d->lim.sndbuf))
		log_debug("dashboard: cannot cap a stream's send buffer (%s)", strerror(errno));
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, d->lim.timeout_s);
	struct MHD_Response *res =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK, reader, c, client_free);
	if (!res) {
		client_free(c);
		return MHD_NO;
	}
	stream_headers(res);
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, res);
	MHD_destroy_response(res); /* the connection holds it; client_free when done */
	return rc;
}

/* ---- the thread ---- */

/* Clients to resume (they wait and something is due), and the ones left
 * behind that libmicrohttpd no longer calls (their socket is full): those
 * are shut down, and libmicrohttpd closes them on its next look. */
static size_t round_locked(struct dashboard *d, struct MHD_Connection ***out, size_t *cap)
{
	size_t n = 0;
	uint64_t lo = oldest_locked(d);
	for (struct client *c = d->clients; c; c = c->link) {
		if (!c->suspended && !c->dropped && c->next < lo && c->fd >= 0) {
			c->dropped = true;
			d->st.dropped++;
			shutdown(c->fd, SHUT_RDWR);
		}
		bool due = d->closing || c->next <= d->last || d->rate_gen > c->rate_gen ||
			   d->ka_gen > c->ka_gen;
		if (!c->suspended || !due)
			continue;
		if (n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 64;
			struct MHD_Connection **p = realloc(*out, ncap * sizeof *p);
			if (!p)
				break; /* the rest wait for the next round */
			*out = p;
			*cap = ncap;
		}
		c->suspended = false;
		(*out)[n++] = c->conn;
	}
	return n;
}

static void resume_due(struct dashboard *d, struct MHD_Connection ***conns, size_t *cap)
{
	pthread_mutex_lock(&d->lock);
	size_t n = round_locked(d, conns, cap);
	pthread_mutex_unlock(&d->lock);
	for (size_t i = 0; i < n; i++) /* suspended: nobody else touches them */
		MHD_resume_connection((*conns)[i]);
}

static void new_rate(struct dashboard *d, uint64_t wall_ms)
{
	size_t len = 0;
	char *text = format_rate(d, wall_ms, &len), *old;
	if (!text)
		return;
	pthread_mutex_lock(&d->lock);
	old = d->rate_text;
	d->rate_text = text;
	d->rate_len = len;
	d->rate_gen++;
	pthread_mutex_unlock(&d->lock);
	free(old);
}

/* Sleep until news (but not before `not_before`), the next timer, or stop. */
static bool wait_round(struct dashboard *d, uint64_t not_before, uint64_t next_timer)
{
	pthread_mutex_lock(&d->lock);
	for (;;) {
		uint64_t now = clock_mono_ms();
		if (d->stop || now >= next_timer || (now >= not_before && atomic_load(&d->pending)))
			break;
		uint64_t until = atomic_load(&d->pending) ? not_before : next_timer;
		struct timespec ts = clock_deadline(until - now);
		pthread_cond_timedwait(&d->wake, &d->lock, &ts);
	}
	bool stop = d->stop;
	pthread_mutex_unlock(&d->lock);
	return !stop;
}

static void *run(void *arg)
{
	struct dashboard *d = arg;
	struct MHD_Connection **conns = NULL;
	size_t cap = 0;
	uint64_t now = clock_mono_ms(), next_rate = now + d->lim.rate_ms,
		 next_ka = now + d->lim.keepalive_ms, round = 0;
	while (wait_round(d, round + d->lim.wake_ms,
			  next_rate < next_ka ? next_rate : next_ka)) {
		atomic_store(&d->pending, false);
		take_new(d);
		now = clock_mono_ms();
		if (now >= next_rate) {
			new_rate(d, clock_wall_ms());
			next_rate = now + d->lim.rate_ms;
		}
		if (now >= next_ka) {
			pthread_mutex_lock(&d->lock);
			d->ka_gen++;
			pthread_mutex_unlock(&d->lock);
			next_ka = now + d->lim.keepalive_ms;
		}
		resume_due(d, &conns, &cap);
		round = now;
	}
	free(conns);
	return NULL;
}

/* The recent store's listener: one signal per burst, not per message. */
static void on_add(void *arg)
{
	struct dashboard *d = arg;
	if (atomic_exchange(&d->pending, true))
		return;
	pthread_mutex_lock(&d->lock);
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
}

/* ---- lifecycle ---- */

int dashboard_new_limits(struct recent *r, const struct dashboard_limits *limits,
			 struct dashboard **out)
{
	static const struct dashboard_limits defaults = DASHBOARD_LIMITS_DEFAULT;
	const struct dashboard_limits *l = limits ? limits : &defaults;
	struct dashboard *d;
	int rc;
	*out = NULL;
	if (!r || !l->events || !l->wake_ms || !l->keepalive_ms || !l->rate_ms)
		return -EINVAL;
	if (!(d = calloc(1, sizeof *d)))
		return -ENOMEM;
	d->r = r;
	d->lim = *l;
	d->ring = calloc(l->events, sizeof *d->ring);
	d->apps = calloc(RATE_APPS, sizeof *d->apps);
	pthread_mutex_init(&d->lock, NULL);
	if (!d->ring || !d->apps || (rc = clock_cond_init(&d->wake)) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	d->fetched = recent_last_seq(r); /* the stream starts now */
	d->last = d->fetched;
	recent_on_add(r, on_add, d);
	if ((rc = pthread_create(&d->thread, NULL, run, d))) {
		recent_on_add(r, NULL, NULL);
		pthread_cond_destroy(&d->wake);
		rc = -rc;
		goto fail;
	}
	d->thread_started = true;
	*out = d;
	return 0;
fail:
	pthread_mutex_destroy(&d->lock);
	free(d->ring);
	free(d->apps);
	free(d);
	return rc;
}

int dashboard_new(struct recent *r, struct dashboard **out)
{
	return dashboard_new_limits(r, NULL, out);
}

void dashboard_shutdown(struct dashboard *d)
{
	struct MHD_Connection **conns = NULL;
	size_t cap = 0;
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	bool join = d->thread_started;
	d->thread_started = false;
	d->stop = true;
	d->closing = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	if (join) {
		recent_on_add(d->r, NULL, NULL);
		pthread_join(d->thread, NULL);
	}
	resume_due(d, &conns, &cap); /* every waiting stream, to end it */
	free(conns);
}

void dashboard_free(struct dashboard *d)
{
	if (!d)
		return;
	dashboard_shutdown(d);
	for (size_t i = 0; i < d->lim.events; i++)
		free(d->ring[i].text);
	free(d->ring);
	free(d->rate_text);
	free(d->apps);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void dashboard_get_stats(struct dashboard *d, struct dashboard_stats *out)
{
	pthread_mutex_lock(&d->lock);
	*out = d->st;
	pthread_mutex_unlock(&d->lock);
}
