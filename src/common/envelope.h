/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envelope: read a fedmsg envelope (the JSON object on the bus) into typed
 * fields, rejecting anything malformed with a reason that becomes a metric.
 *
 * The envelope is fedmsg's: topic, msg, msg_id, timestamp, i, username,
 * crypto, certificate, signature, plus herald's "signer" (the Ed25519 key
 * name) and the archive fields source_name/source_version. Field types are
 * checked here so later stages can trust them. Not for signatures (verify)
 * nor for understanding `msg` (schema).
 *
 * One scan per message: canon_parse() validates the whole envelope and
 * keeps it as nodes in env->doc, which verify then prints canonically
 * without parsing again. The fields are decoded from those nodes; `msg`
 * stays a span of the input until envelope_msg() asks jansson for it.
 *
 * Memory: an envelope owns its doc (nodes) and `text` (the decoded string
 * fields), and borrows the input: the bytes given to envelope_parse() must
 * stay alive and unchanged until the envelope is cleared or released.
 *
 * Thread-safety: no shared state. One envelope is used by one thread at a
 * time; envelope_msg() fills a cache, so it is not a read-only call.
 */
#ifndef HERALD_ENVELOPE_H
#define HERALD_ENVELOPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "canon.h"

struct envelope {
	struct canon_doc doc;    /* owned: the parsed envelope, nodes over `raw` */
	struct buf text;         /* owned: the string fields below, NUL-terminated */
	const char *raw;         /* borrowed: the bytes parsed */
	size_t raw_len;
	const char *topic;       /* required, non-empty, no NUL, printable */
	size_t topic_len;
	size_t msg_off, msg_len; /* required: the body's bytes, raw + msg_off */
	json_t *msg_json;        /* owned: envelope_msg()'s cache; NULL until then */
	const char *msg_id;      /* NULL if absent */
	const char *username;    /* NULL if absent */
	const char *crypto;      /* NULL if absent: "x509", "ed25519", ... */
	const char *signature;   /* NULL if absent (base64 text) */
	const char *certificate; /* NULL if absent (base64 of PEM text) */
	const char *signer;      /* NULL if absent (Ed25519 key name) */
	double timestamp;        /* 0 if absent */
	int64_t i;               /* fedmsg sequence number, valid if has_i */
	bool has_i;
};

/* An envelope that holds nothing (all zero, so calloc'd memory is one too). */
#define ENVELOPE_INIT {.doc = CANON_DOC_INIT, .text = BUF_INIT}

/* Why an envelope was refused; also indexes the rejection metrics. */
enum envelope_error {
	ENVELOPE_OK = 0,
	ENVELOPE_BAD_JSON,   /* not JSON, or not an object */
	ENVELOPE_BAD_FIELD,  /* a known field has the wrong type or value */
	ENVELOPE_NO_TOPIC,   /* topic missing or empty */
	ENVELOPE_NO_BODY,    /* msg missing */
};

/*
 * Parse `len` bytes into *env, which need not be initialised. On success
 * returns ENVELOPE_OK and env must later be released with
 * envelope_release(). On failure nothing needs releasing; `detail` (may be
 * NULL) receives a short static reason.
 *
 * "Not JSON" is what jansson would refuse too: besides canon's grammar
 * (which also refuses nesting deeper than CANON_MAX_DEPTH), NaN/Infinity,
 * numbers beyond a double and U+0000 in keys are refused (canon_extensions),
 * so envelope_msg() can always hand the body to jansson.
 */
enum envelope_error envelope_parse(struct envelope *env, const char *data, size_t len,
				   const char **detail);

/*
 * envelope_parse() into an envelope that is ENVELOPE_INIT or was parsed,
 * cleared or released before: its memory is reused, so a long-lived
 * envelope (a ring slot) parses without malloc in steady state. On failure
 * env holds no message but keeps its memory.
 */
enum envelope_error envelope_reparse(struct envelope *env, const char *data, size_t len,
				     const char **detail);

/*
 * The body as jansson reads it (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
 * integers beyond 64 bits become reals), parsed on first use and kept with
 * the envelope. NULL only when out of memory.
 */
const json_t *envelope_msg(struct envelope *env);

/*
 * An envelope for a message that came without fedmsg's wrapper (fedora-
 * messaging over AMQP, fmsg.c), so that later stages read it like any
 * other: topic and msg_id (NULL: none) are copied into env->text, the body
 * bytes [body, body+body_len) are borrowed as `raw` and the msg span, and
 * `msg` (its parse; NULL: envelope_msg() parses the body when asked) is
 * taken over: env owns that reference. env must be
 * ENVELOPE_INIT or cleared/parsed before (its memory is reused). Nothing is
 * signed: crypto, signature and the rest stay NULL. 0 or -ENOMEM (env then
 * holds no message, and msg was released).
 */
int envelope_adopt(struct envelope *env, const char *topic, size_t topic_len, const char *msg_id,
		   size_t msg_id_len, double timestamp, const char *body, size_t body_len,
		   json_t *msg);

/* Forget the message, keep the memory (unless a big message grew it). */
void envelope_clear(struct envelope *env);

/* Free everything; env is ENVELOPE_INIT afterwards. */
void envelope_release(struct envelope *env);

#endif
