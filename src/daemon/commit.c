/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * commit: the committer (see commit.h): per-source sequence tracking, dedup,
 * understanding and matching, and the one store transaction per batch that
 * makes messages accepted. Not for parsing or verifying (ingest) nor for
 * delivering (dispatch); the sequence arithmetic itself is seqtrack's.
 */
#include "commit.h"

#include <assert.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/buf.h"
#include "src/common/clock.h"
#include "src/common/log.h"
#include "src/common/meta.h"
#include "src/schema/schema.h"
#include "src/web/recent.h"
#include "dispatch.h"
#include "match.h"
#include "notify.h"
#include "outbox.h"
#include "seqtrack.h"
#include "store.h"

/* Intake stops when less than a reserve of the map is free (a tenth, at
 * least 2 MiB, at most half), and resumes once twice the reserve is free:
 * delivery's deletes are copy-on-write and need free pages to free pages.
 * Over half full, batches are small (commit_batch_max). */
/* After a failed commit (not a full map), intake pauses this long, doubling
 * while commits keep failing. */
#define RETRY_MIN_MS 1000u
#define RETRY_MAX_MS 30000u
#define RESERVE_MIN (2.0 * 1024 * 1024)
#define SMALL_BATCH 32

struct commit {
	const struct config *cfg;
	struct store *store;
	struct schema *schema;
	struct matcher *matcher;
	struct metrics *metrics;
	struct dispatch *dispatch;
	struct recent *recent;          /* NULL: nobody keeps recent messages */
	struct commit_sources sources;
	struct meta *meta;              /* [COMMIT_BATCH_MAX] with recent: each item's
					 * meta, kept for recent_add until the batch ends */
	struct ingest_source *source;   /* copies of sources.get(i); strings borrowed */
	struct seqtrack *seq;           /* one per source */
	bool *catch_up;                 /* ask for everything after the stored cursor */
	bool *cursor_dirty;             /* the cursor moved in this batch */
	struct match_scratch *mscratch;
	struct match_snapshot *snap;    /* held for one batch */
	struct buf common, doc;         /* scratch for notifications */
	uint64_t batch_ms;              /* wall clock of the batch being committed */
	uint64_t batch_lost;            /* given up in this batch; lost once it commits */
	bool intake_stopped;            /* the store is full: take nothing */
	uint64_t retry_ms;              /* after a failed commit: no intake before
					 * this (monotonic ms); 0 when none failed */
	uint64_t retry_backoff_ms;      /* doubles per failure in a row */
	double usage;                   /* store_usage before the batch */
	struct log_limit rl_store;
};

/* What one accepted message matched, counted once its batch commits. */
struct matched {
	uint32_t notifications; /* (user, destination) pairs */
	uint32_t subscriptions;
	uint32_t stored;        /* new notifications in the outbox */
};

/* 16 bytes that identify a message for deduplication: its msg_id, or its
 * bytes when it has none. */
static void message_id(const struct ingest_item *it, unsigned char id[STORE_ID_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *p = it->env.msg_id ? it->env.msg_id : it->raw;
	size_t len = it->env.msg_id ? strlen(it->env.msg_id) : it->raw_len;
	EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL);
	memcpy(id, md, STORE_ID_LEN);
}

static void print_accepted(const struct ingest_item *it, const struct matched *m)
{
	printf("accepted %s", it->env.topic);
	if (it->signer)
		printf(" signer=%s", it->signer);
	if (it->has_seq)
		printf(" seq=%llu", (unsigned long long)it->seq);
	if (it->replayed)
		printf(" (replayed)");
	if (m->notifications)
		printf(" -> %u notifications (%u subscriptions)", m->notifications, m->subscriptions);
	putchar('\n');
}

/* Put one notification per hit into the outbox, in the batch transaction. */
static int store_hits(struct commit *c, struct store_txn *txn, const struct match_result *r,
		      const unsigned char key[STORE_ID_LEN], uint32_t *stored)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < r->n_hits; i++) {
		const struct match_hit *h = &r->hits[i];
		unsigned char id[OUTBOX_ID_LEN];
		char hex[OUTBOX_HEX_LEN + 1];
		outbox_note_id(key, h->user, h->dest, id);
		outbox_hex(id, hex);
		buf_reset(&c->doc);
		if ((rc = notify_doc(hex, h->user, h->dest, h->subs, h->n_subs, c->batch_ms,
				     c->common.data, c->common.len, &c->doc)))
			break;
		struct outbox_add a = {id, h->user, h->dest, c->doc.data, c->doc.len, c->batch_ms,
				       h->digest_interval, (uint32_t)c->cfg->dispatch.digest_max_items};
		rc = outbox_put(txn, &a);
		if (rc > 0)
			(*stored)++;
		rc = rc < 0 ? rc : 0;
	}
	return rc;
}

/* Understand a new message (schema rules), match it against every
 * subscription and store its notifications. Failing to understand is not
 * failing to accept: the message is still accepted, it just notifies no
 * one. Only a store error fails (and so rewinds) the batch. */
static int understand_and_match(struct commit *c, struct store_txn *txn, struct ingest_item *it,
				const unsigned char key[STORE_ID_LEN], struct meta *keep,
				struct matched *out)
{
	const json_t *msg = envelope_msg(&it->env);
	struct meta meta = {0};
	struct match_result r;
	int rc = 0;
	*out = (struct matched){0};
	if (!msg || schema_describe_headers(c->schema, it->env.topic, msg, it->headers, &meta)) {
		metric_add(&c->metrics->understand_errors, 1);
		meta_release(&meta);
		return 0;
	}
	struct msg_view v = {it->env.topic, msg, &meta};
	buf_reset(&c->common);
	if (match_run(c->snap, &v, c->mscratch, &r)) {
		metric_add(&c->metrics->understand_errors, 1);
	} else if (r.n_hits && notify_common(&it->env, &meta, &c->common)) {
		metric_add(&c->metrics->understand_errors, 1);
	} else {
		out->notifications = (uint32_t)r.n_hits;
		out->subscriptions = (uint32_t)r.n_matched;
		rc = store_hits(c, txn, &r, key, &out->stored);
	}
	if (keep) /* recent_add takes it once the batch commits */
		*keep = meta;
	else
		meta_release(&meta);
	return rc;
}

/* Sequence bookkeeping for one verified message. */
static void track(struct commit *c, const struct ingest_item *it, bool is_new)
{
	struct seqtrack *st = &c->seq[it->source];
	uint64_t missing;
	int ev = seqtrack_observe(st, it->seq, &missing);
	if (ev < 0) /* not recorded: the number looks missing later and is asked
		     * for again, where the dedup window drops it */
		log_limited(&c->rl_store, L_WARN, "heraldd '%s': cannot track sequence %llu (%s)",
			    c->source[it->source].name, (unsigned long long)it->seq, strerror(-ev));
	if (ev == SEQ_GAP || ev == SEQ_RESET) {
		metric_add(&c->metrics->gaps, 1);
		metric_add(&c->metrics->gap_missing, missing);
		log_info("heraldd '%s': gap of %llu before sequence %llu", c->source[it->source].name,
			 (unsigned long long)missing, (unsigned long long)it->seq);
	}
	if (ev == SEQ_RESET) {
		/* Far beyond what a replay could fill: the older numbers are not
		 * counted lost, only the last max_gap are asked for. */
		metric_add(&c->metrics->sequence_resets, 1);
		log_warn("heraldd '%s': sequence jumped to %llu, more than %u past the last one; "
			 "taken as a new start", c->source[it->source].name,
			 (unsigned long long)it->seq, SEQ_MAX_GAP);
	} else if (ev == SEQ_OLD && is_new && !it->replayed) {
		/* A new message with an old number: the publisher started over. */
		metric_add(&c->metrics->publisher_restarts, 1);
		seqtrack_restart(st, it->seq);
	}
	c->cursor_dirty[it->source] = true;
}

static void replay_done(struct commit *c, const struct ingest_item *it)
{
	struct seq_range want;
	struct seqtrack *st = &c->seq[it->source];
	bool was_pending = st->pending;
	uint64_t lost = seqtrack_replay_done(st, it->last_seq, it->more, it->failed, &want);
	if (lost) {
		c->batch_lost += lost;
		log_warn("heraldd '%s': %llu messages could not be replayed and are lost",
			 c->source[it->source].name, (unsigned long long)lost);
	}
	if (was_pending && st->pending)
		c->sources.request_replay(c->sources.arg, it->source, want.lo, want.hi);
	c->cursor_dirty[it->source] = true;
}

/* After a failed commit the in-memory sequence state ran ahead of the
 * store: go back to the durable cursors and let replay refill. */
static void rewind_sources(struct commit *c)
{
	for (size_t s = 0; s < c->sources.n; s++) {
		uint64_t cur;
		bool stored = !store_cursor_get(c->store, c->source[s].key, &cur);
		if (stored)
			seqtrack_resume(&c->seq[s], cur);
		else
			seqtrack_release(&c->seq[s]);
		/* Catch up only from where we were: a first contact starts now. */
		c->catch_up[s] = stored && c->source[s].sequenced;
		c->cursor_dirty[s] = false;
	}
}

static int process_item(struct commit *c, struct store_txn *txn, struct ingest_item *it,
			struct meta *keep, bool *accept, struct matched *m)
{
	*accept = false;
	*m = (struct matched){0};
	if (it->kind == INGEST_REPLAY_DONE) {
		replay_done(c, it);
		return 0;
	}
	if (!it->ok) {
		/* A relay's number on a bad message: not missing, just bad. */
		if (it->via_relay && it->has_seq) {
			uint64_t missing;
			seqtrack_observe(&c->seq[it->source], it->seq, &missing);
			c->cursor_dirty[it->source] = true;
		}
		return 0;
	}
	unsigned char id[STORE_ID_LEN];
	message_id(it, id);
	int is_new = store_mark_seen(txn, id);
	if (is_new < 0)
		return is_new;
	if (it->has_seq)
		track(c, it, is_new);
	if (!is_new) {
		metric_add(&c->metrics->duplicates, 1);
		return 0;
	}
	*accept = it->wanted;
	return *accept ? understand_and_match(c, txn, it, id, keep, m) : 0;
}

/* Every item of the batch, against one snapshot of the subscriptions. */
static int process_items(struct commit *c, struct store_txn *txn, struct ingest_item **items,
			 size_t n, bool *accept, struct matched *matched)
{
	int rc = 0;
	c->snap = matcher_acquire(c->matcher);
	for (size_t i = 0; !rc && i < n; i++)
		rc = process_item(c, txn, items[i], c->meta ? &c->meta[i] : NULL, &accept[i],
				  &matched[i]);
	match_snapshot_unref(c->snap);
	c->snap = NULL;
	return rc;
}

/* Write the cursors that moved. */
static int put_cursors(struct commit *c, struct store_txn *txn)
{
	int rc = 0;
	for (size_t s = 0; !rc && s < c->sources.n; s++) {
		if (!c->cursor_dirty[s] || !c->seq[s].known)
			continue;
		if (!c->source[s].sequenced) {
			/* Nowhere to replay from: holes are lost at once. */
			c->batch_lost += seqtrack_skip_to(&c->seq[s], c->seq[s].max_seen);
		}
		rc = store_cursor_put(txn, c->source[s].key, c->seq[s].cursor);
		c->cursor_dirty[s] = false;
	}
	return rc;
}

/* ---- a full store: stop taking messages, let delivery free space ---- */

/* Any other failed commit (EIO from a full or failing disk, EFBIG...):
 * take nothing until a retry time, doubling while commits keep failing, so
 * a sick disk costs no replay storm and no false loss. */
static void pause_intake(struct commit *c, int rc)
{
	c->retry_backoff_ms = c->retry_backoff_ms ? c->retry_backoff_ms * 2 : RETRY_MIN_MS;
	if (c->retry_backoff_ms > RETRY_MAX_MS)
		c->retry_backoff_ms = RETRY_MAX_MS;
	c->retry_ms = clock_mono_ms() + c->retry_backoff_ms;
	atomic_store(&c->metrics->intake_stopped, 1);
	metric_add(&c->metrics->intake_stops, 1);
	log_limited(&c->rl_store, L_ERROR, "heraldd: the store cannot commit (%s); intake paused "
		    "for %llu ms, missed messages will be replayed", store_strerror(rc),
		    (unsigned long long)c->retry_backoff_ms);
}

static void stop_intake(struct commit *c)
{
	if (c->intake_stopped)
		return;
	c->intake_stopped = true;
	atomic_store(&c->metrics->intake_stopped, 1);
	metric_add(&c->metrics->intake_stops, 1);
	log_error("heraldd: the store is full (map_size_mb = %zu); intake stopped until delivery "
		  "frees space; missed messages will be replayed", c->cfg->map_size >> 20);
}

bool commit_intake_open(struct commit *c)
{
	double used;
	if (c->retry_ms) {
		if (clock_mono_ms() < c->retry_ms)
			return false;
		c->retry_ms = 0; /* try one batch; a failure pauses again, longer */
		if (!c->intake_stopped)
			atomic_store(&c->metrics->intake_stopped, 0);
	}
	if (store_usage(c->store, &used))
		return !c->intake_stopped;
	c->usage = used;
	double map = (double)c->cfg->map_size;
	double reserve = map / 10 > RESERVE_MIN ? map / 10 : RESERVE_MIN;
	if (reserve > map / 2)
		reserve = map / 2;
	double free_bytes = (1 - used) * map;
	if (!c->intake_stopped && free_bytes < reserve) {
		stop_intake(c);
	} else if (c->intake_stopped && free_bytes >= 2 * reserve) {
		c->intake_stopped = false;
		atomic_store(&c->metrics->intake_stopped, 0);
		log_info("heraldd: the store has room again (%.0f%% used); intake resumed", used * 100);
	}
	return !c->intake_stopped;
}

size_t commit_batch_max(const struct commit *c)
{
	/* Near full, small batches: one batch must never jump the reserve. */
	return c->usage < 0.50 ? COMMIT_BATCH_MAX : SMALL_BATCH;
}

/* ---- the batch ---- */

static void batch_failed(struct commit *c, int rc, size_t n)
{
	metric_add(&c->metrics->store_errors, 1);
	log_limited(&c->rl_store, L_ERROR, "heraldd: commit of %zu messages failed (%s); "
			"they will be replayed", n, store_strerror(rc));
	rewind_sources(c);
	if (rc == -ENOSPC)
		stop_intake(c);
	else
		pause_intake(c, rc);
}

/* A committed message into the recent store (the web app's preview and
 * dashboard): the body jansson parsed and the meta move there as they are. */
static void remember(struct commit *c, struct ingest_item *it, struct meta *meta)
{
	struct recent_in in = {.topic = it->env.topic, .msg_id = it->env.msg_id,
			       .msg = (json_t *)envelope_msg(&it->env), .meta = meta,
			       .time_ms = (int64_t)c->batch_ms};
	recent_add(c->recent, &in);
}

/* The metas the batch kept and did not hand to the recent store. */
static void release_metas(struct commit *c, size_t n)
{
	for (size_t i = 0; c->meta && i < n; i++)
		meta_release(&c->meta[i]);
}

/* Count what the committed batch accepted; wake delivery if it stored any. */
static void batch_done(struct commit *c, struct ingest_item **items, size_t n, const bool *accept,
		       const struct matched *matched)
{
	uint64_t stored = 0;
	metric_add(&c->metrics->commits, 1);
	metric_add(&c->metrics->lost, c->batch_lost);
	for (size_t i = 0; i < n; i++) {
		if (!accept[i])
			continue;
		metric_add(&c->metrics->accepted, 1);
		if (items[i]->replayed)
			metric_add(&c->metrics->replayed, 1);
		stored += matched[i].stored;
		if (matched[i].notifications) {
			metric_add(&c->metrics->matched, 1);
			metric_add(&c->metrics->notifications, matched[i].notifications);
			metric_add(&c->metrics->subscription_matches, matched[i].subscriptions);
		}
		if (c->cfg->print_accepted)
			print_accepted(items[i], &matched[i]);
		if (c->recent)
			remember(c, items[i], &c->meta[i]);
	}
	if (c->cfg->print_accepted)
		fflush(stdout);
	if (stored) {
		metric_add(&c->metrics->stored, stored);
		dispatch_wake(c->dispatch);
	}
}

int commit_batch(struct commit *c, struct ingest_item **items, size_t n)
{
	struct store_txn *txn;
	bool accept[COMMIT_BATCH_MAX];
	struct matched matched[COMMIT_BATCH_MAX];
	assert(n <= COMMIT_BATCH_MAX);
	c->batch_ms = clock_wall_ms();
	/* Losses count only when the batch that gives them up commits: after a
	 * failure the rewind makes the same numbers missing again. */
	c->batch_lost = 0;
	int rc = store_begin(c->store, &txn);
	if (rc)
		goto out;
	if ((rc = process_items(c, txn, items, n, accept, matched)) || (rc = put_cursors(c, txn))) {
		store_abort(txn);
		goto out;
	}
	rc = store_commit(txn);
out:
	if (rc) {
		batch_failed(c, rc, n);
	} else {
		c->retry_backoff_ms = 0;
		batch_done(c, items, n, accept, matched);
	}
	release_metas(c, n);
	return rc;
}

void commit_request_replays(struct commit *c)
{
	if (c->intake_stopped || c->retry_ms)
		return; /* the answers would wait in ingest's ring, unread */
	for (size_t s = 0; s < c->sources.n; s++) {
		struct seq_range want;
		if (!c->source[s].sequenced)
			continue;
		if (seqtrack_next_request(&c->seq[s], c->catch_up[s], &want)) {
			c->catch_up[s] = false;
			if (c->sources.request_replay(c->sources.arg, (uint32_t)s, want.lo, want.hi))
				log_error("heraldd: cannot queue a replay request (%s)", strerror(errno));
		}
	}
}

/* ---- lifecycle ---- */

int commit_new(const struct commit_deps *deps, struct commit **out)
{
	size_t n = deps->sources.n;
	struct commit *c = calloc(1, sizeof *c);
	*out = NULL;
	if (!c)
		return -ENOMEM;
	*c = (struct commit){.cfg = deps->cfg, .store = deps->store, .schema = deps->schema,
			     .matcher = deps->matcher, .metrics = deps->metrics,
			     .dispatch = deps->dispatch, .recent = deps->recent,
			     .sources = deps->sources,
			     .common = BUF_INIT, .doc = BUF_INIT,
			     .rl_store = {.interval_ms = 10000}};
	c->source = calloc(n ? n : 1, sizeof *c->source);
	c->seq = calloc(n ? n : 1, sizeof *c->seq);
	c->catch_up = calloc(n ? n : 1, sizeof *c->catch_up);
	c->cursor_dirty = calloc(n ? n : 1, sizeof *c->cursor_dirty);
	c->mscratch = match_scratch_new();
	if (c->recent && !(c->meta = calloc(COMMIT_BATCH_MAX, sizeof *c->meta))) {
		commit_free(c);
		return -ENOMEM;
	}
	if (!c->source || !c->seq || !c->catch_up || !c->cursor_dirty || !c->mscratch) {
		commit_free(c);
		return -ENOMEM;
	}
	for (size_t s = 0; s < n; s++)
		c->source[s] = *deps->sources.get(deps->sources.arg, s);
	rewind_sources(c);
	*out = c;
	return 0;
}

void commit_free(struct commit *c)
{
	if (!c)
		return;
	if (c->seq)
		for (size_t s = 0; s < c->sources.n; s++)
			seqtrack_release(&c->seq[s]);
	match_scratch_free(c->mscratch);
	buf_release(&c->common);
	buf_release(&c->doc);
	free(c->source);
	free(c->seq);
	free(c->catch_up);
	free(c->cursor_dirty);
	free(c->meta);
	free(c);
}
