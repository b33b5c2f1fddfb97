/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/filter: what one filter costs. For each example filter from
 * herald-filters(7) and a regex filter: nanoseconds per filter_compile()
 * (with filter_free), per filter_eval() in a tight loop against a message
 * it matches and one it does not, and the compiled size. One JSON object
 * per line. Not for matching at scale (bench/match does that with the
 * index).
 *
 * Usage: filter_bench [ITERATIONS]   (default 2,000,000 evaluations)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "filters/filter.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *koji_pkgs[] = {"glibc", "kernel"}, *koji_users[] = {"alice"};
static char *bodhi_pkgs[] = {"kernel"}, *bodhi_users[] = {"alice", "bob"};
static const char *mine[] = {"bash", "glibc", "kernel", "zsh"}, *watched[] = {"kernel", "systemd"};
static const struct filter_list lists[] = {{"mine", mine, 4}, {"watched", watched, 2}};
static const struct filter_user alice = {"alice", lists, 2};

/* Defeat dead-code elimination of the evaluation loop. */
static volatile unsigned sink;

static double eval_ns(const struct filter *f, const struct msg_view *m, struct filter_scratch *s,
		      long n, bool *result)
{
	unsigned hits = 0;
	double t0 = now_ns();

	for (long i = 0; i < n; i++)
		hits += filter_eval(f, m, &alice, s);
	sink += hits;
	*result = hits != 0;
	return (now_ns() - t0) / (double)n;
}

static double compile_ns(const char *src, long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		struct filter *f;
		if (filter_compile(src, &f, NULL))
			return -1;
		filter_free(f);
	}
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	static const char *const srcs[] = {
	    "topic ~ \"*.bodhi.update.request.stable\" and packages & @mine",
	    "topic ~ \"*.buildsys.build.state.change\" and msg.new == 3 and package in "
	    "[\"kernel\", \"glibc\"]",
	    "agent != me and (usernames has me or packages & @watched)",
	    "summary =~ \"^(alice|bob)'s [a-z]+-[0-9.]+-\" and severity >= warning",
	};
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	json_t *kb = json_loads(
	    "{\"name\": \"kernel\", \"new\": 3, \"old\": 0, \"owner\": \"alice\"}", 0, NULL);
	json_t *bb = json_loads(
	    "{\"update\": {\"builds\": [{\"nvr\": \"kernel-6.1.1-200.fc39\"}]}}", 0, NULL);
	struct meta km = {.app = "koji",
			  .title = "buildsys.build.state.change",
			  .summary = "alice's kernel-6.1.1-200.fc39 failed",
			  .link = NULL,
			  .agent = "alice",
			  .severity = SEV_WARNING,
			  .usernames = koji_users,
			  .n_usernames = 1,
			  .packages = koji_pkgs,
			  .n_packages = 2};
	struct meta bm = {.app = "bodhi",
			  .title = "bodhi.update.request.stable",
			  .summary = "bob submitted kernel-6.1.1-200.fc39",
			  .link = "https://x",
			  .agent = "bob",
			  .severity = SEV_INFO,
			  .usernames = bodhi_users,
			  .n_usernames = 2,
			  .packages = bodhi_pkgs,
			  .n_packages = 1};
	struct msg_view msgs[] = {
	    {"org.fedoraproject.prod.buildsys.build.state.change", kb, &km},
	    {"org.fedoraproject.prod.bodhi.update.request.stable", bb, &bm},
	};
	struct filter_scratch *s = filter_scratch_new();

	if (!kb || !bb || !s || n <= 0)
		return 1;
	for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
		struct filter *f;
		bool r0, r1;
		if (filter_compile(srcs[i], &f, NULL))
			return 1;
		double c = compile_ns(srcs[i], n / 20);
		double e0 = eval_ns(f, &msgs[0], s, n, &r0);
		double e1 = eval_ns(f, &msgs[1], s, n, &r1);
		printf("{\"filter\": %zu, \"compile_ns\": %.0f, \"bytes\": %zu, \"eval_ns_koji\": "
		       "%.1f, "
		       "\"koji_matches\": %s,"
		       " \"eval_ns_bodhi\": %.1f, \"bodhi_matches\": %s}\n",
		       i + 1, c, filter_size(f), e0, r0 ? "true" : "false", e1,
		       r1 ? "true" : "false");
		filter_free(f);
	}
	filter_scratch_free(s);
	json_decref(kb);
	json_decref(bb);
	return 0;
}
