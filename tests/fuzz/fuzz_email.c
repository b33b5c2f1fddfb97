/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_email: libFuzzer target for the email sink's parsers of destination
 * text (plugins/email/msg.c, no libesmtp). The first byte picks one, the
 * rest is its input:
 *   even  an address, through msg_check_address (the sink's validate and
 *         its `from` option); an accepted one must hold what the header
 *         promises: at most MSG_MAX_ADDRESS bytes, one '@', printable ASCII
 *         without space, '<', '>' or quotes
 *   odd   "ADDRESS\nSUBJECT\nUSER\nTOPIC\nLINK\nTEXT": a message built with
 *         msg_build for an accepted address; no header line may come from
 *         the item's text (every line of the header is a known header or a
 *         fold), and every line ends in CRLF
 * Linked with tests/fuzz/replay_main.c it replays tests/fuzz/seeds/email in
 * `make check`; scripts/fuzz runs the real fuzzer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void bad(const char *what, const char *s)
{
	fprintf(stderr, "fuzz_email: %s: %s\n", what, s);
	abort();
}

static void address(const char *a)
{
	char err[200];
	const char *at = strchr(a, '@');
	if (msg_check_address(a, err, sizeof err))
		return;
	if (strlen(a) > MSG_MAX_ADDRESS || !at || strchr(at + 1, '@'))
		bad("accepted an address that is not one addr-spec", a);
	for (const char *p = a; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("<>\"()[],;:\\", *p))
			bad("accepted an address with a byte no header can take", a);
}

/* The header section: known names or folds only, lines in CRLF. */
static void check_message(const struct sbuf *m)
{
	static const char *const names[] = {"From:", "To:", "Subject:", "Date:", "Message-ID:",
					    "MIME-Version:", "Content-", "List-", "X-Herald-",
					    "Auto-Submitted:", "Precedence:", "In-Reply-To:",
					    "References:", NULL};
	const char *p = m->p, *end = m->p + m->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || nl == p || nl[-1] != '\r')
			bad("a line that does not end in CRLF", p);
		if (nl - p == 1)
			return; /* the blank line: the body starts */
		bool known = *p == ' ' || *p == '\t';
		for (size_t i = 0; names[i] && !known; i++)
			known = !strncmp(p, names[i], strlen(names[i]));
		if (!known)
			bad("an unknown header line", p);
		p = nl + 1;
	}
}

static void message(char *s)
{
	char *f[6] = {0}, err[200];
	size_t n = 0;
	for (char *p = s; n < 6; n++) {
		f[n] = p;
		if (n < 5 && (p = strchr(p, '\n')))
			*p++ = '\0';
		else if (n < 5)
			break;
	}
	for (size_t i = 0; i < 6; i++)
		if (!f[i])
			f[i] = "";
	if (msg_check_address(f[0], err, sizeof err))
		return;
	const char *pkgs[] = {"glibc", f[3]};
	const struct herald_notification note = {
		.size = sizeof note, .id = "0123456789abcdef0123456789abcdef", .user = f[2],
		.address = f[0], .topic = f[3], .title = f[1], .summary = "", .link = f[4],
		.agent = "", .severity = "info", .packages = pkgs, .n_packages = 2,
		.msg_id = "", .json = "{}", .text = f[5], .markdown = f[5], .attempt = 1};
	const struct herald_notification *notes[] = {&note, &note};
	const struct herald_sink_item it = {
		.size = sizeof it, .user = f[2], .destination = 1, .address = f[0], .notes = notes,
		.n_notes = f[1][0] == 'D' ? 2 : 1, .digest = f[1][0] == 'D', .id = note.id,
		.subject = f[1], .text = f[5], .markdown = f[5]};
	const struct msg_conf conf = {.from = "herald@example.org", .domain = "example.org",
				      .unsubscribe_url = "https://e/u?user={user}&s={subscription}",
				      .unsubscribe_post = true, .max_packages = 8, .html = true};
	struct sbuf out = {0};
	msg_build(&conf, &it, 1700000000, &out);
	if (!out.failed)
		check_message(&out);
	sb_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	if (size < 1 || size > 16384)
		return 0;
	if (!(s = malloc(size)))
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] % 2)
		message(s);
	else
		address(s);
	free(s);
	return 0;
}
