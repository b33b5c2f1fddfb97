/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter: the subscription filter language (herald-filters(7)). A filter is
 * compiled once from its source into an immutable program, then evaluated
 * against many messages, explained for people ("why did this match?"), and
 * asked for index keys so the matcher only evaluates it on candidates.
 *
 * This module does not know about subscriptions, users in the store, or the
 * index itself: the caller hands in a message view (meta.h) and a user
 * context, and receives booleans, text and keys.
 *
 * Threads: a compiled filter is immutable; any number of threads may use it
 * at once. Each thread needs its own struct filter_scratch. Nothing here
 * keeps global state.
 *
 * Memory: filter_eval() and filter_index_keys() never allocate.
 * filter_explain() allocates only to grow the caller's buffer.
 */
#ifndef HERALD_FILTER_H
#define HERALD_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/buf.h"
#include "src/common/meta.h"

/* Limits, each with its own compile error. */
#define FILTER_MAX_SOURCE 4096 /* bytes of source */
#define FILTER_MAX_DEPTH  64   /* nested '(' and 'not' */
#define FILTER_MAX_NODES  256  /* conditions plus and/or/not */
#define FILTER_MAX_LIST	  1024 /* items in one [...] list */
#define FILTER_MAX_PATH	  32   /* components in one msg.PATH */
#define FILTER_MAX_REGEX  16   /* regular expressions (=~ clauses) */

struct filter; /* compiled, immutable */

/* Where and why compilation failed. line and col are 1-based; col counts
 * characters (UTF-8 code points), not bytes. Render as "%d:%d: %s". */
struct filter_error {
	int line, col;
	char msg[256];
};

/*
 * Compile `src` (NUL-terminated). On success *out owns a new filter and 0 is
 * returned. On failure *out is NULL, *err (if not NULL) says where and why,
 * and the result is -EINVAL (the source is wrong) or -ENOMEM.
 */
int filter_compile(const char *src, struct filter **out, struct filter_error *err);
/*
 * The same with flags. FILTER_COMPILE_UNCHECKED skips the refusal of
 * regexes that can backtrack catastrophically (herald-filters(7), "Limits"):
 * only for tests and benchmarks that model filters stored before that rule
 * existed; whatever they cost is still bounded by the evaluation budget.
 */
#define FILTER_COMPILE_UNCHECKED 1u
int filter_compile_flags(const char *src, unsigned flags, struct filter **out,
			 struct filter_error *err);
/* filter_free(NULL) is a no-op. */
void filter_free(struct filter *f);
/* The source text exactly as compiled; valid as long as the filter. */
const char *filter_source(const struct filter *f);
/* Bytes owned by the filter (its program plus compiled regexes, estimated),
 * for memory accounting in the matcher. */
size_t filter_size(const struct filter *f);

/*
 * The user a filter runs for: `me` is `name`; `@x` is the list named "x".
 * Everything is borrowed for the duration of a call; items must be sorted by
 * strcmp (the filter binary-searches them). name may be NULL ("me" is then
 * unknown, and comparisons with it are false except '!=').
 */
struct filter_list {
	const char *name;
	const char *const *items; /* sorted by strcmp */
	size_t n;
};
struct filter_user {
	const char *name;
	const struct filter_list *lists;
	size_t n_lists;
};

/*
 * Per-thread working memory for evaluation (regex match data with its own
 * fixed-size heap, so that a regex never calls malloc and a hostile regex
 * is stopped by its limits). NULL on out of memory; filter_scratch_free(NULL)
 * is a no-op. A scratch reserves about 3 MiB of address space, touched only
 * as far as regexes need it.
 */
struct filter_scratch;
struct filter_scratch *filter_scratch_new(void);
void filter_scratch_free(struct filter_scratch *s);

/*
 * The evaluation budget: the regex time (nanoseconds, monotonic clock) the
 * evaluations that follow may use in all, until the next call. Each regex
 * run is also bounded on its own by PCRE2's limits (match steps per start
 * position, backtracking depth, heap); when the budget runs out during a
 * run, the run is stopped at its next start position (so a run overshoots
 * by at most one position's work, itself bounded by the match limit), and
 * once it is spent no regex runs at all. A stopped or refused regex
 * counts as not matching. The default is FILTER_BUDGET_NONE: only PCRE2's
 * limits apply. Only regex runs are charged; the rest of a filter is
 * bounded by its size (FILTER_MAX_NODES, FILTER_MAX_REGEX).
 */
#define FILTER_BUDGET_NONE UINT64_MAX
/* A budgeted run slower than this (or reaching the budget) is timed once
 * more, so that a preempted thread does not charge a cheap regex for the
 * time it was not running (filter_scratch.c). */
#define FILTER_RECHECK_NS (10 * 1000ull)
void filter_scratch_budget(struct filter_scratch *s, uint64_t ns);
/* Regex time charged since filter_scratch_budget; *cut (may be NULL) says
 * whether some regex was cut short since then (a PCRE2 limit, or the
 * budget ran out). */
uint64_t filter_scratch_spent(const struct filter_scratch *s, bool *cut);
/* Does the filter hold a regex (is it worth budgeting)? */
bool filter_has_regex(const struct filter *f);

/*
 * Does the message match? `user` may be NULL (then `me` and every `@list`
 * are unknown). `scratch` belongs to the calling thread. Never allocates,
 * never fails: a regex that hits its match limits counts as not matching.
 * The message's meta arrays must be sorted (meta.h says they are).
 */
bool filter_eval(const struct filter *f, const struct msg_view *m, const struct filter_user *user,
		 struct filter_scratch *scratch);

/*
 * Evaluate and append a human explanation to `out`: one line per top-level
 * clause with true/false and the values it saw, nested clauses indented,
 * then a result line, e.g.
 *     topic ~ "*.bodhi.update.request.stable": true (topic = "org....stable")
 *     packages & @mine: false (packages = [kernel], @mine = [glibc, bash])
 *     => no match (every clause must be true)
 * Every clause is evaluated (no short-circuit) so that all are explained;
 * *matched is what filter_eval() returns. 0 or -ENOMEM.
 */
int filter_explain(const struct filter *f, const struct msg_view *m, const struct filter_user *user,
		   struct filter_scratch *scratch, struct buf *out, bool *matched);

/*
 * Indexing support. filter_index_keys() derives a set of keys such that the
 * filter can only be true for a message that has at least one of them:
 *   FILTER_KEY_TOPIC     value is a glob (filter_glob_match) or an exact
 *                        topic; the message's topic must match it.
 *   FILTER_KEY_PACKAGE   value is a package name; the message's packages
 *                        must contain it.
 *   FILTER_KEY_USERNAME  likewise for usernames.
 * The callback may see the same key more than once. Key values are borrowed
 * from the filter or from `user` (list items, user->name): the index must
 * copy them or keep both alive.
 *
 * Returns FILTER_INDEXED (keys were passed to cb), FILTER_SLOW (nothing
 * indexable: evaluate the filter on every message), FILTER_NEVER (the filter
 * can never be true for this user, e.g. `packages & @mine` with an empty or
 * missing @mine: no keys), or the first nonzero value cb returned (which
 * should be negative). Keys depend on the user's lists and name: derive them
 * again when those change.
 */
enum filter_key_kind { FILTER_KEY_TOPIC, FILTER_KEY_PACKAGE, FILTER_KEY_USERNAME };
struct filter_key {
	enum filter_key_kind kind;
	const char *value;
};
enum { FILTER_SLOW = 0, FILTER_INDEXED = 1, FILTER_NEVER = 2 };
int filter_index_keys(const struct filter *f, const struct filter_user *user,
		      int (*cb)(void *arg, const struct filter_key *k), void *arg);

/*
 * The glob semantics of `~`, shared with the matcher's topic index:
 * `*` matches any run of characters (dots included, possibly empty), `?`
 * exactly one character (UTF-8 code point); everything else matches itself,
 * case-sensitively. There is no escape and no character class.
 */
bool filter_glob_match(const char *pattern, const char *s);

#endif
