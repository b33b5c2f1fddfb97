/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmpl_arena: the bump allocator of tmpl (see tmpl.h): compiled rules live
 * in one, and each message's evaluation allocates from another that the
 * caller resets after the message.
 *
 * Not for anything that must be freed on its own, nor for sharing between
 * threads: an arena has one user at a time.
 */
#include "tmpl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tmpl_chunk {
	struct tmpl_chunk *next;
	size_t cap, used;
	bool borrowed; /* the caller's first buffer */
	max_align_t data[];
};

#define CHUNK_MIN 8192

void tmpl_arena_init(struct tmpl_arena *a, void *buf, size_t size)
{
	a->head = NULL;
	a->first = NULL;
	a->first_size = 0;
	if (buf && size > sizeof(struct tmpl_chunk) + 64) {
		a->first = buf;
		a->first_size = size;
	}
	tmpl_arena_reset(a);
}

static struct tmpl_chunk *first_chunk(struct tmpl_arena *a)
{
	struct tmpl_chunk *c = a->first;
	c->next = NULL;
	c->cap = a->first_size - sizeof *c;
	c->used = 0;
	c->borrowed = true;
	return c;
}

void tmpl_arena_reset(struct tmpl_arena *a)
{
	struct tmpl_chunk *c = a->head;
	while (c) {
		struct tmpl_chunk *next = c->next;
		if (!c->borrowed)
			free(c);
		c = next;
	}
	a->head = a->first ? first_chunk(a) : NULL;
}

void tmpl_arena_release(struct tmpl_arena *a)
{
	tmpl_arena_reset(a);
}

void *tmpl_arena_alloc(struct tmpl_arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	if (n > SIZE_MAX / 4)
		return NULL;
	n = (n + align - 1) / align * align;
	struct tmpl_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
		if (c && c->cap * 2 > cap && c->cap < (1u << 20))
			cap = c->cap * 2;
		c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->borrowed = false;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

char *tmpl_arena_strndup(struct tmpl_arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = tmpl_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
