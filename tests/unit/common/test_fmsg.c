/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for fmsg: a delivery as fedora-messaging sends it becomes an
 * envelope; each malformed delivery is refused with its own reason, and a
 * refusal leaves nothing behind.
 */
#include "src/common/fmsg.h"

#include <string.h>

#include "tests/unit/tap.h"

#define BODY "{\"update\": {\"alias\": \"FEDORA-2024-1\"}, \"agent\": \"ralph\"}"
#define ID "5e0a1e5b-6b7e-4a0c-9d6a-0c0e8d0b2f5a"

/* What fedora-messaging's Message._build_properties sends. */
static json_t *fm_headers(void)
{
	return json_pack("{s:s, s:s, s:i, s:b, s:b}", "fedora_messaging_schema",
			 "bodhi.update.comment.v1", "sent-at", "2024-05-01T12:00:00+00:00",
			 "fedora_messaging_severity", 20, "fedora_messaging_user_ralph", 1,
			 "fedora_messaging_rpm_kernel", 1);
}

static struct fmsg_in delivery(const char *topic, const char *body, json_t *headers)
{
	return (struct fmsg_in){.routing_key = topic, .routing_key_len = strlen(topic),
				.message_id = ID, .message_id_len = strlen(ID),
				.content_encoding = "utf-8", .headers = headers, .body = body,
				.body_len = body ? strlen(body) : 0};
}

static enum fmsg_reason parse(const struct fmsg_in *in, size_t max, struct envelope *env)
{
	return fmsg_parse(in, max, 1000.0, env, NULL);
}

static void good(void)
{
	struct envelope env = ENVELOPE_INIT;
	json_t *h = fm_headers();
	struct fmsg_in in = delivery("org.fedoraproject.prod.bodhi.update.comment", BODY, h);
	const char *detail = "";
	enum fmsg_reason r = fmsg_parse(&in, 1 << 20, 1000.0, &env, &detail);
	ok(r == FMSG_OK, "a fedora-messaging delivery is read (%s)", detail);
	ok(env.topic && !strcmp(env.topic, "org.fedoraproject.prod.bodhi.update.comment") &&
		   env.topic_len == strlen(env.topic),
	   "topic = routing key");
	ok(env.msg_id && !strcmp(env.msg_id, ID), "msg_id = the message_id property");
	ok(env.timestamp == 1714564800.0, "timestamp = sent-at (%.1f)", env.timestamp);
	const json_t *msg = envelope_msg(&env);
	ok(json_is_object(msg) &&
		   !strcmp(json_string_value(json_object_get(msg, "agent")), "ralph"),
	   "msg = the body, parsed");
	ok(env.raw == in.body && env.msg_off == 0 && env.msg_len == strlen(BODY),
	   "the body's bytes are the msg span (notifications copy them)");
	ok(!env.crypto && !env.signature && !env.has_i, "nothing claims a signature or a number");

	/* fedora-messaging tolerates missing headers: so does herald */
	in.headers = NULL;
	in.message_id = NULL;
	in.content_encoding = NULL;
	r = parse(&in, 1 << 20, &env);
	ok(r == FMSG_OK && env.timestamp == 1000.0 && !env.msg_id,
	   "no headers, no id, no encoding: accepted, timestamp = arrival");
	json_t *partial = json_pack("{s:s}", "sent-at", "yesterday");
	in.headers = partial;
	ok(parse(&in, 1 << 20, &env) == FMSG_OK && env.timestamp == 1000.0,
	   "an unreadable sent-at string: accepted with the arrival time");
	json_decref(partial);
	in.content_encoding = "UTF8";
	in.headers = h;
	ok(parse(&in, 1 << 20, &env) == FMSG_OK, "content_encoding is case-insensitive");

	/* the limit is inclusive */
	in.content_encoding = "utf-8";
	ok(parse(&in, strlen(BODY), &env) == FMSG_OK, "a body of exactly max_message_size");
	ok(parse(&in, strlen(BODY) - 1, &env) == FMSG_TOO_LARGE && !env.topic,
	   "one byte over: too_large, and the envelope holds no message");
	envelope_release(&env);
	json_decref(h);
}

struct bad_case {
	const char *what;
	const char *topic;
	const char *body;
	const char *id;
	const char *encoding;
	const char *header_json; /* NULL: fedora-messaging's own headers */
	enum fmsg_reason want;
};

static void bad(void)
{
	static const char badutf8[] = "{\"a\": \"\xc3\x28\"}";
	static const char overlong[] = "{\"a\": \"\xc0\xaf\"}";
	static const char surrogate[] = "{\"a\": \"\xed\xa0\x80\"}";
	static const char ctrl_topic[] = "org.\x01x";
	static const struct bad_case cases[] = {
		{"empty routing key", "", BODY, ID, "utf-8", NULL, FMSG_NO_TOPIC},
		{"control character in routing key", ctrl_topic, BODY, ID, "utf-8", NULL,
		 FMSG_BAD_TOPIC},
		{"routing key not UTF-8", "org.\xff", BODY, ID, "utf-8", NULL, FMSG_BAD_TOPIC},
		{"empty message_id", "t", BODY, "", "utf-8", NULL, FMSG_BAD_ID},
		{"message_id with a newline", "t", BODY, "a\nb", "utf-8", NULL, FMSG_BAD_ID},
		{"latin-1 encoding", "t", BODY, ID, "latin-1", NULL, FMSG_BAD_ENCODING},
		{"body not UTF-8", "t", badutf8, ID, "utf-8", NULL, FMSG_NOT_UTF8},
		{"overlong UTF-8", "t", overlong, ID, "utf-8", NULL, FMSG_NOT_UTF8},
		{"UTF-16 surrogate in UTF-8", "t", surrogate, ID, "utf-8", NULL, FMSG_NOT_UTF8},
		{"body not JSON", "t", "{\"a\": ", ID, "utf-8", NULL, FMSG_BAD_JSON},
		{"empty body", "t", "", ID, "utf-8", NULL, FMSG_BAD_JSON},
		/* a zero-length delivery's buffer is NULL (fuzz_fmsg found the NULL + 0) */
		{"empty body, no buffer", "t", NULL, ID, "utf-8", NULL, FMSG_BAD_JSON},
		{"NaN (Python's json.dumps can write it)", "t", "{\"a\": NaN}", ID, "utf-8", NULL,
		 FMSG_BAD_JSON},
		{"duplicate keys", "t", "{\"a\": 1, \"a\": 2}", ID, "utf-8", NULL, FMSG_BAD_JSON},
		{"two documents", "t", "{} {}", ID, "utf-8", NULL, FMSG_BAD_JSON},
		{"body is a list", "t", "[1, 2]", ID, "utf-8", NULL, FMSG_NOT_OBJECT},
		{"body is a string", "t", "\"x\"", ID, "utf-8", NULL, FMSG_NOT_OBJECT},
		{"severity 25", "t", BODY, ID, "utf-8", "{\"fedora_messaging_severity\": 25}",
		 FMSG_BAD_HEADER},
		{"severity as a string", "t", BODY, ID, "utf-8",
		 "{\"fedora_messaging_severity\": \"20\"}", FMSG_BAD_HEADER},
		{"schema not a string", "t", BODY, ID, "utf-8", "{\"fedora_messaging_schema\": 1}",
		 FMSG_BAD_HEADER},
		{"sent-at not a string", "t", BODY, ID, "utf-8", "{\"sent-at\": 1714564800}",
		 FMSG_BAD_HEADER},
	};
	struct envelope env = ENVELOPE_INIT;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct bad_case *c = &cases[i];
		json_t *h = c->header_json ? json_loads(c->header_json, 0, NULL) : fm_headers();
		struct fmsg_in in = delivery(c->topic, c->body, h);
		in.message_id = c->id;
		in.message_id_len = strlen(c->id);
		in.content_encoding = c->encoding;
		const char *detail = NULL;
		enum fmsg_reason r = fmsg_parse(&in, 1 << 20, 0, &env, &detail);
		ok(r == c->want && detail && !env.topic && !env.msg_json, "%s: %s (%s)", c->what,
		   fmsg_reason_name(r), detail ? detail : "no detail");
		json_decref(h);
	}
	/* each severity fedora-messaging defines is accepted */
	for (int sev = 10; sev <= 40; sev += 10) {
		char hj[64];
		snprintf(hj, sizeof hj, "{\"fedora_messaging_severity\": %d}", sev);
		json_t *h = json_loads(hj, 0, NULL);
		struct fmsg_in in = delivery("t", BODY, h);
		ok(parse(&in, 1 << 20, &env) == FMSG_OK, "severity %d accepted", sev);
		json_decref(h);
	}
	envelope_release(&env);
}

static void times(void)
{
	static const struct {
		const char *s;
		double want;
		int rc;
	} cases[] = {
		{"2024-05-01T12:00:00+00:00", 1714564800.0, 0},
		{"2024-05-01T12:00:00Z", 1714564800.0, 0},
		{"2024-05-01T14:00:00+02:00", 1714564800.0, 0},
		{"2024-05-01T07:30:00-0430", 1714564800.0, 0},
		{"2024-05-01T12:00:00.250000+00:00", 1714564800.25, 0},
		{"2024-05-01 12:00:00+00:00", 1714564800.0, 0},
		{"2024-05-01T12:00:00", 0, -1},          /* no zone: ambiguous */
		{"2024-13-01T12:00:00Z", 0, -1},
		{"2024-05-01T24:00:00Z", 0, -1},
		{"2024-05-01T12:00:00+00:00x", 0, -1},
		{"2024-05-01T12:00:00.Z", 0, -1},
		{"2024-05-01", 0, -1},
		{"", 0, -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double t = 0;
		int rc = fmsg_parse_time(cases[i].s, &t);
		ok(cases[i].rc ? rc < 0 : rc == 0 && t == cases[i].want, "time '%s' -> %s %.2f",
		   cases[i].s, rc ? "error" : "ok", t);
	}
}

static void names(void)
{
	ok(!strcmp(fmsg_reason_name(FMSG_BAD_JSON), "bad_json") &&
		   !strcmp(fmsg_reason_name(FMSG_BAD_HEADER), "bad_header") &&
		   !strcmp(fmsg_reason_name(FMSG_REASON_COUNT), "unknown"),
	   "reason names are metric labels");
	for (int r = 1; r < FMSG_REASON_COUNT; r++)
		if (!ok(strcmp(fmsg_reason_name((enum fmsg_reason)r), "unknown") != 0,
			"reason %d has a name", r))
			break;
}

int main(void)
{
	good();
	bad();
	times();
	names();
	return tap_done();
}
