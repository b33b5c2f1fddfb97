/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_recent: the store of recent messages (src/web/recent.h) and the
 * preview over it (src/web/preview.h), with the corpus (tests/data): the
 * ring keeps the last N in order, entries outlive their slot while held,
 * and a preview counts and lists what the filter itself says, newest first,
 * for the user's lists, with filter test's errors and the shape rule.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "src/daemon/directory.h"
#include "src/daemon/store.h"
#include "src/schema/schema.h"
#include "src/web/preview.h"
#include "src/web/recent.h"
#include "tests/unit/tap.h"

#define N_MAX 1000 /* corpus lines read */

struct corpus {
	json_t *env[N_MAX];
	size_t n;
};

static void load_corpus(const char *top, struct corpus *c)
{
	char path[4096], *line = NULL;
	size_t cap = 0;
	snprintf(path, sizeof path, "%s/tests/data/fedmsg-messages.jsonl", top);
	FILE *fp = fopen(path, "r");
	while (fp && c->n < N_MAX && getline(&line, &cap, fp) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		if (o && json_is_string(json_object_get(o, "topic")))
			c->env[c->n++] = o;
		else
			json_decref(o);
	}
	free(line);
	if (fp)
		fclose(fp);
}

/* Message i as the committer hands it over: msg_id "m<i>", meta described. */
static void add_corpus_msg(struct recent *r, const struct schema *sc, const json_t *env, size_t i)
{
	char id[32];
	struct meta meta = {0};
	const char *topic = json_string_value(json_object_get(env, "topic"));
	json_t *msg = json_object_get(env, "msg");
	snprintf(id, sizeof id, "m%zu", i);
	schema_describe(sc, topic, msg, &meta);
	struct recent_in in = {topic, id, msg, &meta, (int64_t)(1700000000000 + i)};
	recent_add(r, &in);
}

static void ring(void)
{
	struct recent *r;
	struct recent_msg *got[8], *held = NULL;
	uint64_t oldest;
	ok(recent_new(0, &r) == -EINVAL && recent_new(RECENT_MAX + 1, &r) == -EINVAL,
	   "capacity 0 and over RECENT_MAX refused");
	if (!ok(recent_new(3, &r) == 0, "a ring of 3"))
		return;
	ok(recent_newest(r, got, 8) == 0 && recent_last_seq(r) == 0, "empty at first");
	for (int i = 1; i <= 5; i++) {
		char id[8];
		struct meta m = {.title = strdup("t")};
		snprintf(id, sizeof id, "id%d", i);
		struct recent_in in = {"org.test.a", id, NULL, &m, i};
		recent_add(r, &in);
		ok(!m.title, "message %d: the meta was moved in", i);
		if (i == 3)
			held = recent_find(r, "id3");
	}
	size_t n = recent_newest(r, got, 8);
	ok(n == 3 && got[0]->seq == 5 && got[1]->seq == 4 && got[2]->seq == 3 &&
		   !strcmp(got[0]->msg_id, "id5") && !strcmp(got[0]->meta.title, "t"),
	   "after 5 into 3: the newest three, newest first");
	recent_release(got, n);
	n = recent_after(r, 0, got, 8, &oldest);
	ok(n == 3 && oldest == 3 && got[0]->seq == 3 && got[2]->seq == 5,
	   "after 0: oldest first from 3 (oldest held %llu)", (unsigned long long)oldest);
	recent_release(got, n);
	n = recent_after(r, 4, got, 8, NULL);
	ok(n == 1 && got[0]->seq == 5, "after 4: only 5");
	recent_release(got, n);
	ok(recent_after(r, 5, got, 8, NULL) == 0, "after the last: nothing");
	ok(!recent_find(r, "id1") && !recent_find(r, "nosuch"), "a message gone from the ring is not found");
	for (int i = 6; i <= 8; i++) {
		struct recent_in in = {"org.test.b", NULL, NULL, NULL, i};
		recent_add(r, &in);
	}
	ok(held && held->seq == 3 && !strcmp(held->msg_id, "id3") && !strcmp(held->topic, "org.test.a"),
	   "an entry held by a reader outlives its slot");
	recent_msg_unref(held);
	recent_free(r);
}

struct fixture {
	char dir[64];
	struct store *store;
	struct schema *schema;
	struct corpus c;
	struct recent *r;
};

static int setup(struct fixture *f, const char *top)
{
	char rules[4096], err[512] = "";
	struct directory_error e;
	json_t *out;
	snprintf(f->dir, sizeof f->dir, "/tmp/herald-test-recent-XXXXXX");
	snprintf(rules, sizeof rules, "%s/src/schema/rules", top);
	load_corpus(top, &f->c);
	json_t *alice = json_pack("{s:s, s:{s:[s, s]}}", "name", "alice", "lists", "mine", "kernel",
				  "systemd");
	int rc = -EINVAL;
	if (!mkdtemp(f->dir) || (rc = store_open(f->dir, 1 << 26, 1000, &f->store, err, sizeof err)) ||
	    (rc = schema_load(rules, NULL, &f->schema, err, sizeof err)) ||
	    (rc = directory_user_add(f->store, alice, &out, &e)) || (rc = recent_new(2000, &f->r)))
		diag("setup failed: %s %s (%s)", err, e.msg, strerror(-rc));
	else
		json_decref(out);
	json_decref(alice);
	for (size_t i = 0; !rc && i < f->c.n; i++)
		add_corpus_msg(f->r, f->schema, f->c.env[i], i);
	return rc;
}

static void teardown(struct fixture *f)
{
	char cmd[128];
	recent_free(f->r);
	schema_free(f->schema);
	store_close(f->store);
	for (size_t i = 0; i < f->c.n; i++)
		json_decref(f->c.env[i]);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd))
		diag("cleanup failed");
}

/* What the filter says of each corpus message, directly: the count, and
 * the newest matching index. */
static size_t direct_count(struct fixture *f, const char *src, const struct filter_user *u,
			   long *newest)
{
	struct filter *flt;
	struct filter_scratch *s = filter_scratch_new();
	size_t n = 0;
	*newest = -1;
	if (filter_compile(src, &flt, NULL))
		return (size_t)-1;
	for (size_t i = 0; i < f->c.n; i++) {
		struct meta m = {0};
		const char *topic = json_string_value(json_object_get(f->c.env[i], "topic"));
		json_t *msg = json_object_get(f->c.env[i], "msg");
		schema_describe(f->schema, topic, msg, &m);
		struct msg_view v = {topic, msg, &m};
		if (filter_eval(flt, &v, u, s)) {
			n++;
			*newest = (long)i;
		}
		meta_release(&m);
	}
	filter_free(flt);
	filter_scratch_free(s);
	return n;
}

static int preview(struct fixture *f, struct recent *r, const char *user, const char *src,
		   json_t **out, struct directory_error *e)
{
	json_t *in = json_pack("{s:s}", "filter", src);
	int rc = preview_run(r, f->store, user, in, out, e);
	json_decref(in);
	return rc;
}

/* The preview agrees with the filter on every corpus message. */
static void agrees(struct fixture *f, const char *src, const struct filter_user *u)
{
	long newest;
	struct directory_error e = {0};
	json_t *out = NULL;
	size_t want = direct_count(f, src, u, &newest);
	int rc = preview(f, f->r, "alice", src, &out, &e);
	json_t *list = json_object_get(out, "messages");
	char first[32];
	snprintf(first, sizeof first, "m%ld", newest);
	size_t listed = json_array_size(list);
	ok(!rc && json_integer_value(json_object_get(out, "matched")) == (json_int_t)want &&
		   json_integer_value(json_object_get(out, "of")) == (json_int_t)f->c.n &&
		   json_is_true(json_object_get(out, "complete")) &&
		   listed == (want < PREVIEW_MAX_LIST ? want : PREVIEW_MAX_LIST),
	   "%s: matched %lld of %lld, as the filter says (%zu of %zu), %zu listed", src,
	   (long long)json_integer_value(json_object_get(out, "matched")),
	   (long long)json_integer_value(json_object_get(out, "of")), want, f->c.n, listed);
	const char *id0 = json_string_value(json_object_get(json_array_get(list, 0), "id"));
	ok(!want || (id0 && !strcmp(id0, first)), "%s: the newest match is listed first (%s, want %s)",
	   src, id0 ? id0 : "none", first);
	bool descending = true;
	for (size_t i = 1; i < listed; i++) {
		const char *a = json_string_value(json_object_get(json_array_get(list, i - 1), "id"));
		const char *b = json_string_value(json_object_get(json_array_get(list, i), "id"));
		descending = descending && a && b && atol(a + 1) > atol(b + 1);
	}
	ok(descending, "%s: listed newest first", src);
	json_decref(out);
}

static void previews(struct fixture *f)
{
	static const char *const mine[] = {"kernel", "systemd"};
	struct filter_list lists[] = {{"mine", mine, 2}};
	struct filter_user alice = {"alice", lists, 1};
	struct directory_error e = {0};
	json_t *out = NULL;
	diag("%zu corpus messages", f->c.n);
	agrees(f, "topic ~ \"*.buildsys.*\"", &alice);
	agrees(f, "app == \"bodhi\"", &alice);
	agrees(f, "packages & @mine", &alice);
	agrees(f, "topic ~ \"*\"", &alice);
	agrees(f, "title =~ \"^[A-Za-z]+ \" and not app == \"koji\"", &alice);
	agrees(f, "topic == \"org.nothing\"", &alice);

	ok(preview(f, f->r, "alice", "topic ~", &out, &e) == -EINVAL && e.status == 400 &&
		   !strncmp(e.msg, "filter 1:", 9),
	   "a filter that does not compile: 400 with line:col (%s)", e.msg);
	ok(preview(f, f->r, "alice", "title =~ \"(a+)+$\"", &out, &e) == -EINVAL &&
		   e.status == 400 && strstr(e.msg, "filter 1:"),
	   "a regex that can backtrack catastrophically is refused as for a subscription (%s)",
	   e.msg);
	ok(preview(f, f->r, "nobody", "topic ~ \"*\"", &out, &e) && e.status == 404,
	   "an unknown user: 404 (%s)", e.msg);
	json_t *bad = json_pack("{s:s, s:i}", "filter", "topic ~ \"*\"", "limit", 3);
	ok(preview_run(f->r, f->store, "alice", bad, &out, &e) && e.status == 400,
	   "an unknown key is refused (%s)", e.msg);
	json_decref(bad);
	ok(preview(f, NULL, "alice", "topic ~ \"*\"", &out, &e) && e.status == 503,
	   "no recent store: 503 (%s)", e.msg);

	/* a smaller ring: M is what it holds, the last ones */
	struct recent *small;
	recent_new(100, &small);
	for (size_t i = 0; i < f->c.n; i++)
		add_corpus_msg(small, f->schema, f->c.env[i], i);
	int rc = preview(f, small, "alice", "topic ~ \"*\"", &out, &e);
	const char *id0 = json_string_value(
	    json_object_get(json_array_get(json_object_get(out, "messages"), 0), "id"));
	char last[32];
	snprintf(last, sizeof last, "m%zu", f->c.n - 1);
	ok(!rc && json_integer_value(json_object_get(out, "of")) == 100 &&
		   json_integer_value(json_object_get(out, "matched")) == 100 && id0 &&
		   !strcmp(id0, last),
	   "a ring of 100: of 100, the newest first (%s)", id0 ? id0 : "none");
	json_t *m0 = json_array_get(json_object_get(out, "messages"), 0);
	ok(json_is_string(json_object_get(m0, "topic")) &&
		   json_is_integer(json_object_get(m0, "time")) && json_object_get(m0, "title") &&
		   json_object_get(m0, "app") && json_object_get(m0, "link"),
	   "each listed message has id, topic, time, title, app, link");
	json_decref(out);
	recent_free(small);
}

int main(void)
{
	const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
	struct fixture f = {0};
	ring();
	if (!setup(&f, top))
		previews(&f);
	else
		ok(0, "setup");
	teardown(&f);
	return tap_done();
}
