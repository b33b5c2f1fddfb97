/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dispatch: the dispatcher's lifecycle and wiring (see dispatch.h): load the
 * sink instances, start the scheduler and each instance's worker and
 * recorder, answer status and validation, stop.
 * Not for: scheduling (schedule.c), delivering (deliver.c), recording
 * outcomes (recorder.c) or verification codes (destcode.c); what these
 * share is in dispatch_int.h.
 */
#include "dispatch_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/common/clock.h"
#include "src/common/config.h"
#include "metrics.h"
#include "render.h"

int dispatch_instance_find(const struct dispatch *d, const char *name)
{
	for (size_t i = 0; name && i < d->n_inst; i++)
		if (!strcmp(d->inst[i].cfg->name, name))
			return (int)i;
	return -1;
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

/* ---- crashes of a sink process ---- */

/* Count one crash (d->lock held); true when it makes CRASH_LIMIT within
 * CRASH_WINDOW_MS, and the instance is paused. */
static bool crash_locked(struct instance *in, const char *why, uint64_t now)
{
	in->crash_at[in->n_crashes++ % CRASH_LIMIT] = now;
	uint64_t b = in->restart_backoff ? in->restart_backoff * 2 : CRASH_BACKOFF_MS;
	in->restart_backoff = b > CRASH_BACKOFF_MAX_MS ? CRASH_BACKOFF_MAX_MS : b;
	in->restart_at = now + in->restart_backoff;
	uint64_t oldest = in->crash_at[in->n_crashes % CRASH_LIMIT];
	if (in->paused || in->n_crashes < CRASH_LIMIT || now - oldest > CRASH_WINDOW_MS)
		return false;
	in->paused = true;
	snprintf(in->paused_reason, sizeof in->paused_reason,
		 "crashed %u times in %llu s (last: %s); resume with `herald sinks resume %s`",
		 (unsigned)CRASH_LIMIT, (unsigned long long)((now - oldest) / 1000 + 1), why,
		 in->cfg->name);
	return true;
}

void dispatch_sink_called(struct instance *in, int rc, const char *why)
{
	struct dispatch *d = in->d;
	bool paused;
	uint64_t wait;
	if (rc && rc != -ECHILD)
		return;
	pthread_mutex_lock(&d->lock);
	if (!rc) {
		in->restart_backoff = 0;
		pthread_mutex_unlock(&d->lock);
		return;
	}
	paused = crash_locked(in, why, clock_wall_ms());
	wait = in->restart_backoff;
	pthread_mutex_unlock(&d->lock);
	if (in->crashes_metric)
		metric_add(in->crashes_metric, 1);
	if (paused)
		log_error("dispatch: sink '%s' paused: it %s", in->cfg->name, in->paused_reason);
	else
		log_warn("dispatch: sink '%s': %s; what it held is retried, a new process starts "
			 "in %llu ms", in->cfg->name, why, (unsigned long long)wait);
}

int dispatch_resume(struct dispatch *d, const char *sink)
{
	int ix = dispatch_instance_find(d, sink);
	if (ix < 0)
		return -ENOENT;
	struct instance *in = &d->inst[ix];
	pthread_mutex_lock(&d->lock);
	bool was = in->paused;
	in->paused = false;
	in->paused_reason[0] = '\0';
	in->n_crashes = 0;
	memset(in->crash_at, 0, sizeof in->crash_at);
	in->restart_at = in->restart_backoff = 0;
	d->woken = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (was)
		log_warn("dispatch: sink '%s' resumed", sink);
	return 0;
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
	pthread_cond_init(&in->idle, NULL);
	if (!(in->batch = calloc((size_t)c->batch, sizeof *in->batch)))
		return -ENOMEM;
	/* The email sink's default templates also carry the Unsubscribe line. */
	bool email = !strcmp(c->plugin, "email");
	const char *text = c->template_text ? c->template_text
					    : render_default_source(RENDER_TEXT, email);
	const char *md = c->template_markdown ? c->template_markdown
					      : render_default_source(RENDER_MARKDOWN, email);
	if (render_compile(text, RENDER_TEXT, c->footer, &in->text, err, sizeof err) ||
	    render_compile(md, RENDER_MARKDOWN, c->footer, &in->markdown, err, sizeof err)) {
		snprintf(in->error, sizeof in->error, "sink %s: %s", c->name, err);
		return -EINVAL;
	}
	int rc = sink_open(c->name, c->plugin, d->dc->plugin_dir, d->cfg->path, c->options,
			   c->n_options, c->inline_plugin ? SINK_INLINE : 0, &in->sink, in->error,
			   sizeof in->error);
	return rc;
}

static int thread_start(struct dispatch *d, pthread_t *t, void *(*fn)(void *), void *arg,
			const char *what)
{
	return d->thread_start ? d->thread_start(t, fn, arg, what) : pthread_create(t, NULL, fn, arg);
}

/* Start an instance's recorder and worker. On failure neither runs, the
 * sink is closed and in->error says why: the instance shows as not loaded,
 * its notifications wait, and nothing is ever handed to it (busy stays
 * false), so dispatch_stop has nothing to wait for. */
static int instance_run(struct dispatch *d, struct instance *in)
{
	const char *what = "recorder";
	int rc = thread_start(d, &in->recorder, recorder_main, in, what);
	if (rc)
		goto fail;
	in->rec_started = true;
	what = "worker";
	if (!(rc = thread_start(d, &in->thread, deliver_main, in, what))) {
		in->started = true;
		return 0;
	}
	pthread_mutex_lock(&d->lock); /* the recorder has nothing to wait for */
	in->quit = true;
	pthread_cond_broadcast(&in->rec_cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(in->recorder, NULL);
	in->rec_started = false;
fail:
	snprintf(in->error, sizeof in->error, "sink %s: cannot start its %s thread (%s)",
		 in->cfg->name, what, strerror(rc));
	sink_close(in->sink);
	in->sink = NULL;
	return -rc;
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
	d->links = deps->links;
	d->thread_start = deps->thread_start;
	d->rl.interval_ms = 10000;
	d->rand_state = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)d;
	pthread_mutex_init(&d->lock, NULL);
	clock_cond_init(&d->cond); /* the scheduler waits on it with a deadline */
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
		/* before its threads start: they read it without the lock */
		in->crashes_metric = metrics_sink_crashes(d->metrics, in->cfg->name);
		if (instance_run(d, in)) {
			log_error("heraldd: %s; its notifications wait", in->error);
			continue;
		}
		log_info("heraldd: sink '%s' ready (plugin %s)", in->cfg->name, sink_plugin(in->sink));
	}
	if (thread_start(d, &d->scheduler, schedule_main, d, "scheduler")) {
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
	int ix = dispatch_instance_find(d, sink);
	if (ix < 0)
		return -ENOENT;
	if (!d->inst[ix].sink) {
		snprintf(err, errlen, "the sink did not load: %s", d->inst[ix].error);
		return -EINVAL;
	}
	int rc = sink_validate(d->inst[ix].sink, address ? address : "", err, errlen);
	dispatch_sink_called(&d->inst[ix], rc, err);
	return rc ? -EINVAL : 0;
}

int dispatch_status(struct dispatch *d, json_t **out)
{
	json_t *arr = json_array();
	if (!arr)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n_inst; i++) {
		struct instance *in = &d->inst[i];
		json_t *o = json_pack("{s:s, s:s, s:b, s:s?, s:I, s:b, s:s, s:b, s:s?, s:i, s:I, s:i}",
				      "name", in->cfg->name, "plugin", in->cfg->plugin, "loaded",
				      in->sink != NULL, "error", in->sink ? NULL : in->error,
				      "broken_until", (json_int_t)in->broken_until, "busy", in->busy,
				      "isolation", in->cfg->inline_plugin ? "inline" : "process",
				      "paused", in->paused, "paused_reason",
				      in->paused ? in->paused_reason : NULL, "crashes",
				      (int)in->n_crashes, "restart_at", (json_int_t)in->restart_at,
				      "pid", in->sink ? (int)sink_pid(in->sink) : 0);
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
		recorder_free(in->recorded);
		if (in->sink && sink_flush(in->sink, (int64_t)clock_mono_ms() + 5000))
			log_warn("dispatch: sink '%s' did not flush everything", in->cfg->name);
		sink_close(in->sink);
		render_free(in->text);
		render_free(in->markdown);
		free(in->batch);
		pthread_cond_destroy(&in->cond);
		pthread_cond_destroy(&in->rec_cond);
		pthread_cond_destroy(&in->idle);
	}
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
