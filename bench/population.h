/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/population: what bench/match and bench/hostile share (see
 * population.c): the corpus as described messages, the user names, and the
 * subscription population in a match builder. Single-threaded, for the
 * bench drivers only.
 */
#ifndef HERALD_BENCH_POPULATION_H
#define HERALD_BENCH_POPULATION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/meta.h"
#include "src/daemon/match.h"

#define USERS 100000
#define SUBS 1000000
#define PACKAGES 50000

struct msgs {
	char **topic;
	json_t **body;
	struct meta *meta;
	size_t n;
};

/* Print "bench: WHAT" and exit 1. */
void die(const char *what) __attribute__((noreturn));
long rss_kib(void);
/* The first 1,000 corpus messages, described by the rules. */
void load_msgs(const char *corpus, const char *rules, const char *idmap, struct msgs *m);
/* load_msgs with the repository's corpus, rules and identity map under top. */
void load_repo_msgs(const char *top, struct msgs *m);
/* USERS names: the corpus's usernames first. */
char **make_usernames(const struct msgs *m);
/* Every user and subscription, in a builder not yet finished; *build_us is
 * the time taken. The same population each time after population_reseed. */
struct match_builder *population_builder(const struct msgs *m, char **users, uint64_t *build_us);
void population_reseed(void);

#endif
