/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * recent: a ring of referenced entries behind one mutex (see recent.h).
 * Entry seq s lives in slot (s - 1) % capacity, so the ring needs no head
 * or count of its own: the last seq says everything. Not for matching or
 * formatting: preview.c and dashboard.c read it.
 */
#include "recent.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct recent {
	pthread_mutex_t lock; /* guards slot[] and last */
	struct recent_msg **slot;
	size_t capacity;
	uint64_t last;        /* seq of the newest entry; 0: none */
	void (*on_add)(void *arg);
	void *on_add_arg;
};

int recent_new(size_t capacity, struct recent **out)
{
	struct recent *r;
	*out = NULL;
	if (!capacity || capacity > RECENT_MAX)
		return -EINVAL;
	if (!(r = calloc(1, sizeof *r)) || !(r->slot = calloc(capacity, sizeof *r->slot))) {
		free(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->capacity = capacity;
	*out = r;
	return 0;
}

void recent_msg_unref(struct recent_msg *m)
{
	if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
		return;
	json_decref(m->msg);
	meta_release(&m->meta);
	free(m->topic);
	free(m->msg_id);
	free(m);
}

void recent_release(struct recent_msg **out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		recent_msg_unref(out[i]);
}

void recent_free(struct recent *r)
{
	if (!r)
		return;
	recent_release(r->slot, r->capacity);
	pthread_mutex_destroy(&r->lock);
	free(r->slot);
	free(r);
}

static struct recent_msg *entry_new(const struct recent_in *in)
{
	struct recent_msg *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->topic = strdup(in->topic ? in->topic : "");
	m->msg_id = in->msg_id ? strdup(in->msg_id) : NULL;
	if (!m->topic || (in->msg_id && !m->msg_id)) {
		free(m->topic);
		free(m->msg_id);
		free(m);
		return NULL;
	}
	m->time_ms = in->time_ms;
	m->msg = json_incref(in->msg);
	atomic_init(&m->refs, 1);
	return m;
}

void recent_add(struct recent *r, const struct recent_in *in)
{
	struct recent_msg *m = entry_new(in), *old;
	if (in->meta) {
		if (m)
			m->meta = *in->meta;
		else
			meta_release(in->meta);
		memset(in->meta, 0, sizeof *in->meta);
	}
	if (!m)
		return;
	pthread_mutex_lock(&r->lock);
	m->seq = ++r->last;
	size_t i = (size_t)((m->seq - 1) % r->capacity);
	old = r->slot[i];
	r->slot[i] = m;
	pthread_mutex_unlock(&r->lock);
	recent_msg_unref(old); /* outside the lock: freeing a body is not free */
	if (r->on_add)
		r->on_add(r->on_add_arg);
}

void recent_on_add(struct recent *r, void (*fn)(void *arg), void *arg)
{
	r->on_add_arg = arg;
	r->on_add = fn;
}

size_t recent_capacity(const struct recent *r)
{
	return r->capacity;
}

uint64_t recent_last_seq(struct recent *r)
{
	pthread_mutex_lock(&r->lock);
	uint64_t last = r->last;
	pthread_mutex_unlock(&r->lock);
	return last;
}

/* The oldest seq the ring holds (last + 1 when empty). */
static uint64_t oldest_locked(const struct recent *r)
{
	return r->last >= r->capacity ? r->last - r->capacity + 1 : 1;
}

static struct recent_msg *ref_locked(struct recent *r, uint64_t seq)
{
	struct recent_msg *m = r->slot[(seq - 1) % r->capacity];
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

size_t recent_newest(struct recent *r, struct recent_msg **out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&r->lock);
	for (uint64_t s = r->last, lo = oldest_locked(r); s >= lo && s && n < max; s--)
		out[n++] = ref_locked(r, s);
	pthread_mutex_unlock(&r->lock);
	return n;
}

size_t recent_after(struct recent *r, uint64_t after, struct recent_msg **out, size_t max,
		    uint64_t *oldest)
{
	size_t n = 0;
	pthread_mutex_lock(&r->lock);
	uint64_t lo = oldest_locked(r);
	if (oldest)
		*oldest = lo;
	for (uint64_t s = after + 1 > lo ? after + 1 : lo; s <= r->last && n < max; s++)
		out[n++] = ref_locked(r, s);
	pthread_mutex_unlock(&r->lock);
	return n;
}

struct recent_msg *recent_find(struct recent *r, const char *msg_id)
{
	struct recent_msg *found = NULL;
	if (!msg_id)
		return NULL;
	pthread_mutex_lock(&r->lock);
	for (uint64_t s = r->last, lo = oldest_locked(r); s >= lo && s && !found; s--) {
		const struct recent_msg *m = r->slot[(s - 1) % r->capacity];
		if (m->msg_id && !strcmp(m->msg_id, msg_id))
			found = ref_locked(r, s);
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}
