/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for seqtrack: gap detection, replay bookkeeping, loss. */
#include "src/daemon/seqtrack.h"

#include "tests/unit/tap.h"

static int observe(struct seqtrack *st, uint64_t seq, uint64_t *missing)
{
	uint64_t m = 0;
	int ev = seqtrack_observe(st, seq, &m);
	if (missing)
		*missing = m;
	return ev;
}

static void in_order(void)
{
	struct seqtrack st;
	seqtrack_init(&st);
	ok(observe(&st, 5, NULL) == SEQ_NEXT, "first number ever is accepted as the start");
	ok(observe(&st, 6, NULL) == SEQ_NEXT && st.cursor == 6, "next number advances the cursor");
	ok(observe(&st, 6, NULL) == SEQ_OLD, "a repeated number is old");
	struct seq_range w;
	ok(!seqtrack_next_request(&st, false, &w), "nothing to replay without holes");
	seqtrack_release(&st);
}

static void gap_and_fill(void)
{
	struct seqtrack st;
	uint64_t missing;
	struct seq_range w;
	seqtrack_init(&st);
	observe(&st, 1, NULL);
	ok(observe(&st, 5, &missing) == SEQ_GAP && missing == 3, "jump 1 -> 5 is a gap of 3");
	ok(observe(&st, 6, NULL) == SEQ_NEXT && st.cursor == 1, "6 extends the received run, cursor stays");
	ok(seqtrack_next_request(&st, false, &w) && w.lo == 2 && w.hi == 4, "asks for 2..4");
	ok(!seqtrack_next_request(&st, false, &w), "one request in flight at a time");
	ok(observe(&st, 3, NULL) == SEQ_FILLED, "3 fills part of the hole");
	ok(observe(&st, 2, NULL) == SEQ_NEXT && st.cursor == 3, "2 then 3 move the cursor to 3");
	ok(observe(&st, 4, NULL) == SEQ_NEXT && st.cursor == 6, "4 closes the hole: cursor jumps to 6");
	ok(seqtrack_replay_done(&st, 4, false, false, &w) == 0, "completed replay loses nothing");
	ok(!st.pending, "request no longer pending");
	seqtrack_release(&st);
}

static void replay_loses(void)
{
	struct seqtrack st;
	struct seq_range w;
	seqtrack_init(&st);
	observe(&st, 10, NULL);
	observe(&st, 20, NULL);
	seqtrack_next_request(&st, false, &w);
	observe(&st, 12, NULL);
	ok(seqtrack_replay_done(&st, 12, false, false, &w) == 8, "11, 13..19 lost after the answer");
	ok(st.cursor == 20 && st.n_have == 0, "cursor moved past the lost hole to 20");
	observe(&st, 30, NULL);
	seqtrack_next_request(&st, false, &w);
	ok(seqtrack_replay_done(&st, 0, false, true, &w) == 9, "failed replay gives the hole up");
	ok(st.cursor == 30, "cursor at 30 after the failure");
	seqtrack_release(&st);
}

static void paging(void)
{
	struct seqtrack st;
	struct seq_range w;
	seqtrack_init(&st);
	seqtrack_resume(&st, 100);
	ok(seqtrack_next_request(&st, true, &w) && w.lo == 101 && w.hi == SEQ_OPEN,
	   "catch-up after restart asks for everything after the cursor");
	for (uint64_t s = 101; s <= 150; s++)
		observe(&st, s, NULL);
	ok(seqtrack_replay_done(&st, 150, true, false, &w) == 0 && st.pending && w.lo == 151,
	   "a page with more continues from the next number");
	for (uint64_t s = 151; s <= 170; s++)
		observe(&st, s, NULL);
	ok(seqtrack_replay_done(&st, 170, false, false, &w) == 0 && !st.pending && st.cursor == 170,
	   "last page ends the catch-up with nothing lost");
	seqtrack_release(&st);
}

static void live_during_catch_up(void)
{
	struct seqtrack st;
	struct seq_range w;
	uint64_t missing;
	seqtrack_init(&st);
	seqtrack_resume(&st, 0);
	st.known = true;
	seqtrack_next_request(&st, true, &w);
	ok(observe(&st, 1001, &missing) == SEQ_GAP && missing == 1000, "live 1001 during catch-up");
	for (uint64_t s = 1; s <= 1000; s++)
		observe(&st, s, NULL);
	ok(st.cursor == 1001, "replayed 1..1000 plus live 1001 give cursor 1001");
	ok(seqtrack_replay_done(&st, 1000, false, false, &w) == 0, "nothing lost");
	seqtrack_release(&st);
}

static void skip_and_restart(void)
{
	struct seqtrack st;
	seqtrack_init(&st);
	observe(&st, 1, NULL);
	observe(&st, 4, NULL);
	observe(&st, 9, NULL);
	ok(seqtrack_skip_to(&st, st.max_seen) == 6, "skipping to 9 loses 2,3,5..8");
	ok(st.cursor == 9 && st.n_have == 0, "cursor at 9");
	seqtrack_restart(&st, 1);
	ok(st.cursor == 1 && observe(&st, 2, NULL) == SEQ_NEXT, "restart starts over at 1");
	seqtrack_release(&st);
}

static void many_holes(void)
{
	struct seqtrack st;
	seqtrack_init(&st);
	observe(&st, 1, NULL);
	for (uint64_t s = 3; s < 2000; s += 2)
		observe(&st, s, NULL);
	ok(st.n_have == 999, "999 separate received numbers kept as ranges");
	for (uint64_t s = 2; s < 2000; s += 2)
		observe(&st, s, NULL);
	ok(st.cursor == 1999 && st.n_have == 0, "filling every hole merges them all");
	seqtrack_release(&st);
}

/* A jump wider than any replay could fill: a reset, not billions lost. */
static void huge_jumps(void)
{
	struct seqtrack st;
	struct seq_range w;
	uint64_t missing = 0, lost = 0;
	seqtrack_init(&st);
	observe(&st, 1, NULL);
	int ev = observe(&st, 1ull << 63, &missing);
	ok(ev == SEQ_RESET && missing == SEQ_MAX_GAP,
	   "a jump of 2^63 is a reset with a hole of SEQ_MAX_GAP (%llu) left to replay",
	   (unsigned long long)missing);
	ok(seqtrack_next_request(&st, false, &w) && w.lo == (1ull << 63) - SEQ_MAX_GAP &&
		   w.hi == (1ull << 63) - 1,
	   "the replay asks for the last SEQ_MAX_GAP numbers only");
	lost += seqtrack_replay_done(&st, 0, false, true, &w);
	ok(lost == SEQ_MAX_GAP, "an unanswered replay loses exactly that hole (%llu)",
	   (unsigned long long)lost);
	observe(&st, (1ull << 63) + (1ull << 62), NULL);
	seqtrack_next_request(&st, false, &w);
	lost += seqtrack_replay_done(&st, 0, false, true, &w);
	observe(&st, UINT64_MAX, NULL);
	seqtrack_next_request(&st, false, &w);
	lost += seqtrack_replay_done(&st, 0, false, true, &w);
	ok(lost == 3 * (uint64_t)SEQ_MAX_GAP && st.cursor == UINT64_MAX,
	   "three huge jumps: 3 x SEQ_MAX_GAP lost, no wrap (%llu)", (unsigned long long)lost);

	/* Exactly at the limit it is still a gap; one past it, a reset. */
	seqtrack_release(&st);
	st.max_gap = 10;
	observe(&st, 100, NULL);
	ok(observe(&st, 111, &missing) == SEQ_GAP && missing == 10, "a hole of max_gap is a gap");
	ok(observe(&st, 123, &missing) == SEQ_RESET && missing == 10 && st.cursor == 100,
	   "a hole of max_gap + 1 is a reset leaving max_gap to replay");
	ok(seqtrack_next_request(&st, false, &w) && w.lo == 101 && w.hi == 110,
	   "the older hole is still asked for first");
	ok(seqtrack_replay_done(&st, 0, false, true, &w) == 10, "it is lost if not replayed");
	ok(seqtrack_next_request(&st, false, &w) && w.lo == 113 && w.hi == 122,
	   "then the hole before 123, not the written-off 112");
	seqtrack_release(&st);
}

int main(void)
{
	in_order();
	gap_and_fill();
	replay_loses();
	paging();
	live_during_catch_up();
	skip_and_restart();
	many_holes();
	huge_jumps();
	return tap_done();
}
