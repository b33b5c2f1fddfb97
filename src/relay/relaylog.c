/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * relaylog: herald-relay's durable replay log on LMDB (see relaylog.h for the
 * contract and the on-disk layout). Every LMDB call of the relay is in this
 * file. Not for envelope validation or sockets: the relay does those.
 */
#include "relaylog.h"
#include "src/common/be64.h"

#include "src/common/log.h"

#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define HDR_LEN	      (1 + 8 + 4) /* version byte, f64 time, u32 topic length */
#define META_SCHEMA   "schema"
#define META_NEXT_SEQ "next_seq"

struct relaylog {
	MDB_env *env;
	MDB_dbi log_dbi;
	MDB_dbi ids_dbi;
	MDB_dbi meta_dbi;
	uint64_t keep;
	size_t max_key;
	char err[256];
};

/* ---- byte order helpers: keys are big-endian so cursor order is seq order ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_f64(unsigned char *p, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	put_be64(p, bits);
}

static double get_f64(const unsigned char *p)
{
	uint64_t bits = get_be64(p);
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

/* ---- errors ---- */

/* The one place LMDB codes become errno-style codes. */
static int map_mdb(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_MAP_FULL)
		return -ENOSPC;
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc > 0)
		return -rc; /* LMDB passes system errors through */
	return -EIO;
}

/* Record "what: lmdb text" as the last error and return the mapped code. */
static int fail_mdb(struct relaylog *log, int rc, const char *what)
{
	snprintf(log->err, sizeof log->err, "%s (%s)", what, mdb_strerror(rc));
	return map_mdb(rc);
}

__attribute__((format(printf, 3, 4))) static int fail(struct relaylog *log, int code,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(log->err, sizeof log->err, fmt, ap);
	va_end(ap);
	return code;
}

const char *relaylog_error(const struct relaylog *log)
{
	return log->err;
}

/* ---- value codecs ---- */

static int decode_entry(const MDB_val *k, const MDB_val *v, struct relaylog_entry *e)
{
	const unsigned char *p = v->mv_data;
	if (k->mv_size != 8 || v->mv_size < HDR_LEN || p[0] != RELAYLOG_FORMAT)
		return -EBADMSG;
	uint32_t tlen = get_be32(p + 9);
	if (tlen > v->mv_size - HDR_LEN)
		return -EBADMSG;
	e->seq = get_be64(k->mv_data);
	e->time = get_f64(p + 1);
	e->topic = (const char *)p + HDR_LEN;
	e->topic_len = tlen;
	e->envelope = e->topic + tlen;
	e->envelope_len = v->mv_size - HDR_LEN - tlen;
	return 0;
}

/* Meta and ids values: [version][u64 BE]. */
static int get_u64_val(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t *out)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return rc;
	const unsigned char *p = v.mv_data;
	if (v.mv_size != 9 || p[0] != RELAYLOG_FORMAT)
		return MDB_CORRUPTED;
	*out = get_be64(p + 1);
	return 0;
}

static int put_u64_val(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, uint64_t val)
{
	unsigned char buf[9];
	buf[0] = RELAYLOG_FORMAT;
	put_be64(buf + 1, val);
	MDB_val k = {klen, (void *)key}, v = {sizeof buf, buf};
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* Whole microseconds, divided once: the nearest double to a 6-decimal value,
 * so "%.6f" prints it exactly and a client parsing that text gets the very
 * same double back (time queries then match what the meta frame said). */
static double wall_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return (double)us / 1e6;
}

/* ---- open ---- */

static int ensure_dir(struct relaylog *log, const char *dir)
{
	struct stat st;
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return fail(log, -errno, "cannot create state directory %s (%s)", dir,
			    strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return fail(log, -ENOTDIR, "state path %s is not a directory", dir);
	return 0;
}

/* Schema check: a fresh environment gets the current schema; a newer or
 * unknown one is refused rather than misread. */
static int check_schema(struct relaylog *log, MDB_txn *txn)
{
	MDB_val k = {sizeof META_SCHEMA - 1, META_SCHEMA}, v;
	unsigned char buf[5];
	int rc = mdb_get(txn, log->meta_dbi, &k, &v);
	if (rc == MDB_NOTFOUND) {
		buf[0] = RELAYLOG_FORMAT;
		put_be32(buf + 1, RELAYLOG_SCHEMA);
		v.mv_size = sizeof buf;
		v.mv_data = buf;
		rc = mdb_put(txn, log->meta_dbi, &k, &v, 0);
		return rc ? fail_mdb(log, rc, "write schema version") : 0;
	}
	if (rc)
		return fail_mdb(log, rc, "read schema version");
	const unsigned char *p = v.mv_data;
	if (v.mv_size != 5 || p[0] != RELAYLOG_FORMAT)
		return fail(log, -EBADMSG, "unreadable schema version record");
	if (get_be32(p + 1) != RELAYLOG_SCHEMA)
		return fail(log, -EPROTO, "unsupported schema version %u (this relay knows %u)",
			    get_be32(p + 1), RELAYLOG_SCHEMA);
	return 0;
}

static int open_dbs(struct relaylog *log)
{
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(log->env, NULL, 0, &txn);
	if (rc) {
		txn = NULL;
		rc = fail_mdb(log, rc, "begin setup transaction");
		goto out;
	}
	if ((rc = mdb_dbi_open(txn, "log", MDB_CREATE, &log->log_dbi)) ||
	    (rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &log->ids_dbi)) ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &log->meta_dbi))) {
		rc = fail_mdb(log, rc, "open named databases");
		goto out;
	}
	if ((rc = check_schema(log, txn)))
		goto out;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc)
		rc = fail_mdb(log, rc, "commit setup transaction");
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

/* ---- pruning ---- */

/* Remove the ids entry of a pruned message, but only if it still points at
 * that message: a later message may have reused the msg_id. */
static int drop_id(struct relaylog *log, MDB_txn *txn, const struct relaylog_entry *e)
{
	json_t *root = json_loadb(e->envelope, e->envelope_len, JSON_ALLOW_NUL, NULL);
	json_t *id = json_object_get(root, "msg_id");
	int rc = 0;
	uint64_t seq;
	if (!json_is_string(id) || json_string_length(id) == 0 ||
	    json_string_length(id) > log->max_key)
		goto out;
	rc = get_u64_val(txn, log->ids_dbi, json_string_value(id), json_string_length(id), &seq);
	if (rc == 0 && seq == e->seq) {
		MDB_val k = {json_string_length(id), (void *)json_string_value(id)};
		rc = mdb_del(txn, log->ids_dbi, &k, NULL);
	}
	if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED)
		rc = 0; /* nothing (sane) to remove */
	if (rc)
		rc = fail_mdb(log, rc, "remove msg_id index entry");
out:
	json_decref(root);
	return rc;
}

/* Delete the oldest entries beyond `keep`, at most `max` of them, so that one
 * transaction stays bounded even after --keep was lowered a lot. */
static int prune(struct relaylog *log, MDB_txn *txn, uint64_t max, uint64_t *pruned)
{
	MDB_cursor *cur = NULL;
	MDB_stat st;
	MDB_val k, v;
	struct relaylog_entry e;
	uint64_t excess, i;
	int rc = mdb_stat(txn, log->log_dbi, &st);
	*pruned = 0;
	if (rc)
		return fail_mdb(log, rc, "stat log");
	if (st.ms_entries <= log->keep)
		return 0;
	excess = st.ms_entries - log->keep;
	if (excess > max)
		excess = max;
	if ((rc = mdb_cursor_open(txn, log->log_dbi, &cur)))
		return fail_mdb(log, rc, "open prune cursor");
	for (i = 0; i < excess; i++) {
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST))) {
			rc = fail_mdb(log, rc, "read oldest entry");
			goto out;
		}
		/* A corrupt entry is still removed; it just has no index entry to drop. */
		if (decode_entry(&k, &v, &e) == 0 && (rc = drop_id(log, txn, &e)))
			goto out;
		if ((rc = mdb_cursor_del(cur, 0))) {
			rc = fail_mdb(log, rc, "delete oldest entry");
			goto out;
		}
	}
	*pruned = i;
out:
	mdb_cursor_close(cur);
	return rc;
}

/* At open: catch up with a --keep lower than last run's, in bounded transactions. */
static int prune_all(struct relaylog *log)
{
	uint64_t pruned = 0, total = 0;
	int rc;
	do {
		MDB_txn *txn;
		if ((rc = mdb_txn_begin(log->env, NULL, 0, &txn)))
			return fail_mdb(log, rc, "begin prune transaction");
		if ((rc = prune(log, txn, RELAYLOG_PRUNE_MAX, &pruned))) {
			mdb_txn_abort(txn);
			return rc;
		}
		if ((rc = mdb_txn_commit(txn)))
			return fail_mdb(log, rc, "commit prune transaction");
		total += pruned;
	} while (pruned == RELAYLOG_PRUNE_MAX);
	if (total)
		log_info("relaylog: pruned %llu old messages to honour keep=%llu",
			 (unsigned long long)total, (unsigned long long)log->keep);
	return 0;
}

int relaylog_open(const char *dir, size_t map_size, uint64_t keep, struct relaylog **out, char *err,
		  size_t errlen)
{
	struct relaylog *log = calloc(1, sizeof *log);
	int rc;
	if (!log) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	log->keep = keep;
	if (keep == 0) {
		rc = fail(log, -EINVAL, "keep must be at least 1");
		goto out;
	}
	if ((rc = ensure_dir(log, dir)))
		goto out;
	if ((rc = mdb_env_create(&log->env))) {
		log->env = NULL;
		rc = fail_mdb(log, rc, "create environment");
		goto out;
	}
	if ((rc = mdb_env_set_mapsize(log->env, map_size)) ||
	    (rc = mdb_env_set_maxdbs(log->env, 3))) {
		rc = fail_mdb(log, rc, "configure environment");
		goto out;
	}
	/* Flags 0: durable commits (no MDB_NOSYNC / MDB_NOMETASYNC). */
	if ((rc = mdb_env_open(log->env, dir, 0, 0600))) {
		rc = fail_mdb(log, rc, "open environment");
		goto out;
	}
	/* Reader slots left by a crashed process would pin old pages forever. */
	mdb_reader_check(log->env, NULL);
	log->max_key = (size_t)mdb_env_get_maxkeysize(log->env);
	if ((rc = open_dbs(log)) || (rc = prune_all(log)))
		goto out;
out:
	if (rc) {
		snprintf(err, errlen, "%s", log->err);
		relaylog_close(log);
		return rc;
	}
	*out = log;
	return 0;
}

void relaylog_close(struct relaylog *log)
{
	if (!log)
		return;
	if (log->env)
		mdb_env_close(log->env);
	free(log);
}

/* ---- append ---- */

/* Where this batch starts: the stored next_seq, but never at or below the
 * newest key (belt and braces against a damaged meta record), and a time no
 * earlier than the newest entry's so time order follows seq order. */
static int batch_start(struct relaylog *log, MDB_txn *txn, uint64_t *next, double *t)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	struct relaylog_entry last;
	int rc = get_u64_val(txn, log->meta_dbi, META_NEXT_SEQ, sizeof META_NEXT_SEQ - 1, next);
	if (rc == MDB_NOTFOUND) {
		*next = 1;
		rc = 0;
	}
	if (rc)
		return fail_mdb(log, rc, "read next_seq");
	*t = wall_time();
	if ((rc = mdb_cursor_open(txn, log->log_dbi, &cur)))
		return fail_mdb(log, rc, "open cursor");
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && decode_entry(&k, &v, &last) == 0) {
		if (*next <= last.seq)
			*next = last.seq + 1;
		if (*t < last.time)
			*t = last.time;
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
	return rc ? fail_mdb(log, rc, "read newest entry") : 0;
}

static int put_entry(struct relaylog *log, MDB_txn *txn, uint64_t seq, double t,
		     const struct relaylog_item *it)
{
	unsigned char key[8];
	int rc;
	if (it->topic_len > UINT32_MAX || it->envelope_len > SIZE_MAX - HDR_LEN - it->topic_len)
		return fail(log, -E2BIG, "message too large for the log format");
	put_be64(key, seq);
	MDB_val k = {sizeof key, key}, v = {HDR_LEN + it->topic_len + it->envelope_len, NULL};
	/* APPEND: keys only grow, so LMDB can skip the search; RESERVE: write in place. */
	if ((rc = mdb_put(txn, log->log_dbi, &k, &v, MDB_APPEND | MDB_RESERVE)))
		return fail_mdb(log, rc, "append log entry");
	unsigned char *p = v.mv_data;
	p[0] = RELAYLOG_FORMAT;
	put_f64(p + 1, t);
	put_be32(p + 9, (uint32_t)it->topic_len);
	memcpy(p + HDR_LEN, it->topic, it->topic_len);
	memcpy(p + HDR_LEN + it->topic_len, it->envelope, it->envelope_len);
	if (it->msg_id_len == 0 || it->msg_id_len > log->max_key)
		return 0; /* cannot be a key: replayable by seq and time only */
	if ((rc = put_u64_val(txn, log->ids_dbi, it->msg_id, it->msg_id_len, seq)))
		return fail_mdb(log, rc, "index msg_id");
	return 0;
}

int relaylog_append_batch(struct relaylog *log, const struct relaylog_item *items, size_t n,
			  uint64_t *first_seq, double *time)
{
	MDB_txn *txn = NULL;
	uint64_t next, pruned;
	double t = 0; /* set by batch_start; gcc -O1 cannot see it */
	int rc;
	log->err[0] = '\0';
	if (n == 0)
		return fail(log, -EINVAL, "empty batch");
	if ((rc = mdb_txn_begin(log->env, NULL, 0, &txn))) {
		txn = NULL;
		rc = fail_mdb(log, rc, "begin write transaction");
		goto out;
	}
	if ((rc = batch_start(log, txn, &next, &t)))
		goto out;
	if (next > UINT64_MAX - n) {
		rc = fail(log, -EOVERFLOW, "sequence numbers exhausted");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = put_entry(log, txn, next + i, t, &items[i])))
			goto out;
	if ((rc = put_u64_val(txn, log->meta_dbi, META_NEXT_SEQ, sizeof META_NEXT_SEQ - 1,
			      next + n))) {
		rc = fail_mdb(log, rc, "write next_seq");
		goto out;
	}
	/* Prune more than we add so a lowered keep converges while running. */
	if ((rc = prune(log, txn, RELAYLOG_PRUNE_MAX, &pruned)))
		goto out;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc) {
		rc = fail_mdb(log, rc, "commit batch");
		goto out;
	}
	*first_seq = next;
	*time = t;
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

/* ---- queries ---- */

struct query {
	struct relaylog *log;
	MDB_txn *txn;
	MDB_cursor *cur;
	relaylog_visit_fn fn;
	void *arg;
	bool *more;
};

static int query_begin(struct query *q, struct relaylog *log, relaylog_visit_fn fn, void *arg,
		       bool *more)
{
	int rc;
	*q = (struct query){.log = log, .fn = fn, .arg = arg, .more = more};
	*more = false;
	log->err[0] = '\0';
	if ((rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &q->txn))) {
		q->txn = NULL;
		return fail_mdb(log, rc, "begin read transaction");
	}
	if ((rc = mdb_cursor_open(q->txn, log->log_dbi, &q->cur))) {
		q->cur = NULL;
		return fail_mdb(log, rc, "open read cursor");
	}
	return 0;
}

static void query_end(struct query *q)
{
	if (q->cur)
		mdb_cursor_close(q->cur);
	if (q->txn)
		mdb_txn_abort(q->txn);
}

/* Hand one decoded entry to the visitor. Returns 0 go on, 1 stopped, < 0 error. */
static int visit(struct query *q, const struct relaylog_entry *e)
{
	int rc = q->fn(e, q->arg);
	if (rc > 0) {
		*q->more = true;
		return 1;
	}
	return rc;
}

/* Visit entries from the first key >= start while seq <= b and time <= t1,
 * at most `limit` of them; more = a matching entry was left out. */
static int scan(struct query *q, uint64_t start, uint64_t b, double t1, size_t limit)
{
	unsigned char key[8];
	MDB_val k = {sizeof key, key}, v;
	MDB_cursor_op op = MDB_SET_RANGE;
	struct relaylog_entry e;
	size_t count = 0;
	int rc;
	put_be64(key, start);
	while ((rc = mdb_cursor_get(q->cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (decode_entry(&k, &v, &e))
			return fail(q->log, -EBADMSG, "corrupt log entry");
		if (e.seq > b || e.time > t1)
			return 0;
		if (count == limit) {
			*q->more = true;
			return 0;
		}
		if ((rc = visit(q, &e)))
			return rc > 0 ? 0 : rc;
		count++;
	}
	return rc == MDB_NOTFOUND ? 0 : fail_mdb(q->log, rc, "read log");
}

int relaylog_query_range(struct relaylog *log, uint64_t a, uint64_t b, size_t limit,
			 relaylog_visit_fn fn, void *arg, bool *more)
{
	struct query q;
	int rc = query_begin(&q, log, fn, arg, more);
	if (rc == 0)
		rc = scan(&q, a, b, INFINITY, limit);
	query_end(&q);
	return rc;
}

/* Time of the first entry with key >= seq (an entry must exist). */
static int time_at(struct query *q, uint64_t seq, uint64_t *found, double *t)
{
	unsigned char key[8];
	MDB_val k = {sizeof key, key}, v;
	struct relaylog_entry e;
	put_be64(key, seq);
	int rc = mdb_cursor_get(q->cur, &k, &v, MDB_SET_RANGE);
	if (rc)
		return fail_mdb(q->log, rc, "read log");
	if (decode_entry(&k, &v, &e))
		return fail(q->log, -EBADMSG, "corrupt log entry");
	*found = e.seq;
	*t = e.time;
	return 0;
}

/* Binary search for the first seq whose time is >= t0: log times never
 * decrease along seq order (relaylog_append_batch makes sure). *start is
 * last + 1 if there is none. */
static int find_time(struct query *q, double t0, uint64_t *start)
{
	MDB_val k, v;
	uint64_t lo, hi, found = 0;
	double t = 0;
	int rc = mdb_cursor_get(q->cur, &k, &v, MDB_FIRST);
	*start = 1;
	if (rc == MDB_NOTFOUND)
		return 0; /* empty log */
	if (rc)
		return fail_mdb(q->log, rc, "read log");
	if (k.mv_size != 8)
		return fail(q->log, -EBADMSG, "corrupt log key");
	lo = get_be64(k.mv_data);
	if ((rc = mdb_cursor_get(q->cur, &k, &v, MDB_LAST)))
		return fail_mdb(q->log, rc, "read log");
	if (k.mv_size != 8)
		return fail(q->log, -EBADMSG, "corrupt log key");
	hi = get_be64(k.mv_data) + 1;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if ((rc = time_at(q, mid, &found, &t)))
			return rc;
		if (t < t0)
			lo = found + 1; /* every key in [mid, found] maps to this entry */
		else
			hi = mid;
	}
	*start = lo;
	return 0;
}

int relaylog_query_time(struct relaylog *log, double t0, double t1, size_t limit,
			relaylog_visit_fn fn, void *arg, bool *more)
{
	struct query q;
	uint64_t start = 0;
	int rc = query_begin(&q, log, fn, arg, more);
	if (rc == 0)
		rc = find_time(&q, t0, &start);
	if (rc == 0)
		rc = scan(&q, start, UINT64_MAX, t1, limit);
	query_end(&q);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sort, drop duplicates, visit those that exist. `seqs` is ours to reorder. */
static int visit_seqs(struct query *q, uint64_t *seqs, size_t n)
{
	unsigned char key[8];
	MDB_val k = {sizeof key, key}, v;
	struct relaylog_entry e;
	int rc;
	qsort(seqs, n, sizeof *seqs, cmp_u64);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && seqs[i] == seqs[i - 1])
			continue;
		put_be64(key, seqs[i]);
		rc = mdb_get(q->txn, q->log->log_dbi, &k, &v);
		if (rc == MDB_NOTFOUND)
			continue; /* pruned or never existed */
		if (rc)
			return fail_mdb(q->log, rc, "read log");
		if (decode_entry(&k, &v, &e))
			return fail(q->log, -EBADMSG, "corrupt log entry");
		if ((rc = visit(q, &e)))
			return rc > 0 ? 0 : rc;
	}
	return 0;
}

int relaylog_query_seqs(struct relaylog *log, const uint64_t *seqs, size_t n, relaylog_visit_fn fn,
			void *arg, bool *more)
{
	struct query q;
	uint64_t *copy = malloc((n ? n : 1) * sizeof *copy);
	int rc = query_begin(&q, log, fn, arg, more);
	if (rc)
		goto out;
	if (!copy) {
		rc = fail(log, -ENOMEM, "out of memory");
		goto out;
	}
	memcpy(copy, seqs, n * sizeof *copy);
	rc = visit_seqs(&q, copy, n);
out:
	query_end(&q);
	free(copy);
	return rc;
}

int relaylog_query_msgids(struct relaylog *log, const struct relaylog_id *ids, size_t n,
			  relaylog_visit_fn fn, void *arg, bool *more)
{
	struct query q;
	uint64_t *seqs = malloc((n ? n : 1) * sizeof *seqs);
	size_t found = 0;
	int rc = query_begin(&q, log, fn, arg, more);
	if (rc)
		goto out;
	if (!seqs) {
		rc = fail(log, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (ids[i].len == 0 || ids[i].len > log->max_key)
			continue; /* could never have been indexed */
		rc = get_u64_val(q.txn, log->ids_dbi, ids[i].id, ids[i].len, &seqs[found]);
		if (rc == 0)
			found++;
		else if (rc != MDB_NOTFOUND) {
			rc = fail_mdb(log, rc, "read msg_id index");
			goto out;
		}
	}
	rc = visit_seqs(&q, seqs, found);
out:
	query_end(&q);
	free(seqs);
	return rc;
}

int relaylog_find_msgid(struct relaylog *log, const void *id, size_t len, uint64_t *seq)
{
	MDB_txn *txn = NULL;
	int rc;
	log->err[0] = '\0';
	if (len == 0 || len > log->max_key)
		return fail(log, -ENAMETOOLONG, "msg_id of %zu bytes cannot be indexed", len);
	if ((rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn)))
		return fail_mdb(log, rc, "begin read transaction");
	rc = get_u64_val(txn, log->ids_dbi, id, len, seq);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	return rc ? fail_mdb(log, rc, "read msg_id index") : 0;
}
