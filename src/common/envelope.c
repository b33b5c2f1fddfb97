/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envelope: typed access to a fedmsg envelope (see envelope.h). canon's
 * scanner parses, once; this file only decides which shapes are acceptable
 * and copies the string fields out. jansson meets only the body, and only
 * when someone asks for it.
 */
#include "envelope.h"

#include <errno.h>
#include <string.h>

/* What envelope_clear() may keep for the next message; a slot that once
 * held a big message gives the memory back. */
#define KEEP_BYTES (32 * 1024)

/* The fields read, the string ones first, topic first: errors are reported
 * in this order. Found in one pass over the top-level members. */
enum {
	F_TOPIC, F_MSG_ID, F_USERNAME, F_CRYPTO, F_SIGNATURE, F_CERTIFICATE, F_SIGNER,
	F_MSG, F_TIMESTAMP, F_I, F_COUNT,
	F_STRINGS = F_MSG
};

static const char *const field_key[F_COUNT] = {
	"topic", "msg_id", "username", "crypto", "signature", "certificate", "signer",
	"msg", "timestamp", "i",
};

static bool absent_or_null(const struct envelope *env, uint32_t v)
{
	return !v || canon_type(&env->doc, v) == CANON_NULL;
}

/* Decode string `v` into env->text (room was reserved, so earlier fields
 * do not move). */
static const char *decode(struct envelope *env, uint32_t v, size_t *len, bool *nul)
{
	char *dst = env->text.data + env->text.len;
	if (canon_string(&env->doc, v, dst, env->text.cap - env->text.len, len, nul))
		return NULL;
	env->text.len += *len + 1;
	return dst;
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

/* Find the fields (0: absent) and make room for all the strings at once. */
static int find_fields(struct envelope *env, uint32_t val[F_COUNT])
{
	size_t need = 0;
	buf_reset(&env->text);
	canon_find_all(&env->doc, CANON_ROOT, field_key, F_COUNT, val);
	for (int f = 0; f < F_STRINGS; f++)
		if (val[f] && canon_type(&env->doc, val[f]) == CANON_STRING)
			need += canon_string_max(&env->doc, val[f]);
	return buf_reserve(&env->text, need);
}

/* An optional string field: absent/null is fine, anything else must be a
 * string without NUL bytes (they would truncate it silently in C). */
static int opt_string(struct envelope *env, uint32_t v, const char **out)
{
	size_t len;
	bool nul;
	*out = NULL;
	if (absent_or_null(env, v))
		return 0;
	if (canon_type(&env->doc, v) != CANON_STRING)
		return -1;
	*out = decode(env, v, &len, &nul);
	return *out && !nul ? 0 : -1;
}

static enum envelope_error strings(struct envelope *env, const uint32_t val[F_COUNT],
				   const char **detail)
{
	const char **field[F_STRINGS] = {
		NULL, &env->msg_id, &env->username, &env->crypto, &env->signature,
		&env->certificate, &env->signer,
	};
	bool nul;
	if (!val[F_TOPIC] || canon_type(&env->doc, val[F_TOPIC]) != CANON_STRING ||
	    !(env->topic = decode(env, val[F_TOPIC], &env->topic_len, &nul)) || !env->topic_len) {
		*detail = "topic missing or not a string";
		return ENVELOPE_NO_TOPIC;
	}
	if (!valid_topic(env->topic, env->topic_len)) {
		*detail = "topic has spaces, control characters or is over 1024 bytes";
		return ENVELOPE_BAD_FIELD;
	}
	if (!val[F_MSG]) {
		*detail = "msg missing";
		return ENVELOPE_NO_BODY;
	}
	canon_span(&env->doc, val[F_MSG], &env->msg_off, &env->msg_len);
	for (int f = F_MSG_ID; f < F_STRINGS; f++) {
		if (!opt_string(env, val[f], field[f]))
			continue;
		*detail = "msg_id, username, crypto, signature, certificate or signer is not a string";
		return ENVELOPE_BAD_FIELD;
	}
	return ENVELOPE_OK;
}

static bool is_number(enum canon_type t)
{
	return t == CANON_INT || t == CANON_FLOAT;
}

/* "i": a non-negative integer that fits int64_t. A float that is whole and
 * exact (below 2^53) is read too, as jansson's reals were. */
static int read_i(struct envelope *env, uint32_t v)
{
	double d;
	switch (canon_type(&env->doc, v)) {
	case CANON_INT:
		return canon_int64(&env->doc, v, &env->i) || env->i < 0 ? -1 : 0;
	case CANON_FLOAT:
		if (canon_number(&env->doc, v, &d) || !(d >= 0 && d < 9007199254740992.0) ||
		    d != (double)(int64_t)d)
			return -1;
		env->i = (int64_t)d;
		return 0;
	default:
		return -1;
	}
}

static enum envelope_error numbers(struct envelope *env, const uint32_t val[F_COUNT],
				   const char **detail)
{
	uint32_t v = val[F_TIMESTAMP];
	if (!absent_or_null(env, v)) {
		if (!is_number(canon_type(&env->doc, v)) ||
		    canon_number(&env->doc, v, &env->timestamp)) {
			*detail = "timestamp is not a number";
			return ENVELOPE_BAD_FIELD;
		}
	}
	v = val[F_I];
	if (!absent_or_null(env, v)) {
		if (read_i(env, v)) {
			*detail = "i is not a non-negative integer";
			return ENVELOPE_BAD_FIELD;
		}
		env->has_i = true;
	}
	return ENVELOPE_OK;
}

/* Is the parsed envelope one jansson would have read, as an object? */
static enum envelope_error shape(const struct envelope *env, const char **detail)
{
	unsigned ext = canon_extensions(&env->doc);
	if (ext & CANON_EXT_NONFINITE)
		*detail = "NaN or Infinity is not JSON";
	else if (ext & CANON_EXT_RANGE)
		*detail = "number beyond the range of a double";
	else if (ext & CANON_EXT_NUL_KEY)
		*detail = "NUL in an object key";
	else if (canon_type(&env->doc, CANON_ROOT) != CANON_OBJECT)
		*detail = "envelope is not a JSON object";
	else
		return ENVELOPE_OK;
	return ENVELOPE_BAD_JSON;
}

/* Drop the fields of the last message; keep the memory. */
static void forget(struct envelope *env)
{
	struct canon_doc doc = env->doc;
	struct buf text = env->text;
	json_decref(env->msg_json);
	canon_doc_reset(&doc);
	buf_reset(&text);
	*env = (struct envelope){.doc = doc, .text = text};
}

enum envelope_error envelope_reparse(struct envelope *env, const char *data, size_t len,
				     const char **detail)
{
	struct canon_error cerr = {0, "not valid JSON"};
	uint32_t val[F_COUNT];
	const char *dummy;
	enum envelope_error e;
	if (!detail)
		detail = &dummy;
	forget(env);
	/* Duplicate keys are refused (by canon, at any depth): the signed
	 * bytes and what we read must agree. */
	int rc = canon_parse(&env->doc, data, len, &cerr);
	if (rc) {
		*detail = rc == -ENOMEM ? "out of memory" : cerr.what;
		return ENVELOPE_BAD_JSON;
	}
	env->raw = data;
	env->raw_len = len;
	if ((e = shape(env, detail)))
		goto out;
	if (find_fields(env, val)) {
		*detail = "out of memory";
		e = ENVELOPE_BAD_JSON;
		goto out;
	}
	if (!(e = strings(env, val, detail)))
		e = numbers(env, val, detail);
out:
	if (e)
		forget(env);
	return e;
}

enum envelope_error envelope_parse(struct envelope *env, const char *data, size_t len,
				   const char **detail)
{
	*env = (struct envelope)ENVELOPE_INIT;
	enum envelope_error e = envelope_reparse(env, data, len, detail);
	if (e)
		envelope_release(env);
	return e;
}

int envelope_adopt(struct envelope *env, const char *topic, size_t topic_len, const char *msg_id,
		   size_t msg_id_len, double timestamp, const char *body, size_t body_len,
		   json_t *msg)
{
	forget(env);
	/* Both strings first, pointers after: the buffer may move as it grows. */
	if (buf_append(&env->text, topic, topic_len) || buf_append(&env->text, "", 1) ||
	    (msg_id && (buf_append(&env->text, msg_id, msg_id_len) ||
			buf_append(&env->text, "", 1)))) {
		json_decref(msg);
		forget(env);
		return -ENOMEM;
	}
	env->topic = env->text.data;
	env->topic_len = topic_len;
	env->msg_id = msg_id ? env->text.data + topic_len + 1 : NULL;
	env->raw = body;
	env->raw_len = body_len;
	env->msg_off = 0;
	env->msg_len = body_len;
	env->msg_json = msg;
	env->timestamp = timestamp;
	return 0;
}

const json_t *envelope_msg(struct envelope *env)
{
	json_error_t jerr;
	if (env->msg_json || !env->raw)
		return env->msg_json;
	/* JSON_DECODE_ANY: the body may be any value, "msg": 1 included. */
	size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	const char *p = env->raw + env->msg_off;
	env->msg_json = json_loadb(p, env->msg_len, flags, &jerr);
	if (!env->msg_json && strstr(jerr.text, "too big"))
		/* Integers beyond 64 bits are legal JSON and signed exactly by
		 * canon; read them approximately rather than not at all. */
		env->msg_json = json_loadb(p, env->msg_len, flags | JSON_DECODE_INT_AS_REAL, &jerr);
	return env->msg_json;
}

void envelope_clear(struct envelope *env)
{
	if (canon_doc_bytes(&env->doc) + env->text.cap > KEEP_BYTES) {
		envelope_release(env);
		return;
	}
	forget(env);
}

void envelope_release(struct envelope *env)
{
	json_decref(env->msg_json);
	canon_doc_release(&env->doc);
	buf_release(&env->text);
	*env = (struct envelope)ENVELOPE_INIT;
}
