/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * msg: the email sink's message text, RFC 5322 + MIME, built in memory from
 * one item. Also the address syntax check (validate, `from`).
 *
 * Not for talking SMTP (email.c) and not for rendering the text (the host
 * gives us the item's `text` and `subject`).
 *
 * Contract:
 *  - Every header value that comes from the item (subject, user, topic,
 *    packages) is neutralised first: CR, LF, NUL, every other C0 control,
 *    DEL and the C1 controls become a space, invalid UTF-8 becomes U+FFFD.
 *    It then goes out either as printable ASCII folded at spaces (<= 78
 *    columns) or, when it is not plain ASCII, as RFC 2047 "B" encoded-words
 *    of UTF-8, never cut inside a character. No value can start a header line.
 *  - Lines end in CRLF. Dot-stuffing is not done here: libesmtp does it
 *    while sending DATA.
 *  - Memory: msg_build appends to a caller's struct sbuf; `failed` latches
 *    an allocation failure. Nothing here keeps state: thread-safe.
 */
#ifndef HERALD_EMAIL_MSG_H
#define HERALD_EMAIL_MSG_H

#include <herald/sink.h>

#include "sinkutil.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define MSG_MAX_ADDRESS 254 /* RFC 5321 path limit minus the brackets */
#define MSG_MAX_LOCAL	64

/* What msg_build needs from the instance's configuration. */
struct msg_conf {
	const char *from;	     /* a checked addr-spec */
	const char *domain;	     /* Message-ID / List-Id domain */
	const char *unsubscribe_url; /* with {user} and {subscription}; NULL: none */
	bool unsubscribe_post;	     /* URL is http(s): add List-Unsubscribe-Post */
	size_t max_packages;	     /* X-Herald-Package headers at most */
	bool html;		     /* add a text/html alternative */
};

/* Is `a` a plain addr-spec we are willing to put in an envelope and a
 * header: dot-atom local part (no quoted strings), '@', a DNS host name
 * (letters, digits, '-', dots; no address literals), ASCII only, no
 * display name, no angle brackets, at most MSG_MAX_ADDRESS bytes?
 * 0, or -1 with the reason in err. */
int msg_check_address(const char *a, char *err, size_t errlen);

/* The whole message for `it` to `it->address`, sent at `now`. */
void msg_build(const struct msg_conf *c, const struct herald_sink_item *it, time_t now,
	       struct sbuf *out);

/* The thread key of a notification (see herald-email(7)): its link, or else
 * its topic and first package; false (key unset) when it has neither.
 * Exposed for the tests' sake through the message's In-Reply-To. */
bool msg_thread_key(const struct herald_notification *n, char key[17]);

#endif
