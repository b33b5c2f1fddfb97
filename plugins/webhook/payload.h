/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * payload: the JSON body of one webhook request, in the shape the receiving
 * service documents for its incoming webhooks (herald-webhook(7) has each
 * shape with an example), built with jansson from one sink item.
 *
 * Not here: the HTTP request, signatures, reading the template file (the
 * caller passes its text). Pure functions; thread-safe.
 */
#ifndef HERALD_WEBHOOK_PAYLOAD_H
#define HERALD_WEBHOOK_PAYLOAD_H

#include <herald/sink.h>
#include <jansson.h>
#include <stddef.h>

enum payload_format {
	PAYLOAD_GENERIC,
	PAYLOAD_SLACK,
	PAYLOAD_MATTERMOST,
	PAYLOAD_DISCORD,
	PAYLOAD_MATRIX,
	PAYLOAD_TEAMS,
	PAYLOAD_ZULIP,
	PAYLOAD_CUSTOM,
};

/* Discord refuses a "content" longer than this many characters. */
#define PAYLOAD_DISCORD_MAX 2000

/* "generic", "slack", ...: 0 and *out set, or -1. */
int payload_format_parse(const char *name, enum payload_format *out);
const char *payload_format_name(enum payload_format f);

/*
 * A custom template: a JSON document (text) whose string values may hold
 * placeholders {id} {type} {user} {subject} {text} {markdown} {title}
 * {summary} {link} {topic} {agent} {severity} {count}. Checked and parsed
 * once: 0 and *out (the caller's, json_decref it), or -1 with err set
 * (not JSON, or an unknown {placeholder}).
 */
int payload_template_parse(const char *text, json_t **out, char *err, size_t errlen);

/*
 * The body for item in format f (tmpl: the parsed template, for
 * PAYLOAD_CUSTOM only), as compact JSON: a malloc'd string the caller frees,
 * with its length in *len; NULL with err set when the item cannot be sent
 * (a notification whose JSON does not parse, no template) or on no memory.
 * The chat shapes carry the item's text or Markdown; when the one a shape
 * uses is empty, the other, or else the subject (services refuse "").
 */
char *payload_build(enum payload_format f, const json_t *tmpl, const struct herald_sink_item *item,
		    size_t *len, char *err, size_t errlen);

/* Slack's escaping of its three control characters: & < > (a new string). */
char *payload_slack_escape(const char *s);

/* s cut to at most max Unicode characters (UTF-8), ending with "…" when cut
 * (a new string). */
char *payload_cut_chars(const char *s, size_t max);

#endif
