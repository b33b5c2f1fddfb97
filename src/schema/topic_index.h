/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topic_index: which schema rules can possibly match a topic, without trying
 * every glob. A dot-bounded literal word of a glob ("bodhi" in
 * "*.bodhi.update.*") must appear as a whole segment of any topic the glob
 * matches, because `*` never eats the dots around it. Each rule is filed
 * under the rarest such word of each of its globs; a rule with a glob that
 * has no such word ("*", "*bodhi*") is a candidate for every topic.
 *
 * Only a filter: schema.c still runs the full glob match, in rule order, on
 * the candidates. Not for anything but topic globs.
 *
 * Threads: built once, then read-only; lookups may run concurrently.
 */
#ifndef HERALD_TOPIC_INDEX_H
#define HERALD_TOPIC_INDEX_H

#include <stddef.h>

struct topic_index;

/*
 * Build the index for n_rules rules; rule i has n_globs[i] patterns in
 * globs[i]. The patterns are not kept. 0 or -ENOMEM.
 */
int topic_index_build(struct topic_index **out, size_t n_rules, const char *const *const *globs,
		      const size_t *n_globs);

/*
 * Fill `out` (room for 2 * n_rules entries: it is also the scratch space)
 * with the indices of the rules that may match `topic` (len bytes),
 * ascending and unique; returns how many (at most n_rules).
 */
size_t topic_index_candidates(const struct topic_index *ix, const char *topic, size_t len,
			      size_t *out);

void topic_index_free(struct topic_index *ix); /* NULL is a no-op */

#endif
