/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_render: libFuzzer target for sink templates (src/render.h):
 * render_compile() on arbitrary bytes as a text and as a Markdown template,
 * with and without the footer, and when that succeeds render_note() and
 * render_digest() on a fixed notification with hostile values. Beyond
 * crashes and sanitizer reports, a broken property aborts:
 *   - a compile error has a message that names a column;
 *   - a rendered text holds no CR and no NUL from the values (only the
 *     template's own "\n" makes lines, and values have none to give);
 *   - a digest body never exceeds its max_bytes.
 * Not for: expected renderings (tests/unit/test_render.c).
 *
 * Build and run: scripts/fuzz [SECONDS] render (doc/fuzzing.md), with
 * tests/fuzz/render.dict. Seeds: tests/fuzz/seeds/render/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/daemon/render.h"

static const char *const pkgs[] = {"kernel", "gl\r\nibc"};
static const char *const users[] = {"alice", "b\x01ob"};
static const uint64_t subs[] = {12, 13};

static void fill(struct herald_notification *n)
{
	*n = (struct herald_notification){
		.size = sizeof *n, .id = "0123456789abcdef0123456789abcdef", .user = "alice",
		.destination = 7, .address = "a@example.org", .topic = "org.x.\r\nQUIT",
		.title = "t\xc3\xa9tle *bold* [x](y)\r\nBcc: evil", .summary = "sum\x85mary",
		.link = "https://example.org/?a=1&b=<2>", .agent = "bob", .severity = "error",
		.usernames = users, .n_usernames = 2, .packages = pkgs, .n_packages = 2,
		.subscriptions = subs, .n_subscriptions = 2, .msg_id = "m-1",
		.timestamp = 1795316125.5};
}

static void check_text(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\r' || b->data[i] == '\0')
			abort();
}

static void one(const char *src, enum render_flavour fl, bool footer)
{
	struct render *r = NULL;
	char err[256] = "";
	if (render_compile(src, fl, footer, &r, err, sizeof err)) {
		if (!strstr(err, "column"))
			abort();
		return;
	}
	struct herald_notification n1, n2;
	fill(&n1);
	fill(&n2);
	n2.title = "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac long title";
	const struct herald_notification *both[] = {&n1, &n2};
	struct buf out = BUF_INIT, subject = BUF_INIT, body = BUF_INIT;
	if (!render_note(r, &n1, &out))
		check_text(&out);
	if (!render_digest(r, "alice", both, 2, 200, &subject, &body)) {
		check_text(&subject);
		if (body.len > 200)
			abort();
	}
	buf_release(&out);
	buf_release(&subject);
	buf_release(&body);
	render_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src = malloc(size + 1);
	if (!src)
		return 0;
	memcpy(src, data, size);
	src[size] = '\0';
	one(src, RENDER_TEXT, size & 1);
	one(src, RENDER_MARKDOWN, !(size & 1));
	free(src);
	return 0;
}
