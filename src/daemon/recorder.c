/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * recorder: an instance's recorder thread. It commits the outcomes of the
 * batches its worker delivered, in one transaction per round: delivered
 * (removed, delivery log), retry (backoff), rejected (dead letter), broken
 * (instance paused and probed), gone (destination paused); and it pauses a
 * destination whose deliveries keep failing.
 * Not for: calling sinks (deliver.c) or scheduling (schedule.c).
 */
#include "dispatch_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/common/clock.h"
#include "src/common/config.h"
#include "metrics.h"
#include "store.h"

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
	struct dest_state *s = schedule_dest_locked(d, dest);
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

/* Tried once, never again: a note that cannot be parsed would otherwise
 * be due for ever (the sink never sees it, so no outcome ever removes it). */
static int dead_unreadable(struct instance *in, struct store_txn *t,
			   const struct outbox_entry *e, uint64_t now)
{
	char hex[OUTBOX_HEX_LEN + 1];
	outbox_hex(e->id, hex);
	log_limited(&in->rl, L_ERROR, "dispatch: %s %s of sink '%s' cannot be read from the store; "
			"it is a dead letter now", e->digest ? "digest" : "notification", hex,
		    in->cfg->name);
	metric_add(&in->d->metrics->dead_letters, 1);
	return outbox_dead_unreadable(t, e, "stored notification cannot be read (not valid JSON)",
				      now);
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
	bool began = rc == 0; /* on failure t is not ours to read or abort */
	for (const struct record *r = list; !rc && r; r = r->next)
		for (size_t i = 0; !rc && i < r->n; i++) {
			r->jobs[i].pause = r->jobs[i].gone = false;
			if (r->jobs[i].unreadable) {
				rc = dead_unreadable(in, t, &r->jobs[i].be->e, now);
				if (rc == -ENOENT) /* dropped meanwhile */
					rc = 0;
				continue;
			}
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
	else if (began)
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

/* Free what a record holds beyond its entries (the notes, their views and
 * the results): its batch stays for record_has. */
static void strip(struct record *r)
{
	for (; r; r = r->next) {
		for (size_t i = 0; r->jobs && i < r->n; i++)
			deliver_job_release(&r->jobs[i]);
		free(r->jobs);
		free(r->res);
		r->jobs = NULL;
		r->res = NULL;
	}
}

void recorder_free(struct record *r)
{
	strip(r);
	while (r) {
		struct record *next = r->next;
		free(r->batch);
		free(r);
		r = next;
	}
}

/* Move records just committed to in->recorded: the scheduler skips their
 * entries until its next pass, whose snapshot of the outbox is younger than
 * this commit (a pass that read the outbox before it would send them again). */
static void keep_recorded_locked(struct instance *in, struct record *done)
{
	struct record **tail = &done;
	while (*tail)
		tail = &(*tail)->next;
	*tail = in->recorded;
	in->recorded = done;
}

/* Commits outcomes, so that the worker can deliver the next batch during
 * the fsync: the entries being recorded are skipped by the scheduler. */
void *recorder_main(void *arg)
{
	struct instance *in = arg;
	struct dispatch *d = in->d;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		/* at stop, wait for a batch the worker is still delivering */
		while (!in->rec && !((d->stop || in->quit) && !in->busy))
			pthread_cond_wait(&in->rec_cond, &d->lock);
		if (!in->rec)
			break; /* stopping, and nothing left to record */
		in->recording = in->rec;
		in->rec = NULL;
		in->n_rec = 0;
		pthread_cond_broadcast(&in->rec_cond); /* a waiting worker may go on */
		pthread_mutex_unlock(&d->lock);
		commit_outcomes(in, in->recording);
		strip(in->recording); /* outside the lock: it frees JSON */
		pthread_mutex_lock(&d->lock);
		keep_recorded_locked(in, in->recording);
		in->recording = NULL;
		d->woken = true;
		pthread_cond_signal(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* Queue a delivered batch for the recorder (d->lock held). */
void recorder_queue_locked(struct instance *in, struct record *r)
{
	struct record **tail = &in->rec;
	while (*tail)
		tail = &(*tail)->next;
	*tail = r;
	in->n_rec++;
	pthread_cond_broadcast(&in->rec_cond);
}
