/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The default rule set against today's apps: every tests/data/apps/APP.jsonl
 * line is a message in an app's current fedora-messaging format with the
 * values its schema class computes (tests/data/SOURCES.md). Each message is
 * described twice: with its AMQP headers (as heraldd gets it over AMQP) and
 * without (the body alone, as over fedmsg). Prints the agreement table per
 * app and field for both, and fails when any field's agreement over all the
 * messages is under 95% in either. A field a line's "expected" leaves out is
 * not compared.
 *
 * How fields compare: usernames and packages as sets; agent and link
 * exactly; titles after a normalisation that keeps every word and its
 * order: case folded, whitespace removed, a trailing '.' dropped (herald's
 * titles are its own sentences where a schema's wording lost a space or
 * ends with a full stop; no other difference passes).
 */
#include "src/schema/schema.h"

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/tap.h"

#define AGREE_MIN 0.95

enum field { T_TITLE, T_USERS, T_PKGS, T_AGENT, T_LINK, N_FIELDS };
static const char *const field_names[N_FIELDS] = {"title", "usernames", "packages", "agent",
						  "link"};

struct tally {
	unsigned agree[N_FIELDS], seen[N_FIELDS];
};

static const char *srcdir(void)
{
	const char *d = getenv("srcdir");
	if (!d || !*d)
		d = getenv("top_srcdir");
	return d && *d ? d : ".";
}

/* Lowercase, no whitespace, no trailing '.': into out (n bytes). */
static void normalise(const char *s, char *out, size_t n)
{
	size_t k = 0;
	for (; s && *s && k + 1 < n; s++)
		if (!isspace((unsigned char)*s))
			out[k++] = (char)tolower((unsigned char)*s);
	while (k && out[k - 1] == '.')
		k--;
	out[k] = '\0';
}

static bool same_title(const char *want, const char *got)
{
	char a[1024], b[1024];
	normalise(want, a, sizeof a);
	normalise(got, b, sizeof b);
	return !strcmp(a, b);
}

/* Is `want` (a JSON array of strings) the same set as v[0..n) (sorted, unique)? */
static bool same_set(const json_t *want, char *const *v, size_t n)
{
	size_t i, distinct = 0;
	const json_t *w;
	json_array_foreach(want, i, w) {
		bool found = false, dup = false;
		for (size_t k = 0; k < n && !found; k++)
			found = !strcmp(v[k], json_string_value(w));
		for (size_t k = 0; k < i && !dup; k++)
			dup = json_equal(json_array_get(want, k), w);
		if (!found)
			return false;
		distinct += !dup;
	}
	return distinct == n;
}

static bool same_str(const json_t *want, const char *got)
{
	return got && !strcmp(json_string_value(want), got);
}

static void compare(const json_t *exp, const struct meta *m, struct tally *t,
		    const char *where, bool with_headers)
{
	for (int f = 0; f < N_FIELDS; f++) {
		const json_t *want = json_object_get(exp, field_names[f]);
		bool ok_f;
		if (!want)
			continue;
		switch (f) {
		case T_TITLE: ok_f = same_title(json_string_value(want), m->title); break;
		case T_USERS: ok_f = same_set(want, m->usernames, m->n_usernames); break;
		case T_PKGS: ok_f = same_set(want, m->packages, m->n_packages); break;
		case T_AGENT: ok_f = same_str(want, m->agent); break;
		default: ok_f = same_str(want, m->link); break;
		}
		t->seen[f]++;
		t->agree[f] += ok_f;
		if (!ok_f) {
			char *w = json_dumps(want, JSON_ENCODE_ANY);
			diag("%s (%s headers): %s: want %s, got title \"%s\" agent %s link %s "
			     "users %zu pkgs %zu", where, with_headers ? "with" : "without",
			     field_names[f], w, m->title, m->agent ? m->agent : "-",
			     m->link ? m->link : "-", m->n_usernames, m->n_packages);
			free(w);
		}
	}
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static bool is_jsonl(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return n > 6 && !strcmp(e->d_name + n - 6, ".jsonl");
}

static int filter_jsonl(const struct dirent *e)
{
	return is_jsonl(e);
}

/* One app's file: describe each line both ways, into t[0] (headers), t[1]. */
static unsigned run_app(const struct schema *s, const char *path, const char *app,
			struct tally t[2])
{
	FILE *f = fopen(path, "r");
	char *line = NULL, where[300];
	size_t cap = 0;
	unsigned n = 0;
	if (!f) {
		diag("cannot open %s", path);
		return 0;
	}
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		const char *topic = json_string_value(json_object_get(j, "topic"));
		n++;
		snprintf(where, sizeof where, "%s line %u", app, n);
		if (!topic) {
			diag("%s: not a message", where);
			t[0].seen[T_TITLE]++;
			json_decref(j);
			continue;
		}
		for (int h = 0; h < 2; h++) {
			struct meta m;
			const json_t *hdr = h ? NULL : json_object_get(j, "headers");
			if (schema_describe_headers(s, topic, json_object_get(j, "msg"), hdr, &m)) {
				t[h].seen[T_TITLE]++;
				continue;
			}
			compare(json_object_get(j, "expected"), &m, &t[h], where, !h);
			meta_release(&m);
		}
		json_decref(j);
	}
	free(line);
	fclose(f);
	return n;
}

static void print_row(const char *name, const struct tally *t)
{
	char row[512];
	size_t k = (size_t)snprintf(row, sizeof row, "%-10s", name);
	for (int f = 0; f < N_FIELDS; f++) {
		if (t->seen[f])
			k += (size_t)snprintf(row + k, sizeof row - k, " %5u/%-4u", t->agree[f],
					      t->seen[f]);
		else
			k += (size_t)snprintf(row + k, sizeof row - k, " %10s", "-");
	}
	diag("%s", row);
}

static void add(struct tally *sum, const struct tally *t)
{
	for (int f = 0; f < N_FIELDS; f++) {
		sum->agree[f] += t->agree[f];
		sum->seen[f] += t->seen[f];
	}
}

int main(void)
{
	char rules[1024], idmap[1024], dir[1024], err[1024];
	struct schema *s = NULL;
	snprintf(rules, sizeof rules, "%s/src/schema/rules", srcdir());
	snprintf(idmap, sizeof idmap, "%s/tests/data/identity-map.json", srcdir());
	snprintf(dir, sizeof dir, "%s/tests/data/apps", srcdir());
	if (!ok(!schema_load(rules, idmap, &s, err, sizeof err), "the shipped rules load (%s)",
		err))
		return tap_done();
	struct dirent **ents;
	int n = scandir(dir, &ents, filter_jsonl, by_name);
	ok(n > 0, "app files in %s: %d", dir, n);
	struct tally sum[2];
	memset(sum, 0, sizeof sum);
	struct tally per[64][2];
	char names[64][64];
	unsigned msgs = 0;
	int apps = 0;
	for (int i = 0; i < n; i++) {
		char path[2048];
		if (apps < 64) {
			snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
			snprintf(names[apps], sizeof names[apps], "%.*s",
				 (int)(strlen(ents[i]->d_name) - 6), ents[i]->d_name);
			memset(per[apps], 0, sizeof per[apps]);
			unsigned got = run_app(s, path, names[apps], per[apps]);
			ok(got >= 5, "%s: %u messages (at least 5)", names[apps], got);
			msgs += got;
			add(&sum[0], &per[apps][0]);
			add(&sum[1], &per[apps][1]);
			apps++;
		}
		free(ents[i]);
	}
	free(ents);
	for (int h = 0; h < 2; h++) {
		diag("%s headers (%u messages, %d apps):", h ? "without" : "with", msgs, apps);
		diag("%-10s %10s %10s %10s %10s %10s", "app", "title", "usernames", "packages",
		     "agent", "link");
		for (int a = 0; a < apps; a++)
			print_row(names[a], &per[a][h]);
		print_row("all", &sum[h]);
		for (int f = 0; f < N_FIELDS; f++) {
			double r = sum[h].seen[f] ? (double)sum[h].agree[f] / sum[h].seen[f] : 1.0;
			ok(r >= AGREE_MIN, "%s headers: %s agrees on %u/%u (%.1f%%, at least %.0f%%)",
			   h ? "without" : "with", field_names[f], sum[h].agree[f], sum[h].seen[f],
			   100 * r, 100 * AGREE_MIN);
		}
	}
	schema_free(s);
	return tap_done();
}
