/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* payload: request bodies per service (see payload.h, herald-webhook(7)). */
#define _GNU_SOURCE
#include "payload.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinkutil.h"

static const char *const format_names[] = {
    [PAYLOAD_GENERIC] = "generic", [PAYLOAD_SLACK] = "slack",	  [PAYLOAD_MATTERMOST] = "mattermost",
    [PAYLOAD_DISCORD] = "discord", [PAYLOAD_MATRIX] = "matrix", [PAYLOAD_TEAMS] = "teams",
    [PAYLOAD_ZULIP] = "zulip",	   [PAYLOAD_CUSTOM] = "custom",
};

int payload_format_parse(const char *name, enum payload_format *out)
{
	for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
		if (!strcmp(name, format_names[i])) {
			*out = (enum payload_format)i;
			return 0;
		}
	return -1;
}

const char *payload_format_name(enum payload_format f)
{
	return (size_t)f < sizeof format_names / sizeof format_names[0] ? format_names[f] : "?";
}

/* ---- strings ---- */

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* The first of a, b, c that is not empty: services refuse an empty text. */
static const char *first_of(const char *a, const char *b, const char *c)
{
	return a && *a ? a : b && *b ? b : nz(c);
}

/* A JSON string for s; invalid UTF-8 (the host should never send it, but a
 * body must stay valid JSON) becomes U+FFFD. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(nz(s));
	struct sbuf b = {0};

	if (j)
		return j;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = sinkutil_utf8_len(p);
		sb_add(&b, n ? (const char *)p : "\xef\xbf\xbd", n ? n : 3);
		p += n ? n : 1;
	}
	j = b.failed ? NULL : json_string(b.p ? b.p : "");
	sb_free(&b);
	return j;
}

char *payload_slack_escape(const char *s)
{
	struct sbuf b = {0};

	sb_str(&b, "");
	for (; s && *s; s++) {
		if (*s == '&')
			sb_str(&b, "&amp;");
		else if (*s == '<')
			sb_str(&b, "&lt;");
		else if (*s == '>')
			sb_str(&b, "&gt;");
		else
			sb_add(&b, s, 1);
	}
	if (b.failed)
		sb_free(&b);
	return b.p;
}

char *payload_cut_chars(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)nz(s);
	size_t chars = 0, at = 0, keep = 0;

	/* keep: the byte length of the first max-1 characters, room for "…" */
	while (p[at]) {
		size_t n = sinkutil_utf8_len(p + at);
		n = n ? n : 1;
		if (chars + 1 == max)
			keep = at;
		chars++;
		at += n;
		if (chars > max)
			break;
	}
	if (chars <= max)
		return strdup((const char *)p);
	char *out = malloc(keep + 4);
	if (out) {
		memcpy(out, p, keep);
		memcpy(out + keep, "\xe2\x80\xa6", 4);
	}
	return out;
}

/* ---- the variables a template and the shapes draw on ---- */

struct vars {
	const struct herald_sink_item *it;
	const struct herald_notification *first;
	char count[24];
};

static const char *const var_names[] = {"id",	   "type",  "user", "subject", "text",
					"markdown", "title", "summary", "link", "topic",
					"agent",	   "severity", "count"};
#define N_VARS (sizeof var_names / sizeof var_names[0])

static const char *var_value(const struct vars *v, size_t i)
{
	const struct herald_sink_item *it = v->it;
	const struct herald_notification *f = v->first;

	switch (i) {
	case 0: return nz(it->id);
	case 1: return it->digest ? "digest" : "notification";
	case 2: return nz(it->user);
	case 3: return nz(it->subject);
	case 4: return nz(it->text);
	case 5: return nz(it->markdown);
	case 6: return it->digest || !f ? nz(it->subject) : nz(f->title);
	case 7: return f ? nz(f->summary) : "";
	case 8: return f && !it->digest ? nz(f->link) : "";
	case 9: return f ? nz(f->topic) : "";
	case 10: return f ? nz(f->agent) : "";
	case 11: return f ? nz(f->severity) : "";
	default: return v->count;
	}
}

/* Index of the placeholder name at s (n bytes), or -1. */
static int var_index(const char *s, size_t n)
{
	for (size_t i = 0; i < N_VARS; i++)
		if (strlen(var_names[i]) == n && !memcmp(var_names[i], s, n))
			return (int)i;
	return -1;
}

/* A "{word}" at s: the word's length, or 0 when s is not one. */
static size_t placeholder_at(const char *s)
{
	size_t n = 0;

	if (*s != '{')
		return 0;
	while ((s[1 + n] >= 'a' && s[1 + n] <= 'z') || s[1 + n] == '_')
		n++;
	return n && s[1 + n] == '}' ? n : 0;
}

/* ---- custom templates ---- */

static int check_strings(const json_t *j, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		for (const char *s = json_string_value(j); *s; s++) {
			size_t n = placeholder_at(s);
			if (n && var_index(s + 1, n) < 0) {
				snprintf(err, errlen, "unknown placeholder {%.*s}", (int)(n > 40 ? 40 : n),
					 s + 1);
				return -1;
			}
		}
		return 0;
	}
	json_object_foreach((json_t *)j, key, v) if (check_strings(v, err, errlen)) return -1;
	json_array_foreach(j, i, v) if (check_strings(v, err, errlen)) return -1;
	return 0;
}

int payload_template_parse(const char *text, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *t = json_loads(text, JSON_REJECT_DUPLICATES, &je);

	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "not JSON: %s (line %d, column %d)", je.text, je.line,
			 je.column);
		return -1;
	}
	if (check_strings(t, err, errlen)) {
		json_decref(t);
		return -1;
	}
	*out = t;
	return 0;
}

static json_t *substitute(const char *s, const struct vars *v)
{
	struct sbuf b = {0};
	json_t *j;

	sb_str(&b, "");
	while (*s) {
		size_t n = placeholder_at(s);
		int i = n ? var_index(s + 1, n) : -1;
		if (i >= 0) {
			sb_str(&b, var_value(v, (size_t)i));
			s += n + 2;
		} else {
			sb_add(&b, s++, 1);
		}
	}
	j = b.failed ? NULL : jstr(b.p);
	sb_free(&b);
	return j;
}

/* Replace every string value of j (in place) with its substitution. */
static int fill(json_t *j, const struct vars *v)
{
	const char *key;
	json_t *x;
	size_t i;

	json_object_foreach(j, key, x)
	{
		if (json_is_string(x) ? json_object_set_new(j, key, substitute(json_string_value(x), v))
				      : fill(x, v))
			return -1;
	}
	json_array_foreach(j, i, x)
	{
		if (json_is_string(x) ? json_array_set_new(j, i, substitute(json_string_value(x), v))
				      : fill(x, v))
			return -1;
	}
	return 0;
}

static json_t *build_custom(const json_t *tmpl, const struct vars *v)
{
	json_t *j;

	if (json_is_string(tmpl))
		return substitute(json_string_value(tmpl), v);
	j = json_deep_copy(tmpl);
	if (j && fill(j, v)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* ---- the shapes ---- */

/* The host's note JSON goes into the generic body as it is: it is one
 * compact JSON object the host encoded (herald/sink.h), and parsing it only
 * to encode it again was a third of the JSON work of a delivery. What is
 * checked is cheap and keeps the body one line and well framed. */
static bool spliceable(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 2 || s[0] != '{' || s[n - 1] != '}')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return false;
	return true;
}

/* The generic body: the envelope encoded by jansson, then its notes
 * spliced in. malloc'd, or NULL with err set. */
static char *build_generic(const struct vars *v, size_t *len, char *err, size_t errlen)
{
	const struct herald_sink_item *it = v->it;
	json_t *j = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o}", "id", jstr(it->id), "type",
			      var_value(v, 1), "user", jstr(it->user), "subject", jstr(it->subject),
			      "text", jstr(it->text), "markdown", jstr(it->markdown));
	/* The web app's links (ABI 1.2), only when the host has them. */
	bool links = HERALD_SINK_HAS(it, struct herald_sink_item, why_url);
	if (j && links && it->unsubscribe_url &&
	    json_object_set_new(j, "unsubscribe_url", jstr(it->unsubscribe_url)))
		json_decref(j), j = NULL;
	if (j && links && it->why_url && json_object_set_new(j, "why_url", jstr(it->why_url)))
		json_decref(j), j = NULL;
	char *head = j ? json_dumps(j, JSON_COMPACT) : NULL;
	struct sbuf b = {0};

	json_decref(j);
	if (!head)
		return NULL; /* err says "out of memory" */
	sb_add(&b, head, strlen(head) - 1); /* without its closing brace */
	free(head);
	sb_str(&b, ",\"notifications\":[");
	for (size_t i = 0; i < it->n_notes; i++) {
		const struct herald_notification *n = it->notes[i];
		if (!n || !spliceable(n->json)) {
			snprintf(err, errlen, "notification %zu: its JSON does not parse as one object",
				 i + 1);
			sb_free(&b);
			return NULL;
		}
		if (i)
			sb_str(&b, ",");
		sb_str(&b, n->json);
	}
	sb_str(&b, "]}");
	if (b.failed) {
		sb_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

static json_t *build_text(const char *key, char *s)
{
	json_t *j = s ? json_pack("{s:o}", key, jstr(s)) : NULL;

	free(s);
	return j;
}

static json_t *build_discord(const char *md)
{
	char *c = payload_cut_chars(md, PAYLOAD_DISCORD_MAX);
	/* allowed_mentions: a notification must not ping @everyone */
	json_t *j = c ? json_pack("{s:o, s:{s:[]}}", "content", jstr(c), "allowed_mentions", "parse")
		      : NULL;

	free(c);
	return j;
}

static bool is_web_link(const char *s)
{
	return s && (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7));
}

/* Teams Workflows ("Post to a channel when a webhook request is received"):
 * a message carrying one Adaptive Card. */
static json_t *build_teams(const struct vars *v, const char *md)
{
	const char *link = var_value(v, 8);
	json_t *card = json_pack(
	    "{s:s, s:s, s:s, s:[{s:s, s:o, s:s, s:s, s:b}, {s:s, s:o, s:b}]}", "$schema",
	    "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard", "version",
	    "1.4", "body", "type", "TextBlock", "text", jstr(v->it->subject), "weight", "Bolder", "size",
	    "Medium", "wrap", 1, "type", "TextBlock", "text", jstr(md), "wrap", 1);

	if (card && is_web_link(link) &&
	    json_object_set_new(card, "actions",
				json_pack("[{s:s, s:s, s:o}]", "type", "Action.OpenUrl", "title",
					  "Open", "url", jstr(link)))) {
		json_decref(card);
		return NULL;
	}
	return card ? json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments",
				"contentType", "application/vnd.microsoft.card.adaptive",
				"contentUrl", "content", card)
		    : NULL;
}

char *payload_build(enum payload_format f, const json_t *tmpl, const struct herald_sink_item *item,
		    size_t *len, char *err, size_t errlen)
{
	struct vars v = {.it = item, .first = item->n_notes ? item->notes[0] : NULL};
	const char *plain = first_of(item->text, item->markdown, item->subject);
	const char *md = first_of(item->markdown, item->text, item->subject);
	json_t *j = NULL;
	char *out;

	snprintf(v.count, sizeof v.count, "%zu", item->n_notes);
	snprintf(err, errlen, "out of memory");
	if (f == PAYLOAD_GENERIC)
		return build_generic(&v, len, err, errlen);
	switch (f) {
	case PAYLOAD_GENERIC: break;
	case PAYLOAD_SLACK: j = build_text("text", payload_slack_escape(plain)); break;
	case PAYLOAD_MATTERMOST: j = build_text("text", strdup(md)); break;
	case PAYLOAD_DISCORD: j = build_discord(md); break;
	case PAYLOAD_MATRIX: j = build_text("text", strdup(md)); break;
	case PAYLOAD_TEAMS: j = build_teams(&v, md); break;
	case PAYLOAD_ZULIP: j = build_text("text", strdup(plain)); break;
	case PAYLOAD_CUSTOM:
		if (!tmpl)
			snprintf(err, errlen, "format custom needs template_file in the sink's section");
		else
			j = build_custom(tmpl, &v);
		break;
	}
	if (!j)
		return NULL;
	out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (out)
		*len = strlen(out);
	else
		snprintf(err, errlen, "out of memory");
	return out;
}
