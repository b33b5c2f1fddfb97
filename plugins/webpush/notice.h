/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notice: the plaintext of one push message, the JSON object herald's
 * service worker (web/sw.js) shows as a notification:
 *   {"title", "body", "link", "tag", "id", "app", "icon"?, "timestamp"?,
 *    "digest"? (how many notes), "unsubscribe"?, "why"?}
 * tag and id are the item's id, so a retried message replaces its earlier
 * copy on the screen instead of showing twice. A digest is one notice: its
 * subject as the title, one line per note's title as the body.
 *
 * It fits a byte budget: the title is cut first to 200 bytes, then the body
 * as far as needed, each at a UTF-8 character boundary with an ellipsis;
 * links that are not http(s) or longer than 1,024 bytes are left out.
 * Pure: jansson and the toolkit, no crypto, no libcurl.
 */
#ifndef HERALD_WEBPUSH_NOTICE_H
#define HERALD_WEBPUSH_NOTICE_H

#include <herald/sink.h>
#include <stdbool.h>
#include <stddef.h>

struct notice_opts {
	const char *app;  /* "herald" */
	const char *icon; /* URL, or NULL */
	bool links;       /* the host filled the 1.2 fields (unsubscribe_url, why_url) */
};

/* The notice for it in at most max bytes (max >= 256), malloc'd, its length
 * in *len; NULL with err set when it cannot be built (no notes, out of
 * memory). */
char *notice_build(const struct herald_sink_item *it, const struct notice_opts *o, size_t max,
		   size_t *len, char *err, size_t errlen);

#endif
