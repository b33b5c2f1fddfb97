/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * deliver: an instance's worker thread. It takes the batch the scheduler
 * handed over, loads each entry's notes, renders what the sink sees (the
 * ABI's notification and item views) and calls the sink once per batch;
 * the outcomes go to the instance's recorder.
 * Not for: deciding what is due (schedule.c) or writing outcomes (recorder.c).
 */
#include "dispatch_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/common/clock.h"
#include "src/common/config.h"
#include "src/web/links.h"
#include "metrics.h"
#include "render.h"

/* ---- the workers ---- */

/* A notification as the ABI shows it, borrowing from its JSON document. */
struct view {
	struct herald_notification n;
	const char **usernames, **packages;
	uint64_t *subs;
	char *json;               /* owned: the public document */
	struct buf text, markdown;
	char *why_url, *unsubscribe_url; /* owned; NULL without a web app */
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

/* The web app's links for one note (links.h): made now, so an
 * unsubscribe link is good for link_ttl from its delivery. */
static int view_links(struct view *v, const struct links *l)
{
	const struct herald_notification *n = &v->n;
	if (!l)
		return 0;
	v->why_url = links_why(l, n->id);
	if (n->n_subscriptions)
		v->unsubscribe_url = links_make(l, "unsubscribe", n->user, n->subscriptions[0],
						(int64_t)(clock_wall_ms() / 1000));
	/* A note without an id or a valid user gets no links; only memory fails. */
	return 0;
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
	if (view_links(v, in->d->links))
		return -ENOMEM;
	struct render_links lk = {v->why_url, v->unsubscribe_url};
	if (render_note_links(in->text, n, &lk, &v->text) ||
	    render_note_links(in->markdown, n, &lk, &v->markdown) || buf_putc(&v->text, 0) ||
	    buf_putc(&v->markdown, 0))
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
	free(v->why_url);
	free(v->unsubscribe_url);
	buf_release(&v->text);
	buf_release(&v->markdown);
}


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
	struct render_links *lk = digest ? calloc(n, sizeof *lk) : NULL;
	if (digest && !lk)
		return -ENOMEM;
	for (size_t i = 0; lk && i < n; i++)
		lk[i] = (struct render_links){j->views[i].why_url, j->views[i].unsubscribe_url};
	if (digest) {
		struct buf ignored = BUF_INIT;
		rc = render_digest_links(in->text, j->be->e.user, j->ptrs, lk, n,
					 in->d->dc->digest_max_bytes, &j->subject, &j->text);
		if (!rc)
			rc = render_digest_links(in->markdown, j->be->e.user, j->ptrs, lk, n,
						 in->d->dc->digest_max_bytes, &ignored,
						 &j->markdown);
		buf_release(&ignored);
		free(lk);
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
		.text = j->text.data, .markdown = j->markdown.data,
		/* A digest's unsubscribe link is its first note's subscription's;
		 * "why" is per note, in the text. */
		.unsubscribe_url = j->views[0].unsubscribe_url,
		.why_url = digest ? NULL : j->views[0].why_url};
	return 0;
}

void deliver_job_release(struct job *j)
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
		recorder_free(rec);
		free(batch);
		rec = NULL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = &rec->jobs[i];
		j->be = &rec->batch[i];
		int rc = outbox_load(d->store, &j->be->e, (size_t)d->dc->digest_max_items,
				     &j->notes, &j->more);
		j->unreadable = rc == -EBADMSG; /* the recorder makes it a dead letter */
		if (rc)
			continue; /* dropped meanwhile, or unreadable */
		if (job_build(in, j, &items[m]))
			continue;
		j->ok = true;
		map[m++] = i;
	}
	if (m) {
		metric_add(&d->metrics->delivery_attempts, m);
		dispatch_sink_called(in, sink_deliver(in->sink, items, m, r), r[0].reason);
		for (size_t k = 0; k < m; k++)
			rec->res[map[k]] = r[k];
	}
out:
	free(items);
	free(r);
	free(map);
	return rec;
}


void *deliver_main(void *arg)
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
			recorder_queue_locked(in, r);
		in->n_batch = 0;
		in->busy = false;
		d->woken = true;
		pthread_cond_signal(&d->cond);
		pthread_cond_broadcast(&in->idle);
	}
	in->busy = false;
	pthread_cond_broadcast(&in->rec_cond);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}
