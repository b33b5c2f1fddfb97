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

#include "population.h"
#include "src/common/clock.h"
#include "src/common/log.h"
#include "src/daemon/match.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : ".";
	struct msgs m;
	load_repo_msgs(top, &m);
	char **users = make_usernames(&m);
	long rss0 = rss_kib();
	uint64_t build_us;
	struct match_snapshot *s = match_builder_finish(population_builder(&m, users, &build_us));
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
