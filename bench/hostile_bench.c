/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/hostile: what 100 hostile subscriptions cost everyone else. The
 * population of bench/match (bench/population.c) is built twice from the
 * same seed, the second time with 10 hostile users of 10 subscriptions
 * each, all unindexable (so they run on every message):
 *   - 40 with 16 regexes of the most expensive kind the shape rule still
 *     accepts, polynomial backtracking at every start position
 *     (\S*\S*\S*\S*\s\d and .*.*.*.*.*.*.*.*[0-9]{9} on topic, title,
 *     summary, agent);
 *   - 30 with one such regex each;
 *   - 30 compiled without the shape rule, as filters stored before it
 *     would be (exponential: (.*.*)*x, (a+)+$, (\w+\.?)+\s), 16 regexes
 *     each.
 * Both snapshots match every corpus message, in alternating passes (and
 * alternating order) so that the machine's noise and the caches fall on both
 * alike, from a cold start (the hostile
 * subscriptions' budget overruns before their quarantine are counted).
 * The ratio is the throughput with them over the throughput without.
 *
 * What the budget cannot stop is shown too, by a third population with
 * 100 unindexable subscriptions whose one regex is ordinary and cheap
 * (topic =~ "(?i)(fail|error)"): they stay under every threshold and cost
 * what any 100 subscriptions that run on every message cost.
 * JSON lines; the last is the verdict for the hostile ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "population.h"
#include "src/common/clock.h"
#include "src/daemon/match.h"

#define HOSTILE_USERS	 10
#define HOSTILE_PER_USER 10
#define ROUNDS		 50
#define CONTROL_ROUNDS	 10

static const char *const fields[] = {"topic", "title", "summary", "agent"};

/* n regexes `pattern` over the text fields, or'ed (so that all run). */
static void ors(char *src, size_t len, const char *pattern, int n)
{
	size_t o = 0;
	for (int i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(src + o, len - o, "%s%s =~ \"%s\"", i ? " or " : "",
				      fields[i % 4], pattern);
}

static void add_hostile(struct match_builder *b)
{
	static const char *const accepted[] = {"\\\\S*\\\\S*\\\\S*\\\\S*\\\\s\\\\d",
					       ".*.*.*.*.*.*.*.*[0-9]{9}"};
	/* (a|aa)*c would be cheap here: PCRE2 gives up at once on text
	 * without a 'c'; \\s is a class, so no such shortcut */
	static const char *const legacy[] = {"(.*.*)*x", "(a+)+$", "(\\\\w+\\\\.?)+\\\\s"};
	char name[32], src[2048];
	uint64_t dest = 1, id = 10000000;
	for (int u = 0; u < HOSTILE_USERS; u++) {
		snprintf(name, sizeof name, "hostile%d", u);
		if (match_builder_user(b, name, NULL, NULL, NULL, 0))
			die("cannot add a hostile user");
	}
	/* accepted first: match_builder_unchecked is for the rest of the build */
	for (int k = 0; k < 70; k++) {
		ors(src, sizeof src, accepted[k % 2], k < 40 ? 16 : 1);
		snprintf(name, sizeof name, "hostile%d", k % HOSTILE_USERS);
		if (match_builder_sub(b, name, id++, src, &dest, 1, 0))
			die("an accepted hostile filter was refused");
	}
	match_builder_unchecked(b);
	for (int k = 70; k < HOSTILE_USERS * HOSTILE_PER_USER; k++) {
		ors(src, sizeof src, legacy[k % 3], 16);
		snprintf(name, sizeof name, "hostile%d", k % HOSTILE_USERS);
		if (match_builder_sub(b, name, id++, src, &dest, 1, 0))
			die("cannot add a legacy hostile filter");
	}
}

/* The control: 100 slow subscriptions with one cheap regex each. */
static void add_cheap(struct match_builder *b)
{
	char name[32];
	uint64_t dest = 1, id = 20000000;
	for (int u = 0; u < HOSTILE_USERS; u++) {
		snprintf(name, sizeof name, "hostile%d", u);
		if (match_builder_user(b, name, NULL, NULL, NULL, 0))
			die("cannot add a user");
	}
	for (int k = 0; k < HOSTILE_USERS * HOSTILE_PER_USER; k++) {
		snprintf(name, sizeof name, "hostile%d", k % HOSTILE_USERS);
		if (match_builder_sub(b, name, id++, "topic =~ \"(?i)(fail|error)\"", &dest, 1, 0))
			die("cannot add a cheap subscription");
	}
}

struct pass {
	uint64_t us;
	size_t matched, candidates, cut, quarantined;
};

static void one_pass(const struct match_snapshot *s, struct match_scratch *sc,
		     const struct msg_view *views, size_t n, struct pass *p)
{
	struct match_result r;
	uint64_t t0 = clock_mono_us();
	for (size_t i = 0; i < n; i++) {
		if (match_run(s, &views[i], sc, &r))
			die("match failed");
		for (size_t h = 0; h < r.n_hits; h++) /* the others' matches */
			if (strncmp(r.hits[h].user, "hostile", 7))
				p->matched += r.hits[h].n_subs;
		p->candidates += r.n_candidates;
		p->cut += r.n_cut;
		p->quarantined += r.n_quarantined;
	}
	p->us += clock_mono_us() - t0;
}

int main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : ".";
	struct msgs m;
	load_repo_msgs(top, &m);
	char **users = make_usernames(&m);
	uint64_t us;
	struct match_snapshot *base = match_builder_finish(population_builder(&m, users, &us));
	population_reseed();
	struct match_builder *b = population_builder(&m, users, &us);
	add_hostile(b);
	struct match_snapshot *hostile = match_builder_finish(b);
	population_reseed();
	b = population_builder(&m, users, &us);
	add_cheap(b);
	struct match_snapshot *cheap = match_builder_finish(b);
	struct match_stats sb, sh;
	match_snapshot_stats(base, &sb);
	match_snapshot_stats(hostile, &sh);
	printf("{\"bench\": \"hostile\", \"metric\": \"population\", \"subscriptions\": %zu, "
	       "\"with_hostile\": %zu, \"slow\": %zu, \"slow_with_hostile\": %zu}\n",
	       sb.subscriptions, sh.subscriptions, sb.slow, sh.slow);

	struct msg_view *views = calloc(m.n, sizeof *views);
	for (size_t i = 0; i < m.n; i++)
		views[i] = (struct msg_view){m.topic[i], m.body[i], &m.meta[i]};
	struct match_scratch *scb = match_scratch_new(), *sch = match_scratch_new();
	struct match_scratch *scc = match_scratch_new();
	struct pass pb = {0}, ph = {0}, pc = {0}, pb2 = {0}, first = {0}, firstb = {0};
	for (int r = 0; r < ROUNDS; r++) { /* alternate the order: no cache bias */
		if (r % 2)
			one_pass(hostile, sch, views, m.n, &ph);
		one_pass(base, scb, views, m.n, &pb);
		if (!(r % 2))
			one_pass(hostile, sch, views, m.n, &ph);
		if (r == 0) {
			first = ph;
			firstb = pb;
		}
	}
	for (int r = 0; r < CONTROL_ROUNDS; r++) {
		one_pass(base, scb, views, m.n, &pb2);
		one_pass(cheap, scc, views, m.n, &pc);
	}
	size_t n = ROUNDS * m.n;
	if (pb.matched != ph.matched)
		die("the hostile subscriptions changed what the others match");
	double base_mps = (double)n / ((double)pb.us / 1e6);
	double host_mps = (double)n / ((double)ph.us / 1e6);
	double steady = (double)(n - m.n) / ((double)(ph.us - first.us) / 1e6);
	double steady_base = (double)(n - m.n) / ((double)(pb.us - firstb.us) / 1e6);
	printf("{\"bench\": \"hostile\", \"metric\": \"first_pass_ms\", \"value\": %.1f, "
	       "\"baseline\": %.1f, \"messages\": %zu, \"cut\": %zu, \"quarantined\": %zu, "
	       "\"of\": %d}\n",
	       (double)first.us / 1000, (double)firstb.us / 1000, m.n, first.cut, first.quarantined,
	       HOSTILE_USERS * HOSTILE_PER_USER);
	printf("{\"bench\": \"hostile\", \"metric\": \"throughput_with_cheap_slow_regex_subs\", "
	       "\"value\": %.0f, \"baseline\": %.0f, \"ratio\": %.3f, \"quarantined\": %zu, "
	       "\"note\": \"not hostile: 100 ordinary regexes run on every message\"}\n",
	       (double)(CONTROL_ROUNDS * m.n) / ((double)pc.us / 1e6),
	       (double)(CONTROL_ROUNDS * m.n) / ((double)pb2.us / 1e6),
	       (double)pb2.us / (double)pc.us, pc.quarantined);
	printf("{\"bench\": \"hostile\", \"metric\": \"steady_msgs_per_s\", \"value\": %.0f, "
	       "\"baseline\": %.0f, \"ratio\": %.3f}\n",
	       steady, steady_base, steady / steady_base);
	printf("{\"bench\": \"hostile\", \"metric\": \"throughput_with_hostile_subs\", \"value\": "
	       "%.0f, "
	       "\"baseline\": %.0f, \"ratio\": %.3f, \"goal\": 0.9, \"messages\": %zu, "
	       "\"quarantined\": %zu}\n",
	       host_mps, base_mps, host_mps / base_mps, n, ph.quarantined);
	match_scratch_free(scb);
	match_scratch_free(sch);
	match_scratch_free(scc);
	match_snapshot_unref(cheap);
	match_snapshot_unref(base);
	match_snapshot_unref(hostile);
	return 0;
}
