/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_scratch: per-thread working memory for evaluating filters, which
 * today means running regexes: PCRE2 match data and a match context holding
 * the limits that stop a hostile pattern such as (a+)+$. Not for compiling
 * (filter_parse.c) nor for deciding what to match (filter_eval.c).
 *
 * Why an arena: since PCRE2 10.41 the interpreter keeps its backtracking
 * frames on the heap, allocated through the match data's memory functions
 * on first use and grown by doubling. Giving PCRE2 a general context that
 * allocates from a fixed block inside the scratch means filter_eval() never
 * calls malloc, and the heap limit plus the block's size bound what a regex
 * can use. Blocks are bump-allocated; freeing the top block (the common
 * "free the old frames, allocate bigger ones") gives its room back.
 *
 * Why time and not steps for the budget: PCRE2's match limit counts steps
 * per start position (the count starts again at each one), and there is no
 * API for the steps a run took, so a pattern such as \w*\w*\w*\W stays
 * under every limit at each position of a 60-byte subject yet takes over a
 * millisecond in all. The budget is therefore the regex time itself, read
 * around each run, and enforced inside a run by a callout that every
 * compiled pattern starts with (filter_parse.c wraps patterns as
 * (?C1)(?:...)), which PCRE2 calls at each start position. See
 * run_budgeted for how preemption is kept from cutting a cheap run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "filter_int.h"
#include "src/common/clock.h"

/* Legitimate filters run on topics, titles and summaries (hundreds of
 * bytes) and need a few thousand steps at most. An exponential pattern
 * such as (a+)+$ stops at the match limit after about 0.1 ms (measured on
 * a 4000-byte subject), so it can slow matching down but never hang it. */
#define MATCH_LIMIT    10000 /* calls of the internal match(), per start position */
#define DEPTH_LIMIT    5000  /* nested backtracking points */
#define HEAP_LIMIT_KIB 1024  /* backtracking frames: ~200 bytes per depth */
/* Frames grow by doubling from 20 KiB up to the heap limit, and the old
 * vector is freed after the new one is allocated, so at most about three
 * times the limit is ever handed out; plus the contexts and match data. */
#define ARENA_SIZE (3 * HEAP_LIMIT_KIB * 1024 + 16 * 1024)
#define NO_BLOCK   UINT32_MAX

struct block {
	uint32_t size; /* including this header */
	uint32_t prev; /* offset of the block below, or NO_BLOCK */
	uint32_t freed;
	uint32_t pad; /* keeps payloads 16-byte aligned */
};

struct filter_scratch {
	uint64_t left;	     /* budget left (ns); FILTER_BUDGET_NONE: none */
	uint64_t spent;	     /* charged since filter_scratch_budget */
	uint64_t run_start;  /* when the current run began */
	bool cut;	     /* some run was cut short since filter_scratch_budget */
	pcre2_general_context *gctx;
	pcre2_match_context *mctx;
	pcre2_match_data *md;
	uint32_t top;  /* bytes of the arena in use */
	uint32_t last; /* the topmost block */
	_Alignas(16) unsigned char arena[ARENA_SIZE];
};

static struct block *block_at(struct filter_scratch *s, uint32_t off)
{
	return (struct block *)(void *)(s->arena + off);
}

static void *arena_malloc(PCRE2_SIZE size, void *data)
{
	struct filter_scratch *s = data;
	size_t need = sizeof(struct block) + ((size + 15) & ~(size_t)15);

	if (size > ARENA_SIZE || need > ARENA_SIZE - s->top)
		return NULL; /* PCRE2 reports PCRE2_ERROR_NOMEMORY: no match */
	struct block *b = block_at(s, s->top);
	b->size = (uint32_t)need;
	b->prev = s->last;
	b->freed = 0;
	s->last = s->top;
	s->top += (uint32_t)need;
	return b + 1;
}

static void arena_free(void *p, void *data)
{
	struct filter_scratch *s = data;

	if (!p)
		return;
	((struct block *)p - 1)->freed = 1;
	while (s->last != NO_BLOCK && block_at(s, s->last)->freed) {
		s->top = s->last;
		s->last = block_at(s, s->last)->prev;
	}
}

/* Called by PCRE2 at each start position of a run (the (?C1) every
 * pattern starts with): stop the run once the budget is spent. */
static int at_start(pcre2_callout_block *cb, void *data)
{
	struct filter_scratch *s = data;

	(void)cb;
	if (s->left == FILTER_BUDGET_NONE)
		return 0;
	return clock_mono_ns() - s->run_start >= s->left ? PCRE2_ERROR_CALLOUT : 0;
}

struct filter_scratch *filter_scratch_new(void)
{
	/* Not calloc: the arena's pages stay untouched until a regex needs them. */
	struct filter_scratch *s = malloc(sizeof *s);

	if (!s)
		return NULL;
	s->top = 0;
	s->last = NO_BLOCK;
	s->left = FILTER_BUDGET_NONE;
	s->spent = 0;
	s->cut = false;
	s->mctx = NULL;
	s->md = NULL;
	s->gctx = pcre2_general_context_create(arena_malloc, arena_free, s);
	if (s->gctx)
		s->mctx = pcre2_match_context_create(s->gctx);
	if (s->mctx)
		s->md = pcre2_match_data_create(1, s->gctx);
	if (!s->md) {
		filter_scratch_free(s);
		return NULL;
	}
	pcre2_set_match_limit(s->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(s->mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(s->mctx, HEAP_LIMIT_KIB);
	pcre2_set_callout(s->mctx, at_start, s);
	return s;
}

void filter_scratch_free(struct filter_scratch *s)
{
	if (!s)
		return;
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_general_context_free(s->gctx);
	free(s);
}

void filter_scratch_budget(struct filter_scratch *s, uint64_t ns)
{
	s->left = ns;
	s->spent = 0;
	s->cut = false;
}

uint64_t filter_scratch_spent(const struct filter_scratch *s, bool *cut)
{
	if (cut)
		*cut = s->cut;
	return s->spent;
}

/* One timed run within what is left; *over: it reached that (stopped by
 * the callout, or finished late). */
static int run_timed(struct filter_scratch *s, const pcre2_code *re, const char *subject,
		     size_t len, uint64_t *took, bool *over)
{
	s->run_start = clock_mono_ns();
	int rc = pcre2_match(re, (PCRE2_SPTR)subject, len, 0, 0, s->md, s->mctx);
	*took = clock_mono_ns() - s->run_start;
	*over = *took >= s->left || rc == PCRE2_ERROR_CALLOUT;
	return rc;
}

static bool limit_error(int rc)
{
	return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	       rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_NOMEMORY;
}

/*
 * One budgeted run: charge its time, note whether it was cut short.
 * The clock is the wall clock, so a thread preempted (or interrupted)
 * during a cheap run would see it "take" a long time: a run that reaches
 * the budget or FILTER_RECHECK_NS is run once more (the outcome is the
 * same, PCRE2 being deterministic), and only when that one is as slow is
 * the run really expensive, charged for both. Otherwise the second run's
 * time is what counts. A run stopped by PCRE2's own limits is not run
 * again: that outcome does not depend on time. The residual risk is a
 * thread preempted twice in a row inside the same short run; reading the
 * thread's CPU clock instead would cost a system call per run
 * (microseconds on virtual machines).
 */
static int run_budgeted(struct filter_scratch *s, const pcre2_code *re, const char *subject,
			size_t len)
{
	uint64_t took, again;
	bool over;

	if (s->left == 0) {
		s->cut = true;
		return PCRE2_ERROR_MATCHLIMIT;
	}
	int rc = run_timed(s, re, subject, len, &took, &over);
	if (!limit_error(rc) && (over || took >= FILTER_RECHECK_NS)) {
		rc = run_timed(s, re, subject, len, &again, &over);
		took = over || again >= FILTER_RECHECK_NS ? took + again : again;
	}
	s->spent += took;
	s->left = took >= s->left ? 0 : s->left - took;
	if (over || limit_error(rc))
		s->cut = true;
	return rc == PCRE2_ERROR_CALLOUT ? PCRE2_ERROR_MATCHLIMIT : rc;
}

int scratch_regex_match(struct filter_scratch *s, const pcre2_code *re, const char *subject,
			size_t len)
{
	int rc;

	if (!s)
		return PCRE2_ERROR_NOMEMORY;
	if (s->left == FILTER_BUDGET_NONE)
		rc = pcre2_match(re, (PCRE2_SPTR)subject, len, 0, 0, s->md, s->mctx);
	else
		rc = run_budgeted(s, re, subject, len);
	if (rc >= 0) /* 0: matched, the ovector was just too small to say where */
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (limit_error(rc))
		s->cut = true; /* a limit or the budget stopped it */
	return rc;
}
