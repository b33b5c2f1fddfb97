/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sealer: a batch's messages sealed on a helper thread (see sealer.h). */
#include "sealer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAD_STEP 128 /* notices are padded to a multiple of this */

enum { JOB_NEW, JOB_SEALING, JOB_DONE };

struct sealer {
	struct notice_opts opts;
	struct ece *mine, *helpers; /* one per thread: an ece is not thread-safe */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* guards what follows and every job's state */
	pthread_cond_t cond;  /* any change of it */
	struct seal_job *jobs;
	size_t next; /* the helper looks at jobs[next - 1] next */
	bool busy;      /* the helper is in the batch */
	bool stop;
};

/* notice, padding, encryption: what one job needs, on any thread. */
static void seal(struct ece *e, const struct notice_opts *o, struct seal_job *j)
{
	size_t len, pad;
	char *plain = notice_build(j->it, o, j->budget, &len, j->err, sizeof j->err);

	j->body = NULL;
	if (!plain) {
		j->rc = -EINVAL;
		return;
	}
	/* padding hides the exact length; never past the budget */
	pad = (PAD_STEP - len % PAD_STEP) % PAD_STEP;
	if (len + pad > j->budget)
		pad = j->budget - len;
	j->rc = ece_encrypt(e, j->p256dh, j->auth, (const unsigned char *)plain, len, pad, NULL, NULL,
			    &j->body, &j->body_len);
	if (j->rc)
		snprintf(j->err, sizeof j->err, "encryption failed (%s)", strerror(-j->rc));
	free(plain);
}

/* Claim the helper's next new job: from the batch's end, while the
 * caller, which needs them in order, seals from its start; so neither
 * waits for the other until they meet. NULL when none is left. Locked. */
static struct seal_job *claim_locked(struct sealer *s)
{
	while (s->jobs && s->next > 0) {
		struct seal_job *j = &s->jobs[--s->next];
		if (j->state == JOB_NEW && j->it) {
			j->state = JOB_SEALING;
			return j;
		}
	}
	return NULL;
}

static void *helper(void *arg)
{
	struct sealer *s = arg;
	struct seal_job *j;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		if (!(j = claim_locked(s))) {
			s->busy = false;
			pthread_cond_broadcast(&s->cond);
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		seal(s->helpers, &s->opts, j);
		pthread_mutex_lock(&s->lock);
		j->state = JOB_DONE;
		pthread_cond_broadcast(&s->cond);
	}
	s->busy = false;
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int sealer_start(const struct notice_opts *o, struct sealer **out, char *err, size_t errlen)
{
	struct sealer *s = calloc(1, sizeof *s);
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->opts = *o;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if ((rc = ece_new(&s->mine)) || (rc = ece_new(&s->helpers))) {
		snprintf(err, errlen, "OpenSSL cannot give AES-128-GCM, HKDF or P-256 (%s)",
			 strerror(-rc));
		sealer_stop(s);
		return rc;
	}
	if ((rc = pthread_create(&s->thread, NULL, helper, s))) {
		snprintf(err, errlen, "cannot start the sealing thread: %s", strerror(rc));
		sealer_stop(s);
		return -rc;
	}
	s->running = true;
	*out = s;
	return 0;
}

void sealer_stop(struct sealer *s)
{
	if (!s)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	ece_free(s->mine);
	ece_free(s->helpers);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void sealer_submit(struct sealer *s, struct seal_job *jobs, size_t n)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < n; i++)
		jobs[i].state = JOB_NEW;
	s->jobs = jobs;
	s->next = n;
	s->busy = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int sealer_take(struct sealer *s, struct seal_job *j)
{
	bool mine = false;

	pthread_mutex_lock(&s->lock);
	if (j->state == JOB_NEW) {
		j->state = JOB_SEALING;
		mine = true;
	}
	while (!mine && j->state != JOB_DONE)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	if (mine) {
		seal(s->mine, &s->opts, j);
		pthread_mutex_lock(&s->lock);
		j->state = JOB_DONE;
		pthread_mutex_unlock(&s->lock);
	}
	return j->rc;
}

void sealer_finish(struct sealer *s)
{
	pthread_mutex_lock(&s->lock);
	s->next = 0; /* nothing more to claim */
	while (s->busy)
		pthread_cond_wait(&s->cond, &s->lock);
	s->jobs = NULL;
	pthread_mutex_unlock(&s->lock);
}
