/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for match: candidates through each index, grouping per
 * (user, destination), slow and never-matching subscriptions, and the index
 * agreeing with a linear scan on the whole corpus-shaped message set, and
 * subscriptions that no longer load being counted, not lost (issue 12). */
#include "src/daemon/match.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/buf.h"
#include "src/common/clock.h"
#include "src/daemon/directory.h"
#include "src/daemon/metrics.h"
#include "src/daemon/store.h"
#include "tests/unit/tap.h"

static struct meta mk_meta(const char **pkgs, size_t np, const char **users, size_t nu,
			   const char *agent)
{
	struct meta m = {0};
	m.packages = (char **)pkgs;
	m.n_packages = np;
	m.usernames = (char **)users;
	m.n_usernames = nu;
	m.agent = (char *)agent;
	m.title = (char *)"a title";
	m.severity = SEV_INFO;
	return m;
}

static struct match_snapshot *fixture(void)
{
	struct match_builder *b = match_builder_new();
	const char *names[] = {"mine", "watched"};
	const char *amine[] = {"kernel", "glibc"}, *awatch[] = {"bob"};
	const char *bmine[] = {"bash"}, *bwatch[] = {"alice"};
	const char *const *alists[] = {amine, awatch}, *const *blists[] = {bmine, bwatch};
	size_t acount[] = {2, 1}, bcount[] = {1, 1};
	int rc = match_builder_user(b, "alice", names, alists, acount, 2);
	rc |= match_builder_user(b, "bob", names, blists, bcount, 2);
	rc |= match_builder_user(b, "carol", NULL, NULL, NULL, 0);
	uint64_t d1 = 11, d2 = 12, d3 = 21, d4 = 31;
	uint64_t both[] = {11, 12};
	/* alice: two subscriptions that both hit dest 11 for a kernel update. */
	rc |= match_builder_sub(b, "alice", 1, "topic ~ \"*.bodhi.update.*\" and packages & @mine", both, 2, 0);
	rc |= match_builder_sub(b, "alice", 2, "package == \"kernel\"", &d1, 1, 0);
	rc |= match_builder_sub(b, "alice", 3, "usernames & @watched", &d2, 1, 3600);
	/* bob: mentions of himself, and a firehose on one topic. */
	rc |= match_builder_sub(b, "bob", 4, "agent != me and usernames has me", &d3, 1, 0);
	rc |= match_builder_sub(b, "bob", 5, "topic == \"org.x.prod.koji.build\"", &d3, 1, 0);
	/* carol: one slow filter, one that can never match (empty list). */
	rc |= match_builder_sub(b, "carol", 6, "severity >= error", &d4, 1, 0);
	rc |= match_builder_sub(b, "carol", 7, "packages & @nothing", &d4, 1, 0);
	ok(rc == 0, "fixture built");
	ok(match_builder_sub(b, "nobody", 8, "topic ~ \"x\"", &d4, 1, 0) == -ENOENT,
	   "a subscription of an unknown user is refused");
	ok(match_builder_sub(b, "carol", 9, "topic ~", &d4, 1, 0) == -EINVAL,
	   "a filter that does not compile is refused");
	return match_builder_finish(b);
}

static const struct match_hit *hit_for(const struct match_result *r, const char *user, uint64_t dest)
{
	for (size_t i = 0; i < r->n_hits; i++)
		if (!strcmp(r->hits[i].user, user) && r->hits[i].dest == dest)
			return &r->hits[i];
	return NULL;
}

/* ---- the live matcher over a real store ---- */

/* Write in `bulk` when given, else in a transaction of its own. */
static struct store_txn *bulk;

static void put_user(struct store *st, const char *name, const char *mine)
{
	struct store_txn *t = bulk;
	char json[512];
	snprintf(json, sizeof json, "{\"name\":\"%s\",\"lists\":{\"mine\":[\"%s\"]}}", name, mine);
	if (t || !store_begin(st, &t)) {
		store_doc_put(t, STORE_USERS, name, strlen(name), json, strlen(json));
		if (!bulk)
			store_commit(t);
	}
}

static void put_sub(struct store *st, const char *user, uint64_t id, const char *filter, bool on)
{
	struct store_txn *t = bulk;
	char key[128], json[512];
	size_t ul = strlen(user);
	memcpy(key, user, ul + 1);
	for (int i = 0; i < 8; i++)
		key[ul + 1 + i] = (char)(id >> (56 - 8 * i));
	snprintf(json, sizeof json, "{\"id\":%llu,\"user\":\"%s\",\"filter\":\"%s\","
		 "\"destinations\":[%llu],\"mode\":\"instant\",\"enabled\":%s}",
		 (unsigned long long)id, user, filter, (unsigned long long)id * 10, on ? "true" : "false");
	if (t || !store_begin(st, &t)) {
		store_doc_put(t, STORE_SUBS, key, ul + 9, json, strlen(json));
		if (!bulk)
			store_commit(t);
	}
}

/* Matches of a kernel message, after waiting up to 5 s for `want`. */
static size_t hits_when(struct matcher *m, struct match_scratch *sc, size_t want)
{
	const char *pk[] = {"kernel"};
	struct meta mm = mk_meta(pk, 1, NULL, 0, "x");
	struct msg_view v = {"org.x.prod.koji.build", NULL, &mm};
	struct match_result r = {0};
	for (int i = 0; i < 100; i++) {
		struct match_snapshot *s = matcher_acquire(m);
		match_run(s, &v, sc, &r);
		match_snapshot_unref(s);
		if (r.n_hits == want)
			break;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return r.n_hits;
}

static void live(void)
{
	char dir[] = "/tmp/herald-test-match-XXXXXX", err[256];
	struct store *st;
	struct matcher *m = NULL;
	if (!mkdtemp(dir) || store_open(dir, 1 << 26, 1000, &st, err, sizeof err))
		return;
	put_user(st, "alice", "kernel");
	put_sub(st, "alice", 1, "packages & @mine", true);
	ok(matcher_start(st, &m, err, sizeof err) == 0, "matcher starts on a store (%s)", err);
	struct match_scratch *sc = match_scratch_new();
	ok(hits_when(m, sc, 1) == 1, "alice's stored subscription matches");
	/* A mute (the web app's link) ends by itself: the matcher's thread
	 * turns the subscription back on when its time is up. */
	struct directory_error de = {0};
	json_t *md = NULL;
	int64_t now = (int64_t)(clock_wall_ms() / 1000);
	size_t gone = 1;
	ok(directory_sub_mute(st, "alice", 1, now + 3600, &md, &de) == 0, "muted for an hour (%s)",
	   de.msg);
	json_decref(md);
	for (int i = 0; i < 600 && gone != 0; i++)
		gone = hits_when(m, sc, 0);
	ok(gone == 0, "muted: alice's subscription stops matching");
	/* Muted again, to end now: the refresher's next look turns it on. */
	ok(directory_sub_mute(st, "alice", 1, now, &md, &de) == 0, "the mute shortened to now");
	json_decref(md);
	size_t back = 0;
	for (int i = 0; i < 600 && back != 1; i++)
		back = hits_when(m, sc, 1);
	ok(back == 1, "and it matches again once its mute is over, by itself");
	put_user(st, "bob", "bash");
	put_sub(st, "bob", 2, "package == \\\"kernel\\\"", true);
	ok(hits_when(m, sc, 2) == 2, "bob's new subscription applies without a restart");
	put_sub(st, "alice", 1, "packages & @mine", false);
	ok(hits_when(m, sc, 1) == 1, "disabling alice's applies too");
	char name[32];
	if (store_begin(st, &bulk))
		return;
	for (int i = 0; i < 2100; i++) {
		snprintf(name, sizeof name, "u%d", i);
		put_user(st, name, "kernel");
		put_sub(st, name, 100 + (uint64_t)i, "packages & @mine", true);
	}
	store_commit(bulk);
	bulk = NULL;
	ok(hits_when(m, sc, 2101) == 2101, "2,100 new users at once (a full rebuild) all match");
	put_sub(st, "bob", 2, "package == \\\"kernel\\\"", false);
	ok(hits_when(m, sc, 2100) == 2100, "and a small change after the rebuild still applies");
	match_scratch_free(sc);
	matcher_stop(m);
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("cleanup failed");
}

/* Issue 12: subscriptions in the store that do not load (a filter the
 * language no longer accepts, a user that is gone) used to vanish without a
 * trace. They are written straight into the store, as the directory would
 * refuse them. */
static void invalid_subs(void)
{
	char dir[] = "/tmp/herald-test-match-XXXXXX", err[256] = "";
	struct store *st;
	struct matcher *m = NULL;
	struct metrics met = {0};
	struct match_snapshot *s = NULL;
	struct match_stats stats = {0};
	struct buf prom = BUF_INIT, json = BUF_INIT;
	if (!mkdtemp(dir) || store_open(dir, 1 << 26, 1000, &st, err, sizeof err)) {
		ok(0, "store for the invalid-subscription test (%s)", err);
		return;
	}
	put_user(st, "alice", "kernel");
	put_sub(st, "alice", 1, "packages & @mine", true);
	put_sub(st, "alice", 2, "topic ~", true);          /* does not parse */
	put_sub(st, "ghost", 3, "packages & @mine", true); /* no such user */
	put_sub(st, "alice", 4, "topic ~", false);         /* disabled: not counted */
	ok(match_snapshot_load(st, &s, err, sizeof err) == 0, "a store with broken subscriptions "
	   "still loads (%s)", err);
	if (s)
		match_snapshot_stats(s, &stats);
	ok(stats.subscriptions == 1 && stats.invalid == 2,
	   "1 subscription indexed, 2 counted invalid (%zu, %zu)", stats.subscriptions,
	   stats.invalid);
	match_snapshot_unref(s);
	ok(matcher_start(st, &m, err, sizeof err) == 0, "matcher starts (%s)", err);
	struct match_scratch *sc = match_scratch_new();
	ok(hits_when(m, sc, 1) == 1, "the good subscription still matches");
	matcher_set_metrics(m, &met);
	ok(metric_get(&met.subscriptions_invalid) == 2, "subscriptions_invalid is 2 (%llu)",
	   (unsigned long long)metric_get(&met.subscriptions_invalid));
	put_sub(st, "alice", 2, "package == \\\"kernel\\\"", true); /* fixed */
	ok(hits_when(m, sc, 2) == 2, "the fixed subscription matches once reloaded");
	ok(metric_get(&met.subscriptions_invalid) == 1,
	   "after the fix only the unknown user's is invalid (%llu)",
	   (unsigned long long)metric_get(&met.subscriptions_invalid));
	metrics_render_prometheus(&met, &prom);
	metrics_render_json(&met, &json);
	ok(prom.data && strstr(prom.data, "\nherald_subscriptions_invalid 1\n"),
	   "/metrics shows the gauge");
	ok(json.data && strstr(json.data, "\"subscriptions_invalid\":1,"), "so does the JSON");
	buf_release(&prom);
	buf_release(&json);
	match_scratch_free(sc);
	matcher_stop(m);
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("cleanup failed");
}

/* ---- budgets and quarantine (issue 13) ---- */

struct heard {
	int n;
	uint64_t ids[8];
	char reason[512];
};

static void on_quarantine(void *arg, const char *user, uint64_t id, const char *reason)
{
	struct heard *h = arg;
	if (h->n < 8)
		h->ids[h->n] = id;
	h->n++;
	snprintf(h->reason, sizeof h->reason, "%s: %s", user, reason);
}

/* A title on which ^[a-z]+ is cheap but [a-z]*[a-z]*[a-z]*[0-9] (which the
 * shape rule accepts: nothing nested) backtracks over every start position
 * of 100 words of 38 letters, staying under PCRE2's per-position limit:
 * milliseconds of work, far beyond the 100 us budget. */
static char *hostile_title(void)
{
	char *t = malloc(100 * 39 + 1);
	for (int w = 0; w < 100; w++) {
		memset(t + w * 39, 'a', 38);
		t[w * 39 + 38] = ' ';
	}
	t[100 * 39] = '\0';
	return t;
}

static void budgets(void)
{
	struct match_builder *b = match_builder_new();
	uint64_t d = 1;
	int rc = match_builder_user(b, "alice", NULL, NULL, NULL, 0);
	rc |= match_builder_user(b, "mallory", NULL, NULL, NULL, 0);
	rc |= match_builder_user(b, "trudy", NULL, NULL, NULL, 0);
	rc |= match_builder_sub(b, "alice", 1, "title =~ \"^a+ a\"", &d, 1, 0);
	rc |= match_builder_sub(b, "alice", 2, "severity >= info", &d, 1, 0);
	/* accepted today, and expensive */
	rc |= match_builder_sub(b, "mallory", 3, "title =~ \"[a-z]*[a-z]*[a-z]*[0-9]\"", &d, 1, 0);
	/* trudy: 20 of the expensive ones, more than her user budget holds */
	for (uint64_t i = 0; i < 20; i++)
		rc |= match_builder_sub(b, "trudy", 100 + i, "title =~ \"[a-z]*[a-z]*[a-z]*[0-9]\"",
					&d, 1, 0);
	/* stored before the shape rule: exponential, stopped by PCRE2's limit */
	match_builder_unchecked(b);
	rc |= match_builder_sub(b, "mallory", 4, "title =~ \"(a+)+$\"", &d, 1, 0);
	ok(rc == 0, "budget fixture built");
	struct match_snapshot *s = match_builder_finish(b);
	struct heard heard = {0};
	match_snapshot_on_quarantine(s, on_quarantine, &heard);
	struct match_scratch *sc = match_scratch_new();
	struct meta mm = mk_meta(NULL, 0, NULL, 0, "x");
	mm.title = hostile_title();
	struct msg_view v = {"org.x.prod.wiki.edit", NULL, &mm};
	struct match_result r = {0};
	size_t cut[6] = {0}, quarantined[6] = {0}, matched[6] = {0}, trudy_struck = 0;
	for (int i = 0; i < 6; i++) {
		match_run(s, &v, sc, &r);
		cut[i] = r.n_cut;
		quarantined[i] = r.n_quarantined;
		matched[i] = r.n_matched;
	}
	/* 1 mallory sub cut by its budget + 1 by the match limit; trudy's are cut
	 * while her 1 ms lasts: each cut took its whole 100 us, so at most 11.
	 * The budgets run on the monotonic clock: a thread descheduled on a
	 * loaded machine (seen under ThreadSanitizer) can spend trudy's 1 ms
	 * before her first regex, so none of hers need be cut; test 7 checks
	 * what her budget charged. */
	ok(cut[0] >= 2 && cut[0] <= 2 + 11, "message 1: mallory's 2 and at most 11 of trudy's 20 "
	   "subscriptions were cut short (%zu)", cut[0]);
	ok(matched[0] == 2 && matched[5] == 2, "alice's cheap regex and her plain filter still "
	   "match (%zu, %zu)", matched[0], matched[5]);
	ok(quarantined[0] == 0 && quarantined[1] == 0, "nothing quarantined after 2 messages");
	ok(quarantined[2] >= 2, "3rd message: quarantined (%zu)", quarantined[2]);
	ok(match_snapshot_is_quarantined(s, 3) && match_snapshot_is_quarantined(s, 4) &&
		   !match_snapshot_is_quarantined(s, 1) && !match_snapshot_is_quarantined(s, 2),
	   "mallory's two are quarantined, alice's are not");
	for (uint64_t k = 0; k < 20; k++)
		trudy_struck += match_snapshot_is_quarantined(s, 100 + k);
	ok(trudy_struck >= 1 && trudy_struck <= 11,
	   "only trudy's subscriptions that spent her budget are charged (%zu of 20 quarantined)",
	   trudy_struck);
	ok(heard.n == (int)(2 + trudy_struck) && strstr(heard.reason, "exceeded their evaluation "
	   "budget on 3 of the last 8 messages"), "the callback heard each quarantine once, with "
	   "the reason (%d)", heard.n);
	match_run(s, &v, sc, &r);
	ok(r.n_matched == 2 && r.n_candidates == 2 + 20 - trudy_struck,
	   "quarantined subscriptions are skipped (%zu candidates)", r.n_candidates);
	match_scratch_free(sc);
	match_snapshot_unref(s);
	free(mm.title);
}

/* Run the hostile-title message `n` times over the live snapshot. */
static size_t run_hostile(struct matcher *m, struct match_scratch *sc, int n, size_t *matched)
{
	struct meta mm = mk_meta(NULL, 0, NULL, 0, "x");
	mm.title = hostile_title();
	struct msg_view v = {"org.x.prod.wiki.edit", NULL, &mm};
	struct match_result r = {0};
	size_t q = 0;
	for (int i = 0; i < n; i++) {
		struct match_snapshot *s = matcher_acquire(m);
		match_run(s, &v, sc, &r);
		q += r.n_quarantined;
		match_snapshot_unref(s);
	}
	*matched = r.n_matched;
	free(mm.title);
	return q;
}

/* The sub's state as its owner sees it, after waiting up to 5 s for `want`. */
static char *state_when(struct store *st, uint64_t id, const char *want)
{
	char *got = NULL;
	for (int i = 0; i < 100; i++) {
		json_t *doc = NULL;
		struct directory_error e;
		free(got);
		got = NULL;
		if (!directory_sub_get(st, "mallory", id, &doc, &e)) {
			const char *reason = json_string_value(json_object_get(doc, "reason"));
			char buf[768];
			snprintf(buf, sizeof buf, "%s: %s",
				 json_string_value(json_object_get(doc, "state")), reason ? reason : "-");
			got = strdup(buf);
		}
		json_decref(doc);
		if (got && !strncmp(got, want, strlen(want)))
			break;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return got;
}

/* Quarantine made by the live matcher is written to the store by its own
 * thread, counted, survives a restart, and is lifted by enabling. */
static void live_quarantine(void)
{
	char dir[] = "/tmp/herald-test-match-XXXXXX", err[256] = "";
	struct store *st;
	struct matcher *m = NULL;
	struct metrics met = {0};
	size_t matched = 0;
	struct buf prom = BUF_INIT;
	if (!mkdtemp(dir) || store_open(dir, 1 << 26, 1000, &st, err, sizeof err)) {
		ok(0, "store for the quarantine test (%s)", err);
		return;
	}
	put_user(st, "mallory", "kernel");
	put_sub(st, "mallory", 1, "title =~ \\\"^a+ a\\\"", true);
	put_sub(st, "mallory", 2, "title =~ \\\"[a-z]*[a-z]*[a-z]*[0-9]\\\"", true);
	/* stored before the shape rule: loads as invalid, and says why */
	put_sub(st, "mallory", 3, "title =~ \\\"(a+)+$\\\"", true);
	char *state = state_when(st, 3, "invalid");
	ok(state && strstr(state, "invalid: filter 1:15: regular expression \"(a+)+$\" refused"),
	   "a stored filter the rule now refuses is kept, shown as invalid with why (%s)", state);
	free(state);
	ok(matcher_start(st, &m, err, sizeof err) == 0, "matcher starts (%s)", err);
	matcher_set_metrics(m, &met);
	struct match_scratch *sc = match_scratch_new();
	size_t q = run_hostile(m, sc, 4, &matched);
	ok(q == 1, "the expensive subscription is quarantined by the 4th message (%zu)", q);
	state = state_when(st, 2, "quarantined");
	ok(state && strstr(state, "quarantined: its filter's regular expressions exceeded"),
	   "the matcher's thread wrote it to the store with the reason (%s)", state);
	free(state);
	ok(metric_get(&met.subscriptions_quarantined) == 1, "counted in /metrics (%llu)",
	   (unsigned long long)metric_get(&met.subscriptions_quarantined));
	metrics_render_prometheus(&met, &prom);
	ok(prom.data && strstr(prom.data, "\nherald_subscriptions_quarantined_total 1\n"),
	   "as herald_subscriptions_quarantined_total");
	buf_release(&prom);
	match_scratch_free(sc);
	matcher_stop(m);
	/* a restart: the store says disabled, so it stays out */
	ok(matcher_start(st, &m, err, sizeof err) == 0, "matcher restarts (%s)", err);
	sc = match_scratch_new();
	q = run_hostile(m, sc, 1, &matched);
	struct match_snapshot *s = matcher_acquire(m);
	struct match_stats stats;
	match_snapshot_stats(s, &stats);
	match_snapshot_unref(s);
	ok(q == 0 && matched == 1 && stats.subscriptions == 1,
	   "after a restart only the cheap subscription is loaded, and matches (%zu, %zu)",
	   stats.subscriptions, matched);
	json_t *doc = NULL;
	struct directory_error e = {0};
	ok(directory_sub_set_enabled(st, "mallory", 3, true, &doc, &e) == -EINVAL &&
		   e.status == 400 && strstr(e.msg, "cannot be enabled"),
	   "the invalid one cannot be enabled (%s)", e.msg);
	ok(directory_sub_set_enabled(st, "mallory", 2, true, &doc, &e) == 0 &&
		   !json_object_get(doc, "state") && json_is_true(json_object_get(doc, "enabled")),
	   "the owner (or an admin) enables the quarantined one again");
	json_decref(doc);
	state = state_when(st, 2, "active");
	ok(state && !strncmp(state, "active", 6), "it is active again (%s)", state);
	free(state);
	match_scratch_free(sc);
	matcher_stop(m);
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("cleanup failed");
}

int main(void)
{
	budgets();
	live_quarantine();
	live();
	invalid_subs();
	struct match_snapshot *s = fixture();
	struct match_stats st;
	match_snapshot_stats(s, &st);
	ok(st.subscriptions == 7 && st.slow == 1 && st.never == 1 && st.indexed == 5,
	   "7 subscriptions: 5 indexed, 1 slow, 1 never (%zu/%zu/%zu)", st.indexed, st.slow, st.never);
	ok(match_snapshot_is_slow(s, 6) && !match_snapshot_is_slow(s, 1), "slow flag per subscription");

	struct match_scratch *sc = match_scratch_new();
	struct match_result r;
	const char *kpk[] = {"kernel"}, *bobu[] = {"bob"};
	struct meta m1 = mk_meta(kpk, 1, bobu, 1, "bob");
	struct msg_view v1 = {"org.fedoraproject.prod.bodhi.update.comment", NULL, &m1};
	ok(match_run(s, &v1, sc, &r) == 0, "match a kernel update comment by bob");
	const struct match_hit *h = hit_for(&r, "alice", 11);
	ok(h && h->n_subs == 2 && h->subs[0] == 1 && h->subs[1] == 2,
	   "alice/dest 11: one notification recording subscriptions 1 and 2");
	h = hit_for(&r, "alice", 12);
	ok(h && h->n_subs == 2 && h->subs[0] == 1 && h->subs[1] == 3,
	   "alice/dest 12: subscriptions 1 (package) and 3 (watched bob)");
	ok(!hit_for(&r, "bob", 21), "bob is the agent: 'agent != me' keeps him quiet");
	ok(r.n_hits == 2 && r.n_matched == 3, "2 notifications from 3 matching subscriptions");
	ok(r.n_candidates <= 5, "only candidates ran (%zu filters evaluated)", r.n_candidates);

	const char *none[] = {0};
	struct meta m2 = mk_meta(none, 0, bobu, 1, "alice");
	m2.severity = SEV_ERROR;
	struct msg_view v2 = {"org.x.prod.koji.build", NULL, &m2};
	match_run(s, &v2, sc, &r);
	h = hit_for(&r, "bob", 21);
	ok(h && h->n_subs == 2, "bob/dest 21: mention (4) and exact topic (5) in one notification");
	ok(hit_for(&r, "carol", 31) != NULL, "the slow subscription is evaluated for every message");
	ok(hit_for(&r, "alice", 12) != NULL, "alice watches bob");

	struct match_result lin;
	size_t agree = 0;
	const char *topics[] = {"org.x.prod.koji.build", "org.fedoraproject.prod.bodhi.update.request",
				"org.y.wiki.edit"};
	const char *pk[][2] = {{"kernel", "bash"}, {"glibc", 0}, {0, 0}};
	const char *us[][2] = {{"alice", "bob"}, {"bob", 0}, {"carol", 0}};
	for (int t = 0; t < 3; t++)
		for (int p = 0; p < 3; p++)
			for (int u = 0; u < 3; u++) {
				struct meta mm = mk_meta(pk[p], pk[p][0] ? (pk[p][1] ? 2 : 1) : 0, us[u],
							 us[u][1] ? 2 : 1, us[(u + 1) % 3][0]);
				mm.severity = (enum severity)((t + p + u) % 6);
				struct msg_view vv = {topics[t], NULL, &mm};
				match_run_linear(s, &vv, sc, &lin);
				size_t a = lin.n_matched, an = lin.n_hits;
				match_run(s, &vv, sc, &r);
				agree += a == r.n_matched && an == r.n_hits;
			}
	ok(agree == 27, "index and linear scan agree on 27 messages (%zu)", agree);
	match_scratch_free(sc);
	match_snapshot_unref(s);
	return tap_done();
}
