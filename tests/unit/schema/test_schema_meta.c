/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The default rule set against the reference corpus: for every line of
 * tests/data/expected-meta.jsonl, herald's usernames and packages must equal
 * the expected sets (a field the line leaves out is not compared) and its
 * link the expected link (null: herald gives none; "" counts as none too).
 * Prints how many of the lines agree and fails under 95%. Also checks that
 * every corpus message is claimed by a shipped rule, and (a weaker check on
 * wording) that every expected username or package named in a reference
 * subtitle is named in herald's title or summary. Finds its data through
 * $srcdir (or $top_srcdir), like the other tests.
 */
#include "src/schema/schema.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/tap.h"

#define AGREE_MIN 0.95

struct corpus {
	json_t **msgs; /* envelopes, by line number */
	size_t n;
};

static const char *srcdir(void)
{
	const char *d = getenv("srcdir");
	if (!d || !*d)
		d = getenv("top_srcdir");
	return d && *d ? d : ".";
}

static FILE *open_data(const char *name)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/tests/data/%s", srcdir(), name);
	FILE *f = fopen(path, "r");
	if (!f)
		diag("cannot open %s", path);
	return f;
}

static int load_corpus(struct corpus *c)
{
	FILE *f = open_data("fedmsg-messages.jsonl");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	if (!f)
		return -1;
	while ((len = getline(&line, &cap, f)) > 0) {
		json_t **p = realloc(c->msgs, (c->n + 1) * sizeof *p);
		if (!p)
			break;
		c->msgs = p;
		c->msgs[c->n++] = json_loadb(line, (size_t)len, 0, NULL);
	}
	free(line);
	fclose(f);
	return 0;
}

static const char *topic_of(const json_t *env)
{
	const char *t = json_string_value(json_object_get(env, "topic"));
	return t ? t : "";
}

/* Is `want` (a JSON array of strings) the same set as v[0..n) (sorted, unique)? */
static bool same_set(const json_t *want, char *const *v, size_t n)
{
	size_t i, distinct = 0;
	const json_t *w;
	json_array_foreach(want, i, w) {
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = json_equal(json_array_get(want, k), w);
		if (dup)
			continue;
		distinct++;
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = json_is_string(w) && !strcmp(v[k], json_string_value(w));
		if (!found)
			return false;
	}
	return distinct == n;
}

static bool same_link(const json_t *want, const char *got)
{
	const char *w = json_string_value(want);
	if (!w || !*w)
		return got == NULL;
	return got && !strcmp(w, got);
}

static bool name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-';
}

/* `word` appears in `text` with no name character glued to either side. */
static bool names(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = text; n && (p = strstr(p, word)); p++) {
		bool left = p == text || !(name_char(p[-1]) || p[-1] == '.');
		if (left && !name_char(p[n]))
			return true;
	}
	return false;
}

struct tally {
	size_t lines, agree;
	size_t users_n, users_ok, pkgs_n, pkgs_ok, link_n, link_ok;
	size_t facts_n, facts_ok;
};

/* The weaker check: names from the expected lists that the reference
 * subtitle mentions must be in our title or summary too. */
static void check_facts(const json_t *exp, const struct meta *m, struct tally *t, size_t idx)
{
	const char *sub = json_string_value(json_object_get(exp, "subtitle"));
	const char *fields[] = {"usernames", "packages"};
	bool any = false, all = true;
	for (size_t f = 0; sub && f < 2; f++) {
		size_t i;
		const json_t *w;
		json_array_foreach(json_object_get(exp, fields[f]), i, w) {
			const char *word = json_string_value(w);
			if (!word || !names(sub, word))
				continue;
			any = true;
			if (!names(m->title, word) && !names(m->summary, word)) {
				all = false;
				diag("line %zu: '%s' from the reference subtitle is missing "
				     "from \"%s\"", idx, word, m->title);
			}
		}
	}
	t->facts_n += any;
	t->facts_ok += any && all;
}

static void compare(const json_t *exp, const struct meta *m, struct tally *t, size_t idx,
		    const char *topic)
{
	const json_t *u = json_object_get(exp, "usernames"), *p = json_object_get(exp, "packages");
	bool has_link = json_object_get(exp, "link") != NULL, good = true;
	if (u) {
		bool same = same_set(u, m->usernames, m->n_usernames);
		t->users_n++;
		t->users_ok += same;
		good &= same;
	}
	if (p) {
		bool same = same_set(p, m->packages, m->n_packages);
		t->pkgs_n++;
		t->pkgs_ok += same;
		good &= same;
	}
	if (has_link) {
		bool same = same_link(json_object_get(exp, "link"), m->link);
		t->link_n++;
		t->link_ok += same;
		good &= same;
	}
	t->agree += good;
	if (!good)
		diag("disagree: line %zu %s", idx, topic);
	check_facts(exp, m, t, idx);
}

static void agreement(struct schema *s, const struct corpus *c)
{
	FILE *f = open_data("expected-meta.jsonl");
	struct tally t = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while (f && (len = getline(&line, &cap, f)) > 0) {
		json_t *exp = json_loadb(line, (size_t)len, 0, NULL);
		json_int_t idx = json_integer_value(json_object_get(exp, "msg_index"));
		struct meta m;
		t.lines++;
		if (exp && idx >= 0 && (size_t)idx < c->n && c->msgs[idx] &&
		    !schema_describe(s, topic_of(c->msgs[idx]),
				     json_object_get(c->msgs[idx], "msg"), &m)) {
			compare(exp, &m, &t, (size_t)idx, topic_of(c->msgs[idx]));
			meta_release(&m);
		} else {
			diag("expected-meta line %zu: unusable", t.lines);
		}
		json_decref(exp);
	}
	free(line);
	if (f)
		fclose(f);
	double share = t.lines ? (double)t.agree / (double)t.lines : 0;
	diag("agree: %zu/%zu (%.1f%%)", t.agree, t.lines, 100 * share);
	diag("usernames: %zu/%zu, packages: %zu/%zu, link: %zu/%zu", t.users_ok, t.users_n,
	     t.pkgs_ok, t.pkgs_n, t.link_ok, t.link_n);
	ok(t.lines == 565, "expected-meta has 565 lines (%zu)", t.lines);
	ok(share >= AGREE_MIN, "at least %.0f%% of the expected lines agree", 100 * AGREE_MIN);
	diag("subtitle facts in title/summary: %zu/%zu", t.facts_ok, t.facts_n);
	ok(t.facts_n && t.facts_ok * 100 >= t.facts_n * 95,
	   "names in the reference subtitles are in our titles (95%% at least)");
}

static void coverage(struct schema *s, const struct corpus *c)
{
	size_t unclaimed = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (c->msgs[i] &&
		    schema_match(s, topic_of(c->msgs[i]), json_object_get(c->msgs[i], "msg")))
			continue;
		unclaimed++;
		diag("no rule for line %zu: %s", i,
		     c->msgs[i] ? topic_of(c->msgs[i]) : "(bad JSON)");
	}
	ok(unclaimed == 0, "every corpus message is claimed by a shipped rule (%zu are not)",
	   unclaimed);
}

static void speed(struct schema *s, const struct corpus *c)
{
	struct timespec a, b;
	size_t done = 0;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	for (int pass = 0; pass < 20; pass++) {
		for (size_t i = 0; i < c->n; i++) {
			struct meta m;
			const json_t *env = c->msgs[i];
			if (env && !schema_describe(s, topic_of(env), json_object_get(env, "msg"),
						    &m)) {
				meta_release(&m);
				done++;
			}
		}
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3;
	diag("describe: %.2f us/message (CPU time) over %zu messages",
	     done ? us / (double)done : 0, done);
}

int main(void)
{
	struct corpus c = {0};
	char rules[1024], idmap[1024], err[1024];
	snprintf(rules, sizeof rules, "%s/src/schema/rules", srcdir());
	snprintf(idmap, sizeof idmap, "%s/tests/data/identity-map.json", srcdir());
	struct schema *s = NULL;
	int loaded = load_corpus(&c);
	ok(!loaded && c.n == 832, "corpus: %zu messages", c.n);
	int rc = schema_load(rules, idmap, &s, err, sizeof err);
	ok(rc == 0, "default rules load from %s (%s)", rules, rc ? err : "ok");
	if (s) {
		diag("%zu rules", schema_rule_count(s));
		coverage(s, &c);
		agreement(s, &c);
		speed(s, &c);
	}
	schema_free(s);
	for (size_t i = 0; i < c.n; i++)
		json_decref(c.msgs[i]);
	free(c.msgs);
	return tap_done();
}
