/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkwire: frames between heraldd and herald-sinkhost (see sinkwire.h).
 * Not for: what either side does with them (src/daemon/sinkhost.c,
 * src/sinkhost/main.c).
 */
#include "src/sinkhost/sinkwire.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "src/common/clock.h"

#define NULL_LEN 0xffffffffu

/* ---- writing ---- */

int sinkwire_begin(struct buf *b, enum sinkwire_type type)
{
	static const char len[4];
	buf_reset(b);
	int rc = buf_append(b, len, sizeof len);
	return rc ? rc : buf_putc(b, (char)type);
}

int sinkwire_end(struct buf *b)
{
	uint32_t n = (uint32_t)(b->len - 4);
	if (b->len - 4 > SINKWIRE_MAX_FRAME)
		return -E2BIG;
	unsigned char *p = (unsigned char *)b->data;
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	return 0;
}

int sinkwire_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};
	return buf_append(b, p, sizeof p);
}

int sinkwire_put_u64(struct buf *b, uint64_t v)
{
	int rc = sinkwire_put_u32(b, (uint32_t)(v >> 32));
	return rc ? rc : sinkwire_put_u32(b, (uint32_t)v);
}

int sinkwire_put_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n >= NULL_LEN)
		return -E2BIG;
	int rc = sinkwire_put_u32(b, s ? (uint32_t)n : NULL_LEN);
	if (!rc && s && !(rc = buf_append(b, s, n)))
		rc = buf_putc(b, '\0');
	return rc;
}

static int put_strs(struct buf *b, const char *const *v, size_t n)
{
	int rc = sinkwire_put_u32(b, (uint32_t)n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = sinkwire_put_str(b, v[i]);
	return rc;
}

static int put_double(struct buf *b, double d)
{
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	return sinkwire_put_u64(b, bits);
}

static int put_note(struct buf *b, const struct herald_notification *n)
{
	const char *s[] = {n->id,      n->user, n->address, n->topic,	 n->title,
			   n->summary, n->link, n->agent,   n->severity, n->msg_id,
			   n->json,    n->text, n->markdown};
	int rc = sinkwire_put_u64(b, n->destination);
	for (size_t i = 0; !rc && i < sizeof s / sizeof s[0]; i++)
		rc = sinkwire_put_str(b, s[i]);
	if (!rc)
		rc = put_strs(b, n->usernames, n->n_usernames);
	if (!rc)
		rc = put_strs(b, n->packages, n->n_packages);
	if (!rc)
		rc = sinkwire_put_u32(b, (uint32_t)n->n_subscriptions);
	for (size_t i = 0; !rc && i < n->n_subscriptions; i++)
		rc = sinkwire_put_u64(b, n->subscriptions[i]);
	if (!rc)
		rc = put_double(b, n->timestamp);
	return rc ? rc : sinkwire_put_u32(b, n->attempt);
}

static int put_item(struct buf *b, const struct herald_sink_item *it)
{
	const char *s[] = {it->user,	 it->address,	      it->id,	  it->subject,
			   it->text,	 it->markdown,	      it->unsubscribe_url, it->why_url};
	int rc = sinkwire_put_u64(b, it->destination);
	for (size_t i = 0; !rc && i < sizeof s / sizeof s[0]; i++)
		rc = sinkwire_put_str(b, s[i]);
	if (!rc)
		rc = sinkwire_put_u32(b, it->digest ? 1 : 0);
	if (!rc)
		rc = sinkwire_put_u32(b, (uint32_t)it->n_notes);
	for (size_t i = 0; !rc && i < it->n_notes; i++)
		rc = put_note(b, it->notes[i]);
	return rc;
}

int sinkwire_put_items(struct buf *b, const struct herald_sink_item *items, size_t n)
{
	int rc = sinkwire_put_u32(b, (uint32_t)n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = put_item(b, &items[i]);
	return rc;
}

int sinkwire_put_results(struct buf *b, const struct herald_sink_result *r, size_t n)
{
	int rc = sinkwire_put_u32(b, (uint32_t)n);
	for (size_t i = 0; !rc && i < n; i++)
		if (!(rc = sinkwire_put_u32(b, (uint32_t)r[i].outcome)) &&
		    !(rc = sinkwire_put_u32(b, r[i].retry_after)))
			rc = sinkwire_put_str(b, r[i].reason);
	return rc;
}

/* ---- reading ---- */

void sinkwire_rd_init(struct sinkwire_rd *r, const void *payload, size_t len)
{
	r->p = payload;
	r->end = r->p + len;
	r->bad = false;
}

uint32_t sinkwire_get_u32(struct sinkwire_rd *r)
{
	if (r->bad || r->end - r->p < 4) {
		r->bad = true;
		return 0;
	}
	const unsigned char *p = (const unsigned char *)r->p;
	r->p += 4;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t sinkwire_get_u64(struct sinkwire_rd *r)
{
	uint64_t hi = sinkwire_get_u32(r);
	return hi << 32 | sinkwire_get_u32(r);
}

const char *sinkwire_get_str(struct sinkwire_rd *r)
{
	uint32_t n = sinkwire_get_u32(r);
	if (r->bad || n == NULL_LEN)
		return NULL;
	if ((size_t)(r->end - r->p) <= n || r->p[n] != '\0') {
		r->bad = true;
		return NULL;
	}
	const char *s = r->p;
	r->p += n + 1;
	return s;
}

/* A count of things each at least `min` bytes long: never more than the
 * frame could hold, so a bad count cannot make us allocate gigabytes. */
static size_t get_count(struct sinkwire_rd *r, size_t min)
{
	uint32_t n = sinkwire_get_u32(r);
	if (!r->bad && (size_t)n > (size_t)(r->end - r->p) / min)
		r->bad = true;
	return r->bad ? 0 : n;
}

static const char **get_strs(struct sinkwire_rd *r, size_t *n)
{
	*n = get_count(r, 4);
	const char **v = calloc(*n + 1, sizeof *v);
	for (size_t i = 0; v && i < *n; i++)
		v[i] = sinkwire_get_str(r);
	return v;
}

static int get_note(struct sinkwire_rd *r, struct herald_notification *n)
{
	const char **s[] = {&n->id,	 &n->user, &n->address, &n->topic,    &n->title,
			    &n->summary, &n->link, &n->agent,	&n->severity, &n->msg_id,
			    &n->json,	 &n->text, &n->markdown};
	n->size = sizeof *n;
	n->destination = sinkwire_get_u64(r);
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		*s[i] = sinkwire_get_str(r);
	if (!(n->usernames = get_strs(r, &n->n_usernames)) ||
	    !(n->packages = get_strs(r, &n->n_packages)))
		return -ENOMEM;
	n->n_subscriptions = get_count(r, 8);
	uint64_t *subs = calloc(n->n_subscriptions + 1, sizeof *subs);
	if (!(n->subscriptions = subs))
		return -ENOMEM;
	for (size_t i = 0; i < n->n_subscriptions; i++)
		subs[i] = sinkwire_get_u64(r);
	uint64_t bits = sinkwire_get_u64(r);
	memcpy(&n->timestamp, &bits, sizeof bits);
	n->attempt = sinkwire_get_u32(r);
	return r->bad ? -EPROTO : 0;
}

static int get_item(struct sinkwire_rd *r, struct herald_sink_item *it)
{
	const char **s[] = {&it->user, &it->address,  &it->id,		 &it->subject,
			    &it->text, &it->markdown, &it->unsubscribe_url, &it->why_url};
	it->size = sizeof *it;
	it->destination = sinkwire_get_u64(r);
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		*s[i] = sinkwire_get_str(r);
	it->digest = sinkwire_get_u32(r) != 0;
	size_t n = get_count(r, 8);
	struct herald_notification *notes = calloc(n + 1, sizeof *notes);
	const struct herald_notification **ptrs = calloc(n + 1, sizeof *ptrs);
	if (!notes || !ptrs) {
		free(notes);
		free(ptrs);
		return -ENOMEM;
	}
	ptrs[0] = notes; /* kept even when n is 0, for sinkwire_items_free */
	it->notes = ptrs;
	for (size_t i = 0; i < n; i++, it->n_notes++) {
		ptrs[i] = &notes[i];
		int rc = get_note(r, &notes[i]);
		if (rc) {
			it->n_notes++; /* its arrays are freed too */
			return rc;
		}
	}
	return r->bad ? -EPROTO : 0;
}

int sinkwire_get_items(struct sinkwire_rd *r, struct herald_sink_item **items, size_t *n)
{
	size_t want = get_count(r, 16);
	int rc = 0;
	*n = 0;
	*items = calloc(want + 1, sizeof **items);
	if (!*items)
		return -ENOMEM;
	for (size_t i = 0; !rc && i < want; i++) {
		rc = get_item(r, &(*items)[i]);
		if ((*items)[i].notes)
			(*n)++;
	}
	if (!rc && r->bad)
		rc = -EPROTO;
	if (rc) {
		sinkwire_items_free(*items, *n);
		*items = NULL;
		*n = 0;
	}
	return rc;
}

void sinkwire_items_free(struct herald_sink_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++) {
		const struct herald_sink_item *it = &items[i];
		for (size_t k = 0; k < it->n_notes; k++) {
			free((void *)it->notes[k]->usernames);
			free((void *)it->notes[k]->packages);
			free((void *)it->notes[k]->subscriptions);
		}
		free((void *)it->notes[0]);
		free((void *)it->notes);
	}
	free(items);
}

int sinkwire_get_results(struct sinkwire_rd *r, struct herald_sink_result *res, size_t n)
{
	if (sinkwire_get_u32(r) != n || r->bad)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		res[i].outcome = (enum herald_sink_outcome)sinkwire_get_u32(r);
		res[i].retry_after = sinkwire_get_u32(r);
		const char *why = sinkwire_get_str(r);
		if (r->bad)
			return -EPROTO;
		snprintf(res[i].reason, sizeof res[i].reason, "%s", why ? why : "");
	}
	return 0;
}

/* ---- the socket ---- */

int sinkwire_send(int fd, const struct buf *frame)
{
	size_t off = 0;
	while (off < frame->len) {
		ssize_t n = send(fd, frame->data + off, frame->len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		off += (size_t)n;
	}
	return 0;
}

/* Wait until fd is readable or the deadline passes. */
static int wait_readable(int fd, uint64_t deadline_ms)
{
	for (;;) {
		int timeout = -1;
		if (deadline_ms) {
			uint64_t now = clock_mono_ms();
			if (now >= deadline_ms)
				return -ETIMEDOUT;
			uint64_t left = deadline_ms - now;
			timeout = left > 60000 ? 60000 : (int)left;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, timeout);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int read_full(int fd, void *dst, size_t len, uint64_t deadline_ms)
{
	char *p = dst;
	while (len) {
		int rc = wait_readable(fd, deadline_ms);
		if (rc)
			return rc;
		ssize_t n = read(fd, p, len);
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sinkwire_recv(int fd, struct buf *b, uint64_t deadline_ms)
{
	unsigned char len[4];
	buf_reset(b);
	int rc = read_full(fd, len, sizeof len, deadline_ms);
	if (rc)
		return rc;
	uint32_t n =
	    (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 | (uint32_t)len[2] << 8 | len[3];
	if (n > SINKWIRE_MAX_FRAME || n == 0)
		return -EPROTO;
	if ((rc = buf_reserve(b, n + 1)))
		return rc;
	if ((rc = read_full(fd, b->data, n, deadline_ms)))
		return rc;
	b->len = n;
	b->data[n] = '\0';
	return 0;
}
