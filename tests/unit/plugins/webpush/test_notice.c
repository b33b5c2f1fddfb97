/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_notice: the webpush sink's notice (plugins/webpush/notice.c), the
 * JSON herald's service worker shows: its fields for one notification and
 * for a digest, links that are not http(s) left out, the web app's links only
 * from a 1.2 host, and the byte budget: exactly at it, one byte under it,
 * cuts at UTF-8 boundaries, invalid UTF-8, a budget too small for anything.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "notice.h"
#include "tap.h"

struct fixture {
	struct herald_notification n[3];
	const struct herald_notification *notes[3];
	struct herald_sink_item it;
};

static void setup(struct fixture *f, size_t n_notes, const char *summary)
{
	static const char *const titles[] = {"kernel-6.12.4-200.fc41 pushed to stable",
					     "glibc build failed", "new upstream: curl 8.11"};

	memset(f, 0, sizeof *f);
	for (size_t i = 0; i < 3; i++) {
		f->n[i] = (struct herald_notification){.size = sizeof f->n[i],
						       .id = "0123456789abcdef0123456789abcdef",
						       .title = titles[i],
						       .summary = summary,
						       .link = "https://bodhi.fedoraproject.org/updates/X",
						       .timestamp = 1733580000.5};
		f->notes[i] = &f->n[i];
	}
	f->it = (struct herald_sink_item){.size = sizeof f->it,
					  .user = "alice",
					  .notes = f->notes,
					  .n_notes = n_notes,
					  .digest = n_notes > 1,
					  .id = n_notes > 1 ? "fedcba9876543210fedcba9876543210"
							    : "0123456789abcdef0123456789abcdef",
					  .subject = n_notes > 1 ? "3 updates to your packages" : f->n[0].title,
					  .unsubscribe_url = "https://herald.example.org/unsubscribe/t0k",
					  .why_url = "https://herald.example.org/why/0123"};
}

/* notice_build's JSON, parsed; NULL when it failed (err in *why). */
static json_t *build(const struct herald_sink_item *it, bool links, size_t max, size_t *len,
		     char *why)
{
	struct notice_opts o = {.app = "herald", .icon = "https://example.org/i.png", .links = links};
	char *text = notice_build(it, &o, max, len, why, 200);
	json_t *j;

	if (!text)
		return NULL;
	j = json_loads(text, 0, NULL);
	if (j && strlen(text) != *len)
		json_decref(j), j = NULL;
	free(text);
	return j;
}

static const char *s(json_t *j, const char *k)
{
	const char *v = json_string_value(json_object_get(j, k));
	return v ? v : "(none)";
}

static void test_one(void)
{
	struct fixture f;
	size_t len;
	char why[200];
	json_t *j;

	setup(&f, 1, "Update for kernel: 3 bugs fixed");
	j = build(&f.it, true, 3993, &len, why);
	ok(j && !strcmp(s(j, "title"), "kernel-6.12.4-200.fc41 pushed to stable") &&
	       !strcmp(s(j, "body"), "Update for kernel: 3 bugs fixed") &&
	       !strcmp(s(j, "link"), "https://bodhi.fedoraproject.org/updates/X") &&
	       !strcmp(s(j, "tag"), f.it.id) && !strcmp(s(j, "id"), f.it.id) &&
	       !strcmp(s(j, "app"), "herald") && !strcmp(s(j, "icon"), "https://example.org/i.png"),
	   "one notification: title, body, link, tag = id, app, icon");
	ok(j && json_integer_value(json_object_get(j, "timestamp")) == 1733580000500LL &&
	       !json_object_get(j, "digest"),
	   "its time in milliseconds; no digest count");
	ok(j && !strcmp(s(j, "unsubscribe"), f.it.unsubscribe_url) && !strcmp(s(j, "why"), f.it.why_url),
	   "the web app's links from a 1.2 host");
	json_decref(j);
	j = build(&f.it, false, 3993, &len, why);
	ok(j && !json_object_get(j, "unsubscribe") && !json_object_get(j, "why"),
	   "an older host's item: its 1.2 fields are not read");
	json_decref(j);

	f.n[0].link = "javascript:alert(1)";
	j = build(&f.it, true, 3993, &len, why);
	ok(j && !strcmp(s(j, "link"), ""), "a link that is not http(s) is left out");
	json_decref(j);
	f.n[0].link = "https://example.org/a b";
	j = build(&f.it, true, 3993, &len, why);
	ok(j && !strcmp(s(j, "link"), ""), "a link with a space is left out");
	json_decref(j);
}

static void test_digest(void)
{
	struct fixture f;
	size_t len;
	char why[200];
	json_t *j;

	setup(&f, 3, "");
	j = build(&f.it, true, 3993, &len, why);
	ok(j && !strcmp(s(j, "title"), "3 updates to your packages") &&
	       json_integer_value(json_object_get(j, "digest")) == 3 && !strcmp(s(j, "link"), "") &&
	       !strcmp(s(j, "tag"), "fedcba9876543210fedcba9876543210"),
	   "a digest: its subject, count 3, no single link, the digest's id as tag");
	ok(j && !strcmp(s(j, "body"), "\xe2\x80\xa2 kernel-6.12.4-200.fc41 pushed to stable\n"
				      "\xe2\x80\xa2 glibc build failed\n"
				      "\xe2\x80\xa2 new upstream: curl 8.11"),
	   "a digest's body: one line per notification's title: %s", j ? s(j, "body") : "");
	json_decref(j);
}

static void test_budget(void)
{
	struct fixture f;
	char big[6000], why[200];
	size_t len, full;
	json_t *j;

	/* 2,000 euro signs: 6,000 bytes */
	for (size_t i = 0; i + 3 < sizeof big; i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	big[5997] = '\0';
	setup(&f, 1, big);
	j = build(&f.it, true, 3993, &len, why);
	const char *b = j ? s(j, "body") : "";
	size_t bl = strlen(b);
	ok(j && len <= 3993 && len > 3993 - 16,
	   "a long body is cut to fit 3,993 bytes, with little room wasted (%zu)", len);
	ok(bl >= 3 && !strcmp(b + bl - 3, "\xe2\x80\xa6") && (bl - 3) % 3 == 0,
	   "cut between characters, ending in an ellipsis");
	ok(j && json_object_get(j, "unsubscribe"), "the links stay while the body can give way");
	json_decref(j);

	setup(&f, 1, "short");
	j = build(&f.it, true, 3993, &full, why);
	json_decref(j);
	j = build(&f.it, true, full, &len, why);
	ok(j && len == full && !strcmp(s(j, "body"), "short"), "exactly at the budget: not cut");
	json_decref(j);
	j = build(&f.it, true, full - 1, &len, why);
	ok(j && len <= full - 1 && strcmp(s(j, "body"), "short"),
	   "one byte under: the body gives way (%s)", j ? s(j, "body") : why);
	json_decref(j);

	setup(&f, 1, "ok \xff\xfe end");
	j = build(&f.it, true, 3993, &len, why);
	ok(j && !strcmp(s(j, "body"), "ok \xef\xbf\xbd\xef\xbf\xbd end"),
	   "invalid UTF-8 becomes U+FFFD, and the JSON parses");
	json_decref(j);

	char title[400];
	memset(title, 'T', sizeof title - 1);
	title[sizeof title - 1] = '\0';
	setup(&f, 1, "");
	f.n[0].title = title;
	j = build(&f.it, true, 3993, &len, why);
	ok(j && strlen(s(j, "title")) == 200, "a title is cut to 200 bytes");
	json_decref(j);

	setup(&f, 1, big);
	j = build(&f.it, true, 420, &len, why);
	ok(j && len <= 420 && json_object_get(j, "unsubscribe") && !strcmp(s(j, "body") + strlen(s(j, "body")) - 3, "\xe2\x80\xa6"),
	   "420 bytes: a short body, the links kept (%zu)", j ? len : 0);
	json_decref(j);
	j = build(&f.it, true, 320, &len, why);
	ok(j && len <= 320 && !json_object_get(j, "unsubscribe") && !json_object_get(j, "why"),
	   "320 bytes: the web app's links give way last (%zu)", j ? len : 0);
	json_decref(j);
	j = build(&f.it, true, 200, &len, why);
	ok(!j && strstr(why, "cannot fit 200 bytes"), "200 bytes: nothing fits, said so: %s", why);
	json_decref(j);
	f.it.notes = NULL;
	f.it.n_notes = 0;
	j = build(&f.it, true, 3993, &len, why);
	ok(!j && strstr(why, "without notifications"), "an item without notifications: %s", why);
}

int main(void)
{
	test_one();
	test_digest();
	test_budget();
	return tap_done();
}
