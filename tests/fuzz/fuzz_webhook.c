/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_webhook: libFuzzer target for the webhook sink's parsers of
 * untrusted or operator text. The first byte picks one, the rest is its
 * input (as a string):
 *   0 destination addresses: addr_parse, addr_redact, addr_leaks
 *   1 allow_networks lists, then the guard on a few addresses
 *   2 Retry-After values
 *   3 custom templates, filled for a fixed item
 *   4 secret files (whsec_ lines), signing with what parsed
 * Linked with tests/fuzz/replay_main.c it replays tests/fuzz/seeds/webhook
 * in `make check`; --enable-fuzzers builds the real fuzzer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "netguard.h"
#include "outcome.h"
#include "payload.h"
#include "secrets.h"
#include "sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void guard(const char *s)
{
	struct netguard_list l = {0};
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	char err[200];

	if (netguard_parse_list(s, &l, err, sizeof err))
		return;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.sin6_addr);
	netguard_check(&l, (struct sockaddr *)&a, sizeof a, err, sizeof err);
	inet_pton(AF_INET6, "2002:a00:1::1", &a.sin6_addr);
	netguard_check(&l, (struct sockaddr *)&a, sizeof a, err, sizeof err);
	netguard_list_release(&l);
}

static void templ(const char *s)
{
	static const struct herald_notification n = {
	    .size = sizeof n, .id = "0123456789abcdef0123456789abcdef", .title = "t\"{x}",
	    .link = "https://e/", .topic = "org.t", .json = "{}"};
	const struct herald_notification *notes[] = {&n};
	const struct herald_sink_item it = {.size = sizeof it, .user = "u{user}", .notes = notes,
					    .n_notes = 1, .id = n.id, .subject = "s", .text = "x",
					    .markdown = "{text}"};
	json_t *t = NULL;
	char err[200];
	size_t len;

	if (payload_template_parse(s, &t, err, sizeof err))
		return;
	free(payload_build(PAYLOAD_CUSTOM, t, &it, &len, err, sizeof err));
	json_decref(t);
}

static void secrets(const char *s)
{
	struct secrets k = {0};
	char err[200], sig[SIGN_V1_LEN];

	if (secrets_parse_whsec_text(s, &k, err, sizeof err))
		return;
	for (size_t i = 0; i < k.n_whsec; i++)
		sign_v1(&k.whsec[i], "id", 1, s, strlen(s), sig);
	secrets_release(&k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, err[200], red[200];
	enum payload_format f;
	const char *url;
	uint32_t secs;

	if (size < 1 || size > 8192)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		if (!addr_parse(s, PAYLOAD_GENERIC, &f, &url, err, sizeof err))
			addr_leaks(url, "some server text");
		addr_redact(s, red, sizeof red);
		break;
	case 1: guard(s); break;
	case 2: outcome_retry_after(s, 1700000000, &secs); break;
	case 3: templ(s); break;
	default: secrets(s); break;
	}
	free(s);
	return 0;
}
