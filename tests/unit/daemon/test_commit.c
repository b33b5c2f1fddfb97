/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for commit, the committer, driven without ingest or ZeroMQ:
 * hand-made items (envelopes from a corpus line) go into a real LMDB store,
 * matched by a real matcher and understood by the default schema rules.
 * Every check is an exact number from the metrics, the store's cursors, the
 * outbox or the replay requests the committer made.
 */
#include "src/daemon/commit.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

#include "src/common/clock.h"
#include "src/schema/schema.h"
#include "src/daemon/match.h"
#include "src/daemon/outbox.h"
#include "src/daemon/seqtrack.h"
#include "src/daemon/store.h"
#include "tests/unit/tap.h"

#define MAP_SIZE (8u << 20) /* the smallest map whose intake can stop and resume */
#define N_SOURCES 3
#define N_DESTS 20 /* alice's destinations: notifications per matching message */
enum { RELAY, DIRECT, SECOND }; /* sequenced, unsequenced, sequenced */

struct request {
	uint32_t src;
	uint64_t lo, hi;
};

struct fixture {
	char dir[64];
	struct config cfg;
	struct store *store;
	struct schema *schema;
	struct matcher *matcher;
	struct metrics m;
	struct ingest_source src[N_SOURCES];
	struct commit *c;
	struct request req[16];
	size_t n_req;
	json_t *model; /* the corpus message every test message is made from */
};

/* Items for one commit_batch, and the envelope bytes they borrow. */
struct batch {
	struct ingest_item *items[COMMIT_BATCH_MAX];
	char *raw[COMMIT_BATCH_MAX];
	size_t n;
};

/* ---- the committer's view of ingest: a table, and a request log ---- */

static const struct ingest_source *source_get(void *arg, size_t i)
{
	struct fixture *f = arg;
	return &f->src[i];
}

static int request_replay(void *arg, uint32_t src, uint64_t lo, uint64_t hi)
{
	struct fixture *f = arg;
	if (f->n_req < sizeof f->req / sizeof f->req[0])
		f->req[f->n_req] = (struct request){src, lo, hi};
	f->n_req++;
	return 0;
}

/* Exactly these requests since the last call, in this order. */
static bool requested(struct fixture *f, size_t n, const struct request *want)
{
	bool same = f->n_req == n;
	for (size_t i = 0; same && i < n; i++)
		same = f->req[i].src == want[i].src && f->req[i].lo == want[i].lo &&
		       f->req[i].hi == want[i].hi;
	if (!same)
		for (size_t i = 0; i < f->n_req && i < 16; i++)
			diag("request %zu: source %u, %llu..%llu", i, f->req[i].src,
			     (unsigned long long)f->req[i].lo, (unsigned long long)f->req[i].hi);
	f->n_req = 0;
	return same;
}

/* ---- items ---- */

static struct ingest_item *add(struct batch *b, enum ingest_kind kind, uint32_t src)
{
	struct ingest_item *it = calloc(1, sizeof *it);
	if (!it || b->n == COMMIT_BATCH_MAX)
		abort();
	it->kind = kind;
	it->source = src;
	it->env = (struct envelope)ENVELOPE_INIT;
	b->raw[b->n] = NULL;
	b->items[b->n++] = it;
	return it;
}

/* A verified message numbered `seq`, with msg_id `id` (default "src-seq"). */
static struct ingest_item *add_msg(struct fixture *f, struct batch *b, uint32_t src, uint64_t seq,
				   const char *id, bool replayed)
{
	char dflt[64];
	snprintf(dflt, sizeof dflt, "%u-%llu", src, (unsigned long long)seq);
	json_t *o = json_deep_copy(f->model);
	json_object_set_new(o, "i", json_integer((json_int_t)seq));
	json_object_set_new(o, "msg_id", json_string(id ? id : dflt));
	char *raw = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	struct ingest_item *it = add(b, INGEST_MESSAGE, src);
	b->raw[b->n - 1] = raw;
	if (!raw || envelope_parse(&it->env, raw, strlen(raw), NULL) != ENVELOPE_OK)
		abort();
	it->raw = raw;
	it->raw_len = strlen(raw);
	it->ok = it->wanted = it->has_seq = true;
	it->seq = seq;
	it->replayed = replayed;
	it->via_relay = src != DIRECT;
	return it;
}

static void add_msgs(struct fixture *f, struct batch *b, uint32_t src, uint64_t lo, uint64_t hi,
		     bool replayed)
{
	for (uint64_t s = lo; s <= hi; s++)
		add_msg(f, b, src, s, NULL, replayed);
}

/* A message that failed verification, with the relay's number on it. */
static void add_bad(struct batch *b, uint32_t src, uint64_t seq)
{
	struct ingest_item *it = add(b, INGEST_MESSAGE, src);
	it->why = REJECT_BAD_SIGNATURE;
	it->has_seq = it->via_relay = true;
	it->seq = seq;
}

static void add_done(struct batch *b, uint32_t src, uint64_t last, bool more)
{
	struct ingest_item *it = add(b, INGEST_REPLAY_DONE, src);
	it->last_seq = last;
	it->more = more;
}

/* Commit the batch, then free it as ingest_release would. */
static int commit(struct fixture *f, struct batch *b)
{
	int rc = commit_batch(f->c, b->items, b->n);
	for (size_t i = 0; i < b->n; i++) {
		envelope_release(&b->items[i]->env);
		free(b->items[i]);
		free(b->raw[i]);
	}
	b->n = 0;
	return rc;
}

/* ---- reading the outcome ---- */

static uint64_t cursor(struct fixture *f, uint32_t src)
{
	uint64_t seq = 0;
	int rc = store_cursor_get(f->store, f->src[src].key, &seq);
	return rc ? (uint64_t)rc : seq; /* -ENOENT shows as a huge number */
}

static size_t pending_notes(struct fixture *f)
{
	struct outbox_counts oc = {0};
	outbox_count(f->store, clock_wall_ms(), &oc);
	return oc.pending;
}

#define M(name) metric_get(&f->m.name)

/* ---- setup ---- */

static json_t *corpus_message(const char *top, const char *topic)
{
	char path[4096], *line = NULL;
	size_t cap = 0;
	json_t *found = NULL;
	snprintf(path, sizeof path, "%s/tests/data/fedmsg-messages.jsonl", top);
	FILE *fp = fopen(path, "r");
	while (fp && !found && getline(&line, &cap, fp) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		if (o && !strcmp(json_string_value(json_object_get(o, "topic")), topic))
			found = o;
		else
			json_decref(o);
	}
	free(line);
	if (fp)
		fclose(fp);
	return found;
}

static int put_doc(struct store *s, enum store_table tab, const char *key, size_t klen,
		   const char *json)
{
	struct store_txn *t;
	int rc = store_begin(s, &t);
	if (!rc && (rc = store_doc_put(t, tab, key, klen, json, strlen(json))))
		store_abort(t);
	return rc ? rc : store_commit(t);
}

/* alice is notified of every build of eclipse-ptp, at N_DESTS destinations
 * (ids 10, 11, ...). */
static int subscribe(struct store *s)
{
	static const char key[] = "alice\0\0\0\0\0\0\0\0\1";
	char sub[1024];
	int len = snprintf(sub, sizeof sub, "{\"id\":1,\"user\":\"alice\",\"filter\":"
			   "\"package == \\\"eclipse-ptp\\\"\",\"mode\":\"instant\","
			   "\"enabled\":true,\"destinations\":[10");
	for (int d = 1; d < N_DESTS; d++)
		len += snprintf(sub + len, sizeof sub - (size_t)len, ",%d", 10 + d);
	snprintf(sub + len, sizeof sub - (size_t)len, "]}");
	int rc = put_doc(s, STORE_USERS, "alice", 5, "{\"name\":\"alice\",\"lists\":{}}");
	return rc ? rc : put_doc(s, STORE_SUBS, key, sizeof key - 1, sub);
}

static int new_commit(struct fixture *f)
{
	struct commit_deps deps = {
		.cfg = &f->cfg, .store = f->store, .schema = f->schema, .matcher = f->matcher,
		.metrics = &f->m, .dispatch = NULL,
		.sources = {.n = N_SOURCES, .get = source_get, .request_replay = request_replay,
			    .arg = f}};
	return commit_new(&deps, &f->c);
}

static int setup(struct fixture *f)
{
	const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
	char rules[4096], err[512] = "";
	snprintf(f->dir, sizeof f->dir, "/tmp/herald-test-commit-XXXXXX");
	snprintf(rules, sizeof rules, "%s/src/schema/rules", top);
	f->cfg.map_size = MAP_SIZE;
	f->cfg.dispatch.digest_max_items = 100;
	f->src[RELAY] = (struct ingest_source){"relay tcp://127.0.0.1:9940", "relay", true};
	f->src[DIRECT] = (struct ingest_source){"direct tcp://127.0.0.1:9941", "direct", false};
	f->src[SECOND] = (struct ingest_source){"second tcp://127.0.0.1:9942", "second", true};
	int rc = -EINVAL;
	if (!mkdtemp(f->dir) ||
	    !(f->model = corpus_message(top, "org.fedoraproject.prod.buildsys.build.state.change")) ||
	    (rc = store_open(f->dir, MAP_SIZE, 100000, &f->store, err, sizeof err)) ||
	    (rc = schema_load(rules, NULL, &f->schema, err, sizeof err)) ||
	    (rc = subscribe(f->store)) ||
	    (rc = matcher_start(f->store, &f->matcher, err, sizeof err)) || (rc = new_commit(f)))
		diag("setup failed: %s (%s)", err, strerror(-rc));
	return rc;
}

static void teardown(struct fixture *f)
{
	char cmd[128];
	commit_free(f->c);
	matcher_stop(f->matcher);
	schema_free(f->schema);
	store_close(f->store);
	json_decref(f->model);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	if (system(cmd))
		diag("cleanup failed");
}

/* ---- the cases, in order: each starts where the one before left off ---- */

static void in_order(struct fixture *f, struct batch *b)
{
	add_msgs(f, b, RELAY, 1, 3, false);
	ok(commit(f, b) == 0, "a batch of three commits");
	ok(M(accepted) == 3 && M(commits) == 1 && M(gaps) == 0 && M(understand_errors) == 0,
	   "in order: 3 accepted in 1 commit, no gap (accepted %llu)",
	   (unsigned long long)M(accepted));
	ok(cursor(f, RELAY) == 3, "the cursor stored is 3");
	ok(M(matched) == 3 && M(subscription_matches) == 3 && M(notifications) == 3 * N_DESTS &&
		   M(stored) == 3 * N_DESTS && pending_notes(f) == 3 * N_DESTS,
	   "each matched alice's subscription: 3 x %d notifications in the outbox (%zu)", N_DESTS,
	   pending_notes(f));
	commit_request_replays(f->c);
	ok(requested(f, 0, NULL), "nothing missing, nothing asked (a first contact has no catch-up)");
}

static void gap_and_fill(struct fixture *f, struct batch *b)
{
	add_msg(f, b, RELAY, 7, NULL, false);
	commit(f, b);
	ok(M(gaps) == 1 && M(gap_missing) == 3 && M(accepted) == 4, "3 -> 7: one gap of 3");
	ok(cursor(f, RELAY) == 3, "the cursor stays at 3 while 4..6 are missing");
	commit_request_replays(f->c);
	ok(requested(f, 1, (struct request[]){{RELAY, 4, 6}}), "replay asked for exactly 4..6");
	commit_request_replays(f->c);
	ok(requested(f, 0, NULL), "one request in flight per source");
	add_msgs(f, b, RELAY, 4, 6, true);
	add_done(b, RELAY, 6, false);
	commit(f, b);
	ok(M(replayed) == 3 && M(accepted) == 7 && M(lost) == 0, "the replay filled it: 3 replayed, none lost");
	ok(cursor(f, RELAY) == 7, "the cursor moved to 7");
	commit_request_replays(f->c);
	ok(requested(f, 0, NULL), "nothing more to ask");
}

static void short_replay(struct fixture *f, struct batch *b)
{
	add_msg(f, b, RELAY, 13, NULL, false);
	commit(f, b);
	commit_request_replays(f->c);
	ok(M(gaps) == 2 && M(gap_missing) == 8 && requested(f, 1, (struct request[]){{RELAY, 8, 12}}),
	   "7 -> 13: a gap of 5, replay asked for 8..12");
	add_msgs(f, b, RELAY, 8, 9, true);
	add_done(b, RELAY, 9, false);
	commit(f, b);
	ok(M(lost) == 3 && M(replayed) == 5, "the replay brought 8 and 9 only: exactly 3 lost");
	ok(cursor(f, RELAY) == 13, "the cursor moved past the loss to 13");
}

static void duplicates(struct fixture *f, struct batch *b)
{
	uint64_t accepted = M(accepted), stored = M(stored);
	size_t notes = pending_notes(f);
	add_msg(f, b, RELAY, 14, "the-same-id", false);
	add_msg(f, b, RELAY, 15, "the-same-id", false);
	commit(f, b);
	add_msg(f, b, RELAY, 16, "the-same-id", false);
	commit(f, b);
	ok(M(duplicates) == 2 && M(accepted) == accepted + 1,
	   "one msg_id three times (twice in one batch, once later): accepted once, 2 duplicates");
	ok(M(stored) == stored + N_DESTS && pending_notes(f) == notes + N_DESTS, "and notified once");
	ok(cursor(f, RELAY) == 16 && M(gaps) == 2, "duplicates still move the sequence (cursor 16)");
}

static void bad_via_relay(struct fixture *f, struct batch *b)
{
	uint64_t accepted = M(accepted), gaps = M(gaps), lost = M(lost);
	add_msg(f, b, SECOND, 1, NULL, false);
	add_bad(b, SECOND, 2);
	add_msg(f, b, SECOND, 3, NULL, false);
	commit(f, b);
	ok(M(accepted) == accepted + 2 && M(gaps) == gaps && M(lost) == lost,
	   "a bad message from a relay: its number is not a gap, nothing lost");
	ok(cursor(f, SECOND) == 3, "and the cursor passes it (3)");
}

static void unsequenced(struct fixture *f, struct batch *b)
{
	uint64_t gaps = M(gaps), missing = M(gap_missing), lost = M(lost);
	add_msg(f, b, DIRECT, 1, NULL, false);
	add_msg(f, b, DIRECT, 2, NULL, false);
	add_msg(f, b, DIRECT, 5, NULL, false);
	commit(f, b);
	ok(M(gaps) == gaps + 1 && M(gap_missing) == missing + 2 && M(lost) == lost + 2,
	   "an unsequenced source's hole (3, 4) is lost at once: 2 lost");
	ok(cursor(f, DIRECT) == 5, "its cursor is 5");
	commit_request_replays(f->c);
	ok(requested(f, 0, NULL), "and nothing is asked of it");
}

/* A batch too big for the map: 1,000 messages of N_DESTS notifications each
 * (some 20,000 notes) cannot fit in 8 MiB, so the commit fails with -ENOSPC
 * after every item was processed and the sequence state ran ahead. */
static void failed_commit(struct fixture *f, struct batch *b)
{
	uint64_t accepted = M(accepted), lost = M(lost), gaps = M(gaps), commits = M(commits),
		 stored = M(stored), replayed = M(replayed);
	add_msgs(f, b, RELAY, 17, 1016, false);
	int rc = commit(f, b);
	ok(rc == -ENOSPC, "a batch of 1,000 messages does not fit (%s)", store_strerror(rc));
	ok(M(store_errors) == 1 && M(commits) == commits && M(accepted) == accepted &&
		   M(stored) == stored,
	   "the failure is counted; nothing was accepted or stored");
	ok(M(intake_stopped) == 1 && M(intake_stops) == 1, "a full store stopped intake");
	ok(cursor(f, RELAY) == 16, "the stored cursor is still 16");
	ok(M(lost) == lost && M(gaps) == gaps, "the batch's messages are not counted lost");
	commit_request_replays(f->c);
	ok(requested(f, 0, NULL), "while intake is stopped, nothing is asked");

	ok(commit_intake_open(f->c) && M(intake_stopped) == 0,
	   "the failed batch left the store with room: intake resumes");
	commit_request_replays(f->c);
	ok(requested(f, 2, (struct request[]){{RELAY, 17, SEQ_OPEN}, {SECOND, 4, SEQ_OPEN}}),
	   "the sequence state rewound to the durable cursors: everything after 16 is asked "
	   "again (and after 3 of the second source)");
	add_msgs(f, b, RELAY, 17, 26, true);
	add_done(b, RELAY, 26, false);
	rc = commit(f, b);
	ok(rc == 0 && M(accepted) == accepted + 10 && M(replayed) == replayed + 10 &&
		   M(publisher_restarts) == 0 && M(lost) == lost && M(gaps) == gaps,
	   "the replay's 17..26 follow the cursor: accepted, none lost (%s)",
	   rc ? store_strerror(rc) : "ok");
	ok(cursor(f, RELAY) == 26, "the cursor moved to 26");
}

static void restart(struct fixture *f)
{
	commit_free(f->c);
	f->c = NULL;
	ok(new_commit(f) == 0, "a new committer on the same store");
	commit_request_replays(f->c);
	ok(requested(f, 2, (struct request[]){{RELAY, 27, SEQ_OPEN}, {SECOND, 4, SEQ_OPEN}}),
	   "after a restart, each sequenced source is asked for everything after its cursor");
}

/* Losses found in a batch that then fails are not losses yet: after the
 * rewind the same numbers are missing again and count once, when a batch
 * that gives them up commits. */
static void failed_commit_loses_nothing(struct fixture *f, struct batch *b)
{
	uint64_t lost = M(lost);
	add_done(b, RELAY, 0, false); /* the restart's catch-ups: nothing new */
	add_done(b, SECOND, 0, false);
	add_msg(f, b, SECOND, 6, NULL, false);
	commit(f, b);
	commit_request_replays(f->c);
	ok(requested(f, 1, (struct request[]){{SECOND, 4, 5}}), "second: 3 -> 6, replay asked for 4..5");
	add_done(b, SECOND, 0, false);       /* the replay brought nothing: 4, 5 given up */
	add_msg(f, b, DIRECT, 6, NULL, false);
	add_msg(f, b, DIRECT, 9, NULL, false); /* 7, 8 to give up at once */
	add_msgs(f, b, RELAY, 27, 1026, false);
	int rc = commit(f, b);
	ok(rc == -ENOSPC && M(lost) == lost,
	   "a failed batch that gave up 2 numbers of a replay counts none lost (%llu counted)",
	   (unsigned long long)(M(lost) - lost));
	ok(commit_intake_open(f->c), "intake resumes");
	commit_request_replays(f->c);
	ok(requested(f, 2, (struct request[]){{RELAY, 27, SEQ_OPEN}, {SECOND, 4, SEQ_OPEN}}),
	   "both sequenced sources are asked again from their cursors");
	add_done(b, RELAY, 26, false);
	add_msg(f, b, SECOND, 6, NULL, true);
	add_done(b, SECOND, 6, false);
	add_msg(f, b, DIRECT, 10, NULL, false);
	rc = commit(f, b);
	ok(rc == 0 && M(lost) == lost + 6,
	   "then each missing number is lost once: second's 4, 5 and direct's 6..9 (%llu lost)",
	   (unsigned long long)(M(lost) - lost));
	ok(cursor(f, SECOND) == 6 && cursor(f, DIRECT) == 10, "cursors 6 and 10");
}

/* A number far beyond what a replay could fill: one reset, not a loss of
 * billions; only the last SEQ_MAX_GAP numbers are asked for. */
static void huge_jump(struct fixture *f, struct batch *b)
{
	uint64_t lost = M(lost), missing = M(gap_missing), far = 1ull << 62;
	commit_request_replays(f->c);
	requested(f, 0, NULL); /* nothing in flight before the jump */
	add_msg(f, b, SECOND, far, NULL, false);
	commit(f, b);
	ok(M(sequence_resets) == 1 && M(gap_missing) - missing == SEQ_MAX_GAP,
	   "second: 6 -> 2^62 is one reset with a hole of SEQ_MAX_GAP left (%llu missing)",
	   (unsigned long long)(M(gap_missing) - missing));
	commit_request_replays(f->c);
	ok(requested(f, 1, (struct request[]){{SECOND, far - SEQ_MAX_GAP, far - 1}}),
	   "the replay asks for the last SEQ_MAX_GAP numbers only");
	add_done(b, SECOND, 0, false);
	commit(f, b);
	ok(M(lost) - lost == SEQ_MAX_GAP && cursor(f, SECOND) == far,
	   "an empty answer loses exactly SEQ_MAX_GAP (%llu), and the cursor is at 2^62",
	   (unsigned long long)(M(lost) - lost));
}

/* A commit that fails for another reason than a full map (here EFBIG: the
 * file may not grow, as a full or failing disk gives EIO/ENOSPC from write)
 * pauses intake for a while instead of taking more input at once: no
 * replay storm, nothing counted lost, everything asked again after. */
static void disk_fails(struct fixture *f, struct batch *b)
{
	char path[128];
	struct stat st;
	struct rlimit was, tiny;
	snprintf(path, sizeof path, "%s/herald.mdb", f->dir);
	if (stat(path, &st) || getrlimit(RLIMIT_FSIZE, &was)) {
		ok(0, "stat %s", path);
		return;
	}
	uint64_t lost = M(lost), stops = M(intake_stops), cur = cursor(f, RELAY);
	uint64_t far = cursor(f, SECOND);
	commit_request_replays(f->c);
	f->n_req = 0; /* whatever was due before: the rewind asks again below */
	tiny = was;
	tiny.rlim_cur = (rlim_t)st.st_size;
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &tiny);
	add_msgs(f, b, RELAY, cur + 1, cur + 20, false);
	int rc = commit(f, b);
	setrlimit(RLIMIT_FSIZE, &was);
	ok(rc < 0 && rc != -ENOSPC, "a commit that cannot grow the file fails (%s)", strerror(-rc));
	uint64_t t0 = clock_mono_ms();
	ok(!commit_intake_open(f->c) && M(intake_stops) == stops + 1 && M(intake_stopped) == 1,
	   "intake pauses: not a loss, not a reason to take the next batch at once");
	commit_request_replays(f->c);
	ok(requested(f, 0, NULL) && M(lost) == lost, "no replay asked while paused, nothing lost");
	while (!commit_intake_open(f->c) && clock_mono_ms() - t0 < 10000)
		usleep(20000);
	ok(clock_mono_ms() - t0 >= 1000 && M(intake_stopped) == 0,
	   "intake opens again after the pause (%llu ms)", (unsigned long long)(clock_mono_ms() - t0));
	commit_request_replays(f->c);
	ok(requested(f, 2,
		     (struct request[]){{RELAY, cur + 1, SEQ_OPEN}, {SECOND, far + 1, SEQ_OPEN}}),
	   "then everything after the durable cursors is asked again");
	add_msgs(f, b, RELAY, cur + 1, cur + 20, true);
	add_done(b, RELAY, cur + 20, false);
	add_done(b, SECOND, 0, false);
	rc = commit(f, b);
	ok(rc == 0 && cursor(f, RELAY) == cur + 20 && M(lost) == lost,
	   "and the replay commits: cursor %llu, nothing lost", (unsigned long long)cursor(f, RELAY));
}

int main(void)
{
	static struct fixture fx;
	static struct batch b;
	struct fixture *f = &fx;
	log_setup("test_commit", L_WARN, false);
	if (setup(f))
		return ok(0, "setup"), tap_done();
	in_order(f, &b);
	gap_and_fill(f, &b);
	short_replay(f, &b);
	duplicates(f, &b);
	bad_via_relay(f, &b);
	unsequenced(f, &b);
	failed_commit(f, &b);
	restart(f);
	failed_commit_loses_nothing(f, &b);
	huge_jump(f, &b);
	disk_fails(f, &b);
	teardown(f);
	return tap_done();
}
