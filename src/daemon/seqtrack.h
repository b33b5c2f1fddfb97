/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * seqtrack: gap detection for one sequenced source, as pure logic (no I/O),
 * so every case can be unit-tested.
 *
 * A source numbers its messages 1, 2, 3... (the relay's "seq", or fedmsg's
 * "i" from a direct publisher). `cursor` is the last sequence number up to
 * which nothing is missing; it is what the store keeps. Numbers received above
 * the cursor are kept as ranges; the holes between are what replay must fill.
 * One replay request is in flight at a time; when it ends, whatever it could
 * not fill is declared lost and the cursor moves past it, so a dead replay
 * endpoint never stalls the source.
 *
 * Not thread-safe: owned by the committer.
 */
#ifndef HERALD_SEQTRACK_H
#define HERALD_SEQTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQ_OPEN UINT64_MAX /* "up to the newest" as a replay upper bound */
/* The widest hole worth a replay by default (a relay keeps 1,000,000
 * messages unless told otherwise). A wider jump is a reset: see SEQ_RESET. */
#define SEQ_MAX_GAP 1000000u

struct seq_range {
	uint64_t lo, hi; /* inclusive */
};

struct seqtrack {
	bool known;            /* have we a cursor at all? */
	uint64_t cursor;
	struct seq_range *have; /* received above cursor+1, sorted, disjoint, owned */
	size_t n_have, cap_have;
	bool pending;          /* a replay request is in flight */
	struct seq_range want; /* ... asking for this */
	uint64_t max_seen;
	uint64_t max_gap;      /* widest hole to replay; 0: SEQ_MAX_GAP */
};

enum seq_event {
	SEQ_NEXT,     /* the expected number (or the first ever) */
	SEQ_FILLED,   /* filled part of a hole (typically from a replay) */
	SEQ_GAP,      /* jumped ahead: a new hole opened (see *missing) */
	SEQ_OLD,      /* at or below the cursor, or already received */
	SEQ_RESET,    /* jumped further than max_gap: the numbers before the
		       * last max_gap are written off (never replayed, never
		       * lost); *missing is the hole that remains, max_gap */
};

void seqtrack_init(struct seqtrack *st);
void seqtrack_release(struct seqtrack *st);

/* Start from a stored cursor (e.g. after a restart). */
void seqtrack_resume(struct seqtrack *st, uint64_t cursor);

/*
 * Record sequence number `seq`. For SEQ_GAP, *missing is how many numbers
 * the new hole holds. Returns the event, or -ENOMEM.
 */
int seqtrack_observe(struct seqtrack *st, uint64_t seq, uint64_t *missing);

/* The publisher restarted its numbering: forget everything, start at seq. */
void seqtrack_restart(struct seqtrack *st, uint64_t seq);

/*
 * If no request is in flight and something may be missing, fill *want with
 * the next range to ask for (hi may be SEQ_OPEN), mark it pending, return
 * true. `catch_up` asks for everything after the cursor even when no hole is
 * known yet (used once after a restart of heraldd).
 */
bool seqtrack_next_request(struct seqtrack *st, bool catch_up, struct seq_range *want);

/*
 * The request in flight was answered up to `last` (the highest number the
 * answer held, 0 if none) and `more` says whether the source has more in the
 * asked range. With more, the request continues from last+1 (still pending,
 * *want updated, returns 0). Without, everything still missing in the asked
 * range up to its end (or up to `last` for an open range) is given up:
 * returns how many were lost and the cursor moves past them.
 * `failed` = the request got no answer: give up the same way.
 */
uint64_t seqtrack_replay_done(struct seqtrack *st, uint64_t last, bool more, bool failed,
			      struct seq_range *want);

/* Give up every hole below `upto` (no replay possible). Returns lost count. */
uint64_t seqtrack_skip_to(struct seqtrack *st, uint64_t upto);

#endif
