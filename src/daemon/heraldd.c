/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * heraldd: the daemon's main(): options, signals, reload, and the wiring
 * that starts the stages in order, runs the main loop (ingest -> commit)
 * and stops them in reverse. Not a stage itself: what is accepted is
 * decided in commit.c, everything else in its own module.
 */
#include "herald_build.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "src/api/api.h"
#include "src/api/api_auth.h"
#include "src/common/config.h"
#include "src/common/log.h"
#include "src/common/statelock.h"
#include "src/common/verify.h"
#include "src/schema/schema.h"
#include "src/web/links.h"
#include "src/web/web.h"
#include "src/web/dashboard.h"
#include "src/web/recent.h"
#include "commit.h"
#include "dispatch.h"
#include "ingest.h"
#include "match.h"
#include "metrics.h"
#include "store.h"

/* Signal flags: the only mutable globals, set by handlers, read by main. */
static volatile sig_atomic_t g_stop, g_reload;

struct daemon {
	struct config cfg;
	struct store *store;
	struct metrics metrics;
	struct ingest *ingest;
	struct api *api;
	struct web *web;        /* the web app; NULL without [web] listen */
	struct links *links;    /* its signed links' key; NULL without [web] listen */
	struct schema *schema;  /* the rules that describe messages; read by the API */
	struct matcher *matcher; /* the live subscription index */
	struct dispatch *dispatch;
	struct commit *commit;
	struct recent *recent;   /* the last accepted messages (preview, why, dashboard) */
	struct dashboard *dashboard; /* /events; NULL without a web app or with dashboard = off */
	struct verifier *verifier; /* the one ingest uses; replaced on reload */
	struct verifier *retired;  /* the one before, freed once the ring passed retire_mark */
	uint64_t retire_mark;
	struct statelock *lock; /* this state_dir is ours; taken first, dropped last */
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
	web_reload(d->web); /* the webpush keys, which the reopened sinks re-read too */
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
	static struct ingest_item *items[COMMIT_BATCH_MAX];
	while (!g_stop) {
		if (g_reload && !d->retired) /* a second reload waits for the first to drain */
			reload(d);
		if (!commit_intake_open(d->commit)) {
			usleep(200000);
			continue;
		}
		size_t n = ingest_take(d->ingest, items, commit_batch_max(d->commit), 200);
		/* A failed batch is logged, counted and rewound by the committer;
		 * its AMQP deliveries go back to their queues. */
		if (n)
			ingest_settle(d->ingest, items, n, commit_batch(d->commit, items, n) == 0);
		ingest_release(d->ingest, n);
		commit_request_replays(d->commit);
		if (d->retired && ingest_drained(d->ingest, d->retire_mark)) {
			verifier_free(d->retired);
			d->retired = NULL;
		}
	}
	return 0;
}

/* The committer's view of ingest (struct commit_sources). */
static const struct ingest_source *sources_get(void *in, size_t i)
{
	return ingest_source_get(in, i);
}

static int sources_request_replay(void *in, uint32_t src, uint64_t lo, uint64_t hi)
{
	return ingest_request_replay(in, src, lo, hi);
}

static int start_commit(struct daemon *d)
{
	struct commit_deps deps = {
		.cfg = &d->cfg, .store = d->store, .schema = d->schema, .matcher = d->matcher,
		.metrics = &d->metrics, .dispatch = d->dispatch, .recent = d->recent,
		.sources = {.n = ingest_source_count(d->ingest), .get = sources_get,
			    .request_replay = sources_request_replay, .arg = d->ingest}};
	return commit_new(&deps, &d->commit);
}

/* The dashboard's ring holds as many events as the recent store holds
 * messages (at least its default): how far a client may lag in a burst. */
static int start_dashboard(struct daemon *d)
{
	struct dashboard_limits lim = DASHBOARD_LIMITS_DEFAULT;
	if ((size_t)d->cfg.web.recent_messages > lim.events)
		lim.events = (size_t)d->cfg.web.recent_messages;
	return dashboard_new_limits(d->recent, &lim, &d->dashboard);
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
	matcher_set_metrics(d->matcher, &d->metrics);
	/* With a web app, deliveries carry its signed links (sink ABI 1.2). */
	if (d->cfg.web.listen && d->cfg.web.base_url &&
	    (rc = links_open(d->cfg.state_dir, d->cfg.web.base_url, d->cfg.web.link_ttl_s,
			     &d->links, err, sizeof err)))
		goto fail;
	struct dispatch_deps dd = {.cfg = &d->cfg, .store = d->store, .metrics = &d->metrics,
				   .links = d->links};
	if ((rc = dispatch_start(&dd, &d->dispatch, err, sizeof err)))
		goto fail;
	if ((rc = recent_new(d->cfg.web.recent_messages, &d->recent)))
		goto fail;
	struct api_deps deps = {.cfg = &d->cfg, .metrics = &d->metrics, .store = d->store,
				.schema = d->schema, .dispatch = d->dispatch, .recent = d->recent};
	if ((rc = api_start(&deps, &d->api, err, sizeof err)))
		goto fail;
	/* the dashboard's thread only when someone may watch */
	if (d->cfg.web.listen && d->cfg.web.dashboard != CONFIG_DASHBOARD_OFF &&
	    (rc = start_dashboard(d)))
		goto fail;
	struct web_deps wd = {.cfg = &d->cfg, .store = d->store, .schema = d->schema,
			      .dispatch = d->dispatch, .metrics = &d->metrics, .recent = d->recent,
			      .links = d->links, .dashboard = d->dashboard};
	if ((rc = web_start(&wd, &d->web, err, sizeof err)))
		goto fail;
	if ((rc = ingest_start(&d->cfg, d->verifier, &d->metrics, &d->ingest, err, sizeof err)))
		goto fail;
	if ((rc = start_commit(d)))
		goto fail;
	return 0;
fail:
	log_error("heraldd: %s", *err ? err : strerror(-rc));
	return rc;
}

static void stop(struct daemon *d)
{
	commit_free(d->commit);
	ingest_stop(d->ingest);
	web_stop(d->web);
	dashboard_free(d->dashboard); /* after the web listener, which serves its streams */
	api_stop(d->api);
	dispatch_stop(d->dispatch); /* after the API, which calls it */
	links_close(d->links);      /* after the web app and the dispatcher, which use it */
	matcher_stop(d->matcher);
	schema_free(d->schema); /* after the API, which reads it */
	recent_free(d->recent); /* after the committer, which feeds it, and the API */
	store_close(d->store);
	verifier_free(d->verifier);
	verifier_free(d->retired);
	statelock_free(d->lock);
}

/* --check-config: also what start() would refuse before listening (the
 * token file and its mode, the rules, the identity map, the web app's
 * secret file, assets and TLS files), so "ok" means the
 * daemon starts. Reads those files only; the state is not touched. */
static int check_files(const struct config *cfg, char *err, size_t errlen)
{
	struct api_tokens *tokens = NULL;
	struct schema *schema = NULL;
	int rc = cfg->api_tokens ? api_tokens_load(cfg->api_tokens, &tokens, err, errlen) : 0;
	api_tokens_free(tokens);
	if (!rc)
		rc = schema_load(cfg->rules_dir, cfg->identity_map, &schema, err, errlen);
	schema_free(schema);
	if (!rc)
		rc = web_check_config(cfg, err, errlen);
	if (!rc && cfg->web.listen)
		rc = links_check(cfg->state_dir, err, errlen);
	return rc;
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
	struct daemon d = {0};
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
		int rc = check_files(&d.cfg, err, sizeof err);
		if (rc)
			fprintf(stderr, "heraldd: %s: %s\n", path, err);
		else
			printf("%s: ok\n", path);
		verifier_free(d.verifier);
		config_release(&d.cfg);
		return rc ? 2 : 0;
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
