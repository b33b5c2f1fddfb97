/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * match_load: snapshots from the store's user and subscription documents,
 * and the matcher, whose thread keeps the live snapshot up to date as the
 * store changes (see match.h). Not for the index's layout (match_index.c)
 * nor for matching (match.c); the documents' rules are directory.c's.
 */
#include "match.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "match_int.h"
#include "metrics.h"
#include "src/common/clock.h"
#include "src/common/log.h"
#include "store.h"

/* ---- loading from the store ---- */

#define INVALID_LOG_MAX 20 /* lines per load; more are summed up in one */

struct load_ctx {
	struct match_builder *b;
	/* The snapshot being replaced (NULL at start): a subscription that
	 * failed to load into it was logged then and is not logged again. */
	const struct match_snapshot *prev;
	size_t logged, unlogged; /* newly invalid subscriptions, by whether logged */
};

static int load_user(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct load_ctx *c = arg;
	json_t *doc = json_loadb(json, len, 0, NULL);
	json_t *lists = json_object_get(doc, "lists");
	const char *name = json_string_value(json_object_get(doc, "name"));
	size_t n = json_object_size(lists), i = 0;
	const char **names = calloc(n + 1, sizeof *names);
	const char ***items = calloc(n + 1, sizeof *items);
	size_t *counts = calloc(n + 1, sizeof *counts);
	int rc = -ENOMEM;
	if (!names || !items || !counts)
		goto out;
	const char *lname;
	json_t *arr;
	json_object_foreach(lists, lname, arr) {
		names[i] = lname;
		counts[i] = json_array_size(arr);
		if (!(items[i] = calloc(counts[i] + 1, sizeof **items)))
			goto out;
		for (size_t k = 0; k < counts[i]; k++)
			items[i][k] = json_string_value(json_array_get(arr, k));
		i++;
	}
	/* A nameless user is skipped; its subscriptions are then reported as
	 * those of an unknown user. */
	rc = name ? match_builder_user(c->b, name, names, (const char *const *const *)items, counts, n)
		  : 0;
out:
	for (size_t k = 0; items && k < n; k++)
		free(items[k]);
	free(items);
	free(names);
	free(counts);
	json_decref(doc);
	return rc == -EEXIST ? 0 : rc;
}

/* A subscription document's digest interval; 0 for instant delivery. */
static uint32_t digest_of(const json_t *doc)
{
	const char *mode = json_string_value(json_object_get(doc, "mode"));
	if (!mode || strcmp(mode, "digest"))
		return 0;
	json_int_t iv = json_integer_value(json_object_get(doc, "digest_interval"));
	return iv > 0 && iv <= UINT32_MAX ? (uint32_t)iv : 3600;
}

/* The user and id a subscription's key names ("user\0" + u64 BE), for
 * reporting a document too broken to say. */
static uint64_t key_id(const void *key, size_t klen, char *user, size_t ulen)
{
	const unsigned char *k = key;
	uint64_t id = 0;
	size_t n = klen >= 9 ? klen - 9 : 0;
	snprintf(user, ulen, "%.*s", (int)n, (const char *)k);
	for (size_t i = n + 1; klen >= 9 && i < klen; i++)
		id = id << 8 | k[i];
	return id;
}

/* A subscription that is in the store but not in the index: counted in the
 * snapshot, and logged when it is newly so (not on every refresh). */
static int invalid(struct load_ctx *c, const char *user, uint64_t id, const char *why)
{
	if (!c->prev || !match_snapshot_was_invalid(c->prev, id)) {
		if (c->logged < INVALID_LOG_MAX) {
			c->logged++;
			log_warn("match: subscription %llu of '%s' not loaded, it matches nothing (%s)",
				 (unsigned long long)id, user, why);
		} else {
			c->unlogged++;
		}
	}
	return match_builder_invalid(c->b, user, id);
}

/* Add one enabled subscription document; what does not load is invalid(),
 * never fatal (the directory validated it on the way in, so it is a filter
 * the language no longer accepts, or a broken record). */
static int add_sub(struct load_ctx *c, const json_t *doc, const char *kuser, uint64_t kid)
{
	json_t *dests = json_object_get(doc, "destinations");
	const char *user = json_string_value(json_object_get(doc, "user"));
	const char *filter = json_string_value(json_object_get(doc, "filter"));
	uint64_t id = (uint64_t)json_integer_value(json_object_get(doc, "id"));
	struct filter_error why = {0};
	char reason[sizeof why.msg + 32];
	if (!user || !filter)
		return invalid(c, kuser, kid, "not a subscription document");
	size_t n = json_array_size(dests);
	uint64_t *ids = calloc(n + 1, sizeof *ids);
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ids[i] = (uint64_t)json_integer_value(json_array_get(dests, i));
	int rc = match_builder_sub_why(c->b, user, id, filter, ids, n, digest_of(doc), &why);
	free(ids);
	if (rc == -EINVAL) {
		snprintf(reason, sizeof reason, "filter %d:%d: %s", why.line, why.col, why.msg);
		rc = invalid(c, user, id, reason);
	} else if (rc == -ENOENT) {
		rc = invalid(c, user, id, "no such user");
	}
	return rc;
}

static int load_sub(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct load_ctx *c = arg;
	char kuser[128];
	uint64_t kid = key_id(key, klen, kuser, sizeof kuser);
	json_t *doc = json_loadb(json, len, 0, NULL);
	int rc = 0;
	if (!json_is_object(doc))
		rc = invalid(c, kuser, kid, "not a JSON object");
	else if (!json_is_false(json_object_get(doc, "enabled")))
		rc = add_sub(c, doc, kuser, kid);
	json_decref(doc);
	return rc;
}

/* End a load: sum up what was not logged one by one, build the index. */
static struct match_snapshot *load_finish(struct load_ctx *c)
{
	if (c->unlogged)
		log_warn("match: %zu more subscriptions not loaded, they match nothing (not listed "
			 "one by one)", c->unlogged);
	return match_builder_finish(c->b);
}

/* Build a snapshot of just these users (the overlay of a small change). */
static int load_users(struct store *st, const struct match_snapshot *prev, char **users, size_t n,
		      struct match_snapshot **out)
{
	struct load_ctx c = {.b = match_builder_new(), .prev = prev};
	struct buf doc = BUF_INIT, prefix = BUF_INIT;
	int rc = c.b ? 0 : -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		rc = store_doc_get(st, STORE_USERS, users[i], strlen(users[i]), &doc);
		if (rc == -ENOENT) { /* deleted: the overlay just hides them */
			rc = 0;
			continue;
		}
		if (!rc)
			rc = load_user(&c, users[i], strlen(users[i]), doc.data, doc.len);
		buf_reset(&prefix);
		if (!rc)
			rc = buf_append(&prefix, users[i], strlen(users[i]) + 1);
		if (!rc)
			rc = store_doc_foreach(st, STORE_SUBS, prefix.data, prefix.len, load_sub, &c);
	}
	buf_release(&doc);
	buf_release(&prefix);
	if (rc) {
		match_builder_free(c.b);
		return rc;
	}
	*out = load_finish(&c);
	return 0;
}

/* Every user and enabled subscription; `prev` as in struct load_ctx. */
static int load_all(struct store *st, const struct match_snapshot *prev,
		    struct match_snapshot **out, char *err, size_t errlen)
{
	struct load_ctx c = {.b = match_builder_new(), .prev = prev};
	if (!c.b)
		return -ENOMEM;
	int rc = store_doc_foreach(st, STORE_USERS, NULL, 0, load_user, &c);
	if (!rc)
		rc = store_doc_foreach(st, STORE_SUBS, NULL, 0, load_sub, &c);
	if (rc) {
		snprintf(err, errlen, "match: cannot load subscriptions (%s)", store_strerror(rc));
		match_builder_free(c.b);
		return rc;
	}
	*out = load_finish(&c);
	return 0;
}

int match_snapshot_load(struct store *st, struct match_snapshot **out, char *err, size_t errlen)
{
	return load_all(st, NULL, out, err, errlen);
}

/* ---- the live snapshot ---- */

/* A quarantine decided by a matching thread, waiting for the refresher to
 * write it to the store. */
struct quarantine_req {
	char *user;
	uint64_t id;
	const char *reason; /* static: MATCH_QUARANTINE_REASON */
};

struct matcher {
	struct store *store;
	/* Guards current, invalid, metrics and the quarantine queue. A leaf:
	 * nothing else is taken while it is held. The commit thread calls
	 * match_run (so on_quarantine, which takes it) inside its store write
	 * transaction; the refresher releases it before any store access. So
	 * the order is: store write transaction, then this lock. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct match_snapshot *current;
	size_t invalid;          /* current's invalid subscriptions */
	struct metrics *metrics; /* borrowed; NULL: nobody to tell */
	uint64_t generation;     /* of the store when current was built */
	struct quarantine_req *queue;
	size_t n_queue, cap_queue;
	bool stopping;
	pthread_t thread;
};

/* From a matching thread (match_snapshot_on_quarantine): queue it for the
 * refresher, which owns the writing; never the store here. If memory runs
 * out the decision stays in memory only (the snapshot skips the
 * subscription until the next rebuild, which strikes it again). */
static void on_quarantine(void *arg, const char *user, uint64_t id, const char *reason)
{
	struct matcher *m = arg;
	char *u = strdup(user);
	pthread_mutex_lock(&m->lock);
	if (u && m->n_queue == m->cap_queue) {
		size_t cap = m->cap_queue ? m->cap_queue * 2 : 8;
		struct quarantine_req *q = realloc(m->queue, cap * sizeof *q);
		if (q) {
			m->queue = q;
			m->cap_queue = cap;
		}
	}
	if (u && m->n_queue < m->cap_queue) {
		m->queue[m->n_queue++] = (struct quarantine_req){u, id, reason};
		u = NULL;
		pthread_cond_signal(&m->wake);
	}
	pthread_mutex_unlock(&m->lock);
	free(u);
}

/* The refresher's thread, without the lock: write each queued quarantine
 * to the store (a change the next refresh then picks up). */
static void persist_quarantines(struct matcher *m, struct quarantine_req *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct directory_error e = {0};
		int rc = directory_sub_quarantine(m->store, q[i].user, q[i].id, q[i].reason, &e);
		if (!rc) {
			log_warn("match: subscription %llu of '%s' quarantined (%s)",
				 (unsigned long long)q[i].id, q[i].user, q[i].reason);
			pthread_mutex_lock(&m->lock);
			if (m->metrics)
				metric_add(&m->metrics->subscriptions_quarantined, 1);
			pthread_mutex_unlock(&m->lock);
		} else if (rc != -ENOENT) { /* deleted meanwhile: nothing to do */
			log_error("match: cannot quarantine subscription %llu of '%s' (%s)",
				  (unsigned long long)q[i].id, q[i].user, e.msg);
		}
		free(q[i].user);
	}
	free(q);
}

static void publish_locked(struct matcher *m)
{
	if (m->metrics)
		metric_set(&m->metrics->subscriptions_invalid, m->invalid);
}

static void swap_in(struct matcher *m, struct match_snapshot *s, uint64_t gen)
{
	struct match_stats st;
	match_snapshot_stats(s, &st);
	pthread_mutex_lock(&m->lock);
	struct match_snapshot *old = m->current;
	m->current = s;
	m->generation = gen;
	m->invalid = st.invalid;
	publish_locked(m);
	pthread_mutex_unlock(&m->lock);
	match_snapshot_unref(old);
}

#define OVERLAY_MAX 2000 /* users changed since the last full rebuild */

/* `a` plus the names in `b` not already there, as a fresh owned array. */
static char **merge_names(char *const *a, size_t na, char *const *b, size_t nb, size_t *n)
{
	char **v = calloc(na + nb + 1, sizeof *v);
	size_t k = 0;
	for (size_t i = 0; v && i < na + nb; i++) {
		const char *name = i < na ? a[i] : b[i - na];
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = !strcmp(v[j], name);
		if (dup)
			continue;
		if (!(v[k] = strdup(name))) {
			while (k)
				free(v[--k]);
			free(v);
			return NULL;
		}
		k++;
	}
	*n = k;
	return v;
}

/* A change of a few users: rebuild only them, layered on the full index.
 * Returns NULL when a full rebuild is the better answer. */
static struct match_snapshot *small_change(struct matcher *m, char **changed, size_t n)
{
	pthread_mutex_lock(&m->lock);
	struct match_snapshot *cur = m->current;
	match_snapshot_ref(cur);
	pthread_mutex_unlock(&m->lock);
	struct match_snapshot *full = cur->base ? cur->base : cur, *overlay = NULL, *out = NULL;
	size_t nu = 0;
	char **users = merge_names(cur->overlay_users, cur->n_overlay_users, changed, n, &nu);
	if (users && nu <= OVERLAY_MAX && !load_users(m->store, cur, users, nu, &overlay) &&
	    (out = match_snapshot_overlay(full, overlay, users, nu)))
		users = NULL; /* the overlay owns them now */
	else
		match_snapshot_unref(overlay);
	for (size_t i = 0; users && i < nu; i++)
		free(users[i]);
	free(users);
	match_snapshot_unref(cur);
	return out;
}

/* Bring the index up to date with the store: small changes as an overlay,
 * anything bigger (or "everything") as a full rebuild. */
static void refresh(struct matcher *m, uint64_t gen, struct log_limit *rl)
{
	char **changed, err[256];
	size_t n;
	bool all;
	uint64_t t0 = clock_mono_us();
	store_take_changed(m->store, &changed, &n, &all);
	struct match_snapshot *s = all ? NULL : small_change(m, changed, n);
	bool partial = s != NULL;
	struct match_snapshot *cur = matcher_acquire(m);
	if (!s && load_all(m->store, cur, &s, err, sizeof err)) {
		log_limited(rl, L_ERROR, "%s", err);
		s = NULL;
	}
	match_snapshot_unref(cur);
	if (s) {
		struct match_stats st;
		match_snapshot_stats(s, &st);
		match_snapshot_on_quarantine(s, on_quarantine, m);
		swap_in(m, s, gen);
		log_info("match: index %s: %zu changed users, %zu subscriptions (%zu slow) in %llu ms",
			 partial ? "updated" : "rebuilt", n, st.subscriptions, st.slow,
			 (unsigned long long)(clock_mono_us() - t0) / 1000);
	}
	for (size_t i = 0; i < n; i++)
		free(changed[i]);
	free(changed);
}

#define UNMUTE_EVERY_MS 1000
#define UNMUTE_BATCH 64

/* Muted subscriptions whose time is up are turned back on (directory.h):
 * an ordinary document change, which the next refresh picks up. */
static void unmute_due(struct matcher *m, uint64_t *last, struct log_limit *rl)
{
	uint64_t now = clock_mono_ms();
	if (now - *last < UNMUTE_EVERY_MS)
		return;
	*last = now;
	int n = directory_unmute_due(m->store, (int64_t)(clock_wall_ms() / 1000), UNMUTE_BATCH);
	if (n > 0)
		log_info("match: %d muted subscription%s turned back on", n, n > 1 ? "s" : "");
	else if (n < 0)
		log_limited(rl, L_ERROR, "match: cannot turn muted subscriptions back on (%s)",
			    store_strerror(n));
}

static void *refresher(void *arg)
{
	struct matcher *m = arg;
	struct log_limit rl = {.interval_ms = 10000}, rl_mute = {.interval_ms = 60000};
	uint64_t last_unmute = 0;
	pthread_mutex_lock(&m->lock);
	while (!m->stopping || m->n_queue) {
		if (!m->n_queue) {
			struct timespec until = clock_deadline(100);
			pthread_cond_timedwait(&m->wake, &m->lock, &until);
		}
		if (m->n_queue) {
			struct quarantine_req *q = m->queue;
			size_t n = m->n_queue;
			m->queue = NULL;
			m->n_queue = m->cap_queue = 0;
			pthread_mutex_unlock(&m->lock);
			persist_quarantines(m, q, n);
			pthread_mutex_lock(&m->lock);
		}
		if (!m->stopping) {
			pthread_mutex_unlock(&m->lock);
			unmute_due(m, &last_unmute, &rl_mute);
			pthread_mutex_lock(&m->lock);
		}
		uint64_t gen = store_doc_generation(m->store);
		if (m->stopping || gen == m->generation)
			continue;
		pthread_mutex_unlock(&m->lock);
		refresh(m, gen, &rl);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int matcher_start(struct store *s, struct matcher **out, char *err, size_t errlen)
{
	struct matcher *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->store = s;
	pthread_mutex_init(&m->lock, NULL);
	clock_cond_init(&m->wake); /* waited on with a deadline */
	m->generation = store_doc_generation(s);
	char **changed;
	size_t n;
	bool all;
	store_take_changed(s, &changed, &n, &all); /* the full load below covers them */
	for (size_t i = 0; i < n; i++)
		free(changed[i]);
	free(changed);
	int rc = match_snapshot_load(s, &m->current, err, errlen);
	if (!rc) {
		struct match_stats st;
		match_snapshot_stats(m->current, &st);
		m->invalid = st.invalid;
		match_snapshot_on_quarantine(m->current, on_quarantine, m);
	}
	if (!rc && (rc = -pthread_create(&m->thread, NULL, refresher, m)))
		snprintf(err, errlen, "match: cannot start the index thread (%s)", strerror(-rc));
	if (rc) {
		match_snapshot_unref(m->current);
		pthread_cond_destroy(&m->wake);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

struct match_snapshot *matcher_acquire(struct matcher *m)
{
	pthread_mutex_lock(&m->lock);
	struct match_snapshot *s = m->current;
	match_snapshot_ref(s);
	pthread_mutex_unlock(&m->lock);
	return s;
}

void matcher_set_metrics(struct matcher *m, struct metrics *metrics)
{
	pthread_mutex_lock(&m->lock);
	m->metrics = metrics;
	publish_locked(m);
	pthread_mutex_unlock(&m->lock);
}

void matcher_stop(struct matcher *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	/* the refresher drained the queue; a late quarantine after it stopped
	 * is dropped (the next start strikes the subscription again) */
	for (size_t i = 0; i < m->n_queue; i++)
		free(m->queue[i].user);
	free(m->queue);
	match_snapshot_unref(m->current);
	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
