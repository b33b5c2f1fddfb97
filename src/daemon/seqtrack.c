/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seqtrack: per-source gap bookkeeping (see seqtrack.h). */
#include "seqtrack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void seqtrack_init(struct seqtrack *st)
{
	memset(st, 0, sizeof *st);
}

void seqtrack_release(struct seqtrack *st)
{
	free(st->have);
	seqtrack_init(st);
}

void seqtrack_resume(struct seqtrack *st, uint64_t cursor)
{
	seqtrack_release(st);
	st->known = true;
	st->cursor = st->max_seen = cursor;
}

void seqtrack_restart(struct seqtrack *st, uint64_t seq)
{
	seqtrack_resume(st, seq);
}

/* Move the cursor over received ranges that now touch it. */
static void absorb(struct seqtrack *st)
{
	size_t i = 0;
	while (i < st->n_have && st->have[i].lo <= st->cursor + 1) {
		if (st->have[i].hi > st->cursor)
			st->cursor = st->have[i].hi;
		i++;
	}
	if (i) {
		memmove(st->have, st->have + i, (st->n_have - i) * sizeof *st->have);
		st->n_have -= i;
	}
}

/* Room for one more range. 0 or -ENOMEM. */
static int reserve(struct seqtrack *st)
{
	if (st->n_have < st->cap_have)
		return 0;
	size_t cap = st->cap_have ? st->cap_have * 2 : 8;
	struct seq_range *r = realloc(st->have, cap * sizeof *r);
	if (!r)
		return -ENOMEM;
	st->have = r;
	st->cap_have = cap;
	return 0;
}

/* Numbers a..b, all above max_seen, written off as one reset: recorded as if
 * received, so no replay asks for them and none is ever counted lost. */
static int write_off(struct seqtrack *st, uint64_t a, uint64_t b)
{
	if (st->n_have && st->have[st->n_have - 1].hi + 1 == a) {
		st->have[st->n_have - 1].hi = b;
	} else {
		if (reserve(st))
			return -ENOMEM;
		st->have[st->n_have++] = (struct seq_range){a, b};
	}
	st->max_seen = b;
	absorb(st);
	return 0;
}

/* Insert seq (> cursor+1) into the sorted range list, merging neighbours.
 * Returns 1 if new, 0 if already there, -ENOMEM. */
static int insert(struct seqtrack *st, uint64_t seq)
{
	size_t i = 0;
	while (i < st->n_have && st->have[i].hi < seq)
		i++;
	if (i < st->n_have && st->have[i].lo <= seq)
		return 0;
	bool join_prev = i > 0 && st->have[i - 1].hi + 1 == seq;
	bool join_next = i < st->n_have && st->have[i].lo == seq + 1;
	if (join_prev && join_next) {
		st->have[i - 1].hi = st->have[i].hi;
		memmove(st->have + i, st->have + i + 1, (st->n_have - i - 1) * sizeof *st->have);
		st->n_have--;
	} else if (join_prev) {
		st->have[i - 1].hi = seq;
	} else if (join_next) {
		st->have[i].lo = seq;
	} else {
		if (reserve(st))
			return -ENOMEM;
		memmove(st->have + i + 1, st->have + i, (st->n_have - i) * sizeof *st->have);
		st->have[i] = (struct seq_range){seq, seq};
		st->n_have++;
	}
	return 1;
}

int seqtrack_observe(struct seqtrack *st, uint64_t seq, uint64_t *missing)
{
	*missing = 0;
	if (!st->known) {
		st->known = true;
		st->cursor = st->max_seen = seq;
		return SEQ_NEXT;
	}
	if (seq <= st->cursor)
		return SEQ_OLD;
	if (seq == st->cursor + 1) {
		st->cursor = seq;
		absorb(st);
		if (seq > st->max_seen)
			st->max_seen = seq;
		return SEQ_NEXT;
	}
	/* A jump past what any replay could fill is a reset, not a loss: only
	 * the last max_gap numbers before seq stay a hole to replay. */
	uint64_t max_gap = st->max_gap ? st->max_gap : SEQ_MAX_GAP;
	bool reset = seq > st->max_seen && seq - st->max_seen - 1 > max_gap;
	if (reset && write_off(st, st->max_seen + 1, seq - max_gap - 1))
		return -ENOMEM;
	int rc = insert(st, seq);
	if (rc <= 0)
		return rc < 0 ? rc : SEQ_OLD;
	if (seq > st->max_seen + 1) {
		*missing = seq - st->max_seen - 1;
		st->max_seen = seq;
		return reset ? SEQ_RESET : SEQ_GAP;
	}
	if (seq > st->max_seen) {
		st->max_seen = seq;
		return SEQ_NEXT;
	}
	return SEQ_FILLED;
}

bool seqtrack_next_request(struct seqtrack *st, bool catch_up, struct seq_range *want)
{
	if (!st->known || st->pending)
		return false;
	if (st->n_have)
		*want = (struct seq_range){st->cursor + 1, st->have[0].lo - 1};
	else if (catch_up)
		*want = (struct seq_range){st->cursor + 1, SEQ_OPEN};
	else
		return false;
	st->pending = true;
	st->want = *want;
	return true;
}

/* Count numbers in [cursor+1, upto] not received. */
static uint64_t count_missing(const struct seqtrack *st, uint64_t upto)
{
	if (upto <= st->cursor)
		return 0;
	uint64_t n = upto - st->cursor;
	for (size_t i = 0; i < st->n_have && st->have[i].lo <= upto; i++) {
		uint64_t hi = st->have[i].hi < upto ? st->have[i].hi : upto;
		n -= hi - st->have[i].lo + 1;
	}
	return n;
}

uint64_t seqtrack_skip_to(struct seqtrack *st, uint64_t upto)
{
	if (!st->known || upto <= st->cursor)
		return 0;
	uint64_t lost = count_missing(st, upto);
	st->cursor = upto;
	size_t i = 0;
	while (i < st->n_have && st->have[i].hi <= upto)
		i++;
	memmove(st->have, st->have + i, (st->n_have - i) * sizeof *st->have);
	st->n_have -= i;
	if (st->n_have && st->have[0].lo <= upto)
		st->have[0].lo = upto + 1;
	absorb(st);
	if (st->cursor > st->max_seen)
		st->max_seen = st->cursor;
	return lost;
}

uint64_t seqtrack_replay_done(struct seqtrack *st, uint64_t last, bool more, bool failed,
			      struct seq_range *want)
{
	if (!st->pending)
		return 0;
	if (more && !failed && last >= st->want.lo && last < st->want.hi) {
		st->want.lo = last + 1;
		*want = st->want;
		return 0;
	}
	st->pending = false;
	uint64_t end = st->want.hi;
	if (end == SEQ_OPEN)
		end = last > st->cursor ? last : st->cursor;
	return seqtrack_skip_to(st, end);
}
