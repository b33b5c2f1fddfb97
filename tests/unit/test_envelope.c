/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for envelope: every malformed shape gets its reason, and every
 * corpus message parses. */
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

static void expect(const char *json, enum envelope_error want, const char *what)
{
	struct envelope env;
	const char *detail = NULL;
	enum envelope_error e = envelope_parse(&env, json, strlen(json), &detail);
	ok(e == want, "%s (%s)", what, detail ? detail : "ok");
	if (e == ENVELOPE_OK)
		envelope_release(&env);
}

static void fields(void)
{
	const char *j = "{\"topic\":\"org.x.prod.a\",\"msg\":{\"k\":1},\"msg_id\":\"2024-abc\","
			"\"i\":7,\"timestamp\":1344350850.5,\"crypto\":\"ed25519\",\"signer\":\"k1\","
			"\"signature\":\"c2ln\",\"username\":\"apache\"}";
	struct envelope env;
	ok(envelope_parse(&env, j, strlen(j), NULL) == ENVELOPE_OK, "full envelope parses");
	ok(!strcmp(env.topic, "org.x.prod.a") && env.topic_len == 12, "topic");
	ok(env.has_i && env.i == 7 && env.timestamp == 1344350850.5, "i and timestamp");
	ok(!strcmp(env.msg_id, "2024-abc") && !strcmp(env.signer, "k1") &&
		   !strcmp(env.crypto, "ed25519") && !strcmp(env.username, "apache"),
	   "string fields");
	ok(json_is_object(env.msg), "msg body");
	envelope_release(&env);
}

static void corpus(void)
{
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	char path[512], *line = NULL;
	size_t cap = 0, n = 0, good = 0;
	snprintf(path, sizeof path, "%s/tests/data/fedmsg-messages.jsonl", srcdir);
	FILE *f = fopen(path, "r");
	ok(f != NULL, "corpus at %s", path);
	if (!f)
		return;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		struct envelope env;
		n++;
		if (envelope_parse(&env, line, (size_t)len, NULL) == ENVELOPE_OK) {
			good++;
			envelope_release(&env);
		}
	}
	free(line);
	fclose(f);
	ok(n == 832 && good == n, "all %zu corpus envelopes parse (%zu good)", n, good);
}

int main(void)
{
	fields();
	corpus();
	expect("", ENVELOPE_BAD_JSON, "empty input");
	expect("[1,2]", ENVELOPE_BAD_JSON, "array, not object");
	expect("{\"topic\":\"a\",\"msg\":{}", ENVELOPE_BAD_JSON, "truncated JSON");
	expect("{\"topic\":\"a\",\"msg\":{},\"topic\":\"b\"}", ENVELOPE_BAD_JSON, "duplicate keys refused");
	expect("{\"msg\":{}}", ENVELOPE_NO_TOPIC, "no topic");
	expect("{\"topic\":\"\",\"msg\":{}}", ENVELOPE_NO_TOPIC, "empty topic");
	expect("{\"topic\":5,\"msg\":{}}", ENVELOPE_NO_TOPIC, "topic not a string");
	expect("{\"topic\":\"a b\",\"msg\":{}}", ENVELOPE_BAD_FIELD, "topic with a space");
	expect("{\"topic\":\"a\\r\\nb\",\"msg\":{}}", ENVELOPE_BAD_FIELD, "topic with CR/LF");
	expect("{\"topic\":\"a\\u0000b\",\"msg\":{}}", ENVELOPE_BAD_FIELD, "topic with NUL");
	expect("{\"topic\":\"a\"}", ENVELOPE_NO_BODY, "no msg");
	expect("{\"topic\":\"a\",\"msg\":1,\"i\":\"3\"}", ENVELOPE_BAD_FIELD, "i as a string");
	expect("{\"topic\":\"a\",\"msg\":1,\"i\":-1}", ENVELOPE_BAD_FIELD, "negative i");
	expect("{\"topic\":\"a\",\"msg\":1,\"i\":1.5}", ENVELOPE_BAD_FIELD, "fractional i");
	expect("{\"topic\":\"a\",\"msg\":1,\"timestamp\":\"now\"}", ENVELOPE_BAD_FIELD, "timestamp as a string");
	expect("{\"topic\":\"a\",\"msg\":1,\"signature\":7}", ENVELOPE_BAD_FIELD, "signature not a string");
	expect("{\"topic\":\"a\",\"msg\":1,\"msg_id\":\"x\\u0000y\"}", ENVELOPE_BAD_FIELD, "msg_id with NUL");
	expect("{\"topic\":\"a\",\"msg\":{\"n\":123456789012345678901234567890}}", ENVELOPE_OK,
	       "integers beyond 64 bits in msg are read (approximately)");
	expect("{\"topic\":\"a\",\"msg\":\"\\u0000\"}", ENVELOPE_OK, "NUL inside msg is allowed");
	return tap_done();
}
