/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_filter: libFuzzer target for the filter language: filter_compile()
 * on arbitrary bytes and, when that succeeds, filter_eval(),
 * filter_explain() and filter_index_keys() against fixed messages and
 * users. Beyond crashes and sanitizer reports, any broken property aborts:
 *   - a compile error has a position inside the source and a message;
 *   - explain's verdict equals eval's, and it ends with the result line;
 *   - index keys are a necessary condition: FILTER_NEVER means eval is
 *     false, FILTER_INDEXED with a match means the message has a key.
 * Not for: checking meanings against expectations
 * (tests/unit/filters/test_filter.c).
 *
 * Build and run: scripts/fuzz [SECONDS] filter (doc/fuzzing.md): build-fuzz/,
 * the library instrumented, tests/fuzz/filter.dict, new inputs in
 * build-fuzz/fuzz-corpus/filter.
 * Seeds: tests/fuzz/seeds/filter/
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"

struct world {
	json_t *body[2];
	struct meta meta[2];
	struct msg_view view[3];
	struct filter_user user[3];
	struct filter_scratch *scratch;
};

static char *pkgs0[] = {"glibc", "kernel"}, *users0[] = {"alice", "bob"};
static char *flags0[] = {"f39/python3", "nodejs"};
static char *pkgs1[] = {"bash"}, *users1[] = {"carol"};
static const char *mine[] = {"bash", "glibc", "zsh"}, *watched[] = {"alice", "kernel"};
static const struct filter_list lists[] = {
    {"mine", mine, 3}, {"watched", watched, 2}, {"empty", NULL, 0}};

static void fail(const char *what, const char *src)
{
	fprintf(stderr, "fuzz_filter: %s\nfilter: %s\n", what, src);
	abort();
}

static struct world *world(void)
{
	static struct world w;
	static int ready;

	if (ready)
		return &w;
	w.body[0] = json_loads(
	    "{\"new\": 3, \"old\": 1.5, \"name\": \"kernel\", \"owner\": \"alice\","
	    " \"tags\": [\"security\", 2, true, null, {\"a\": [1]}], \"build\": {\"state\": 1,"
	    " \"nvr\": \"kernel-6.1-1.fc39\"}, \"weird key\": \"x\", \"aaaa\": "
	    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaab\"}",
	    0, NULL);
	w.body[1] = json_loads("[1, \"two\", {\"three\": 3}]", 0, NULL);
	w.meta[0] = (struct meta){.app = "koji",
				  .title = "buildsys.build.state.change",
				  .summary = "alice's build failed",
				  .agent = "bob",
				  .severity = SEV_WARNING,
				  .usernames = users0,
				  .n_usernames = 2,
				  .packages = pkgs0,
				  .n_packages = 2,
				  .containers = flags0,
				  .n_containers = 2,
				  .groups = flags0 + 1,
				  .n_groups = 1};
	w.meta[1] = (struct meta){.app = "bodhi", .title = "t", .summary = "s",
				  .link = "https://x", .severity = SEV_DEBUG, .usernames = users1,
				  .n_usernames = 1, .packages = pkgs1, .n_packages = 1,
				  .modules = flags0, .n_modules = 1, .flatpaks = flags0 + 1,
				  .n_flatpaks = 1};
	w.view[0] = (struct msg_view){"org.fedoraproject.prod.buildsys.build.state.change",
				      w.body[0], &w.meta[0]};
	w.view[1] =
	    (struct msg_view){"org.fedoraproject.stg.bodhi.update.comment", w.body[1], &w.meta[1]};
	w.view[2] = (struct msg_view){"x", NULL, NULL};
	w.user[0] = (struct filter_user){"alice", lists, 3};
	w.user[1] = (struct filter_user){NULL, lists + 2, 1};
	w.scratch = filter_scratch_new();
	if (!w.body[0] || !w.body[1] || !w.scratch)
		abort();
	ready = 1;
	return &w;
}

struct keycheck {
	const struct msg_view *m;
	int hits; /* keys the message has */
};

static bool has_name(char *const *items, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(items[i], s))
			return true;
	return false;
}

static int check_key(void *arg, const struct filter_key *k)
{
	struct keycheck *kc = arg;
	const struct meta *mt = kc->m->meta;

	if (!k->value)
		abort();
	if (k->kind == FILTER_KEY_TOPIC)
		kc->hits += kc->m->topic && filter_glob_match(k->value, kc->m->topic);
	else if (mt && k->kind == FILTER_KEY_PACKAGE)
		kc->hits += has_name(mt->packages, mt->n_packages, k->value);
	else if (mt)
		kc->hits += has_name(mt->usernames, mt->n_usernames, k->value);
	return 0;
}

static void check_one(struct world *w, const struct filter *f, const struct msg_view *m,
		      const struct filter_user *u, const char *src)
{
	struct buf b = BUF_INIT;
	struct keycheck kc = {m, 0};
	bool matched = false;
	bool r = filter_eval(f, m, u, w->scratch);
	int rc;

	if (filter_explain(f, m, u, w->scratch, &b, &matched) == 0) {
		if (matched != r)
			fail("explain and eval disagree", src);
		if (!b.data || !strstr(b.data, "=> ") || b.data[b.len - 1] != '\n')
			fail("explain has no result line", src);
	}
	buf_release(&b);
	rc = filter_index_keys(f, u, check_key, &kc);
	if (rc < 0 || rc > FILTER_NEVER)
		fail("index keys: bad return", src);
	if (rc == FILTER_NEVER && r)
		fail("index keys say never, eval says match", src);
	if (rc == FILTER_INDEXED && r && kc.hits == 0)
		fail("index keys miss a matching message", src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world *w = world();
	struct filter_error err;
	struct filter *f;
	char *src;

	if (size > FILTER_MAX_SOURCE + 64)
		return 0;
	src = malloc(size + 1);
	if (!src)
		return 0;
	memcpy(src, data, size);
	src[size] = '\0';
	if (filter_compile(src, &f, &err) != 0) {
		if (err.line < 1 || err.col < 1 || !err.msg[0] ||
		    !memchr(err.msg, '\0', sizeof err.msg))
			fail("compile error without a position or message", src);
		free(src);
		return 0;
	}
	if (strcmp(filter_source(f), src))
		fail("filter_source differs", src);
	for (int m = 0; m < 3; m++)
		for (int u = 0; u < 3; u++)
			check_one(w, f, &w->view[m], u == 2 ? NULL : &w->user[u], src);
	filter_free(f);
	free(src);
	return 0;
}
