/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench/outbox: durable notifications per second into the outbox with group
 * commit (many outbox_put calls per store_begin/store_commit, as heraldd's
 * committer does with a batch), and in the same run one transaction per
 * notification (the baseline). The store is the daemon's: durable by
 * default (fsync on every commit), fresh for each variant, in a temp dir
 * under /tmp that is removed after each variant and at exit (also on
 * SIGINT/SIGTERM). The baseline is bound by the disk's fsync latency, so the
 * ratio says as much about the disk as about herald: ~0.4 ms per commit
 * here, where a slower disk gives a higher ratio for the same code.
 *
 * Notes are what the committer writes: the corpus messages are parsed
 * (envelope_parse), described by the default rules (schema_describe) and
 * turned into notify_common's message part once each; every note is then
 * notify_doc for (user, destination) with an id from outbox_note_id over a
 * counter (so all ids are distinct), instant mode, inside the timed loop like
 * in the committer. Users cycle over 2,000 names, one destination each.
 *
 * For reference, the same documents put with plain mdb_put (16-byte key,
 * same group size, durable) into a bare LMDB environment: the floor that
 * the outbox's own bookkeeping (duplicate check, the due schedule) sits on;
 * once keyed by the note ids (random, like the notes table) and once by a
 * counter (appends). Each variant also reports its rate over the first and
 * the last tenth of its transactions: with random keys every transaction
 * dirties more distinct pages as the table grows, so the rate falls.
 *
 * JSON lines, one per variant, then the comparison. The disk is shared with
 * whatever else runs on the machine; the numbers are what this run saw.
 *
 * usage: outbox_bench TOP [GROUPED [SINGLE [TXN_SIZE]]]
 */
#define _GNU_SOURCE /* nftw flags */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <lmdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/common/buf.h"
#include "src/common/envelope.h"
#include "src/common/clock.h"
#include "src/common/log.h"
#include "src/common/meta.h"
#include "src/daemon/notify.h"
#include "src/daemon/outbox.h"
#include "src/schema/schema.h"
#include "src/daemon/store.h"

#define USERS 2000
#define MAP_SIZE ((size_t)4 << 30) /* sparse; 200,000 notes use ~400 MB */
#define DEDUP_WINDOW 100000

static char g_dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (*g_dir)
		nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	*g_dir = '\0';
}

static void on_signal(int sig)
{
	cleanup(); /* not async-signal-safe in theory; the process is ending anyway */
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench/outbox: %s%s%s\n", what, rc ? ": " : "", rc ? store_strerror(rc) : "");
	exit(1);
}

/* The message parts (notify_common) of the corpus messages. */
struct commons {
	char **part;
	size_t *len;
	size_t n;
};

static void load_commons(const char *top, struct commons *c)
{
	char corpus[4096], rules[4096], idmap[4096], err[512];
	snprintf(corpus, sizeof corpus, "%s/tests/data/fedmsg-messages.jsonl", top);
	snprintf(rules, sizeof rules, "%s/src/schema/rules", top);
	snprintf(idmap, sizeof idmap, "%s/tests/data/identity-map.json", top);
	struct schema *s;
	if (schema_load(rules, idmap, &s, err, sizeof err)) {
		fprintf(stderr, "bench/outbox: %s\n", err);
		exit(1);
	}
	FILE *f = fopen(corpus, "r");
	if (!f)
		die("cannot open the corpus", 0);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	struct buf b = BUF_INIT;
	*c = (struct commons){0};
	while ((len = getline(&line, &cap, f)) > 0) {
		struct envelope env = ENVELOPE_INIT;
		struct meta meta = {0};
		const json_t *msg;
		if (envelope_parse(&env, line, (size_t)len, NULL) != ENVELOPE_OK)
			continue;
		buf_reset(&b);
		if ((msg = envelope_msg(&env)) && !schema_describe(s, env.topic, msg, &meta) &&
		    !notify_common(&env, &meta, &b)) {
			c->part = realloc(c->part, (c->n + 1) * sizeof *c->part);
			c->len = realloc(c->len, (c->n + 1) * sizeof *c->len);
			if (!c->part || !c->len)
				die("out of memory", 0);
			c->part[c->n] = malloc(b.len);
			memcpy(c->part[c->n], b.data, b.len);
			c->len[c->n++] = b.len;
		}
		meta_release(&meta);
		envelope_release(&env);
	}
	free(line);
	fclose(f);
	buf_release(&b);
	schema_free(s);
	if (!c->n)
		die("no corpus message could be described", 0);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Note number k, as the committer builds it: id, then document. */
struct note {
	unsigned char id[OUTBOX_ID_LEN];
	char user[16];
	uint64_t dest;
};

static void make_note(const struct commons *c, uint64_t k, uint64_t now, struct note *n,
		      struct buf *doc)
{
	unsigned char key[16] = {0};
	char hex[OUTBOX_HEX_LEN + 1];
	uint64_t subs[1] = {k % (USERS * 5) + 1};
	for (int i = 0; i < 8; i++)
		key[i] = (unsigned char)(k >> (56 - 8 * i));
	unsigned u = (unsigned)(k % USERS);
	snprintf(n->user, sizeof n->user, "user%04u", u);
	n->dest = (uint64_t)u + 1;
	outbox_note_id(key, n->user, n->dest, n->id);
	outbox_hex(n->id, hex);
	buf_reset(doc);
	size_t m = (size_t)(k % c->n);
	if (notify_doc(hex, n->user, n->dest, subs, 1, now, c->part[m], c->len[m], doc))
		die("out of memory", 0);
}

struct result {
	size_t notes, txns;
	double secs, bytes;
	double first_s, last_s; /* the first and the last tenth of the transactions */
};

/* Time per transaction, to tell the first tenth (small tables) from the last. */
static void txn_times(struct result *r, const uint64_t *t_us, size_t n)
{
	size_t tenth = n / 10 ? n / 10 : 1;
	r->first_s = (double)(t_us[tenth] - t_us[0]) / 1e6;
	r->last_s = (double)(t_us[n] - t_us[n - tenth]) / 1e6;
}

/* `total` notes into a fresh store, `per_txn` per transaction. */
static struct result run_outbox(const struct commons *c, const char *name, size_t total,
				size_t per_txn)
{
	char dir[128], err[512];
	snprintf(dir, sizeof dir, "%s/%s", g_dir, name);
	if (mkdir(dir, 0700))
		die("cannot create the store directory", -errno);
	struct store *s;
	int rc = store_open(dir, MAP_SIZE, DEDUP_WINDOW, &s, err, sizeof err);
	if (rc) {
		fprintf(stderr, "bench/outbox: %s\n", err);
		exit(1);
	}
	struct buf doc = BUF_INIT;
	struct note n;
	struct result r = {0};
	uint64_t *tt = malloc((total / per_txn + 2) * sizeof *tt);
	if (!tt)
		die("out of memory", 0);
	uint64_t t0 = tt[0] = clock_mono_us();
	for (size_t k = 0; k < total;) {
		struct store_txn *t;
		uint64_t now = wall_ms();
		if ((rc = store_begin(s, &t)))
			die("store_begin", rc);
		for (size_t i = 0; i < per_txn && k < total; i++, k++) {
			make_note(c, k, now, &n, &doc);
			struct outbox_add a = {n.id, n.user, n.dest, doc.data, doc.len, now, 0, 100};
			if ((rc = outbox_put(t, &a)) != 1)
				die(rc ? "outbox_put" : "outbox_put: an id repeated", rc);
			r.bytes += (double)doc.len;
		}
		if ((rc = store_commit(t)))
			die("store_commit", rc);
		tt[++r.txns] = clock_mono_us();
	}
	r.secs = (double)(tt[r.txns] - t0) / 1e6;
	r.notes = total;
	txn_times(&r, tt, r.txns);
	free(tt);
	struct outbox_counts oc;
	if ((rc = outbox_count(s, wall_ms() + 1000, &oc)))
		die("outbox_count", rc);
	if (oc.pending != total || oc.due_now != total)
		die("the outbox does not hold every note", 0);
	store_close(s);
	buf_release(&doc);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); /* the next variant gets the disk */
	return r;
}

/* The same documents with plain mdb_put, `per_txn` per durable commit, keyed
 * by the note id (random, like the outbox's notes table) or by a counter
 * (sequential: appends touch only the rightmost pages). */
static struct result run_raw(const struct commons *c, size_t total, size_t per_txn,
			     bool sequential)
{
	char path[160];
	snprintf(path, sizeof path - 8, "%s/raw-%s.mdb", g_dir, sequential ? "seq" : "rand");
	MDB_env *env;
	MDB_dbi dbi;
	int rc;
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_mapsize(env, MAP_SIZE)) ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600)))
		goto fail;
	struct buf doc = BUF_INIT;
	struct note n;
	struct result r = {0};
	uint64_t *tt = malloc((total / per_txn + 2) * sizeof *tt);
	if (!tt)
		die("out of memory", 0);
	uint64_t t0 = tt[0] = clock_mono_us();
	for (size_t k = 0; k < total;) {
		MDB_txn *t;
		uint64_t now = wall_ms();
		if ((rc = mdb_txn_begin(env, NULL, 0, &t)) || (rc = mdb_dbi_open(t, NULL, 0, &dbi)))
			goto fail;
		for (size_t i = 0; i < per_txn && k < total; i++, k++) {
			make_note(c, k, now, &n, &doc);
			unsigned char seq[OUTBOX_ID_LEN] = {0};
			for (int b = 0; b < 8; b++)
				seq[b] = (unsigned char)(k >> (56 - 8 * b));
			MDB_val key = {OUTBOX_ID_LEN, sequential ? seq : n.id},
				val = {doc.len, doc.data};
			if ((rc = mdb_put(t, dbi, &key, &val, sequential ? MDB_APPEND : MDB_NOOVERWRITE)))
				goto fail;
			r.bytes += (double)doc.len;
		}
		if ((rc = mdb_txn_commit(t)))
			goto fail;
		tt[++r.txns] = clock_mono_us();
	}
	r.secs = (double)(tt[r.txns] - t0) / 1e6;
	r.notes = total;
	txn_times(&r, tt, r.txns);
	free(tt);
	mdb_env_close(env);
	buf_release(&doc);
	remove(path);
	strcat(path, "-lock");
	remove(path);
	return r;
fail:
	fprintf(stderr, "bench/outbox: raw LMDB: %s\n", mdb_strerror(rc));
	exit(1);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Building ids and documents alone, no store: the CPU part of a note. Also
 * the median document size over one pass of the corpus. */
static double build_rate(const struct commons *c, size_t total, size_t *median)
{
	struct buf doc = BUF_INIT;
	struct note n;
	size_t *len = malloc(c->n * sizeof *len);
	if (!len)
		die("out of memory", 0);
	uint64_t now = wall_ms(), t0 = clock_mono_us();
	for (size_t k = 0; k < total; k++)
		make_note(c, k, now, &n, &doc);
	double secs = (double)(clock_mono_us() - t0) / 1e6;
	for (size_t k = 0; k < c->n; k++) {
		make_note(c, k, now, &n, &doc);
		len[k] = doc.len;
	}
	qsort(len, c->n, sizeof *len, cmp_size);
	*median = len[c->n / 2];
	free(len);
	buf_release(&doc);
	return (double)total / secs;
}

static void print_variant(const char *variant, const struct result *r, size_t per_txn)
{
	printf("{\"bench\": \"outbox\", \"variant\": \"%s\", \"notifications\": %zu, "
	       "\"transactions\": %zu, \"txn_size\": %zu, \"seconds\": %.3f, \"per_s\": %.0f, "
	       "\"commits_per_s\": %.1f, \"avg_doc_bytes\": %.0f, \"first_tenth_per_s\": %.0f, "
	       "\"last_tenth_per_s\": %.0f}\n",
	       variant, r->notes, r->txns, per_txn, r->secs, (double)r->notes / r->secs,
	       (double)r->txns / r->secs, r->bytes / (double)r->notes,
	       (double)r->notes / 10 / r->first_s, (double)r->notes / 10 / r->last_s);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : ".";
	size_t grouped = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
	size_t single = argc > 3 ? strtoul(argv[3], NULL, 10) : 2000;
	size_t per_txn = argc > 4 ? strtoul(argv[4], NULL, 10) : 1000;
	if (!grouped || !single || !per_txn) {
		fprintf(stderr, "usage: outbox_bench TOP [GROUPED [SINGLE [TXN_SIZE]]]\n");
		return 2;
	}
	log_setup("outbox_bench", L_WARN, false);
	struct commons c;
	load_commons(top, &c);

	snprintf(g_dir, sizeof g_dir, "/tmp/herald-outbox-bench-XXXXXX");
	if (!mkdtemp(g_dir)) {
		*g_dir = '\0';
		die("mkdtemp", -errno);
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	size_t median;
	double build = build_rate(&c, grouped < 100000 ? grouped : 100000, &median);
	printf("{\"bench\": \"outbox\", \"variant\": \"build_only\", \"per_s\": %.0f, "
	       "\"corpus_messages\": %zu, \"median_doc_bytes\": %zu}\n", build, c.n, median);
	struct result one = run_outbox(&c, "single", single, 1);
	print_variant("one_txn_per_notification", &one, 1);
	struct result grp = run_outbox(&c, "grouped", grouped, per_txn);
	print_variant("group_commit", &grp, per_txn);
	struct result raw = run_raw(&c, grouped, per_txn, false);
	print_variant("raw_lmdb_put_random_keys", &raw, per_txn);
	raw = run_raw(&c, grouped, per_txn, true);
	print_variant("raw_lmdb_put_sequential_keys", &raw, per_txn);

	double value = (double)grp.notes / grp.secs, baseline = (double)one.notes / one.secs;
	printf("{\"bench\": \"outbox\", \"metric\": \"durable_notifications_per_s\", \"value\": %.0f, "
	       "\"baseline\": %.0f, \"ratio\": %.1f, \"goal\": 100}\n", value, baseline,
	       value / baseline);
	for (size_t i = 0; i < c.n; i++)
		free(c.part[i]);
	free(c.part);
	free(c.len);
	return 0;
}
