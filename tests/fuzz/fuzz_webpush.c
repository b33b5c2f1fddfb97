/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_webpush: libFuzzer target for the Web Push sink's destination
 * address parser, pushsub_parse (the PushSubscription JSON a user pastes
 * or a browser posts), and under it the base64url decoder. The input is
 * the address (as a string). What parses must hold what the sink relies
 * on: an https endpoint within its limit, an origin that is a prefix of
 * it in lower case, an uncompressed point; the keys must survive a
 * base64url round trip. A broken promise aborts, so the fuzzer reports it.
 * Linked with tests/fuzz/replay_main.c it replays tests/fuzz/seeds/webpush
 * in `make check`; --enable-fuzzers builds the real fuzzer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64url.h"
#include "pushsub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const unsigned char *raw, size_t n)
{
	char enc[B64URL_BUFLEN(65)];
	unsigned char back[65];
	size_t got = 0;

	if (b64url_encode(raw, n, enc, sizeof enc) != B64URL_ENCLEN(n) ||
	    b64url_decode(enc, strlen(enc), back, sizeof back, &got) || got != n ||
	    memcmp(back, raw, n))
		abort();
}

static void check(const struct pushsub *s)
{
	size_t ol = strlen(s->origin), el = strlen(s->endpoint);

	if (el > PUSHSUB_ENDPOINT_MAX || strncasecmp(s->endpoint, "https://", 8) ||
	    strncmp(s->origin, "https://", 8) || ol <= 8 || s->p256dh[0] != 0x04)
		abort();
	/* Without a port rewritten (":0443", ":443"), the origin is the
	 * endpoint's start. */
	if (!strchr(s->endpoint + 8, ':') && strncasecmp(s->origin, s->endpoint, ol))
		abort();
	check_roundtrip(s->p256dh, sizeof s->p256dh);
	check_roundtrip(s->auth, sizeof s->auth);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pushsub s;
	char *text, err[256];

	if (size > 8192)
		return 0;
	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pushsub_parse(text, &s, err, sizeof err) == 0)
		check(&s);
	else if (!err[0] || s.endpoint[0] || s.origin[0])
		abort(); /* a refusal says why and leaves nothing behind */
	free(text);
	return 0;
}
