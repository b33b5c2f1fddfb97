/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/population: the corpus messages and the subscription population of
 * bench/match (100,000 users, 1,000,000 subscriptions shaped like real
 * ones, seeded and reproducible), shared by bench/match and bench/hostile.
 * Not for timing anything: the drivers do that.
 */
#include "population.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/clock.h"
#include "src/schema/schema.h"

#define USERS 100000
#define SUBS 1000000
#define PACKAGES 50000

#define SEED 0x9e3779b97f4a7c15ull
static uint64_t rng = SEED;

void population_reseed(void)
{
	rng = SEED;
}

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

void die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	exit(1);
}

long rss_kib(void)
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

void load_msgs(const char *corpus, const char *rules, const char *idmap, struct msgs *m)
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
void load_repo_msgs(const char *top, struct msgs *m)
{
	char corpus[4096], rules[4096], idmap[4096];
	snprintf(corpus, sizeof corpus, "%s/tests/data/fedmsg-messages.jsonl", top);
	snprintf(rules, sizeof rules, "%s/src/schema/rules", top);
	snprintf(idmap, sizeof idmap, "%s/tests/data/identity-map.json", top);
	load_msgs(corpus, rules, idmap, m);
}

char **make_usernames(const struct msgs *m)
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

struct match_builder *population_builder(const struct msgs *m, char **users, uint64_t *build_us)
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
	*build_us = clock_mono_us() - start;
	for (size_t i = 0; i < npkgs; i++)
		free(pkgs[i]);
	free(pkgs);
	return b;
}
