/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notice: the JSON a service worker shows (see notice.h). */
#include "notice.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sinkutil.h"

#define TITLE_MAX 200
#define LINK_MAX 1024

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* An http(s) URL of printable ASCII within LINK_MAX, or "". */
static const char *usable_link(const char *s)
{
	size_t n = 0;

	if (!s || (strncasecmp(s, "https://", 8) && strncasecmp(s, "http://", 7)))
		return "";
	for (; s[n]; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f)
			return "";
	return n <= LINK_MAX ? s : "";
}

/* The body before any cut: the summary, or a digest's lines. */
static void body_text(const struct herald_sink_item *it, struct sbuf *b)
{
	sb_str(b, "");
	if (!it->digest) {
		sb_str(b, nz(it->notes[0]->summary));
		return;
	}
	for (size_t i = 0; i < it->n_notes; i++) {
		if (i)
			sb_str(b, "\n");
		sb_str(b, "\xe2\x80\xa2 "); /* a bullet */
		sb_str(b, nz(it->notes[i]->title));
	}
}

static int set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v));
}

/* The object with the body cut to body_max bytes; its JSON text, or NULL. */
static char *render(const struct herald_sink_item *it, const struct notice_opts *o,
		    const char *title, const char *body, size_t body_max, bool with_links)
{
	const struct herald_notification *n = it->notes[0];
	json_t *j = json_object();
	struct sbuf b = {0};
	char *text = NULL;
	int bad = !j;

	sb_str(&b, "");
	sinkutil_utf8_fit(&b, body, body_max);
	bad |= b.failed || set_str(j, "title", title) || set_str(j, "body", b.p) ||
	       set_str(j, "link", it->digest ? "" : usable_link(n->link)) ||
	       set_str(j, "tag", it->id) || set_str(j, "id", it->id) ||
	       set_str(j, "app", nz(o->app));
	if (!bad && o->icon && *usable_link(o->icon))
		bad |= set_str(j, "icon", o->icon);
	if (!bad && n->timestamp > 0 && n->timestamp < 1e13)
		bad |= json_object_set_new(j, "timestamp", json_integer((json_int_t)(n->timestamp * 1000)));
	if (!bad && it->digest)
		bad |= json_object_set_new(j, "digest", json_integer((json_int_t)it->n_notes));
	if (!bad && with_links && o->links && *usable_link(it->unsubscribe_url))
		bad |= set_str(j, "unsubscribe", it->unsubscribe_url);
	if (!bad && with_links && o->links && *usable_link(it->why_url))
		bad |= set_str(j, "why", it->why_url);
	if (!bad)
		text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	sb_free(&b);
	return text;
}

/* The longest cut of the body (at most body_max bytes) whose JSON fits max,
 * found by bisection: escapes make the JSON's length a step function of
 * the cut, so there is no closed form. Without the web app's links when
 * even an empty body does not fit. */
static char *fit(const struct herald_sink_item *it, const struct notice_opts *o,
		 const char *title, const char *body, size_t body_max, size_t max, bool *with_links)
{
	char *text = render(it, o, title, body, body_max, *with_links);
	size_t lo = 0, hi = body_max, best_len = 0;
	char *best = NULL;

	if (!text || strlen(text) <= max)
		return text;
	free(text);
	for (int pass = 0; pass < 2 && !best; pass++, *with_links = false) {
		lo = 0, hi = body_max;
		while (lo <= hi) {
			size_t mid = lo + (hi - lo) / 2;
			text = render(it, o, title, body, mid < 3 ? 3 : mid, *with_links);
			if (!text)
				break;
			if (strlen(text) <= max && strlen(text) >= best_len) {
				free(best);
				best = text;
				best_len = strlen(text);
				lo = mid + 1;
			} else {
				free(text);
				if (!mid)
					break;
				hi = mid - 1;
			}
		}
		if (best)
			return best;
	}
	return NULL;
}

char *notice_build(const struct herald_sink_item *it, const struct notice_opts *o, size_t max,
		   size_t *len, char *err, size_t errlen)
{
	struct sbuf title = {0}, raw = {0}, body = {0};
	char *text = NULL;
	size_t body_max;
	bool with_links = true;

	if (!it->notes || !it->n_notes || !it->id) {
		snprintf(err, errlen, "an item without notifications");
		return NULL;
	}
	sb_str(&title, "");
	sinkutil_utf8_fit(&title, it->digest ? nz(it->subject) : nz(it->notes[0]->title), TITLE_MAX);
	body_text(it, &raw);
	/* valid UTF-8 first (U+FFFD for each bad byte), so the cuts below
	 * count the bytes JSON will hold */
	sb_str(&body, "");
	sinkutil_utf8_fit(&body, raw.p, 3 * raw.len + 3);
	body.failed |= raw.failed;
	sb_free(&raw);
	body_max = body.len;
	if (!title.failed && !body.failed)
		text = fit(it, o, title.p, body.p, body_max, max, &with_links);
	sb_free(&title);
	sb_free(&body);
	if (!text) {
		snprintf(err, errlen, "out of memory, or a notice that cannot fit %zu bytes", max);
		return NULL;
	}
	*len = strlen(text);
	return text;
}
