/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envelope: typed access to a fedmsg envelope (see envelope.h). jansson
 * parses; this file only decides which shapes are acceptable.
 */
#include "envelope.h"

#include <string.h>

/* An optional string field: absent/null is fine, anything else must be a
 * string without NUL bytes (they would truncate it silently in C). */
static int opt_string(json_t *root, const char *key, const char **out)
{
	json_t *v = json_object_get(root, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

static int valid_topic(const char *t, size_t len)
{
	if (!len || len > 1024)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f)
			return 0;
	return 1;
}

static enum envelope_error fill(struct envelope *env, const char **detail)
{
	json_t *root = env->root, *v;
	v = json_object_get(root, "topic");
	if (!v || !json_is_string(v) || !json_string_length(v)) {
		*detail = "topic missing or not a string";
		return ENVELOPE_NO_TOPIC;
	}
	env->topic = json_string_value(v);
	env->topic_len = json_string_length(v);
	if (!valid_topic(env->topic, env->topic_len)) {
		*detail = "topic has spaces, control characters or is over 1024 bytes";
		return ENVELOPE_BAD_FIELD;
	}
	if (!(env->msg = json_object_get(root, "msg"))) {
		*detail = "msg missing";
		return ENVELOPE_NO_BODY;
	}
	if (opt_string(root, "msg_id", &env->msg_id) || opt_string(root, "username", &env->username) ||
	    opt_string(root, "crypto", &env->crypto) || opt_string(root, "signature", &env->signature) ||
	    opt_string(root, "certificate", &env->certificate) ||
	    opt_string(root, "signer", &env->signer)) {
		*detail = "msg_id, username, crypto, signature, certificate or signer is not a string";
		return ENVELOPE_BAD_FIELD;
	}
	v = json_object_get(root, "timestamp");
	if (v && !json_is_null(v)) {
		if (!json_is_number(v)) {
			*detail = "timestamp is not a number";
			return ENVELOPE_BAD_FIELD;
		}
		env->timestamp = json_number_value(v);
	}
	v = json_object_get(root, "i");
	if (v && !json_is_null(v)) {
		/* After the big-integer retry every integer reads as a real. */
		double d = json_is_real(v) ? json_real_value(v) : -1;
		bool whole = d >= 0 && d < 9007199254740992.0 && d == (double)(int64_t)d;
		if (!(json_is_integer(v) && json_integer_value(v) >= 0) && !whole) {
			*detail = "i is not a non-negative integer";
			return ENVELOPE_BAD_FIELD;
		}
		env->i = json_is_integer(v) ? json_integer_value(v) : (int64_t)d;
		env->has_i = true;
	}
	return ENVELOPE_OK;
}

enum envelope_error envelope_parse(struct envelope *env, const char *data, size_t len,
				   const char **detail)
{
	const char *dummy;
	json_error_t jerr;
	if (!detail)
		detail = &dummy;
	memset(env, 0, sizeof *env);
	/* Duplicate keys are refused: the signed bytes and what we read must agree. */
	size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	env->root = json_loadb(data, len, flags, &jerr);
	if (!env->root && strstr(jerr.text, "too big"))
		/* Integers beyond 64 bits are legal JSON and signed exactly by
		 * canon; read them approximately rather than refuse the message. */
		env->root = json_loadb(data, len, flags | JSON_DECODE_INT_AS_REAL, &jerr);
	if (!env->root || !json_is_object(env->root)) {
		*detail = env->root ? "envelope is not a JSON object" : "not valid JSON";
		json_decref(env->root);
		env->root = NULL;
		return ENVELOPE_BAD_JSON;
	}
	enum envelope_error e = fill(env, detail);
	if (e != ENVELOPE_OK)
		envelope_release(env);
	return e;
}

void envelope_release(struct envelope *env)
{
	json_decref(env->root);
	memset(env, 0, sizeof *env);
}
