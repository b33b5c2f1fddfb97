/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * heraldd: the daemon. main() wires the modules together; the committer
 * loop here decides what is accepted: it takes verified envelopes in arrival
 * order from ingest, runs per-source gap tracking (seqtrack), deduplicates by
 * msg_id and commits each batch in one store transaction. A message counts as
 * accepted only after that commit. Not for parsing, verifying or I/O details:
 * those live in their modules.
 */
#include "herald_build.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "src/api/api.h"
#include "src/common/config.h"
#include "dispatch.h"
#include "ingest.h"
#include "src/common/log.h"
#include "match.h"
#include "src/common/meta.h"
#include "metrics.h"
#include "notify.h"
#include "outbox.h"
#include "src/schema/schema.h"
#include "seqtrack.h"
#include "store.h"
#include "src/common/verify.h"
#include "src/common/clock.h"
#include "src/common/statelock.h"

#define BATCH_MAX 1024
/* Intake stops when less than a reserve of the map is free (a tenth, at
 * least 2 MiB, at most half), and resumes once twice the reserve is free:
 * delivery's deletes are copy-on-write and need free pages to free pages.
 * Over half full, batches are small (see run). */
#define RESERVE_MIN (2.0 * 1024 * 1024)

/* Signal flags: the only mutable globals, set by handlers, read by main. */
static volatile sig_atomic_t g_stop, g_reload;

struct daemon {
	struct config cfg;
	struct store *store;
	struct metrics metrics;
	struct ingest *ingest;
	struct api *api;
	struct schema *schema;  /* the rules that describe messages; read by the API */
	struct matcher *matcher; /* the live subscription index */
	struct match_scratch *mscratch; /* the committer's */
	struct match_snapshot *snap;    /* held for one batch */
	struct dispatch *dispatch;
	struct buf common, doc;         /* the committer's scratch for notifications */
	uint64_t batch_ms;              /* wall clock of the batch being committed */
	bool intake_stopped;            /* the store is full: take nothing */
	double usage;                   /* store_usage before the batch */
	struct verifier *verifier; /* the one ingest uses; replaced on reload */
	struct verifier *retired;  /* the one before, freed once the ring passed retire_mark */
	uint64_t retire_mark;
	struct seqtrack *seq;   /* one per ingest source */
	bool *catch_up;         /* ask for everything after the stored cursor */
	bool *cursor_dirty;
	struct log_limit rl_store;
	struct statelock *lock; /* this state_dir is ours; taken first, dropped last */
};

/* What one accepted message matched, counted once its batch commits. */
struct matched {
	uint32_t notifications; /* (user, destination) pairs */
	uint32_t subscriptions;
	uint32_t stored;        /* new notifications in the outbox */
};

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		g_reload = 1;
	else
		g_stop = 1;
}

static void notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

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
static int store_hits(struct daemon *d, struct store_txn *txn, const struct match_result *r,
		      const unsigned char key[STORE_ID_LEN], uint32_t *stored)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < r->n_hits; i++) {
		const struct match_hit *h = &r->hits[i];
		unsigned char id[OUTBOX_ID_LEN];
		char hex[OUTBOX_HEX_LEN + 1];
		outbox_note_id(key, h->user, h->dest, id);
		outbox_hex(id, hex);
		buf_reset(&d->doc);
		if ((rc = notify_doc(hex, h->user, h->dest, h->subs, h->n_subs, d->batch_ms,
				     d->common.data, d->common.len, &d->doc)))
			break;
		struct outbox_add a = {id, h->user, h->dest, d->doc.data, d->doc.len, d->batch_ms,
				       h->digest_interval, (uint32_t)d->cfg.dispatch.digest_max_items};
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
static int understand_and_match(struct daemon *d, struct store_txn *txn, struct ingest_item *it,
				const unsigned char key[STORE_ID_LEN], struct matched *out)
{
	const json_t *msg = envelope_msg(&it->env);
	struct meta meta = {0};
	struct match_result r;
	int rc = 0;
	*out = (struct matched){0};
	if (!msg || schema_describe(d->schema, it->env.topic, msg, &meta)) {
		metric_add(&d->metrics.understand_errors, 1);
		meta_release(&meta);
		return 0;
	}
	struct msg_view v = {it->env.topic, msg, &meta};
	buf_reset(&d->common);
	if (match_run(d->snap, &v, d->mscratch, &r)) {
		metric_add(&d->metrics.understand_errors, 1);
	} else if (r.n_hits && notify_common(&it->env, &meta, &d->common)) {
		metric_add(&d->metrics.understand_errors, 1);
	} else {
		out->notifications = (uint32_t)r.n_hits;
		out->subscriptions = (uint32_t)r.n_matched;
		rc = store_hits(d, txn, &r, key, &out->stored);
	}
	meta_release(&meta);
	return rc;
}

/* Sequence bookkeeping for one verified message. */
static void track(struct daemon *d, const struct ingest_item *it, bool is_new)
{
	struct seqtrack *st = &d->seq[it->source];
	uint64_t missing;
	int ev = seqtrack_observe(st, it->seq, &missing);
	if (ev == SEQ_GAP) {
		metric_add(&d->metrics.gaps, 1);
		metric_add(&d->metrics.gap_missing, missing);
		log_info("heraldd '%s': gap of %llu before sequence %llu",
			 ingest_source_get(d->ingest, it->source)->name,
			 (unsigned long long)missing, (unsigned long long)it->seq);
	} else if (ev == SEQ_OLD && is_new && !it->replayed) {
		/* A new message with an old number: the publisher started over. */
		metric_add(&d->metrics.publisher_restarts, 1);
		seqtrack_restart(st, it->seq);
	}
	d->cursor_dirty[it->source] = true;
}

static void replay_done(struct daemon *d, const struct ingest_item *it)
{
	struct seq_range want;
	struct seqtrack *st = &d->seq[it->source];
	bool was_pending = st->pending;
	uint64_t lost = seqtrack_replay_done(st, it->last_seq, it->more, it->failed, &want);
	if (lost) {
		metric_add(&d->metrics.lost, lost);
		log_warn("heraldd '%s': %llu messages could not be replayed and are lost",
			 ingest_source_get(d->ingest, it->source)->name, (unsigned long long)lost);
	}
	if (was_pending && st->pending)
		ingest_request_replay(d->ingest, it->source, want.lo, want.hi);
	d->cursor_dirty[it->source] = true;
}

/* After a failed commit the in-memory sequence state ran ahead of the
 * store: go back to the durable cursors and let replay refill. */
static void rewind_sources(struct daemon *d)
{
	for (size_t s = 0; s < ingest_source_count(d->ingest); s++) {
		uint64_t c;
		bool stored = !store_cursor_get(d->store, ingest_source_get(d->ingest, s)->key, &c);
		if (stored)
			seqtrack_resume(&d->seq[s], c);
		else
			seqtrack_release(&d->seq[s]);
		/* Catch up only from where we were: a first contact starts now. */
		d->catch_up[s] = stored && ingest_source_get(d->ingest, s)->sequenced;
		d->cursor_dirty[s] = false;
	}
}

static int process_item(struct daemon *d, struct store_txn *txn, struct ingest_item *it,
			bool *accept, struct matched *m)
{
	*accept = false;
	*m = (struct matched){0};
	if (it->kind == INGEST_REPLAY_DONE) {
		replay_done(d, it);
		return 0;
	}
	if (!it->ok) {
		/* A relay's number on a bad message: not missing, just bad. */
		if (it->nparts == 3 && it->has_seq) {
			uint64_t missing;
			seqtrack_observe(&d->seq[it->source], it->seq, &missing);
			d->cursor_dirty[it->source] = true;
		}
		return 0;
	}
	unsigned char id[STORE_ID_LEN];
	message_id(it, id);
	int is_new = store_mark_seen(txn, id);
	if (is_new < 0)
		return is_new;
	if (it->has_seq)
		track(d, it, is_new);
	if (!is_new) {
		metric_add(&d->metrics.duplicates, 1);
		return 0;
	}
	*accept = it->wanted;
	return *accept ? understand_and_match(d, txn, it, id, m) : 0;
}

static void stop_intake(struct daemon *d);

static void commit_batch(struct daemon *d, struct ingest_item **items, size_t n)
{
	struct store_txn *txn;
	bool accept[BATCH_MAX];
	struct matched matched[BATCH_MAX];
	uint64_t stored = 0;
	d->snap = matcher_acquire(d->matcher);
	d->batch_ms = clock_wall_ms();
	int rc = store_begin(d->store, &txn);
	for (size_t i = 0; !rc && i < n; i++)
		rc = process_item(d, txn, items[i], &accept[i], &matched[i]);
	match_snapshot_unref(d->snap);
	d->snap = NULL;
	for (size_t s = 0; !rc && s < ingest_source_count(d->ingest); s++) {
		if (!d->cursor_dirty[s] || !d->seq[s].known)
			continue;
		if (!ingest_source_get(d->ingest, s)->sequenced) {
			/* Nowhere to replay from: holes are lost at once. */
			uint64_t lost = seqtrack_skip_to(&d->seq[s], d->seq[s].max_seen);
			metric_add(&d->metrics.lost, lost);
		}
		rc = store_cursor_put(txn, ingest_source_get(d->ingest, s)->key, d->seq[s].cursor);
		d->cursor_dirty[s] = false;
	}
	if (!rc)
		rc = store_commit(txn);
	else if (txn)
		store_abort(txn);
	if (rc) {
		metric_add(&d->metrics.store_errors, 1);
		log_limited(&d->rl_store, L_ERROR, "heraldd: commit of %zu messages failed (%s); "
				"they will be replayed", n, store_strerror(rc));
		rewind_sources(d);
		if (rc == -ENOSPC)
			stop_intake(d);
		return;
	}
	metric_add(&d->metrics.commits, 1);
	for (size_t i = 0; i < n; i++) {
		if (!accept[i])
			continue;
		metric_add(&d->metrics.accepted, 1);
		if (items[i]->replayed)
			metric_add(&d->metrics.replayed, 1);
		stored += matched[i].stored;
		if (matched[i].notifications) {
			metric_add(&d->metrics.matched, 1);
			metric_add(&d->metrics.notifications, matched[i].notifications);
			metric_add(&d->metrics.subscription_matches, matched[i].subscriptions);
		}
		if (d->cfg.print_accepted)
			print_accepted(items[i], &matched[i]);
	}
	if (d->cfg.print_accepted)
		fflush(stdout);
	if (stored) {
		metric_add(&d->metrics.stored, stored);
		dispatch_wake(d->dispatch);
	}
}

/* ---- a full store: stop taking messages, let delivery free space ---- */

static void stop_intake(struct daemon *d)
{
	if (d->intake_stopped)
		return;
	d->intake_stopped = true;
	atomic_store(&d->metrics.intake_stopped, 1);
	metric_add(&d->metrics.intake_stops, 1);
	log_error("heraldd: the store is full (map_size_mb = %zu); intake stopped until delivery "
		  "frees space; missed messages will be replayed", d->cfg.map_size >> 20);
}

/* Check the store's fill level before every batch (a read transaction and
 * a walk of LMDB's short freelist: microseconds per batch, not per
 * message). True: take input. */
static bool intake_open(struct daemon *d)
{
	double used;
	if (store_usage(d->store, &used))
		return !d->intake_stopped;
	d->usage = used;
	double map = (double)d->cfg.map_size;
	double reserve = map / 10 > RESERVE_MIN ? map / 10 : RESERVE_MIN;
	if (reserve > map / 2)
		reserve = map / 2;
	double free_bytes = (1 - used) * map;
	if (!d->intake_stopped && free_bytes < reserve) {
		stop_intake(d);
	} else if (d->intake_stopped && free_bytes >= 2 * reserve) {
		d->intake_stopped = false;
		atomic_store(&d->metrics.intake_stopped, 0);
		log_info("heraldd: the store has room again (%.0f%% used); intake resumed", used * 100);
	}
	return !d->intake_stopped;
}

static void request_replays(struct daemon *d)
{
	for (size_t s = 0; s < ingest_source_count(d->ingest); s++) {
		struct seq_range want;
		if (!ingest_source_get(d->ingest, s)->sequenced)
			continue;
		if (seqtrack_next_request(&d->seq[s], d->catch_up[s], &want)) {
			d->catch_up[s] = false;
			if (ingest_request_replay(d->ingest, (uint32_t)s, want.lo, want.hi))
				log_error("heraldd: cannot queue a replay request (%s)", strerror(errno));
		}
	}
}

static void reload(struct daemon *d)
{
	struct config fresh;
	struct verifier *v = NULL;
	char err[600];
	g_reload = 0;
	notify("RELOADING=1");
	if (config_load(d->cfg.path, &fresh, err, sizeof err)) {
		log_error("heraldd: reload failed, keeping the running config: %s", err);
		goto out;
	}
	if (verifier_new(&fresh.verify, &v, err, sizeof err)) {
		log_error("heraldd: reload failed, keeping the running config: %s", err);
		config_release(&fresh);
		goto out;
	}
	log_setup("heraldd", fresh.log_level, fresh.log_syslog);
	dispatch_reopen(d->dispatch);
	d->retired = ingest_set_verifier(d->ingest, v, &d->retire_mark);
	d->verifier = v;
	log_info("heraldd: reloaded %s (log level, [verify], [routing], [keys]; sinks reopened; "
		 "other changes need a restart)", d->cfg.path);
	config_release(&fresh);
out:
	notify("READY=1");
}

static void print_counters(const struct metrics *m)
{
	struct buf b = BUF_INIT;
	if (!metrics_render_json(m, &b))
		printf("counters %s\n", b.data);
	buf_release(&b);
	fflush(stdout);
}

static int run(struct daemon *d)
{
	static struct ingest_item *items[BATCH_MAX];
	while (!g_stop) {
		if (g_reload && !d->retired) /* a second reload waits for the first to drain */
			reload(d);
		if (!intake_open(d)) {
			usleep(200000);
			continue;
		}
		/* Near full, small batches: one batch must never jump the reserve. */
		size_t n = ingest_take(d->ingest, items, d->usage < 0.50 ? BATCH_MAX : 32, 200);
		if (n)
			commit_batch(d, items, n);
		ingest_release(d->ingest, n);
		if (!d->intake_stopped)
			request_replays(d);
		if (d->retired && ingest_drained(d->ingest, d->retire_mark)) {
			verifier_free(d->retired);
			d->retired = NULL;
		}
	}
	return 0;
}

static int setup_sources(struct daemon *d)
{
	size_t n = ingest_source_count(d->ingest);
	d->seq = calloc(n, sizeof *d->seq);
	d->catch_up = calloc(n, sizeof *d->catch_up);
	d->cursor_dirty = calloc(n, sizeof *d->cursor_dirty);
	if (!d->seq || !d->catch_up || !d->cursor_dirty)
		return -ENOMEM;
	rewind_sources(d);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: heraldd -c FILE [--foreground] [--check-config]\n"
		   "  -c, --config FILE   configuration (see heraldd.conf(5))\n"
		   "  -f, --foreground    do not detach; log to stderr unless log_target = syslog\n"
		   "  -t, --check-config  validate the configuration and exit (0 ok, 2 bad)\n"
		   "  -h, --help          this text\n");
}

static int ensure_state_dir(const char *dir)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		log_error("heraldd: cannot create state_dir %s (%s)", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

static int start(struct daemon *d)
{
	char err[600] = "";
	int rc;
	if ((rc = ensure_state_dir(d->cfg.state_dir)))
		return rc;
	/* Before the store and the admin socket: a second daemon touches neither. */
	if ((rc = statelock_acquire(d->cfg.state_dir, "heraldd.lock", &d->lock, err, sizeof err)))
		goto fail;
	if ((rc = store_open(d->cfg.state_dir, d->cfg.map_size, d->cfg.dedup_window, &d->store, err,
			     sizeof err)))
		goto fail;
	if ((rc = schema_load(d->cfg.rules_dir, d->cfg.identity_map, &d->schema, err, sizeof err)))
		goto fail;
	if ((rc = matcher_start(d->store, &d->matcher, err, sizeof err)))
		goto fail;
	if (!(d->mscratch = match_scratch_new())) {
		rc = -ENOMEM;
		goto fail;
	}
	struct dispatch_deps dd = {.cfg = &d->cfg, .store = d->store, .metrics = &d->metrics};
	if ((rc = dispatch_start(&dd, &d->dispatch, err, sizeof err)))
		goto fail;
	struct api_deps deps = {.cfg = &d->cfg, .metrics = &d->metrics, .store = d->store,
				.schema = d->schema, .dispatch = d->dispatch};
	if ((rc = api_start(&deps, &d->api, err, sizeof err)))
		goto fail;
	if ((rc = ingest_start(&d->cfg, d->verifier, &d->metrics, &d->ingest, err, sizeof err)))
		goto fail;
	if ((rc = setup_sources(d)))
		goto fail;
	return 0;
fail:
	log_error("heraldd: %s", *err ? err : strerror(-rc));
	return rc;
}

static void stop(struct daemon *d)
{
	if (d->seq)
		for (size_t s = 0; s < ingest_source_count(d->ingest); s++)
			seqtrack_release(&d->seq[s]);
	ingest_stop(d->ingest);
	api_stop(d->api);
	dispatch_stop(d->dispatch); /* after the API, which calls it */
	buf_release(&d->common);
	buf_release(&d->doc);
	matcher_stop(d->matcher);
	match_scratch_free(d->mscratch);
	schema_free(d->schema); /* after the API, which reads it */
	store_close(d->store);
	verifier_free(d->verifier);
	verifier_free(d->retired);
	free(d->seq);
	free(d->catch_up);
	free(d->cursor_dirty);
	statelock_free(d->lock);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"foreground", no_argument, NULL, 'f'},
					     {"check-config", no_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *path = NULL;
	bool foreground = false, check = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:fth", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'f': foreground = true; break;
		case 't': check = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	struct daemon d = {.rl_store = {.interval_ms = 10000}};
	char err[600];
	if (config_load(path, &d.cfg, err, sizeof err)) {
		fprintf(stderr, "heraldd: %s\n", err);
		return 2;
	}
	if (verifier_new(&d.cfg.verify, &d.verifier, err, sizeof err)) {
		fprintf(stderr, "heraldd: %s: %s\n", path, err);
		config_release(&d.cfg);
		return 2;
	}
	if (check) {
		printf("%s: ok\n", path);
		verifier_free(d.verifier);
		config_release(&d.cfg);
		return 0;
	}
	if (!foreground && daemon(1, 0)) {
		fprintf(stderr, "heraldd: cannot detach (%s)\n", strerror(errno));
		return 1;
	}
	log_setup("heraldd", d.cfg.log_level, d.cfg.log_syslog || !foreground);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int rc = start(&d);
	if (!rc) {
		api_set_ready(d.api, true);
		notify("READY=1");
		log_info("heraldd: ready (%zu sources, %d workers, state in %s)",
			 ingest_source_count(d.ingest), d.cfg.workers, d.cfg.state_dir);
		rc = run(&d);
		notify("STOPPING=1");
		log_info("heraldd: stopping");
	}
	stop(&d);
	if (d.cfg.print_accepted)
		print_counters(&d.metrics);
	config_release(&d.cfg);
	return rc ? 1 : 0;
}
