/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dispatch_int: what the dispatcher's files share (dispatch.c, schedule.c,
 * deliver.c, recorder.c, destcode.c) and nothing else includes: the
 * dispatcher and instance structs, a delivered batch on its way to the
 * recorder, and the functions one of these files calls in another.
 * Not for: the rest of the daemon (dispatch.h is the module's interface).
 *
 * Locks. One mutex, d->lock, guards the state the threads share: each
 * instance's batch, busy flag, broken_until/backoff and record lists (rec,
 * recording, recorded), the per-destination state (rate buckets, failure
 * trackers, destination -> instance) and d->stop/woken. (Pending
 * verification codes are in the store: destcode.c.) What a field's comment does not put under d->lock is
 * fixed once dispatch_start returns (the instance table, each instance's
 * config, sink and error) or belongs to one thread.
 *
 * Lock order: an LMDB write transaction (store_begin .. commit/abort), then
 * d->lock. d->lock is the innermost lock: it may be taken inside a write
 * transaction (the recorder's failure tracking and mark_broken) or inside a
 * read transaction (skip_entry, called by outbox_due), but while it is held
 * no store transaction begins, nothing reads the store, no sink is called
 * and ICU is not asked (quiet hours): the scheduler reads the outbox and
 * the directory first, then decides under d->lock, then writes its other
 * decisions in a transaction of its own. Functions that need d->lock held
 * end in _locked.
 */
#ifndef HERALD_DISPATCH_INT_H
#define HERALD_DISPATCH_INT_H

#include "dispatch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/buf.h"
#include "src/common/log.h"
#include "directory.h"
#include "outbox.h"
#include "sinkhost.h"

#define BROKEN_MAX_MS (10 * 60 * 1000)
#define DEST_BUCKETS 4096
#define RECORD_QUEUE 2 /* delivered batches waiting for their outcomes to commit */
/* A sink process that crashes (sinkhost.h) is started again after
 * CRASH_BACKOFF_MS, doubling up to CRASH_BACKOFF_MAX_MS; CRASH_LIMIT crashes
 * within CRASH_WINDOW_MS pause the instance until an operator resumes it.
 * For CRASH_SOLO_MS after a crash it gets one item per batch, so that a
 * poison item is charged its attempts alone (doc/design.md). */
#define CRASH_BACKOFF_MS 1000
#define CRASH_BACKOFF_MAX_MS 60000
#define CRASH_LIMIT 5
#define CRASH_WINDOW_MS (10 * 60 * 1000)
#define CRASH_SOLO_MS 60000


/* What the scheduler remembers per destination (never removed: bounded by
 * the number of destinations). */
struct view;

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
	struct record *recorded;  /* committed since the scheduler's pass began (entries only) */
	bool quit;                /* the recorder should end: the worker did not start */
	size_t n_rec;             /* records in `rec` */
	uint64_t broken_until;    /* wall ms; 0 when working */
	uint64_t broken_backoff;
	/* its sink process's crashes (dispatch_sink_called) */
	uint64_t crash_at[CRASH_LIMIT]; /* wall ms of the latest, a ring */
	unsigned n_crashes;       /* since start or the last resume */
	uint64_t restart_at;      /* wall ms: no work before it (crash backoff) */
	uint64_t restart_backoff;
	bool paused;              /* CRASH_LIMIT crashes in CRASH_WINDOW_MS: until resumed */
	char paused_reason[300];
	_Atomic uint64_t *crashes_metric; /* its sink_crashes_total{sink=NAME}; NULL: none */
	pthread_cond_t cond;
	pthread_t recorder;       /* commits outcomes while the worker delivers the next batch */
	bool rec_started;
	pthread_cond_t rec_cond;  /* rec changed */
	pthread_cond_t idle;      /* busy went false (a code waits to be sent) */
};

struct dispatch {
	const struct config *cfg;
	const struct config_dispatch *dc;
	struct store *store;
	struct metrics *metrics;
	const struct links *links; /* NULL: no web app, no links in items */
	struct instance *inst;
	size_t n_inst;
	int (*thread_start)(pthread_t *, void *(*)(void *), void *, const char *); /* NULL: pthread_create */
	pthread_t scheduler;
	bool sched_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* the scheduler waits here */
	bool stop, woken;
	struct dest_state *dests[DEST_BUCKETS];
	unsigned rand_state;
	struct log_limit rl;     /* the scheduler's */
};


/* A delivered batch on its way into the store: the recorder's input. */
struct record {
	struct record *next;
	struct batch_entry *batch; /* owned */
	struct job *jobs;          /* owned, one per batch entry */
	struct herald_sink_result *res; /* owned */
	size_t n;
};

/* Everything one batch needs, loaded from the outbox. */
struct job {
	struct batch_entry *be;
	json_t *notes;            /* owned */
	bool more, ok;
	bool unreadable;          /* its stored notes cannot be parsed: dead letter */
	bool pause;               /* its destination should be paused (recorder) */
	bool gone;                /* ... because the sink says it is gone */
	struct view *views;       /* one per note */
	const struct herald_notification **ptrs;
	size_t n_views;
	struct buf subject, text, markdown;
	char hex[OUTBOX_HEX_LEN + 1];
};

/* dispatch.c: the index of the instance called `name`, or -1. */
int dispatch_instance_find(const struct dispatch *d, const char *name);

/* dispatch.c: what a call into the instance's sink returned (sink_deliver,
 * sink_validate): -ECHILD, its process crashed (`why`): count it, hold the
 * instance back before its next process and pause it at CRASH_LIMIT; 0, a
 * call went through: the crash backoff starts over. Takes d->lock. */
void dispatch_sink_called(struct instance *in, int rc, const char *why);

/* schedule.c: the scheduler thread, and the state it keeps per destination
 * (created on first use; NULL when out of memory). */
void *schedule_main(void *arg);
struct dest_state *schedule_dest_locked(struct dispatch *d, uint64_t dest);
/* May the instance get work at `now`? Not while broken, paused, or waiting
 * to restart after a crash; *until: when it may (UINT64_MAX: paused). */
bool schedule_resting_locked(const struct instance *in, uint64_t now, uint64_t *until);

/* deliver.c: an instance's worker thread; a job's resources. */
void *deliver_main(void *arg);
void deliver_job_release(struct job *j);

/* recorder.c: an instance's recorder thread; hand it a delivered batch
 * (d->lock held); free a list of records. */
void *recorder_main(void *arg);
void recorder_queue_locked(struct instance *in, struct record *r);
void recorder_free(struct record *r);

#endif
