/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for envelope: every malformed shape gets its reason, every
 * corpus message parses, and a reused envelope (envelope_reparse, as a ring
 * slot uses it) reads each message as a fresh one would. */
#include "src/common/envelope.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/tap.h"

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
	ok(json_is_object(envelope_msg(&env)), "msg body");
	envelope_release(&env);
}

/* Reading every corpus message into one reused envelope gives what a
 * fresh envelope_parse gives, and the memory stops growing. */
static void reuse(void)
{
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	char path[512], *line = NULL;
	size_t cap = 0, n = 0, same = 0, grew_late = 0, before = 0;
	struct envelope slot = ENVELOPE_INIT;
	snprintf(path, sizeof path, "%s/tests/data/fedmsg-messages.jsonl", srcdir);
	FILE *f = fopen(path, "r");
	if (!f) {
		ok(0, "corpus at %s", path);
		return;
	}
	ssize_t len;
	for (int round = 0; round < 2; round++, rewind(f)) {
		while ((len = getline(&line, &cap, f)) > 0) {
			struct envelope fresh;
			n++;
			if (round)
				before = canon_doc_bytes(&slot.doc) + slot.text.cap;
			if (envelope_reparse(&slot, line, (size_t)len, NULL) != ENVELOPE_OK ||
			    envelope_parse(&fresh, line, (size_t)len, NULL) != ENVELOPE_OK)
				continue;
			if (round && canon_doc_bytes(&slot.doc) + slot.text.cap != before)
				grew_late++;
			same += !strcmp(slot.topic, fresh.topic) && slot.msg_len == fresh.msg_len &&
				slot.timestamp == fresh.timestamp && json_equal(envelope_msg(&slot),
										envelope_msg(&fresh));
			envelope_release(&fresh);
			/* Between messages a slot is cleared, not released. */
			envelope_clear(&slot);
		}
	}
	free(line);
	fclose(f);
	ok(n == 2 * 832 && same == n, "reused envelope reads %zu messages as fresh ones (%zu same)", n,
	   same);
	ok(grew_late == 0, "second pass over the corpus allocates nothing (%zu grew)", grew_late);
	/* A big message's memory is given back when the slot is cleared. */
	struct buf big = BUF_INIT;
	buf_puts(&big, "{\"topic\":\"a\",\"msg\":[");
	for (int i = 0; i < 10000; i++)
		buf_printf(&big, "%s%d", i ? "," : "", i);
	buf_puts(&big, "]}");
	ok(envelope_reparse(&slot, big.data, big.len, NULL) == ENVELOPE_OK &&
		   canon_doc_bytes(&slot.doc) > 100000, "a 10001-node message");
	envelope_clear(&slot);
	ok(canon_doc_bytes(&slot.doc) == 0, "its memory is freed when the slot is cleared");
	const char *detail = "";
	ok(envelope_reparse(&slot, "{\"msg\":1}", 9, &detail) == ENVELOPE_NO_TOPIC && !slot.topic &&
		   !slot.raw, "a failed reparse leaves nothing behind (%s)", detail);
	const char *again = "{\"topic\":\"b\",\"msg\":2}";
	ok(envelope_reparse(&slot, again, strlen(again), NULL) == ENVELOPE_OK &&
		   !strcmp(slot.topic, "b") && json_integer_value(envelope_msg(&slot)) == 2,
	   "and the envelope is usable again");
	envelope_release(&slot);
	buf_release(&big);
}

static void values(void)
{
	struct envelope env;
	const char *j = "{\"\\u0074opic\":\"a.b\",\"msg\": {\"k\" : [1, 2] } ,\"username\":\"caf\\u00e9\","
			"\"i\":9223372036854775807,\"timestamp\":123456789012345678901234567890}";
	ok(envelope_parse(&env, j, strlen(j), NULL) == ENVELOPE_OK, "escaped key, big numbers");
	ok(!strcmp(env.topic, "a.b") && !strcmp(env.username, "caf\xc3\xa9"),
	   "keys and values decoded");
	ok(env.has_i && env.i == INT64_MAX, "i up to INT64_MAX, exactly");
	ok(env.timestamp == 123456789012345678901234567890.0, "a huge timestamp, as a double");
	const char *body = "{\"k\" : [1, 2] }";
	ok(env.msg_len == strlen(body) && !memcmp(j + env.msg_off, body, strlen(body)),
	   "msg is the exact span of its bytes");
	const json_t *m = envelope_msg(&env);
	ok(json_is_array(json_object_get(m, "k")) && envelope_msg(&env) == m,
	   "msg parsed by jansson once, then cached");
	envelope_release(&env);
	j = "{\"topic\":\"a\",\"msg\":{\"n\":123456789012345678901234567890,\"s\":\"x\\u0000y\"}}";
	ok(envelope_parse(&env, j, strlen(j), NULL) == ENVELOPE_OK, "msg with a huge integer");
	m = envelope_msg(&env);
	ok(m && json_real_value(json_object_get(m, "n")) == 123456789012345678901234567890.0 &&
		   json_string_length(json_object_get(m, "s")) == 3, "read as a real, NUL kept");
	envelope_release(&env);
	j = "{\"topic\":\"a\",\"msg\":null,\"i\":1.0,\"timestamp\":-0}";
	ok(envelope_parse(&env, j, strlen(j), NULL) == ENVELOPE_OK && env.has_i && env.i == 1 &&
		   json_is_null(envelope_msg(&env)) && env.timestamp == 0,
	   "msg null, i as a whole float, timestamp -0");
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
	reuse();
	values();
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
	/* What jansson refused before the parse moved to canon is still refused. */
	expect("{\"topic\":\"a\",\"msg\":[NaN]}", ENVELOPE_BAD_JSON, "NaN");
	expect("{\"topic\":\"a\",\"msg\":-Infinity}", ENVELOPE_BAD_JSON, "-Infinity");
	expect("{\"topic\":\"a\",\"msg\":{\"x\":1e400}}", ENVELOPE_BAD_JSON, "a float beyond a double");
	expect("{\"topic\":\"a\",\"msg\":{\"a\\u0000\":1}}", ENVELOPE_BAD_JSON, "NUL in a key");
	expect("{\"topic\":\"a\",\"msg\":{\"b\":1,\"b\":2}}", ENVELOPE_BAD_JSON,
	       "duplicate keys inside msg");
	expect("{\"topic\":\"a\",\"msg\":\"\\ud800\"}", ENVELOPE_BAD_JSON, "lone surrogate");
	expect("{\"topic\":\"a\",\"msg\":1} x", ENVELOPE_BAD_JSON, "trailing garbage");
	expect("{\"topic\":\"a\",\"msg\":1e-400}", ENVELOPE_OK, "underflow to 0 is fine");
	expect("{\"topic\":\"a\",\"msg\":1,\"i\":9223372036854775808}", ENVELOPE_BAD_FIELD,
	       "i beyond int64");
	expect("{\"topic\":\"a\",\"msg\":1,\"i\":1e16}", ENVELOPE_BAD_FIELD, "i as an inexact float");
	expect("{\"topic\":\"a\",\"msg\":1,\"i\":true}", ENVELOPE_BAD_FIELD, "i as a boolean");
	expect("{\"topic\":\"a\",\"msg\":1,\"i\":null,\"timestamp\":null,\"signer\":null}", ENVELOPE_OK,
	       "null optional fields");
	expect("{\"topic\":\"a\",\"msg\":1,\"timestamp\":[]}", ENVELOPE_BAD_FIELD, "timestamp as an array");
	expect("{\"topic\":\"a\",\"msg\":1,\"crypto\":{}}", ENVELOPE_BAD_FIELD, "crypto as an object");
	expect("{\"topic\":null,\"msg\":1}", ENVELOPE_NO_TOPIC, "topic null");
	return tap_done();
}
