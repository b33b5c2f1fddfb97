/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * schedule: the dispatcher's scheduler thread. It reads what is due from the
 * outbox, decides per entry (send, park, hold for quiet hours, fold into a
 * digest, dead-letter, wait for a sink) and hands batches to idle instances;
 * it also keeps each destination's rate-limit bucket.
 * Not for: delivering (deliver.c) or recording outcomes (recorder.c).
 */
#include "dispatch_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/common/clock.h"
#include "src/common/config.h"
#include "metrics.h"
#include "quiet.h"
#include "store.h"

#define SCAN_MAX 512

/* ---- destination state ---- */

struct dest_state *schedule_dest_locked(struct dispatch *d, uint64_t dest)
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


bool schedule_resting_locked(const struct instance *in, uint64_t now, uint64_t *until)
{
	*until = 0;
	if (in->paused)
		*until = UINT64_MAX;
	else if (in->broken_until > now || in->restart_at > now)
		*until = in->broken_until > in->restart_at ? in->broken_until : in->restart_at;
	return *until != 0;
}

/* Items per batch: one while a crash is recent (a poison item then pays
 * its attempts alone), else the configured batch. */
static size_t batch_cap_locked(const struct instance *in, uint64_t now)
{
	uint64_t last = in->n_crashes ? in->crash_at[(in->n_crashes - 1) % CRASH_LIMIT] : 0;
	return last && now - last < CRASH_SOLO_MS ? 1 : (size_t)in->cfg->batch;
}

/* Take one token; else 0 and *wait_ms until the next one. Unlimited: 1. */
static int take_token_locked(struct instance *in, struct dest_state *s, uint64_t *wait_ms)
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

/* ---- the scheduler ---- */

enum action { ACT_SEND, ACT_SKIP, ACT_PARK, ACT_HOLD, ACT_DIGEST, ACT_DEAD, ACT_WAIT };

/* One due entry's decision. read_entry fills in what the store says (no
 * lock); decide_locked finishes a deliverable one under d->lock. */
struct plan {
	struct outbox_entry e;
	enum action act;
	uint64_t until;           /* ACT_HOLD / ACT_DIGEST / ACT_WAIT: when */
	bool needs_verify;        /* its sink wants verified destinations */
	bool known;               /* its destination was read: inst is its instance */
	int inst;                 /* index of its instance, -1 none */
	bool quiet;               /* the user's quiet hours last until quiet_until */
	uint64_t quiet_until;
	char address[DIRECTORY_ADDRESS_MAX + 1];
	char reason[300];
};

static bool record_has_locked(const struct record *r, const struct outbox_entry *e)
{
	for (; r; r = r->next)
		for (size_t i = 0; i < r->n; i++)
			if (!memcmp(r->batch[i].e.id, e->id, OUTBOX_ID_LEN))
				return true;
	return false;
}

/* Skip entries already handed to a worker, and entries of instances that
 * cannot take them now (their turn comes when the worker reports back).
 * Called by outbox_due inside its read transaction: takes d->lock for the
 * lookup only. An entry whose outcome committed after this pass began is
 * still in `recorded`, so a snapshot older than that commit does not send it
 * again. */
static bool skip_entry(void *arg, const struct outbox_entry *e)
{
	struct dispatch *d = arg;
	bool skip = false;
	uint64_t until;
	pthread_mutex_lock(&d->lock);
	struct dest_state *s = schedule_dest_locked(d, e->dest);
	if (s && s->inst >= 0) {
		const struct instance *in = &d->inst[s->inst];
		skip = in->busy || schedule_resting_locked(in, clock_wall_ms(), &until) ||
		       record_has_locked(in->rec, e) || record_has_locked(in->recording, e) ||
		       record_has_locked(in->recorded, e);
	}
	pthread_mutex_unlock(&d->lock);
	return skip;
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

/* What the store says about one due entry (no lock held: it reads the
 * directory and asks ICU about quiet hours). A deliverable entry is left
 * ACT_SEND for decide_locked. */
static void read_entry(struct dispatch *d, struct pass_cache *c, struct plan *p, uint64_t now)
{
	int status;
	const json_t *dest = cached_dest(d, c, &p->e, &status);
	p->act = ACT_SKIP;
	p->inst = -1;
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
	int ix = dispatch_instance_find(d, sink); /* the instance table is fixed at start */
	p->known = true;
	p->inst = ix;
	p->needs_verify = ix >= 0 && d->inst[ix].cfg->verify;
	if (json_is_true(json_object_get(dest, "paused")) ||
	    (p->needs_verify && !json_is_true(json_object_get(dest, "verified")))) {
		p->act = ACT_PARK; /* until resumed, or verified */
	} else if (ix < 0 || !d->inst[ix].sink) {
		p->act = ACT_WAIT;
		p->until = now + (uint64_t)d->dc->probe_interval_ms;
		snprintf(p->reason, sizeof p->reason, ix < 0 ? "no sink '%s' is configured"
							      : "sink '%s' did not load", sink);
	} else {
		p->act = ACT_SEND;
		p->quiet = quiet_for(d, c, p->e.user, now, &p->quiet_until);
		snprintf(p->address, sizeof p->address, "%s", addr ? addr : "");
	}
}

/* Finish a deliverable entry's decision against the instance's state: skip
 * it (instance busy, broken or its batch full: *next = now), hold it (quiet
 * hours), fold it into a digest (rate limit), or add it to the batch. */
static void decide_locked(struct dispatch *d, struct plan *p, uint64_t now, uint64_t *next)
{
	struct dest_state *s = schedule_dest_locked(d, p->e.dest);
	if (s && p->known)
		s->inst = p->inst;
	if (p->act != ACT_SEND)
		return;
	struct instance *in = &d->inst[p->inst];
	uint64_t wait = 0, until;
	if (in->n_batch >= batch_cap_locked(in, now)) {
		p->act = ACT_SKIP;
		*next = now; /* more than one batch: come back when it is done */
	} else if (in->busy || schedule_resting_locked(in, now, &until)) {
		p->act = ACT_SKIP;
	} else if (p->quiet) {
		p->act = ACT_HOLD;
		p->until = p->quiet_until;
	} else if (!s || take_token_locked(in, s, &wait)) {
		struct batch_entry *be = &in->batch[in->n_batch++];
		be->e = p->e;
		memcpy(be->address, p->address, sizeof be->address);
	} else {
		p->act = ACT_DIGEST;
		p->until = now + wait;
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
 * delivering, waiting out a broken spell or a crash's backoff, or paused
 * (*next: when one is probed or restarted).
 * With no instance at all, yes: entries of unknown sinks must be seen. */
static bool can_take_work_locked(struct dispatch *d, uint64_t now, uint64_t *next)
{
	*next = UINT64_MAX;
	if (!d->n_inst)
		return true;
	for (size_t i = 0; i < d->n_inst; i++) {
		const struct instance *in = &d->inst[i];
		uint64_t until;
		bool resting = schedule_resting_locked(in, now, &until);
		if (!in->busy && !resting)
			return true;
		if (resting && until < *next)
			*next = until;
	}
	return false;
}

/* Start a pass: may it scan, and which records committed before it began
 * (returned, to be freed outside the lock: the scan's snapshot sees them). */
static bool pass_begin_locked(struct dispatch *d, uint64_t now, uint64_t *next,
			      struct record **committed)
{
	*committed = NULL;
	for (size_t i = 0; i < d->n_inst; i++) {
		struct record **tail = &d->inst[i].recorded;
		while (*tail)
			tail = &(*tail)->next;
		*tail = *committed;
		*committed = d->inst[i].recorded;
		d->inst[i].recorded = NULL;
	}
	return can_take_work_locked(d, now, next);
}

/* Hand each filled batch to its idle worker; *next: the earliest probe. */
static void hand_over_locked(struct dispatch *d, uint64_t *next)
{
	for (size_t i = 0; i < d->n_inst; i++) {
		struct instance *in = &d->inst[i];
		uint64_t until;
		if (in->n_batch && !in->busy) {
			in->busy = true;
			pthread_cond_signal(&in->cond);
		}
		if (schedule_resting_locked(in, clock_wall_ms(), &until) && until < *next)
			*next = until;
	}
}

/* One pass: read what is due and what the directory says about it without
 * d->lock, then decide and hand batches to idle instances under it, then
 * write the other decisions (a write transaction, without d->lock).
 * Returns when the next entry is due (wall ms). */
static uint64_t schedule_pass(struct dispatch *d, struct outbox_entry *due, struct plan *plan)
{
	uint64_t now = clock_wall_ms(), next = UINT64_MAX;
	size_t n = 0;
	struct record *committed;
	struct pass_cache cache;
	cache.n_dest = cache.n_user = 0;
	pthread_mutex_lock(&d->lock);
	bool scan = pass_begin_locked(d, now, &next, &committed);
	pthread_mutex_unlock(&d->lock);
	recorder_free(committed);
	if (!scan) {
		/* every instance is busy or broken: a scan could only skip the
		 * whole backlog at every commit that wakes us; a worker that
		 * finishes wakes us again */
		return next;
	}
	int rc = outbox_due(d->store, now, due, SCAN_MAX, &n, skip_entry, d, &next);
	if (rc)
		log_limited(&d->rl, L_ERROR, "dispatch: cannot read the outbox (%s)",
			    store_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		plan[i] = (struct plan){.e = due[i]};
		read_entry(d, &cache, &plan[i], now);
	}
	pass_cache_release(&cache);
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < n; i++)
		decide_locked(d, &plan[i], now, &next);
	hand_over_locked(d, &next);
	pthread_mutex_unlock(&d->lock);
	if (apply_plan(d, plan, n, now) && next < now + 1000)
		next = now + 1000; /* do not spin on a store that refuses writes */
	return next;
}

void *schedule_main(void *arg)
{
	struct dispatch *d = arg;
	/* the pass's working set: on the heap, not in every thread's TLS */
	struct outbox_entry *due = calloc(SCAN_MAX, sizeof *due);
	struct plan *plan = calloc(SCAN_MAX, sizeof *plan);
	if (!due || !plan) {
		log_error("dispatch: out of memory: nothing will be delivered");
		goto out;
	}
	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		d->woken = false;
		pthread_mutex_unlock(&d->lock);
		uint64_t next = schedule_pass(d, due, plan), now = clock_wall_ms();
		pthread_mutex_lock(&d->lock);
		if (d->woken || d->stop)
			continue;
		uint64_t wait = next <= now ? 1 : next - now;
		if (wait > 1000)
			wait = 1000; /* the clock may jump; look again every second */
		struct timespec ts = clock_deadline(wait);
		while (!d->woken && !d->stop &&
		       pthread_cond_timedwait(&d->cond, &d->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&d->lock);
out:
	free(due);
	free(plan);
	return NULL;
}
