/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkwire: the framed encoding heraldd and herald-sinkhost speak over their
 * socketpair (SOCK_STREAM): what a call into a sink carries (open, validate,
 * deliver, flush, reopen, close) and what comes back (a reply, or a log line
 * of the plugin's at any time before it).
 *
 * A frame is a 4-byte big-endian length, then that many bytes: a type byte
 * and the fields in a fixed order. Integers are big-endian; a string is a
 * 4-byte length (0xffffffff: NULL), its bytes and a NUL, so the receiver
 * points into the frame instead of copying. Binary, not JSON: any byte a
 * pipeline stage lets through (invalid UTF-8 included) crosses unchanged,
 * and it costs a memcpy per field (doc/design.md, "Sink isolation").
 *
 * Not for: deciding anything. Encoding a deliver request borrows the items;
 * decoding one (sinkwire_get_items) points into the frame, which must
 * outlive the items. Every function is reentrant; nothing is shared.
 */
#ifndef HERALD_SINKWIRE_H
#define HERALD_SINKWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/sink.h"
#include "src/common/buf.h"

/* Bumped on any change to a frame's layout: heraldd and a stale helper
 * from another install refuse each other at open. */
#define SINKWIRE_VERSION 2u /* 2: an item's unsubscribe_url and why_url (ABI 1.2) */
/* The helper's end of the socketpair. */
#define SINKWIRE_FD 3
/* No frame is longer (a digest is capped at digest_max_bytes, far below). */
#define SINKWIRE_MAX_FRAME (64u << 20)

enum sinkwire_type {
	/* heraldd -> helper */
	SW_OPEN = 1, /* version, log level, name, plugin, plugin_dir, config_path, options */
	SW_VALIDATE, /* address */
	SW_DELIVER,  /* items */
	SW_FLUSH,    /* deadline (CLOCK_MONOTONIC ms, the same clock in both processes) */
	SW_REOPEN,
	SW_CLOSE, /* shut the instance down and exit */
	/* helper -> heraldd */
	SW_LOG = 16, /* level, line: the plugin's host->log */
	SW_REPLY,    /* rc, message; after a deliver: the results */
};

/* ---- writing: append to a buffer; 0 or -ENOMEM ---- */

/* Start a frame of `type` in b (reset first); sinkwire_end writes its length. */
int sinkwire_begin(struct buf *b, enum sinkwire_type type);
int sinkwire_end(struct buf *b);
int sinkwire_put_u32(struct buf *b, uint32_t v);
int sinkwire_put_u64(struct buf *b, uint64_t v);
int sinkwire_put_str(struct buf *b, const char *s); /* NULL is kept apart from "" */
int sinkwire_put_items(struct buf *b, const struct herald_sink_item *items, size_t n);
int sinkwire_put_results(struct buf *b, const struct herald_sink_result *r, size_t n);

/* ---- reading: a cursor over one frame's payload (after the length) ---- */

struct sinkwire_rd {
	const char *p, *end;
	bool bad; /* ran past the end, or a string without its NUL: every later get fails */
};

void sinkwire_rd_init(struct sinkwire_rd *r, const void *payload, size_t len);
uint32_t sinkwire_get_u32(struct sinkwire_rd *r);
uint64_t sinkwire_get_u64(struct sinkwire_rd *r);
const char *sinkwire_get_str(struct sinkwire_rd *r); /* points into the frame */

/* The items of a deliver frame. Allocates *items (and what the items point
 * to, in one block freed with sinkwire_items_free); the strings stay in the
 * frame. 0, -ENOMEM or -EPROTO. */
int sinkwire_get_items(struct sinkwire_rd *r, struct herald_sink_item **items, size_t *n);
void sinkwire_items_free(struct herald_sink_item *items, size_t n);
/* The results of a deliver reply into results[n] (the caller's, zeroed and
 * sized); -EPROTO when the count differs. Reasons are copied, terminated. */
int sinkwire_get_results(struct sinkwire_rd *r, struct herald_sink_result *results, size_t n);

/* ---- the socket ---- */

/* Write a whole frame (retrying short writes, EINTR; MSG_NOSIGNAL). 0 or a
 * negative errno (-EPIPE: the other side is gone). */
int sinkwire_send(int fd, const struct buf *frame);
/* Read one frame into b (reset first), waiting until CLOCK_MONOTONIC ms
 * `deadline_ms` (0: no limit). On success b holds the payload (type byte
 * first). 0; -EPIPE at EOF or a reset; -ETIMEDOUT; -EPROTO for a length over
 * SINKWIRE_MAX_FRAME; -ENOMEM. */
int sinkwire_recv(int fd, struct buf *b, uint64_t deadline_ms);

#endif
