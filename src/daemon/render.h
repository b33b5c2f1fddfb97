/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * render: the text a sink sends, from a notification and the sink's
 * templates ([sink NAME] template = ..., template_markdown = ..., footer).
 *
 * Template syntax (documented in heraldd.conf(5)):
 *   {field}              the field's value; in a Markdown template the value
 *                        is escaped so it cannot change the formatting
 *   {?field}...{/field}  the text in between only when the field is not empty
 *   {{ and }}            literal braces
 *   \n, \t, \\           newline, tab, backslash (config values are one line)
 * Fields: id, user, destination, topic, title, summary, link, agent,
 * severity, packages, usernames (comma-separated), subscriptions (ids,
 * comma-separated), msg_id, time (the message time, UTC, "2026-11-22 10:03 UTC"),
 * why_url and unsubscribe_url (the web app's links for this notification,
 * links.h: "why did I get this" and the signed unsubscribe link of its first
 * subscription; empty when no web app is configured).
 * An unknown field or an unbalanced section is a compile error with its column.
 *
 * Defaults read well in a terminal, an email and a chat, and end with the
 * web app's footer line (absent without a web app):
 *   text      "{title}{?summary}\n{summary}{/summary}{?link}\n{link}{/link}"
 *             "{?why_url}\nWhy: {why_url}{/why_url}"
 *   markdown  the same with "**{title}**"
 * The email sink's defaults add "{?unsubscribe_url}\nUnsubscribe:
 * {unsubscribe_url}{/unsubscribe_url}" (render_default_source).
 * A footer, when enabled, says which subscriptions matched and how to change
 * them: "\n-- \nYou get this because subscription 12 of alice matched.
 * Change it: herald sub show alice 12".
 *
 * Digests: render_digest() makes one subject and one body listing several
 * notifications (each rendered with the same template), capped at max_bytes
 * with a last line "... and N more".
 *
 * Memory: compiled templates are immutable and owned by the caller
 * (render_free); rendering appends to a caller's struct buf. Threads: a
 * compiled template may be used by many threads at once.
 */
#ifndef HERALD_RENDER_H
#define HERALD_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "src/common/buf.h"
#include "herald/sink.h"

struct render;

enum render_flavour { RENDER_TEXT, RENDER_MARKDOWN };

/* The web app's links of one notification (links.h); either may be NULL. */
struct render_links {
	const char *why_url;
	const char *unsubscribe_url;
};

/* The default template source of a flavour; `unsubscribe`: with the
 * Unsubscribe line (the email sink's). A static string. */
const char *render_default_source(enum render_flavour flavour, bool unsubscribe);

/* Compile `src` (NULL: the default for the flavour). 0, or -EINVAL with
 * err = "template column N: what is wrong", or -ENOMEM. */
int render_compile(const char *src, enum render_flavour flavour, bool footer,
		   struct render **out, char *err, size_t errlen);
void render_free(struct render *r); /* NULL is a no-op */

/* Render one notification (its fields; `text`/`markdown` are not read).
 * Appends to out; 0 or -ENOMEM. */
int render_note(const struct render *r, const struct herald_notification *n, struct buf *out);
/* The same with the note's links for why_url and unsubscribe_url (NULL:
 * none). */
int render_note_links(const struct render *r, const struct herald_notification *n,
		      const struct render_links *lk, struct buf *out);

/* A digest of n notifications for `user`: subject
 * "[herald] N notifications for USER" (or the title when n == 1) and the
 * body, every note rendered and separated by a blank line, at most
 * max_bytes (cut between notes, never inside a UTF-8 character, then
 * "... and K more"). 0 or -ENOMEM. */
int render_digest(const struct render *r, const char *user,
		  const struct herald_notification *const *notes, size_t n, size_t max_bytes,
		  struct buf *subject, struct buf *body);
/* The same with each note's links: lk[i] for notes[i] (lk NULL: none). */
int render_digest_links(const struct render *r, const char *user,
			const struct herald_notification *const *notes,
			const struct render_links *lk, size_t n, size_t max_bytes,
			struct buf *subject, struct buf *body);

#endif
