/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_fmsg: libFuzzer target for fmsg_parse, what an AMQP delivery from
 * a broker meets first. The input is split on NUL bytes into routing key,
 * message_id, headers (JSON, as the consumer makes them of the AMQP
 * table), content_encoding and body; a missing part is an absent
 * property, so every combination is reachable.
 *
 * Properties, any violation aborts: a reused envelope and a fresh one give
 * the same verdict; an accepted delivery has topic = routing key, a body
 * that is a JSON object and bytes that are UTF-8; a refused one leaves the
 * envelope empty; fmsg_parse_time (fed the body) never accepts a time
 * without its zone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/fmsg.h"

static void check(int cond, const char *what)
{
	if (cond)
		return;
	fprintf(stderr, "fuzz_fmsg: %s\n", what);
	abort();
}

/* The next NUL-terminated part of [*p, end), or NULL when none is left. */
static const char *part(const char **p, const char *end, size_t *len)
{
	if (*p >= end)
		return NULL;
	const char *s = *p, *z = memchr(s, '\0', (size_t)(end - s));
	*len = z ? (size_t)(z - s) : (size_t)(end - s);
	*p = z ? z + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct envelope slot = ENVELOPE_INIT;
	char *copy = malloc(size + 1);
	check(copy != NULL, "out of memory");
	memcpy(copy, data, size);
	copy[size] = '\0';
	const char *p = copy, *end = copy + size;
	size_t rk_len = 0, id_len = 0, h_len = 0, enc_len = 0, body_len = 0;
	const char *rk = part(&p, end, &rk_len);
	const char *id = part(&p, end, &id_len);
	const char *hj = part(&p, end, &h_len);
	char *enc = (char *)part(&p, end, &enc_len);
	const char *body = p < end ? p : NULL;
	body_len = body ? (size_t)(end - p) : 0;
	if (enc)
		enc[enc_len] = '\0';
	json_t *headers = hj ? json_loadb(hj, h_len, 0, NULL) : NULL;
	if (headers && !json_is_object(headers)) {
		json_decref(headers);
		headers = NULL;
	}
	struct fmsg_in in = {.routing_key = rk ? rk : "", .routing_key_len = rk_len,
			     .message_id = id, .message_id_len = id_len,
			     .content_encoding = enc && enc_len ? enc : NULL, .headers = headers,
			     .body = body, .body_len = body_len};
	struct envelope fresh = ENVELOPE_INIT;
	enum fmsg_reason a = fmsg_parse(&in, 4096, 1.0, &slot, NULL);
	enum fmsg_reason b = fmsg_parse(&in, 4096, 1.0, &fresh, NULL);
	check(a == b, "reused and fresh envelopes disagree");
	if (a == FMSG_OK) {
		check(slot.topic_len == rk_len && !memcmp(slot.topic, rk, rk_len), "topic differs");
		check(json_is_object(envelope_msg(&slot)), "accepted body is not an object");
		check(fmsg_utf8_valid(body, body_len), "accepted body is not UTF-8");
	} else {
		check(!slot.topic && !slot.msg_json, "a refusal left a message behind");
	}
	double t;
	/* The shortest time with a zone: YYYY-MM-DDTHH:MM:SSZ. */
	if (body && !fmsg_parse_time(body, &t))
		check(strlen(body) >= 20, "a time without a zone was accepted");
	envelope_release(&fresh);
	envelope_clear(&slot);
	json_decref(headers);
	free(copy);
	return 0;
}
