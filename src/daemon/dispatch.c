/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dispatch: scheduler and per-instance workers (see dispatch.h).
 *
 * One mutex (d->lock) guards the scheduler's shared state: each instance's
 * batch and busy/broken flags, the destination cache and the failure
 * trackers. Store transactions and sink calls happen outside it.
 */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "src/common/config.h"
#include "directory.h"
#include "src/common/log.h"
#include "metrics.h"
#include "outbox.h"
#include "quiet.h"
#include "render.h"
#include "sinkhost.h"
#include "store.h"
#include "src/common/clock.h"

#define SCAN_MAX 512
#define BROKEN_MAX_MS (10 * 60 * 1000)
#define DEST_BUCKETS 4096
#define RECORD_QUEUE 2 /* delivered batches waiting for their outcomes to commit */

/* What the scheduler remembers per destination (never removed: bounded by
 * the number of destinations). */
struct dest_state {
	struct dest_state *next;
	uint64_t dest;
	int inst;            /* index of its instance, -1 unknown */
	double tokens;       /* rate limit bucket */
	uint64_t refill_ms;  /* monotonic time of the last refill */
	uint64_t failing_since; /* wall ms of the first failure in a row, 0 if fine */
};

struct batch_entry {
	struct outbox_entry e;
	char address[DIRECTORY_ADDRESS_MAX + 1];
};

struct instance {
	struct dispatch *d;
	const struct config_sink *cfg;
	struct sink *sink;        /* NULL: failed to load */
	char error[512];          /* why it failed to load */
	struct render *text, *markdown;
	double rate;              /* per minute; 0: unlimited */
	double burst;
	pthread_t thread;
	bool started;
	struct log_limit rl;      /* the worker's */
	/* under d->lock */
	struct batch_entry *batch;
	size_t n_batch;
	bool busy;                /* a batch is handed over or being delivered */
	struct record *rec;       /* delivered, outcomes waiting for the recorder (a list) */
	struct record *recording; /* the list the recorder is committing */
	size_t n_rec;             /* records in `rec` */
	uint64_t broken_until;    /* wall ms; 0 when working */
	uint64_t broken_backoff;
	pthread_cond_t cond;
	pthread_t recorder;       /* commits outcomes while the worker delivers the next batch */
	bool rec_started;
	pthread_cond_t rec_cond;  /* rec changed */
};

struct dispatch {
	const struct config *cfg;
	const struct config_dispatch *dc;
	struct store *store;
	struct metrics *metrics;
	struct instance *inst;
	size_t n_inst;
	pthread_t scheduler;
	bool sched_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* the scheduler waits here */
	bool stop, woken;
	struct dest_state *dests[DEST_BUCKETS];
	struct code *codes;      /* pending destination verifications */
	unsigned rand_state;
	struct log_limit rl;     /* the scheduler's */
};


/* ---- destination state ---- */

static struct dest_state *dest_state(struct dispatch *d, uint64_t dest)
{
	struct dest_state **head = &d->dests[(dest * 0x9E3779B97F4A7C15ull) >> 52];
	for (struct dest_state *s = *head; s; s = s->next)
		if (s->dest == dest)
			return s;
	struct dest_state *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	*s = (struct dest_state){.next = *head, .dest = dest, .inst = -1, .tokens = -1};
	*head = s;
	return s;
}

/* Take one token; else 0 and *wait_ms until the next one. Unlimited: 1. */
static int take_token(struct instance *in, struct dest_state *s, uint64_t *wait_ms)
{
	if (in->rate <= 0)
		return 1;
	uint64_t now = clock_mono_ms();
	double per_ms = in->rate / 60000.0;
	if (s->tokens < 0)
		s->tokens = in->burst;
	else
		s->tokens += (double)(now - s->refill_ms) * per_ms;
	if (s->tokens > in->burst)
		s->tokens = in->burst;
	s->refill_ms = now;
	if (s->tokens >= 1) {
		s->tokens -= 1;
		return 1;
	}
	*wait_ms = (uint64_t)((1 - s->tokens) / per_ms) + 1;
	return 0;
}

static int find_instance(const struct dispatch *d, const char *name)
{
	for (size_t i = 0; name && i < d->n_inst; i++)
		if (!strcmp(d->inst[i].cfg->name, name))
			return (int)i;
	return -1;
}

/* ---- the scheduler ---- */

enum action { ACT_SEND, ACT_SKIP, ACT_PARK, ACT_HOLD, ACT_DIGEST, ACT_DEAD, ACT_WAIT };

struct plan {
	struct outbox_entry e;
	enum action act;
	uint64_t until;           /* ACT_HOLD / ACT_DIGEST / ACT_WAIT: when */
	bool needs_verify;        /* its sink wants verified destinations */
	char reason[300];
};

/* A delivered batch on its way into the store: the recorder's input. */
struct record {
	struct record *next;
	struct batch_entry *batch; /* owned */
	struct job *jobs;          /* owned, one per batch entry */
	struct herald_sink_result *res; /* owned */
	size_t n;
};

static bool record_has(const struct record *r, const struct outbox_entry *e)
{
	for (; r; r = r->next)
		for (size_t i = 0; i < r->n; i++)
			if (!memcmp(r->batch[i].e.id, e->id, OUTBOX_ID_LEN))
				return true;
	return false;
}

/* Skip entries already handed to a worker, and entries of instances that
 * cannot take them now (their turn comes when the worker reports back). */
static bool skip_entry(void *arg, const struct outbox_entry *e)
{
	struct dispatch *d = arg;
	struct dest_state *s = dest_state(d, e->dest);
	if (!s || s->inst < 0)
		return false;
	struct instance *in = &d->inst[s->inst];
	if (in->busy || (in->broken_until && in->broken_until > clock_wall_ms()))
		return true;
	return record_has(in->rec, e) || record_has(in->recording, e);
}

/* What one scheduling pass has read about destinations and users: a due
 * batch often holds many notes of the same few, and a user document can
 * carry lists of thousands of packages. */
#define PASS_CACHE 32
struct pass_cache {
	struct {
		uint64_t dest;
		json_t *doc;     /* NULL: lookup failed with status */
		int status;
	} dest[PASS_CACHE];
	size_t n_dest;
	struct {
		char user[65];
		int quiet;
		uint64_t until;
	} user[PASS_CACHE];
	size_t n_user;
};

static void pass_cache_release(struct pass_cache *c)
{
	for (size_t i = 0; i < c->n_dest && i < PASS_CACHE; i++)
		json_decref(c->dest[i].doc);
}

/* The destination document (borrowed from the cache), or NULL with *status. */
static const json_t *cached_dest(struct dispatch *d, struct pass_cache *c,
				 const struct outbox_entry *e, int *status)
{
	struct directory_error err;
	size_t n = c->n_dest < PASS_CACHE ? c->n_dest : PASS_CACHE;
	for (size_t i = 0; i < n; i++)
		if (c->dest[i].dest == e->dest) {
			*status = c->dest[i].status;
			return c->dest[i].doc;
		}
	size_t slot = c->n_dest++ % PASS_CACHE;
	if (c->n_dest > PASS_CACHE)
		json_decref(c->dest[slot].doc);
	c->dest[slot].dest = e->dest;
	c->dest[slot].doc = NULL;
	c->dest[slot].status = 0;
	if (directory_dest_get(d->store, e->user, e->dest, &c->dest[slot].doc, &err))
		c->dest[slot].status = err.status ? err.status : 500;
	*status = c->dest[slot].status;
	return c->dest[slot].doc;
}

/* Quiet hours of the user: 1 and *until when now is inside them. */
static int quiet_read(struct dispatch *d, const char *user, uint64_t now, uint64_t *until)
{
	struct directory_error e;
	json_t *doc;
	if (directory_user_get(d->store, user, &doc, &e))
		return 0;
	const json_t *q = json_object_get(doc, "quiet_hours");
	const char *tz = json_string_value(json_object_get(doc, "timezone"));
	const char *start = json_string_value(json_object_get(q, "start"));
	const char *end = json_string_value(json_object_get(q, "end"));
	int64_t u = 0;
	int rc = start && end ? quiet_check(tz, start, end, (int64_t)now, &u) : 0;
	if (rc < 0)
		log_limited(&d->rl, L_WARN, "dispatch: quiet hours of %s ignored: time zone '%s' "
				"unknown to ICU", user, tz ? tz : "");
	json_decref(doc);
	if (rc == 1)
		*until = (uint64_t)u;
	return rc == 1;
}

static int quiet_for(struct dispatch *d, struct pass_cache *c, const char *user, uint64_t now,
		     uint64_t *until)
{
	size_t n = c->n_user < PASS_CACHE ? c->n_user : PASS_CACHE;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c->user[i].user, user)) {
			*until = c->user[i].until;
			return c->user[i].quiet;
		}
	size_t slot = c->n_user++ % PASS_CACHE;
	snprintf(c->user[slot].user, sizeof c->user[slot].user, "%s", user);
	c->user[slot].until = 0;
	c->user[slot].quiet = quiet_read(d, user, now, &c->user[slot].until);
	*until = c->user[slot].until;
	return c->user[slot].quiet;
}

/* Decide what to do with one due entry (d->lock held for the caches). */
static void plan_entry(struct dispatch *d, struct pass_cache *c, struct plan *p, uint64_t now,
		       struct batch_entry *out)
{
	int status;
	const json_t *dest = cached_dest(d, c, &p->e, &status);
	p->act = ACT_SKIP;
	if (!dest) {
		if (status == 404) {
			p->act = ACT_DEAD;
			snprintf(p->reason, sizeof p->reason, "destination %" PRIu64 " of %s was deleted",
				 p->e.dest, p->e.user);
		}
		return;
	}
	const char *sink = json_string_value(json_object_get(dest, "sink"));
	const char *addr = json_string_value(json_object_get(dest, "address"));
	struct dest_state *s = dest_state(d, p->e.dest);
	int ix = find_instance(d, sink);
	if (s)
		s->inst = ix;
	p->needs_verify = ix >= 0 && d->inst[ix].cfg->verify;
	if (json_is_true(json_object_get(dest, "paused")) ||
	    (p->needs_verify && !json_is_true(json_object_get(dest, "verified")))) {
		p->act = ACT_PARK; /* until resumed, or verified */
	} else if (ix < 0 || !d->inst[ix].sink) {
		p->act = ACT_WAIT;
		p->until = now + (uint64_t)d->dc->probe_interval_ms;
		snprintf(p->reason, sizeof p->reason, ix < 0 ? "no sink '%s' is configured"
							      : "sink '%s' did not load", sink);
	} else if (d->inst[ix].busy || d->inst[ix].broken_until > now) {
		p->act = ACT_SKIP;
	} else if (quiet_for(d, c, p->e.user, now, &p->until)) {
		p->act = ACT_HOLD;
	} else {
		uint64_t wait = 0;
		if (!s || take_token(&d->inst[ix], s, &wait)) {
			p->act = ACT_SEND;
			out->e = p->e;
			snprintf(out->address, sizeof out->address, "%s", addr ? addr : "");
		} else {
			p->act = ACT_DIGEST;
			p->until = now + wait;
		}
	}
}

/* Park an entry of a paused destination, unless it was resumed since the
 * plan read it: checked inside the write transaction, which serialises with
 * the resume's, so an entry is never parked after its unpark ran. */
static int park(struct store_txn *t, const struct plan *p)
{
	bool paused = false, verified = false;
	int rc = directory_dest_paused_txn(t, p->e.user, p->e.dest, &paused, &verified);
	if (rc)
		return rc;
	bool hold = paused || (p->needs_verify && !verified);
	return hold ? outbox_reschedule(t, &p->e, OUTBOX_PARKED, 0, NULL) : 0;
}

/* Write what the plan decided that is not a delivery. 0 or an error. */
static int apply_plan(struct dispatch *d, const struct plan *p, size_t n, uint64_t now)
{
	struct store_txn *t;
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = p[i].act != ACT_SEND && p[i].act != ACT_SKIP;
	if (!any)
		return 0;
	int rc = store_begin(d->store, &t);
	if (rc) {
		log_limited(&d->rl, L_ERROR, "dispatch: cannot update the outbox (%s)",
			    store_strerror(rc));
		return rc;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		const struct plan *q = &p[i];
		json_t *notes = NULL;
		bool more;
		switch (q->act) {
		case ACT_PARK: rc = park(t, q); break;
		case ACT_HOLD: rc = outbox_reschedule(t, &q->e, q->until, 0, NULL); break;
		case ACT_WAIT: rc = outbox_reschedule(t, &q->e, q->until, 0, q->reason); break;
		case ACT_DIGEST:
			metric_add(&d->metrics->rate_limited, 1);
			rc = outbox_into_digest(t, &q->e, q->until,
						(uint32_t)d->dc->digest_max_items, now);
			break;
		case ACT_DEAD:
			if (!(rc = outbox_load_txn(t, &q->e, (size_t)d->dc->digest_max_items, &notes,
						   &more)))
				rc = outbox_dead(t, &q->e, notes, q->reason, now);
			if (!rc)
				metric_add(&d->metrics->dead_letters, json_array_size(notes));
			json_decref(notes);
			break;
		default: break;
		}
		if (rc == -ENOENT) /* dropped meanwhile */
			rc = 0;
	}
	if (rc)
		store_abort(t);
	else
		rc = store_commit(t);
	if (rc)
		log_limited(&d->rl, L_ERROR, "dispatch: cannot update the outbox (%s)",
			    store_strerror(rc));
	return rc;
}

/* Could a pass hand anything to a sink? Not when every instance is busy
 * delivering or waiting out a broken spell (*next: when one is probed).
 * With no instance at all, yes: entries of unknown sinks must be seen. */
static bool can_take_work(struct dispatch *d, uint64_t now, uint64_t *next)
{
	*next = UINT64_MAX;
	if (!d->n_inst)
		return true;
	for (size_t i = 0; i < d->n_inst; i++) {
		const struct instance *in = &d->inst[i];
		bool broken = in->broken_until && in->broken_until > now;
		if (!in->busy && !broken)
			return true;
		if (broken && in->broken_until < *next)
			*next = in->broken_until;
	}
	return false;
}

/* One pass: read what is due, plan it, hand batches to idle instances.
 * Returns when the next entry is due (wall ms). */
static uint64_t schedule_pass(struct dispatch *d)
{
	static __thread struct outbox_entry due[SCAN_MAX];
	static __thread struct plan plan[SCAN_MAX];
	uint64_t now = clock_wall_ms(), next = UINT64_MAX;
	size_t n = 0;
	struct pass_cache cache;
	cache.n_dest = cache.n_user = 0;
	pthread_mutex_lock(&d->lock);
	if (!can_take_work(d, now, &next)) {
		/* every instance is busy or broken: a scan could only skip the
		 * whole backlog, under the lock, at every commit that wakes us;
		 * a worker that finishes wakes us again */
		pthread_mutex_unlock(&d->lock);
		return next;
	}
	int rc = outbox_due(d->store, now, due, SCAN_MAX, &n, skip_entry, d, &next);
	if (rc)
		log_limited(&d->rl, L_ERROR, "dispatch: cannot read the outbox (%s)",
			    store_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		plan[i] = (struct plan){.e = due[i]};
		struct dest_state *s = dest_state(d, due[i].dest);
		struct instance *in = s && s->inst >= 0 ? &d->inst[s->inst] : NULL;
		struct batch_entry be;
		if (in && in->n_batch >= (size_t)in->cfg->batch) {
			next = now; /* more than one batch: come back when it is done */
			continue;
		}
		plan_entry(d, &cache, &plan[i], now, &be);
		s = dest_state(d, due[i].dest);
		if (plan[i].act == ACT_SEND && s && s->inst >= 0 &&
		    d->inst[s->inst].n_batch < (size_t)d->inst[s->inst].cfg->batch)
			d->inst[s->inst].batch[d->inst[s->inst].n_batch++] = be;
		else if (plan[i].act == ACT_SEND)
			plan[i].act = ACT_SKIP;
	}
	for (size_t i = 0; i < d->n_inst; i++) {
		struct instance *in = &d->inst[i];
		if (in->n_batch && !in->busy) {
			in->busy = true;
			pthread_cond_signal(&in->cond);
		}
		if (in->broken_until && in->broken_until < next)
			next = in->broken_until;
	}
	pthread_mutex_unlock(&d->lock);
	pass_cache_release(&cache);
	if (apply_plan(d, plan, n, now) && next < now + 1000)
		next = now + 1000; /* do not spin on a store that refuses writes */
	return next;
}

static void *scheduler_main(void *arg)
{
	struct dispatch *d = arg;
	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		d->woken = false;
		pthread_mutex_unlock(&d->lock);
		uint64_t next = schedule_pass(d), now = clock_wall_ms();
		pthread_mutex_lock(&d->lock);
		if (d->woken || d->stop)
			continue;
		uint64_t wait = next <= now ? 1 : next - now;
		if (wait > 1000)
			wait = 1000; /* the clock may jump; look again every second */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		while (!d->woken && !d->stop &&
		       pthread_cond_timedwait(&d->cond, &d->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

void dispatch_wake(struct dispatch *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->woken = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* ---- the workers ---- */

/* A notification as the ABI shows it, borrowing from its JSON document. */
struct view {
	struct herald_notification n;
	const char **usernames, **packages;
	uint64_t *subs;
	char *json;               /* owned: the public document */
	struct buf text, markdown;
};

static const char *str(const json_t *doc, const char *key)
{
	const char *s = json_string_value(json_object_get(doc, key));
	return s ? s : "";
}

static const char **str_array(const json_t *a, size_t *n)
{
	size_t i;
	json_t *v;
	const char **out = calloc(json_array_size(a) + 1, sizeof *out);
	*n = 0;
	if (out)
		json_array_foreach(a, i, v)
			if (json_is_string(v))
				out[(*n)++] = json_string_value(v);
	return out;
}

/* The document sinks see: the note without the outbox's bookkeeping. */
static char *public_json(const json_t *doc)
{
	json_t *c = json_copy((json_t *)doc);
	if (!c)
		return NULL;
	json_object_del(c, "due");
	json_object_del(c, "last_error");
	json_object_del(c, "digest");
	char *s = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	return s;
}

static int view_init(struct view *v, const struct instance *in, const json_t *doc,
		     const char *address)
{
	size_t i, nsub = json_array_size(json_object_get(doc, "subscriptions"));
	json_t *x;
	memset(v, 0, sizeof *v);
	struct herald_notification *n = &v->n;
	*n = (struct herald_notification){
		.size = sizeof *n, .id = str(doc, "id"), .user = str(doc, "user"),
		.destination = (uint64_t)json_integer_value(json_object_get(doc, "destination")),
		.address = address, .topic = str(doc, "topic"), .title = str(doc, "title"),
		.summary = str(doc, "summary"), .link = str(doc, "link"), .agent = str(doc, "agent"),
		.severity = str(doc, "severity"), .msg_id = str(doc, "msg_id"),
		.timestamp = json_number_value(json_object_get(doc, "timestamp")),
		.attempt = (uint32_t)json_integer_value(json_object_get(doc, "attempts")) + 1};
	v->usernames = str_array(json_object_get(doc, "usernames"), &n->n_usernames);
	v->packages = str_array(json_object_get(doc, "packages"), &n->n_packages);
	v->subs = calloc(nsub + 1, sizeof *v->subs);
	v->json = public_json(doc);
	if (!v->usernames || !v->packages || !v->subs || !v->json)
		return -ENOMEM;
	json_array_foreach(json_object_get(doc, "subscriptions"), i, x)
		v->subs[n->n_subscriptions++] = (uint64_t)json_integer_value(x);
	n->usernames = v->usernames;
	n->packages = v->packages;
	n->subscriptions = v->subs;
	n->json = v->json;
	if (render_note(in->text, n, &v->text) || render_note(in->markdown, n, &v->markdown) ||
	    buf_putc(&v->text, 0) || buf_putc(&v->markdown, 0))
		return -ENOMEM;
	n->text = v->text.data;
	n->markdown = v->markdown.data;
	return 0;
}

static void view_release(struct view *v)
{
	free(v->usernames);
	free(v->packages);
	free(v->subs);
	free(v->json);
	buf_release(&v->text);
	buf_release(&v->markdown);
}

/* Everything one batch needs, loaded from the outbox. */
struct job {
	struct batch_entry *be;
	json_t *notes;            /* owned */
	bool more, ok;
	bool pause;               /* its destination should be paused (recorder) */
	bool gone;                /* ... because the sink says it is gone */
	struct view *views;       /* one per note */
	const struct herald_notification **ptrs;
	size_t n_views;
	struct buf subject, text, markdown;
	char hex[OUTBOX_HEX_LEN + 1];
};

static int job_build(struct instance *in, struct job *j, struct herald_sink_item *item)
{
	size_t n = json_array_size(j->notes);
	j->views = calloc(n, sizeof *j->views);
	j->ptrs = calloc(n, sizeof *j->ptrs);
	if (!j->views || !j->ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++, j->n_views++) {
		if (view_init(&j->views[i], in, json_array_get(j->notes, i), j->be->address)) {
			j->n_views++;
			return -ENOMEM;
		}
		j->ptrs[i] = &j->views[i].n;
	}
	outbox_hex(j->be->e.id, j->hex);
	int rc = 0;
	bool digest = j->be->e.digest;
	if (digest) {
		struct buf ignored = BUF_INIT;
		rc = render_digest(in->text, j->be->e.user, j->ptrs, n, in->d->dc->digest_max_bytes,
				   &j->subject, &j->text);
		if (!rc)
			rc = render_digest(in->markdown, j->be->e.user, j->ptrs, n,
					   in->d->dc->digest_max_bytes, &ignored, &j->markdown);
		buf_release(&ignored);
	} else {
		rc = buf_puts(&j->subject, j->views[0].n.title);
		if (!rc)
			rc = buf_puts(&j->text, j->views[0].n.text);
		if (!rc)
			rc = buf_puts(&j->markdown, j->views[0].n.markdown);
	}
	if (!rc && !(rc = buf_putc(&j->subject, 0)) && !(rc = buf_putc(&j->text, 0)))
		rc = buf_putc(&j->markdown, 0);
	if (rc)
		return rc;
	*item = (struct herald_sink_item){
		.size = sizeof *item, .user = j->be->e.user, .destination = j->be->e.dest,
		.address = j->be->address, .notes = j->ptrs, .n_notes = n, .digest = digest,
		.id = digest ? j->hex : j->views[0].n.id, .subject = j->subject.data,
		.text = j->text.data, .markdown = j->markdown.data};
	return 0;
}

static void job_release(struct job *j)
{
	for (size_t i = 0; i < j->n_views; i++)
		view_release(&j->views[i]);
	free(j->views);
	free(j->ptrs);
	json_decref(j->notes);
	buf_release(&j->subject);
	buf_release(&j->text);
	buf_release(&j->markdown);
}

/* Exponential backoff with +-20% jitter, never sooner than retry-after. */
static uint64_t backoff_ms(struct dispatch *d, uint32_t attempts, uint32_t retry_after)
{
	double ms = (double)d->dc->retry_base_ms;
	for (uint32_t i = 1; i < attempts && ms < (double)d->dc->retry_max_ms; i++)
		ms *= 2;
	if (ms > (double)d->dc->retry_max_ms)
		ms = (double)d->dc->retry_max_ms;
	ms *= 0.8 + 0.4 * ((double)rand_r(&d->rand_state) / RAND_MAX);
	if ((double)retry_after * 1000 > ms)
		ms = (double)retry_after * 1000;
	return (uint64_t)ms;
}

/* Track a destination's failures; true when it should be paused now. */
static bool failing_too_long(struct dispatch *d, uint64_t dest, bool failed, uint64_t now)
{
	pthread_mutex_lock(&d->lock);
	struct dest_state *s = dest_state(d, dest);
	bool pause = false;
	if (s && !failed)
		s->failing_since = 0;
	else if (s && !s->failing_since)
		s->failing_since = now;
	else if (s)
		pause = now - s->failing_since >= (uint64_t)d->dc->pause_after_ms;
	if (pause)
		s->failing_since = 0;
	pthread_mutex_unlock(&d->lock);
	return pause;
}

static void pause_dest(struct dispatch *d, const struct outbox_entry *e, bool gone,
		       const char *why)
{
	char reason[DIRECTORY_REASON_MAX];
	struct directory_error err;
	json_t *out = NULL;
	if (gone)
		snprintf(reason, sizeof reason, "paused by heraldd: the destination is gone: %s",
			 why);
	else
		snprintf(reason, sizeof reason,
			 "paused by heraldd: deliveries failing for %ld s: %s",
			 d->dc->pause_after_ms / 1000, why);
	json_t *in = json_pack("{s:s}", "reason", reason);
	if (in && !directory_dest_pause(d->store, e->user, e->dest, in, &out, &err)) {
		metric_add(&d->metrics->dests_paused, 1);
		log_warn("dispatch: destination %" PRIu64 " of %s paused: %s", e->dest, e->user,
			 reason);
	}
	json_decref(in);
	json_decref(out);
}

/* Record one item's outcome inside the transaction. */
static int record(struct instance *in, struct store_txn *t, struct job *j,
		  const struct herald_sink_result *r, uint64_t now, bool *pause, bool *gone)
{
	struct dispatch *d = in->d;
	const struct outbox_entry *e = &j->be->e;
	size_t n = json_array_size(j->notes);
	uint32_t attempts = 0;
	int rc;
	*pause = *gone = false;
	switch (r->outcome) {
	case HERALD_SINK_DELIVERED:
		metric_add(&d->metrics->delivered, n);
		if (e->digest)
			metric_add(&d->metrics->digests_sent, 1);
		failing_too_long(d, e->dest, false, now);
		return outbox_delivered(t, e, j->notes, j->more, in->cfg->name, now,
					d->dc->delivery_log);
	case HERALD_SINK_REJECTED:
		metric_add(&d->metrics->dead_letters, n);
		return outbox_dead(t, e, j->notes, r->reason, now);
	case HERALD_SINK_BROKEN:
		return 0;
	case HERALD_SINK_GONE:
		/* Not the item's fault: no attempt charged. Due again after the
		 * pause has landed, when the scheduler parks it. */
		*pause = *gone = true;
		return outbox_reschedule(t, e, now + (uint64_t)d->dc->retry_base_ms, 0, r->reason);
	default:
		break;
	}
	if ((rc = outbox_attempts(t, e, &attempts)))
		return rc;
	*pause = failing_too_long(d, e->dest, true, now);
	if (attempts + 1 >= (uint32_t)d->dc->max_attempts) {
		char why[400];
		snprintf(why, sizeof why, "gave up after %u attempts: %s", attempts + 1, r->reason);
		metric_add(&d->metrics->dead_letters, n);
		return outbox_dead(t, e, j->notes, why, now);
	}
	metric_add(&d->metrics->delivery_retries, n);
	return outbox_reschedule(t, e, now + backoff_ms(d, attempts + 1, r->retry_after), 1,
				 r->reason);
}

static void mark_broken(struct instance *in, const char *reason)
{
	struct dispatch *d = in->d;
	pthread_mutex_lock(&d->lock);
	uint64_t b = in->broken_backoff ? in->broken_backoff * 2 : (uint64_t)d->dc->probe_interval_ms;
	in->broken_backoff = b > BROKEN_MAX_MS ? BROKEN_MAX_MS : b;
	in->broken_until = clock_wall_ms() + in->broken_backoff;
	pthread_mutex_unlock(&d->lock);
	metric_add(&d->metrics->sink_broken, 1);
	log_warn("dispatch: sink '%s' is broken (%s); probing again in %llu ms", in->cfg->name,
		 reason, (unsigned long long)in->broken_backoff);
}

/* Record the outcomes of every delivered batch in `list`, in one
 * transaction: under load the recorder commits once per fsync, however
 * many batches the worker delivered meanwhile. */
static void commit_outcomes(struct instance *in, const struct record *list)
{
	struct dispatch *d = in->d;
	struct store_txn *t;
	uint64_t now = clock_wall_ms();
	bool broken = false;
	int rc = store_begin(d->store, &t);
	for (const struct record *r = list; !rc && r; r = r->next)
		for (size_t i = 0; !rc && i < r->n; i++) {
			r->jobs[i].pause = r->jobs[i].gone = false;
			if (!r->jobs[i].ok)
				continue;
			if (r->res[i].outcome == HERALD_SINK_BROKEN && !broken) {
				broken = true;
				mark_broken(in, r->res[i].reason);
			}
			rc = record(in, t, &r->jobs[i], &r->res[i], now, &r->jobs[i].pause,
				    &r->jobs[i].gone);
			if (rc == -ENOENT) /* dropped while in flight */
				rc = 0;
		}
	if (!rc)
		rc = store_commit(t);
	else if (t)
		store_abort(t);
	if (rc) {
		log_limited(&in->rl, L_ERROR, "dispatch: cannot record outcomes of sink '%s' (%s); "
				"they will be delivered again", in->cfg->name, store_strerror(rc));
		/* Not at once: every retry would deliver the same batch again. A
		 * full store frees up as other deliveries commit: look again soon. */
		if (rc == -ENOSPC) {
			pthread_mutex_lock(&d->lock);
			in->broken_until = clock_wall_ms() + 1000;
			pthread_mutex_unlock(&d->lock);
		} else {
			mark_broken(in, store_strerror(rc));
		}
		return;
	}
	if (!broken) {
		pthread_mutex_lock(&d->lock);
		in->broken_backoff = 0;
		in->broken_until = 0;
		pthread_mutex_unlock(&d->lock);
	}
	for (const struct record *r = list; r; r = r->next)
		for (size_t i = 0; i < r->n; i++)
			if (r->jobs[i].ok && r->jobs[i].pause)
				pause_dest(d, &r->jobs[i].be->e, r->jobs[i].gone,
					   r->res[i].reason);
}

static void record_free(struct record *r)
{
	while (r) {
		struct record *next = r->next;
		for (size_t i = 0; r->jobs && i < r->n; i++)
			job_release(&r->jobs[i]);
		free(r->jobs);
		free(r->res);
		free(r->batch);
		free(r);
		r = next;
	}
}

/* Load, render and deliver one batch; the outcomes go to the recorder.
 * NULL when out of memory (the entries stay due). */
static struct record *deliver_batch(struct instance *in, struct batch_entry *batch, size_t n)
{
	struct dispatch *d = in->d;
	struct record *rec = calloc(1, sizeof *rec);
	struct herald_sink_item *items = calloc(n, sizeof *items);
	struct herald_sink_result *r = calloc(n, sizeof *r);
	size_t *map = calloc(n, sizeof *map), m = 0;
	if (rec) {
		*rec = (struct record){NULL, batch, calloc(n, sizeof *rec->jobs),
				       calloc(n, sizeof *rec->res), n};
		batch = NULL;
	}
	if (!rec || !rec->jobs || !rec->res || !items || !r || !map) {
		record_free(rec);
		free(batch);
		rec = NULL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = &rec->jobs[i];
		j->be = &rec->batch[i];
		if (outbox_load(d->store, &j->be->e, (size_t)d->dc->digest_max_items, &j->notes,
				&j->more))
			continue; /* dropped meanwhile, or unreadable: left for the next pass */
		if (job_build(in, j, &items[m]))
			continue;
		j->ok = true;
		map[m++] = i;
	}
	if (m) {
		metric_add(&d->metrics->delivery_attempts, m);
		sink_deliver(in->sink, items, m, r);
		for (size_t k = 0; k < m; k++)
			rec->res[map[k]] = r[k];
	}
out:
	free(items);
	free(r);
	free(map);
	return rec;
}

/* Commits outcomes, so that the worker can deliver the next batch during
 * the fsync: the entries being recorded are skipped by the scheduler. */
static void *recorder_main(void *arg)
{
	struct instance *in = arg;
	struct dispatch *d = in->d;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		/* at stop, wait for a batch the worker is still delivering */
		while (!in->rec && !(d->stop && !in->busy))
			pthread_cond_wait(&in->rec_cond, &d->lock);
		if (!in->rec)
			break; /* stopping, and nothing left to record */
		in->recording = in->rec;
		in->rec = NULL;
		in->n_rec = 0;
		pthread_cond_broadcast(&in->rec_cond); /* a waiting worker may go on */
		pthread_mutex_unlock(&d->lock);
		commit_outcomes(in, in->recording);
		pthread_mutex_lock(&d->lock);
		struct record *done = in->recording;
		in->recording = NULL;
		d->woken = true;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
		record_free(done); /* outside the lock: it frees JSON */
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* Queue a delivered batch for the recorder (d->lock held). */
static void queue_record(struct instance *in, struct record *r)
{
	struct record **tail = &in->rec;
	while (*tail)
		tail = &(*tail)->next;
	*tail = r;
	in->n_rec++;
	pthread_cond_broadcast(&in->rec_cond);
}

static void *worker_main(void *arg)
{
	struct instance *in = arg;
	struct dispatch *d = in->d;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!d->stop && !(in->busy && in->n_batch))
			pthread_cond_wait(&in->cond, &d->lock);
		if (d->stop)
			break;
		size_t n = in->n_batch;
		struct batch_entry *mine = malloc(n * sizeof *mine);
		if (mine)
			memcpy(mine, in->batch, n * sizeof *mine);
		pthread_mutex_unlock(&d->lock);
		struct record *r = mine ? deliver_batch(in, mine, n) : NULL;
		pthread_mutex_lock(&d->lock);
		while (in->n_rec >= RECORD_QUEUE) /* the recorder is far behind */
			pthread_cond_wait(&in->rec_cond, &d->lock);
		if (r)
			queue_record(in, r);
		in->n_batch = 0;
		in->busy = false;
		d->woken = true;
		pthread_cond_signal(&d->cond);
	}
	in->busy = false;
	pthread_cond_broadcast(&in->rec_cond);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- destination verification ---- */

#define CODE_LEN 8
#define CODE_TTL_MS (24 * 3600 * 1000ULL)
#define CODE_TRIES 5

struct code {
	struct code *next;
	char user[65];
	uint64_t dest;
	unsigned char hash[32]; /* SHA-256 of the code: the code itself is not kept */
	uint64_t expires;       /* wall ms */
	int tries;
};

static void code_hash(const char *code, unsigned char out[32])
{
	unsigned int n = 0;
	EVP_Digest(code, strlen(code), out, &n, EVP_sha256(), NULL);
}

/* The pending code of (user, dest), or where to link a new one (d->lock). */
static struct code **code_slot(struct dispatch *d, const char *user, uint64_t dest)
{
	struct code **p = &d->codes;
	while (*p && !((*p)->dest == dest && !strcmp((*p)->user, user)))
		p = &(*p)->next;
	return p;
}

static void code_drop(struct code **slot)
{
	struct code *c = *slot;
	*slot = c->next;
	OPENSSL_cleanse(c->hash, sizeof c->hash);
	free(c);
}

bool dispatch_needs_code(struct dispatch *d, const char *sink)
{
	int ix = d ? find_instance(d, sink) : -1;
	return ix >= 0 && d->inst[ix].cfg->verify;
}

/* The confirmation itself: one item, delivered through the sink now. */
static int deliver_code(struct instance *in, const char *user, uint64_t dest,
			const char *address, const char *code, char *err, size_t errlen)
{
	char id[OUTBOX_HEX_LEN + 1], text[512], json[768];
	unsigned char raw[OUTBOX_ID_LEN];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return snprintf(err, errlen, "no randomness"), -EIO;
	outbox_hex(raw, id);
	snprintf(text, sizeof text,
		 "Your herald confirmation code is %s.\n"
		 "Confirm this destination with: herald dest verify %s %" PRIu64 " %s\n"
		 "It expires in 24 hours. If you did not ask for it, ignore this message.\n",
		 code, user, dest, code);
	snprintf(json, sizeof json,
		 "{\"id\":\"%s\",\"user\":\"%s\",\"destination\":%" PRIu64
		 ",\"topic\":\"herald.destination.verify\",\"title\":\"Confirm this herald "
		 "destination\"}", id, user, dest);
	struct herald_notification n = {
		.size = sizeof n, .id = id, .user = user, .destination = dest, .address = address,
		.topic = "herald.destination.verify", .title = "Confirm this herald destination",
		.summary = text, .link = "", .agent = "", .severity = "notice", .msg_id = "",
		.json = json, .text = text, .markdown = text, .attempt = 1};
	const struct herald_notification *np = &n;
	struct herald_sink_item it = {
		.size = sizeof it, .user = user, .destination = dest, .address = address,
		.notes = &np, .n_notes = 1, .id = id, .subject = "Confirm this herald destination",
		.text = text, .markdown = text};
	struct herald_sink_result r;
	sink_deliver(in->sink, &it, 1, &r);
	if (r.outcome == HERALD_SINK_DELIVERED)
		return 0;
	snprintf(err, errlen, "the sink could not send the code: %s", r.reason);
	return -EIO;
}

int dispatch_send_code(struct dispatch *d, const char *sink, const char *user, uint64_t dest,
		       const char *address, char *err, size_t errlen)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; /* 32: no 0/O, 1/I */
	unsigned char raw[CODE_LEN];
	char code[CODE_LEN + 1];
	int ix = find_instance(d, sink);
	if (ix < 0 || !d->inst[ix].sink)
		return snprintf(err, errlen, "no sink '%s' is running", sink), -ENOENT;
	if (RAND_bytes(raw, sizeof raw) != 1)
		return snprintf(err, errlen, "no randomness"), -EIO;
	for (int i = 0; i < CODE_LEN; i++)
		code[i] = alphabet[raw[i] & 31];
	code[CODE_LEN] = '\0';
	struct code *c = calloc(1, sizeof *c);
	if (!c)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	snprintf(c->user, sizeof c->user, "%s", user);
	c->dest = dest;
	c->expires = clock_wall_ms() + CODE_TTL_MS;
	code_hash(code, c->hash);
	pthread_mutex_lock(&d->lock);
	struct code **slot = code_slot(d, user, dest);
	if (*slot)
		code_drop(slot); /* a new code voids the old one */
	c->next = d->codes;
	d->codes = c;
	pthread_mutex_unlock(&d->lock);
	int rc = deliver_code(&d->inst[ix], user, dest, address, code, err, errlen);
	OPENSSL_cleanse(code, sizeof code);
	return rc;
}

int dispatch_check_code(struct dispatch *d, const char *user, uint64_t dest, const char *code)
{
	unsigned char h[32];
	int rc;
	code_hash(code ? code : "", h);
	pthread_mutex_lock(&d->lock);
	struct code **slot = code_slot(d, user, dest);
	if (!*slot || (*slot)->expires < clock_wall_ms()) {
		if (*slot)
			code_drop(slot);
		rc = -ENOENT;
	} else if ((*slot)->tries >= CODE_TRIES) {
		rc = -EBUSY;
	} else if (CRYPTO_memcmp(h, (*slot)->hash, sizeof h)) {
		rc = ++(*slot)->tries >= CODE_TRIES ? -EBUSY : -EACCES;
	} else {
		code_drop(slot);
		rc = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* ---- setup ---- */

static int instance_init(struct dispatch *d, struct instance *in, const struct config_sink *c)
{
	char err[300];
	*in = (struct instance){.d = d, .cfg = c, .rl = {.interval_ms = 10000}};
	in->rate = c->rate >= 0 ? c->rate : d->dc->rate;
	in->burst = c->burst > 0 ? c->burst : d->dc->burst;
	pthread_cond_init(&in->cond, NULL);
	pthread_cond_init(&in->rec_cond, NULL);
	if (!(in->batch = calloc((size_t)c->batch, sizeof *in->batch)))
		return -ENOMEM;
	if (render_compile(c->template_text, RENDER_TEXT, c->footer, &in->text, err, sizeof err) ||
	    render_compile(c->template_markdown, RENDER_MARKDOWN, c->footer, &in->markdown, err,
			   sizeof err)) {
		snprintf(in->error, sizeof in->error, "sink %s: %s", c->name, err);
		return -EINVAL;
	}
	int rc = sink_open(c->name, c->plugin, d->dc->plugin_dir, d->cfg->path, c->options,
			   c->n_options, &in->sink, in->error, sizeof in->error);
	return rc;
}

int dispatch_start(const struct dispatch_deps *deps, struct dispatch **out, char *err,
		   size_t errlen)
{
	struct dispatch *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->cfg = deps->cfg;
	d->dc = &deps->cfg->dispatch;
	d->store = deps->store;
	d->metrics = deps->metrics;
	d->rl.interval_ms = 10000;
	d->rand_state = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)d;
	pthread_mutex_init(&d->lock, NULL);
	/* The scheduler's timed waits count on the monotonic clock. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	d->n_inst = deps->cfg->n_sinks;
	if (d->n_inst && !(d->inst = calloc(d->n_inst, sizeof *d->inst))) {
		free(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_inst; i++) {
		struct instance *in = &d->inst[i];
		int rc = instance_init(d, in, &deps->cfg->sinks[i]);
		if (rc == -ENOMEM) {
			snprintf(err, errlen, "dispatch: out of memory");
			dispatch_stop(d);
			return rc;
		}
		if (rc) {
			log_error("heraldd: %s; its notifications wait until it loads", in->error);
			continue;
		}
		log_info("heraldd: sink '%s' ready (plugin %s)", in->cfg->name, sink_plugin(in->sink));
		if (pthread_create(&in->recorder, NULL, recorder_main, in) == 0)
			in->rec_started = true;
		if (in->rec_started && pthread_create(&in->thread, NULL, worker_main, in) == 0)
			in->started = true;
	}
	if (pthread_create(&d->scheduler, NULL, scheduler_main, d)) {
		snprintf(err, errlen, "dispatch: cannot start a thread");
		dispatch_stop(d);
		return -EAGAIN;
	}
	d->sched_started = true;
	*out = d;
	return 0;
}

int dispatch_validate(struct dispatch *d, const char *sink, const char *address, char *err,
		      size_t errlen)
{
	int ix = find_instance(d, sink);
	if (ix < 0)
		return -ENOENT;
	if (!d->inst[ix].sink) {
		snprintf(err, errlen, "the sink did not load: %s", d->inst[ix].error);
		return -EINVAL;
	}
	return sink_validate(d->inst[ix].sink, address ? address : "", err, errlen) ? -EINVAL : 0;
}

int dispatch_status(struct dispatch *d, json_t **out)
{
	json_t *arr = json_array();
	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n_inst; i++) {
		struct instance *in = &d->inst[i];
		json_t *o = json_pack("{s:s, s:s, s:b, s:s?, s:I, s:b}", "name", in->cfg->name,
				      "plugin", in->cfg->plugin, "loaded", in->sink != NULL, "error",
				      in->sink ? NULL : in->error, "broken_until",
				      (json_int_t)in->broken_until, "busy", in->busy);
		if (!o || json_array_append_new(arr, o)) {
			pthread_mutex_unlock(&d->lock);
			json_decref(arr);
			return -ENOMEM;
		}
	}
	pthread_mutex_unlock(&d->lock);
	*out = arr;
	return 0;
}

void dispatch_reopen(struct dispatch *d)
{
	for (size_t i = 0; d && i < d->n_inst; i++)
		if (d->inst[i].sink && sink_reopen(d->inst[i].sink))
			log_error("dispatch: sink '%s' could not reopen", d->inst[i].cfg->name);
}

void dispatch_stop(struct dispatch *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_broadcast(&d->cond);
	for (size_t i = 0; i < d->n_inst; i++) {
		pthread_cond_broadcast(&d->inst[i].cond);
		pthread_cond_broadcast(&d->inst[i].rec_cond);
	}
	pthread_mutex_unlock(&d->lock);
	if (d->sched_started)
		pthread_join(d->scheduler, NULL);
	for (size_t i = 0; i < d->n_inst; i++) {
		struct instance *in = &d->inst[i];
		if (in->started)
			pthread_join(in->thread, NULL);
		if (in->rec_started) /* after the worker: it records what is left */
			pthread_join(in->recorder, NULL);
		if (in->sink && sink_flush(in->sink, (int64_t)clock_mono_ms() + 5000))
			log_warn("dispatch: sink '%s' did not flush everything", in->cfg->name);
		sink_close(in->sink);
		render_free(in->text);
		render_free(in->markdown);
		free(in->batch);
		pthread_cond_destroy(&in->cond);
		pthread_cond_destroy(&in->rec_cond);
	}
	while (d->codes)
		code_drop(&d->codes);
	for (size_t b = 0; b < DEST_BUCKETS; b++)
		while (d->dests[b]) {
			struct dest_state *s = d->dests[b];
			d->dests[b] = s->next;
			free(s);
		}
	free(d->inst);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}
