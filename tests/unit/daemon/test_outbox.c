/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the outbox. Digests: a note that joins a digest while the digest
 * is out for delivery is neither lost nor left behind when the delivery (or
 * the dead letter) of what was loaded is recorded. Found by the IRC test: a
 * rate-limited stream left five notes in a digest that no longer existed. */
#include "src/daemon/outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/tap.h"

#define NOW 1800000000000ull
#define LATER (NOW + 3600 * 1000ull)

/* Commit one digest-mode note n for (alice, 7) at `now`. */
static int put_note(struct store *s, unsigned n, uint64_t now)
{
	unsigned char key[16] = {0}, id[OUTBOX_ID_LEN];
	char hex[OUTBOX_HEX_LEN + 1], json[200];
	struct store_txn *t;
	memcpy(key, &n, sizeof n);
	outbox_note_id(key, "alice", 7, id);
	outbox_hex(id, hex);
	snprintf(json, sizeof json, "{\"id\":\"%s\",\"user\":\"alice\",\"title\":\"n%u\"}", hex, n);
	struct outbox_add a = {.id = id, .user = "alice", .dest = 7, .json = json,
			       .len = strlen(json), .now = now, .digest_interval = 60,
			       .digest_max = 100};
	int rc = store_begin(s, &t);
	if (!rc)
		rc = outbox_put(t, &a) == 1 ? 0 : -EIO;
	return rc ? (store_abort(t), rc) : store_commit(t);
}

/* The one due entry at LATER (a digest), or -1 when nothing is due. */
static int due_digest(struct store *s, struct outbox_entry *e)
{
	size_t n = 0;
	uint64_t next;
	if (outbox_due(s, LATER, e, 1, &n, NULL, NULL, &next) || n != 1)
		return -1;
	return e->digest ? 0 : -1;
}

/* Titles of the loaded notes, joined with ',' (into buf). */
static const char *titles(const json_t *notes, char *buf, size_t len)
{
	size_t i, o = 0;
	json_t *n;
	buf[0] = '\0';
	json_array_foreach(notes, i, n)
		if (o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "",
					      json_string_value(json_object_get(n, "title")));
	return buf;
}

enum outcome { DELIVERED, DEAD };

static void record(struct store *s, const struct outbox_entry *e, json_t *notes, bool more,
		   enum outcome o)
{
	struct store_txn *t;
	int rc = store_begin(s, &t);
	if (!rc)
		rc = o == DELIVERED ? outbox_delivered(t, e, notes, more, "test", NOW, 100)
				    : outbox_dead(t, e, notes, "no", NOW);
	ok(!rc && !store_commit(t), "%s recorded", o == DELIVERED ? "delivery" : "dead letter");
}

static void joined_in_flight(const char *dir, enum outcome o)
{
	struct store *s;
	struct outbox_entry e;
	json_t *notes = NULL; /* outbox_load makes the array */
	bool more = true;
	char err[300], buf[200];
	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0, "open (%s)", err);
	ok(put_note(s, 1, NOW) == 0 && put_note(s, 2, NOW) == 0, "two notes into a digest");
	ok(due_digest(s, &e) == 0, "the digest is due after its interval");
	ok(outbox_load(s, &e, 50, &notes, &more) == 0 && !more, "loaded for delivery");
	titles(notes, buf, sizeof buf);
	ok(!strcmp(buf, "n1,n2"), "with both notes (%s)", buf);

	/* while it is out: a third note joins the same (still open) digest */
	ok(put_note(s, 3, NOW + 10) == 0, "a third note joins while it is out");
	record(s, &e, notes, more, o);
	json_decref(notes);

	struct outbox_entry e2;
	ok(due_digest(s, &e2) == 0 && !memcmp(e2.id, e.id, OUTBOX_ID_LEN),
	   "the digest is still there, due again, for what joined late");
	notes = NULL;
	ok(outbox_load(s, &e2, 50, &notes, &more) == 0, "loaded again");
	titles(notes, buf, sizeof buf);
	ok(!strcmp(buf, "n3"), "holding only the late note (%s)", buf);
	record(s, &e2, notes, false, DELIVERED);
	json_decref(notes);
	ok(due_digest(s, &e2) == -1, "then nothing is left to deliver");
	ok(put_note(s, 4, NOW + 20) == 0 && due_digest(s, &e2) == 0 &&
		   memcmp(e2.id, e.id, OUTBOX_ID_LEN),
	   "the next note opens a new digest");
	store_close(s);
}

/* The delivery log counts the attempts, the one that succeeded included. */
static void attempts_logged(const char *dir)
{
	struct store *s;
	struct store_txn *t;
	struct outbox_entry e;
	json_t *notes = NULL, *log = NULL;
	bool more;
	size_t n = 0;
	uint64_t next;
	char err[300];
	unsigned char key[16] = {9}, id[OUTBOX_ID_LEN];
	char hex[OUTBOX_HEX_LEN + 1], json[200];
	ok(store_open(dir, 1 << 24, 100, &s, err, sizeof err) == 0, "open (%s)", err);
	outbox_note_id(key, "bob", 8, id);
	outbox_hex(id, hex);
	snprintf(json, sizeof json, "{\"id\":\"%s\",\"user\":\"bob\",\"title\":\"t\"}", hex);
	struct outbox_add a = {.id = id, .user = "bob", .dest = 8, .json = json,
			       .len = strlen(json), .now = NOW};
	int rc = store_begin(s, &t);
	ok(!rc && outbox_put(t, &a) == 1 && !store_commit(t), "an instant note");
	for (int k = 0; k < 2; k++) { /* two failed attempts */
		outbox_due(s, LATER, &e, 1, &n, NULL, NULL, &next);
		store_begin(s, &t);
		rc = outbox_reschedule(t, &e, NOW + 1000 * (k + 1), 1, "no");
		ok(n == 1 && !rc && !store_commit(t), "attempt %d failed", k + 1);
	}
	ok(outbox_due(s, LATER, &e, 1, &n, NULL, NULL, &next) == 0 && n == 1 &&
		   outbox_load(s, &e, 10, &notes, &more) == 0,
	   "loaded for its third attempt");
	record(s, &e, notes, false, DELIVERED);
	json_decref(notes);
	ok(outbox_delivered_list(s, "bob", 10, &log) == 0 && json_array_size(log) == 1 &&
		   json_integer_value(json_object_get(json_array_get(log, 0), "attempts")) == 3,
	   "the delivery log says 3 attempts");
	json_decref(log);
	store_close(s);
}

int main(void)
{
	char dir[] = "/tmp/herald-test-outbox-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	joined_in_flight(dir, DELIVERED);
	char cmd[100];
	snprintf(cmd, sizeof cmd, "rm -rf %s/*", dir);
	if (system(cmd))
		return 1;
	joined_in_flight(dir, DEAD);
	if (system(cmd))
		return 1;
	attempts_logged(dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return tap_done();
}
