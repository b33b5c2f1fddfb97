/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topic_index: a hash from topic segment to the rules filed under it (see
 * topic_index.h). Open addressing, power-of-two table, FNV-1a. Not a glob
 * matcher: it only narrows the list schema.c walks.
 */
#include "topic_index.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	char *word;     /* owned; NULL for an empty slot */
	size_t len;
	size_t uses;    /* how many globs name this word: rarer words filter better */
	size_t *rules;  /* ascending rule indices */
	size_t n, cap;
};

struct topic_index {
	struct bucket *slots;
	size_t mask;
	size_t n_rules;
	size_t *always; /* rules with a glob that names no whole segment */
	size_t n_always;
};

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211u;
	return h;
}

static struct bucket *find(const struct topic_index *ix, const char *w, size_t n)
{
	for (size_t i = hash(w, n) & ix->mask;; i = (i + 1) & ix->mask) {
		struct bucket *b = &ix->slots[i];
		if (!b->word || (b->len == n && !memcmp(b->word, w, n)))
			return b;
	}
}

static int add_rule(size_t **v, size_t *n, size_t *cap, size_t rule)
{
	if (*n && (*v)[*n - 1] == rule)
		return 0; /* two globs of one rule under the same word */
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		size_t *p = realloc(*v, c * sizeof *p);
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = rule;
	return 0;
}

/* The next whole-segment word of a glob: a dot-separated piece without '*'. */
static const char *next_word(const char **p, size_t *len)
{
	while (**p) {
		const char *start = *p, *end = strchr(start, '.');
		if (!end)
			end = start + strlen(start);
		*p = *end ? end + 1 : end;
		if (end > start && !memchr(start, '*', (size_t)(end - start))) {
			*len = (size_t)(end - start);
			return start;
		}
	}
	return NULL;
}

/* First pass: every word, counted, so the second pass can pick rare ones. */
static int count_words(struct topic_index *ix, const char *pat)
{
	size_t len;
	for (const char *w; (w = next_word(&pat, &len));) {
		struct bucket *b = find(ix, w, len);
		if (!b->word) {
			if (!(b->word = strndup(w, len)))
				return -ENOMEM;
			b->len = len;
		}
		b->uses++;
	}
	return 0;
}

/* The bucket of the glob's rarest word, or NULL when it names none. */
static struct bucket *rarest(const struct topic_index *ix, const char *pat)
{
	struct bucket *best = NULL;
	size_t len;
	for (const char *w; (w = next_word(&pat, &len));) {
		struct bucket *b = find(ix, w, len);
		if (!best || b->uses < best->uses)
			best = b;
	}
	return best;
}

/* Room for every word at most half full, so probing always ends. */
static size_t table_size(size_t n_rules, const char *const *const *globs, const size_t *n_globs)
{
	size_t words = 0, size = 64, len;
	for (size_t i = 0; i < n_rules; i++)
		for (size_t g = 0; g < n_globs[i]; g++)
			for (const char *p = globs[i][g]; next_word(&p, &len);)
				words++;
	while (size < words * 2)
		size *= 2;
	return size;
}

static int file_rule(struct topic_index *ix, size_t rule, const char *const *globs, size_t n,
		     size_t *cap_always)
{
	struct bucket *picks[n ? n : 1];
	for (size_t g = 0; g < n; g++)
		if (!(picks[g] = rarest(ix, globs[g])))
			return add_rule(&ix->always, &ix->n_always, cap_always, rule);
	for (size_t g = 0; g < n; g++) {
		int rc = add_rule(&picks[g]->rules, &picks[g]->n, &picks[g]->cap, rule);
		if (rc)
			return rc;
	}
	return 0;
}

int topic_index_build(struct topic_index **out, size_t n_rules, const char *const *const *globs,
		      const size_t *n_globs)
{
	struct topic_index *ix = calloc(1, sizeof *ix);
	size_t size = table_size(n_rules, globs, n_globs), cap_always = 0;
	int rc = 0;
	if (!ix || !(ix->slots = calloc(size, sizeof *ix->slots))) {
		free(ix);
		return -ENOMEM;
	}
	ix->mask = size - 1;
	ix->n_rules = n_rules;
	for (size_t i = 0; !rc && i < n_rules; i++)
		for (size_t g = 0; !rc && g < n_globs[i]; g++)
			rc = count_words(ix, globs[i][g]);
	for (size_t i = 0; !rc && i < n_rules; i++)
		rc = file_rule(ix, i, globs[i], n_globs[i], &cap_always);
	if (rc) {
		topic_index_free(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Sort and drop repeats; returns the new count (at most the number of rules). */
static size_t compact(size_t *v, size_t n)
{
	if (n < 2)
		return n;
	qsort(v, n, sizeof *v, cmp_size);
	size_t k = 1;
	for (size_t i = 1; i < n; i++)
		if (v[i] != v[k - 1])
			v[k++] = v[i];
	return k;
}

size_t topic_index_candidates(const struct topic_index *ix, const char *topic, size_t len,
			      size_t *out)
{
	size_t n = 0, room = 2 * ix->n_rules;
	for (size_t i = 0; i < ix->n_always; i++)
		out[n++] = ix->always[i];
	const char *p = topic, *end = topic + len;
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		const char *seg_end = dot ? dot : end;
		const struct bucket *b = find(ix, p, (size_t)(seg_end - p));
		/* A topic may repeat a segment ("a.a.a..."): compact before the
		 * copies could overflow. After compact() n <= n_rules, and one
		 * bucket holds at most n_rules, so `room` always suffices. */
		if (b->word && n + b->n > room)
			n = compact(out, n);
		for (size_t i = 0; b->word && i < b->n; i++)
			out[n++] = b->rules[i];
		p = seg_end + 1;
	}
	return compact(out, n);
}

void topic_index_free(struct topic_index *ix)
{
	if (!ix)
		return;
	for (size_t i = 0; i <= ix->mask; i++) {
		free(ix->slots[i].word);
		free(ix->slots[i].rules);
	}
	free(ix->slots);
	free(ix->always);
	free(ix);
}
