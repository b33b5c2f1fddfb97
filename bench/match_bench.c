/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/match: matching corpus messages against 100,000 users and 1,000,000
 * subscriptions shaped like real ones, with the index, and in the same run
 * a linear scan that evaluates every subscription (the baseline).
 *
 * The population, seeded and reproducible: packages are the corpus's plus
 * synthetic ones (50,000 in all); each user maintains a handful (@mine), so
 * a package has ~15 maintainers as in a distribution; users follow a few
 * others (@watched); subscriptions per user mix "my packages on these
 * topics", "mentions me", "these packages", "people I follow", a few topic
 * firehoses, ~3% regexes and a handful of unindexable ("slow") filters.
 * Messages are the 832 corpus messages described by the default rules.
 * JSON lines; the last compares the index with the linear scan.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/clock.h"
#include "src/common/log.h"
#include "src/daemon/match.h"
#include "src/schema/schema.h"

#define USERS 100000
#define SUBS 1000000
#define PACKAGES 50000

struct msgs {
	char **topic;
	json_t **body;
	struct meta *meta;
	size_t n;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static size_t pick(size_t n)
{
	return (size_t)(rnd() % n);
}

static void die(const char *what)
{
	fprintf(stderr, "bench/match: %s\n", what);
	exit(1);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

static void load_msgs(const char *corpus, const char *rules, const char *idmap, struct msgs *m)
{
	struct schema *s;
	char err[512];
	if (schema_load(rules, idmap, &s, err, sizeof err))
		die(err);
	FILE *f = fopen(corpus, "r");
	if (!f)
		die("cannot open the corpus");
	char *line = NULL;
	size_t cap = 0, n = 0;
	m->topic = calloc(1000, sizeof *m->topic);
	m->body = calloc(1000, sizeof *m->body);
	m->meta = calloc(1000, sizeof *m->meta);
	while (getline(&line, &cap, f) > 0 && n < 1000) {
		json_t *env = json_loads(line, JSON_DECODE_INT_AS_REAL, NULL);
		const char *topic = json_string_value(json_object_get(env, "topic"));
		if (!topic)
			continue;
		m->topic[n] = strdup(topic);
		m->body[n] = json_incref(json_object_get(env, "msg"));
		if (schema_describe(s, m->topic[n], m->body[n], &m->meta[n]))
			die("describe failed");
		json_decref(env);
		n++;
	}
	free(line);
	fclose(f);
	m->n = n;
	schema_free(s);
}

/* Package names: every one the corpus mentions, then synthetic ones. */
static char **make_packages(const struct msgs *m, size_t *n_out)
{
	char **p = calloc(PACKAGES, sizeof *p);
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		for (size_t k = 0; k < m->meta[i].n_packages && n < PACKAGES / 10; k++) {
			size_t j = 0;
			while (j < n && strcmp(p[j], m->meta[i].packages[k]))
				j++;
			if (j == n)
				p[n++] = strdup(m->meta[i].packages[k]);
		}
	char name[32];
	while (n < PACKAGES) {
		snprintf(name, sizeof name, "pkg-%zu", n);
		p[n++] = strdup(name);
	}
	*n_out = n;
	return p;
}

/* The corpus's usernames become the first users' names. */
static char **make_usernames(const struct msgs *m)
{
	char **u = calloc(USERS, sizeof *u);
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		for (size_t k = 0; k < m->meta[i].n_usernames && n < 2000; k++) {
			size_t j = 0;
			while (j < n && strcmp(u[j], m->meta[i].usernames[k]))
				j++;
			if (j == n)
				u[n++] = strdup(m->meta[i].usernames[k]);
		}
	char name[32];
	for (; n < USERS; n++) {
		snprintf(name, sizeof name, "user%zu", n);
		u[n] = strdup(name);
	}
	return u;
}

/* A topic glob in the style people write, from a corpus topic. */
static void topic_glob(const struct msgs *m, char *out, size_t len)
{
	const char *t = m->topic[pick(m->n)];
	const char *app = strstr(t, ".prod.");
	app = app ? app + 6 : t;
	if (rnd() % 2)
		snprintf(out, len, "*.%s", app);            /* exactly this event */
	else {
		const char *dot = strchr(app, '.');
		snprintf(out, len, "*.%.*s.*", dot ? (int)(dot - app) : (int)strlen(app), app); /* the whole app */
	}
}

static void sub_source(const struct msgs *m, char **pkgs, size_t npkgs, char **users, size_t u,
		       char *src, size_t len)
{
	char glob[160];
	topic_glob(m, glob, sizeof glob);
	unsigned r = (unsigned)pick(1000);
	if (r < 350)
		snprintf(src, len, "topic ~ \"%s\" and packages & @mine", glob);
	else if (r < 550)
		snprintf(src, len, "agent != me and usernames has me");
	else if (r < 700)
		snprintf(src, len, "package in [\"%s\", \"%s\"]", pkgs[pick(npkgs)], pkgs[pick(npkgs)]);
	else if (r < 850)
		snprintf(src, len, "usernames & @watched");
	else if (r < 940)
		snprintf(src, len, "packages & @mine and severity >= info");
	else if (r < 970)
		snprintf(src, len, "packages & @mine and title =~ \"(?i)(fail|error|%s)\"", pkgs[pick(npkgs)]);
	else if (r < 999)
		snprintf(src, len, "topic ~ \"%s\" and username == \"%s\"", glob, users[pick(USERS)]);
	else
		snprintf(src, len, "topic ~ \"%s\"", glob); /* a firehose */
	(void)u;
}

static struct match_snapshot *build(const struct msgs *m, char **users, uint64_t *build_us)
{
	size_t npkgs;
	char **pkgs = make_packages(m, &npkgs);
	struct match_builder *b = match_builder_new();
	const char *names[2] = {"mine", "watched"};
	const char *mine[64], *watched[16];
	uint64_t start = clock_mono_us();
	for (size_t u = 0; u < USERS; u++) {
		size_t nm = 1 + pick(4) + (pick(10) == 0 ? pick(40) : 0), nw = pick(6);
		for (size_t i = 0; i < nm; i++)
			mine[i] = pkgs[pick(npkgs)];
		for (size_t i = 0; i < nw; i++)
			watched[i] = users[pick(USERS)];
		const char *const *lists[2] = {mine, watched};
		size_t counts[2] = {nm, nw};
		if (match_builder_user(b, users[u], names, lists, counts, 2))
			die("cannot add a user");
	}
	char src[512];
	for (uint64_t id = 1; id <= SUBS; id++) {
		size_t u = pick(USERS);
		if (id <= 100)
			snprintf(src, sizeof src, "not (agent == me) and severity >= error"); /* slow */
		else
			sub_source(m, pkgs, npkgs, users, u, src, sizeof src);
		uint64_t dest = u * 2 + pick(2);
		int rc = match_builder_sub(b, users[u], id, src, &dest, 1,
					   pick(10) ? 0 : 3600);
		if (rc) {
			fprintf(stderr, "%s\n", src);
			die("cannot add a subscription");
		}
	}
	struct match_snapshot *s = match_builder_finish(b);
	*build_us = clock_mono_us() - start;
	for (size_t i = 0; i < npkgs; i++)
		free(pkgs[i]);
	free(pkgs);
	return s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : ".";
	char corpus[4096], rules[4096], idmap[4096];
	snprintf(corpus, sizeof corpus, "%s/tests/data/fedmsg-messages.jsonl", top);
	snprintf(rules, sizeof rules, "%s/src/schema/rules", top);
	snprintf(idmap, sizeof idmap, "%s/tests/data/identity-map.json", top);
	struct msgs m;
	load_msgs(corpus, rules, idmap, &m);
	char **users = make_usernames(&m);
	long rss0 = rss_kib();
	uint64_t build_us;
	struct match_snapshot *s = build(&m, users, &build_us);
	long rss1 = rss_kib();
	struct match_stats st;
	match_snapshot_stats(s, &st);
	printf("{\"bench\": \"match\", \"metric\": \"index_build_s\", \"value\": %.2f, \"users\": %zu, "
	       "\"subscriptions\": %zu, \"indexed\": %zu, \"slow\": %zu, \"keys\": %zu}\n",
	       (double)build_us / 1e6, st.users, st.subscriptions, st.indexed, st.slow, st.keys);
	printf("{\"bench\": \"match\", \"metric\": \"rss_mib\", \"value\": %.1f, \"index_mib\": %.1f}\n",
	       (double)rss1 / 1024, (double)(rss1 - rss0) / 1024);

	struct match_scratch *sc = match_scratch_new();
	struct match_result res;
	struct msg_view *views = calloc(m.n, sizeof *views);
	for (size_t i = 0; i < m.n; i++)
		views[i] = (struct msg_view){m.topic[i], m.body[i], &m.meta[i]};
	/* Warm up the per-topic cache, then time every message. */
	for (size_t i = 0; i < m.n; i++)
		match_run(s, &views[i], sc, &res);
	size_t rounds = 20, n = rounds * m.n, matches = 0, notifications = 0, cands = 0;
	uint64_t *lat = malloc(n * sizeof *lat);
	uint64_t t0 = clock_mono_us();
	for (size_t r = 0, k = 0; r < rounds; r++)
		for (size_t i = 0; i < m.n; i++, k++) {
			uint64_t a = clock_mono_us();
			if (match_run(s, &views[i], sc, &res))
				die("match failed");
			lat[k] = clock_mono_us() - a;
			matches += res.n_matched;
			notifications += res.n_hits;
			cands += res.n_candidates;
		}
	double secs = (double)(clock_mono_us() - t0) / 1e6;
	qsort(lat, n, sizeof *lat, cmp_u64);
	double mps = (double)n / secs;
	printf("{\"bench\": \"match\", \"metric\": \"indexed_msgs_per_s\", \"value\": %.0f, "
	       "\"matches_per_s\": %.0f, \"notifications_per_msg\": %.1f, \"candidates_per_msg\": %.1f, "
	       "\"p50_us\": %llu, \"p99_us\": %llu, \"max_us\": %llu}\n",
	       mps, (double)matches / secs, (double)notifications / (double)n, (double)cands / (double)n,
	       (unsigned long long)lat[n / 2], (unsigned long long)lat[n * 99 / 100],
	       (unsigned long long)lat[n - 1]);

	/* Linear scan on a sample, and a cross-check that both agree. */
	size_t sample = 40, agree = 0;
	uint64_t t1 = clock_mono_us();
	for (size_t i = 0; i < sample; i++) {
		size_t idx = i * m.n / sample;
		match_run_linear(s, &views[idx], sc, &res);
		size_t lin = res.n_matched;
		match_run(s, &views[idx], sc, &res);
		agree += lin == res.n_matched;
	}
	double linear = (double)sample / ((double)(clock_mono_us() - t1) / 1e6);
	printf("{\"bench\": \"match\", \"metric\": \"linear_msgs_per_s\", \"value\": %.1f, "
	       "\"sample\": %zu, \"agree_with_index\": %zu}\n", linear, sample, agree);
	printf("{\"bench\": \"match\", \"metric\": \"indexed_vs_linear_msgs_per_s\", \"value\": %.0f, "
	       "\"baseline\": %.1f, \"ratio\": %.1f, \"goal\": 100}\n", mps, linear, mps / linear);
	if (agree != sample)
		die("the index and the linear scan disagree");
	match_scratch_free(sc);
	match_snapshot_unref(s);
	return 0;
}
